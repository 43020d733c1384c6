"""Plain text: one production query per non-empty line."""

from __future__ import annotations

from typing import BinaryIO, Iterator

from .base import ProgressFn, RawRow


def read_text_lines(stream: BinaryIO, path: str, progress: ProgressFn | None = None) -> Iterator[RawRow]:
    index = 0
    consumed = 0
    for lineno, raw in enumerate(stream, 1):
        consumed += len(raw)
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
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
