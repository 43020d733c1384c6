"""JSON Lines: one record per line, streamed; blank lines are not rows."""

from __future__ import annotations

import json
from typing import Any, BinaryIO, Iterator

from ..errors import RowRejected
from ..record import Issue
from .base import ProgressFn, RawRow, too_large
from .jsonvalue import loads
from .stream import read_lines

_REPORT_EVERY = 4096


def parse_line(line: bytes) -> tuple[Any, tuple[str, str] | None, tuple[Issue, ...]]:
    """(value, error, notes) for one line: an error is (code, message) and never an exception."""
    try:
        value, notes = loads(line)
        return value, None, notes
    except RowRejected as rej:
        return None, (rej.code, rej.message), ()
    except UnicodeDecodeError as exc:
        return None, ("encoding_error", f"invalid UTF-8 byte 0x{line[exc.start]:02x} at column {exc.start + 1}"), ()
    except json.JSONDecodeError as exc:
        return None, ("invalid_json", f"{exc.msg} (column {exc.colno})"), ()


def read_jsonl(stream: BinaryIO, path: str, limit: int, progress: ProgressFn | None = None,
               tell=None) -> Iterator[RawRow]:
    index = 0
    consumed = 0
    for lineno, line, size in read_lines(stream, limit):
        consumed += size
        if line.startswith(b"\xef\xbb\xbf"):  # on any line: concatenated files carry their BOMs along
            line = line[3:]
        if size > limit:
            yield too_large(path, lineno, index, line, size, limit)
        else:
            stripped = line.strip()
            if not stripped:
                continue
            value, error, notes = parse_line(stripped)
            yield RawRow(path, lineno, index, stripped, value, error, notes)
        index += 1
        if progress is not None and index % _REPORT_EVERY == 0:
            progress(tell() if tell else consumed)
    if progress is not None:
        progress(tell() if tell else consumed)
