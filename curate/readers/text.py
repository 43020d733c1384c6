"""Plain text: one production query per non-empty line."""

from __future__ import annotations

from typing import BinaryIO, Iterator

from .base import ProgressFn, RawRow, too_large
from .stream import read_lines


def read_text_lines(stream: BinaryIO, path: str, limit: int, progress: ProgressFn | None = None) -> Iterator[RawRow]:
    index = 0
    consumed = 0
    for lineno, raw, size in read_lines(stream, limit):
        consumed += size
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if size > limit:
            yield too_large(path, lineno, index, raw, size, limit)
            index += 1
            continue
        raw = raw.rstrip(b"\r\n")
        if not raw.strip():
            continue
        try:
            yield RawRow(path, lineno, index, raw, {"text": raw.decode("utf-8")})
        except UnicodeDecodeError as exc:
            yield RawRow(path, lineno, index, raw, None,
                         ("encoding_error", f"invalid UTF-8 byte 0x{raw[exc.start]:02x} at column {exc.start + 1}"))
        index += 1
        if progress is not None and index % 4096 == 0:
            progress(consumed)
    if progress is not None:
        progress(consumed)
