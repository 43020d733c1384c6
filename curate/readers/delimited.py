"""CSV and TSV with a header row. TSV follows the IANA definition: no quoting, so quotes are text.

CSV is parsed strictly: a stray quote inside a quoted field is a bad row, not a silently changed one. A
quote that never closes would swallow every line after it into one field; when the record reaches the end
of the file or the size limit, the line it started on is quarantined and the lines it swallowed are read
again as rows of their own.
"""

from __future__ import annotations

import csv
import sys
from collections import deque
from typing import BinaryIO, Iterator

from ..errors import InputFileError
from .base import ProgressFn, RawRow, too_large
from .limits import human
from .stream import read_lines

# The parameters a headerless file needs, as a library caller passes them (the CLI names its flags).
_NO_HEADER = {"header_row": "header_row=False", "columns": "columns"}

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # records are bounded by the reader's own limit instead


class _RecordTooLong(Exception):
    pass


class _Lines:
    """Physical lines for csv.reader: decoded, numbered, and kept until the record they belong to is done."""

    def __init__(self, stream: BinaryIO, limit: int):
        self._source = read_lines(stream, limit)
        self.limit = limit
        self.replay: deque[tuple[int, bytes, int]] = deque()
        self.pending: list[tuple[int, str]] = []  # (line number, text) of the record being read
        self.pending_bytes = 0
        self.bad_lines: list[int] = []
        self.consumed = 0
        self.huge: tuple[int, bytes, int] | None = None  # a physical line over the limit

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.replay:
            lineno, raw, size = self.replay.popleft()
        else:
            lineno, raw, size = next(self._source)
            self.consumed += size
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if size > self.limit:
            self.huge = (lineno, raw, size)
            raise _RecordTooLong
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("utf-8", errors="surrogateescape")  # keeps the bytes for the quarantine
            self.bad_lines.append(lineno)
        self.pending.append((lineno, line))
        self.pending_bytes += size
        if self.pending_bytes > self.limit:
            raise _RecordTooLong
        return line

    def take(self) -> tuple[int, str, list[int]]:
        """The record just read: its first line number, its text, and its lines that were not UTF-8."""
        first = self.pending[0][0] if self.pending else 0
        text = "".join(t for _, t in self.pending).rstrip("\r\n")
        bad = [n for n in self.bad_lines if n >= first]
        self.pending, self.pending_bytes, self.bad_lines = [], 0, []
        return first, text, bad

    def swallowed(self) -> tuple[int, str, int]:
        """After a quote that never closed: the line it opened on, and the lines after it queued to read again."""
        (first, text), rest = self.pending[0], self.pending[1:]
        self.replay.extendleft(reversed([(n, t.encode("utf-8", "surrogateescape"), len(t)) for n, t in rest]))
        last = rest[-1][0] if rest else first
        self.pending, self.pending_bytes, self.bad_lines = [], 0, []
        return first, text.rstrip("\r\n"), last


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


def looks_like_data(cells: list[str]) -> str | None:
    """The cell that makes a first row look like data rather than column names (a number, a sentence, a
    question), or None.

    >>> looks_like_data(["text", "category"]), looks_like_data(["", "Unnamed: 0", "label"])
    (None, None)
    >>> looks_like_data(["How do I reset my card PIN?", "card_pin"]), looks_like_data(["42", "x"])
    ('How do I reset my card PIN?', '42')
    """
    for cell in (c.strip() for c in cells):
        if not cell:
            continue
        try:
            float(cell)
            return cell
        except ValueError:
            pass
        if len(cell) > 40 or len(cell.split()) >= 4 or cell[-1] in "?.!":
            return cell
    return None


def read_delimited(stream: BinaryIO, path: str, delimiter: str, limit: int, progress: ProgressFn | None = None,
                   columns: list[str] | None = None, header_row: bool = True) -> Iterator[RawRow]:
    """Rows of a CSV/TSV file. `columns` names the columns (replacing the header's names); without a
    `header_row` the first row is data and `columns` is required. A first row that looks like data is
    refused, since every row would otherwise be read under the wrong names."""
    lines = _Lines(stream, limit)
    header: list[str] | None = None if header_row else list(columns or [])
    index = 0
    while True:
        # TSV has no quoting convention: a quote character is text.
        reader = csv.reader(lines, delimiter=delimiter, strict=delimiter != "\t",
                            quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL)
        try:
            for row in reader:
                first, raw, bad = lines.take()
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if header is None:
                    header = _header(path, row, columns)
                    continue
                yield _row(path, first, index, raw, row, header, bad)
                index += 1
                if progress is not None and index % 4096 == 0:
                    progress(lines.consumed)
            break
        except csv.Error as exc:
            bad_row = _broken(lines, path, index, str(exc), header is None, limit)
        except _RecordTooLong:
            bad_row = _broken(lines, path, index, None, header is None, limit)
        yield bad_row
        index += 1
    if progress is not None:
        progress(lines.consumed)


def _header(path: str, row: list[str], columns: list[str] | None) -> list[str]:
    if columns:
        if len(columns) != len(row):
            raise InputFileError(f"{path}: {{columns}} names {len(columns)} columns, the header row has {len(row)}",
                                 params=("columns",))
        return _unique_header(columns)
    data = looks_like_data(row)
    if data is not None:
        names = (["text", "label"] + [f"col{i}" for i in range(3, len(row) + 1)])[:len(row)]
        raise InputFileError(f"{path}: the first row looks like data, not column names ({data[:60]!r}); if the "
                             f"file has no header row, pass {{header_row}} {{columns}} {','.join(names)} (names for "
                             f"its {len(row)} columns)", params=_NO_HEADER)
    return _unique_header(row)


def _row(path: str, line: int, index: int, raw: str, row: list[str], header: list[str], bad: list[int]) -> RawRow:
    if bad:
        return RawRow(path, line, index, raw, None, ("encoding_error", f"invalid UTF-8 on line {bad[0]}"))
    if len(row) != len(header):
        return RawRow(path, line, index, raw, None,
                      ("wrong_column_count", f"{len(row)} columns, the header has {len(header)}"))
    return RawRow(path, line, index, raw, dict(zip(header, row)))


def _broken(lines: _Lines, path: str, index: int, error: str | None, in_header: bool, limit: int) -> RawRow:
    """The row for a record csv could not read; the lines a never-closed quote swallowed are queued again."""
    if lines.huge is not None:  # one physical line over the limit (with the lines of its record before it)
        line, head, size = lines.huge
        lines.huge = None
        first, before, _ = lines.take()
        if before:
            line, head = first, before.encode("utf-8", "surrogateescape") + b"\n" + head
        return too_large(path, line, index, head, size, limit)
    if in_header:
        raise InputFileError(f"{path}: the header row is not valid CSV ({error or 'a quote never closes'}); "
                             "fix it, or pass {container} tsv if the file is tab-separated", params=("container",))
    if error is not None and "unexpected end of data" not in error:
        first, raw, _ = lines.take()
        return RawRow(path, first, index, raw, None, ("invalid_csv", f"{error}; a quote inside a quoted field "
                                                                    "is written twice (\"\")"))
    first, raw, last = lines.swallowed()
    reached = "the end of the file" if error is not None else f"the record size limit ({human(limit)})"
    swallowed = f", swallowing lines {first + 1}-{last}, which are read again as rows" if last > first else ""
    return RawRow(path, first, index, raw, None,
                  ("unclosed_quote", f"a quote opened on line {first} never closes: it ran to {reached}{swallowed}"))
