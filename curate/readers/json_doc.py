"""JSON documents: a top-level array (streamed element by element) or an object holding lists.

Arrays are decoded one element at a time from a sliding buffer, so memory stays flat
however large the file. A syntax error inside one element quarantines that element
and the reader resynchronises on the next element that parses, rather than losing
the rest of the file.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import BinaryIO, Generator, Iterator

from .base import ProgressFn, RawRow

CHUNK = 1 << 22
_DECODER = json.JSONDecoder()
_WS = " \t\n\r"
_NEXT_OBJECT = re.compile(r"[,\n]\s*(?=\{)")
_MAX_RESYNC_TRIES = 10_000


def _encoding_problem(raw: str) -> str | None:
    if raw.isascii():
        return None
    for i, ch in enumerate(raw):
        if "\udc80" <= ch <= "\udcff":
            return f"invalid UTF-8 byte 0x{ord(ch) - 0xDC00:02x} at character {i + 1} of the record"
    return None


class _Buffer:
    """Text decoded from a byte stream on demand; `pos` is the read position, `line` its line number."""

    def __init__(self, stream: BinaryIO, progress: ProgressFn | None):
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        self._progress = progress
        self._consumed = 0
        self.text = ""
        self.pos = 0
        self.line = 1
        self.eof = False

    def fill(self) -> bool:
        """Append the next chunk, dropping what has been consumed; False at end of input."""
        if self.eof:
            return False
        chunk = self._stream.read(CHUNK)
        self._consumed += len(chunk)
        if self._progress is not None:
            self._progress(self._consumed)
        if not chunk:
            self.eof = True
            tail = self._decoder.decode(b"", final=True)
        else:
            tail = self._decoder.decode(chunk)
        if not self.text and not self._consumed - len(chunk) and tail.startswith("\ufeff"):
            tail = tail[1:]
        # Keep the start of the current line (up to 4 KB) so indentation stays visible to _resync.
        keep = max(self.text.rfind("\n", 0, self.pos) + 1, self.pos - 4096, 0)
        self.text = self.text[keep:] + tail
        self.pos -= keep
        return bool(chunk)

    def peek(self) -> str:
        """The next non-whitespace character (consuming the whitespace), or '' at end of input."""
        while True:
            text, pos = self.text, self.pos
            n = len(text)
            start = pos
            while pos < n and text[pos] in _WS:
                pos += 1
            self.line += text.count("\n", start, pos)
            self.pos = pos
            if pos < n:
                return text[pos]
            if not self.fill():
                return ""

    def advance(self, to: int) -> str:
        consumed = self.text[self.pos:to]
        self.line += consumed.count("\n")
        self.pos = to
        return consumed


def read_json(stream: BinaryIO, path: str, progress: ProgressFn | None = None,
              is_record=None) -> Iterator[RawRow]:
    buf = _Buffer(stream, progress)
    if buf.peek() != "[":
        # Not an array: read it whole (objects holding lists are rarely large) and decide what it holds.
        while buf.fill():
            pass
        yield from _object_document(buf, path, is_record)
        return
    index = 0
    while True:  # one array, or several concatenated ones
        ch = buf.peek()
        if ch == "":
            return
        if ch == "[":
            buf.advance(buf.pos + 1)
            index = yield from _array_elements(buf, path, index)
            continue
        while buf.fill():
            pass
        line = buf.line
        raw = buf.advance(len(buf.text)).rstrip()
        yield RawRow(path, line, index, raw, None, ("invalid_json", "unexpected data after the JSON array"))
        return


def _array_elements(buf: _Buffer, path: str, index: int) -> Generator[RawRow, None, int]:
    """Yields the elements of the array open at `buf`; returns the next row index."""
    while True:
        ch = buf.peek()
        if ch == "]" or ch == "":
            if ch == "]":
                buf.advance(buf.pos + 1)
            return index
        start, line = buf.pos, buf.line
        try:
            value, end = _DECODER.raw_decode(buf.text, start)
            if end >= len(buf.text) and not buf.eof:
                raise json.JSONDecodeError("element may continue in the next chunk", buf.text, end)
        except json.JSONDecodeError as exc:
            if not buf.eof:
                buf.fill()
                continue
            yield from _resync(buf, path, index, line, exc)
            index += 1
            if buf.pos >= len(buf.text):
                return index
            continue
        raw = buf.advance(end)
        problem = _encoding_problem(raw)
        if problem:
            yield RawRow(path, line, index, raw, None, ("encoding_error", problem))
        else:
            yield RawRow(path, line, index, raw, value)
        index += 1
        sep = buf.peek()
        if sep == ",":
            buf.advance(buf.pos + 1)
        elif sep == "]":
            buf.advance(buf.pos + 1)
            return index
        elif sep == "":
            return index
        # anything else is a missing comma: the next element attempt reports it


def _resync(buf: _Buffer, path: str, index: int, line: int, exc: json.JSONDecodeError) -> Iterator[RawRow]:
    """Quarantine the broken element and move to the next element that parses (whole file is in buf)."""
    text, start = buf.text, buf.pos
    err_line = line + text.count("\n", start, exc.pos)
    message = f"{exc.msg} (line {err_line}); the array element starting here is quarantined"
    column = _indent_column(text, start)
    for tries, match in enumerate(_NEXT_OBJECT.finditer(text, start + 1)):
        if tries >= _MAX_RESYNC_TRIES:
            break
        cand = match.end()
        if column is not None and _indent_column(text, cand) != column:
            continue  # a nested object inside the broken element, not the next element
        try:
            _, end = _DECODER.raw_decode(text, cand)
        except json.JSONDecodeError:
            continue
        rest = text[end:end + 64].lstrip(_WS)
        if rest[:1] in (",", "]"):
            raw = buf.advance(match.start())
            yield RawRow(path, line, index, raw.rstrip(), None, ("invalid_json", message))
            if buf.peek() == ",":
                buf.advance(buf.pos + 1)
            return
    raw = buf.advance(len(text))
    yield RawRow(path, line, index, raw.rstrip(), None, ("invalid_json", message))


def _indent_column(text: str, pos: int) -> int | None:
    """The column of pos when only whitespace precedes it on its line (pretty-printed JSON), else None."""
    line_start = text.rfind("\n", 0, pos) + 1
    if text[line_start:pos].strip(_WS):
        return None
    return pos - line_start


def _object_document(buf: _Buffer, path: str, is_record) -> Iterator[RawRow]:
    """One object (a record, or a container of record lists), or a sequence of concatenated values."""
    text = buf.text
    start, line = buf.pos, buf.line
    try:
        value, end = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError:
        yield from _value_sequence(text, start, line, path)
        return
    if text[end:].strip(_WS):
        yield from _value_sequence(text, start, line, path)
        return
    lists = _record_lists(value) if isinstance(value, dict) and not (is_record and is_record(value)) else []
    if not lists:
        yield RawRow(path, line, 0, text[start:end], value)
        return
    # An object holding lists of records: stream each list with its own line numbers.
    for key, offset in _list_offsets(text, start, lists):
        buf.pos, buf.line = offset + 1, 1 + text.count("\n", 0, offset)
        yield from _array_elements(buf, f"{path}#{key}", 0)


def _value_sequence(text: str, pos: int, line: int, path: str) -> Iterator[RawRow]:
    """Concatenated JSON values (JSON Lines by another name); an unparsable stretch runs to the next
    line that starts with '{' and is quarantined on its own."""
    index, n = 0, len(text)
    while True:
        start = pos
        while pos < n and text[pos] in _WS:
            pos += 1
        line += text.count("\n", start, pos)
        if pos >= n:
            return
        try:
            value, end = _DECODER.raw_decode(text, pos)
            row = RawRow(path, line, index, text[pos:end], value)
        except json.JSONDecodeError as exc:
            nxt = text.find("\n{", pos + 1)
            end = n if nxt < 0 else nxt + 1
            row = RawRow(path, line, index, text[pos:end].rstrip(), None,
                         ("invalid_json", f"{exc.msg} (column {exc.colno})"))
        problem = _encoding_problem(text[pos:end]) if row.error is None else None
        if problem:
            row = RawRow(path, line, index, row.raw, None, ("encoding_error", problem))
        yield row
        line += text.count("\n", pos, end)
        pos, index = end, index + 1


def _record_lists(obj: dict) -> list[str]:
    return [k for k, v in obj.items()
            if isinstance(v, list) and v and isinstance(v[0], dict)]


def _list_offsets(text: str, start: int, keys: list[str]) -> Iterator[tuple[str, int]]:
    """Offsets of the '[' of each wanted top-level key's value, found by skipping values in C."""
    wanted = set(keys)
    pos = start + 1
    n = len(text)
    while pos < n:
        while pos < n and text[pos] in _WS + ",":
            pos += 1
        if pos >= n or text[pos] == "}":
            return
        key, pos = _DECODER.raw_decode(text, pos)
        while text[pos] in _WS + ":":
            pos += 1
        if key in wanted:
            yield key, pos
        _, pos = _DECODER.raw_decode(text, pos)
