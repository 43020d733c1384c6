"""CSV and TSV with a header row. TSV follows the IANA definition: no quoting, so quotes are text."""

from __future__ import annotations

import csv
import sys
from typing import BinaryIO, Iterator

from .base import ProgressFn, RawRow

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class _Lines:
    """Decoded physical lines for csv.reader, remembering the raw text of the record being read."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self.pending: list[str] = []
        self.bad_lines: list[int] = []
        self.lineno = 0
        self.consumed = 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        raw = next(self._stream)
        self.lineno += 1
        self.consumed += len(raw)
        if self.lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("utf-8", errors="surrogateescape")  # keeps the bytes for the quarantine
            self.bad_lines.append(self.lineno)
        self.pending.append(line)
        return line

    def take(self) -> str:
        text = "".join(self.pending)
        self.pending.clear()
        return text.rstrip("\r\n")


def _unique_header(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        name = name.strip()
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def read_delimited(stream: BinaryIO, path: str, delimiter: str,
                   progress: ProgressFn | None = None) -> Iterator[RawRow]:
    lines = _Lines(stream)
    # TSV has no quoting convention: a quote character is text.
    reader = csv.reader(lines, delimiter=delimiter,
                        quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL)
    header: list[str] | None = None
    index = 0
    end_line = 0
    for row in reader:
        start_line, end_line = end_line + 1, reader.line_num
        raw = lines.take()
        bad = [n for n in lines.bad_lines if start_line <= n <= end_line]
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if header is None:
            header = _unique_header(row)
            continue
        if bad:
            error = ("encoding_error", f"invalid UTF-8 on line {bad[0]}")
            yield RawRow(path, start_line, index, raw, None, error)
        elif len(row) != len(header):
            error = ("wrong_column_count", f"{len(row)} columns, the header has {len(header)}")
            yield RawRow(path, start_line, index, raw, None, error)
        else:
            yield RawRow(path, start_line, index, raw, dict(zip(header, row)))
        index += 1
        if progress is not None and index % 4096 == 0:
            progress(lines.consumed)
    if progress is not None:
        progress(lines.consumed)
