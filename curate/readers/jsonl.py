"""JSON Lines: one record per line, streamed; blank lines are not rows."""

from __future__ import annotations

import json
from typing import BinaryIO, Iterator

import orjson

from .base import ProgressFn, RawRow

_REPORT_EVERY = 4096


def _parse_error(line: bytes) -> tuple[str, str] | None:
    """Classify a line orjson refused; None when the lenient stdlib parser accepts it (NaN, Infinity)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return "encoding_error", f"invalid UTF-8 byte 0x{line[exc.start]:02x} at column {exc.start + 1}"
    try:
        json.loads(text)
        return None
    except json.JSONDecodeError as exc:
        return "invalid_json", f"{exc.msg} (column {exc.colno})"


def read_jsonl(stream: BinaryIO, path: str, progress: ProgressFn | None = None,
               tell=None) -> Iterator[RawRow]:
    index = 0
    consumed = 0
    for lineno, line in enumerate(stream, 1):
        consumed += len(line)
        if line.startswith(b"\xef\xbb\xbf"):  # on any line: concatenated files carry their BOMs along
            line = line[3:]
        stripped = line.strip()
        if not stripped:
            continue
        try:
            value = orjson.loads(stripped)
            error = None
        except orjson.JSONDecodeError:
            error = _parse_error(stripped)
            value = json.loads(stripped.decode("utf-8")) if error is None else None
        yield RawRow(path, lineno, index, stripped, value, error)
        index += 1
        if progress is not None and index % _REPORT_EVERY == 0:
            progress(tell() if tell else consumed)
    if progress is not None:
        progress(tell() if tell else consumed)
