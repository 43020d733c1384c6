"""JSON documents: a top-level array, an object holding lists of records, or a single record.

Arrays, and the lists of an object, are decoded one element at a time from a sliding buffer, so memory
stays within the record limit however large the file. While an element is incomplete the buffer grows by
doubling, so an element is decoded a few times, not once per chunk. A syntax error inside one element
quarantines that element and the reader resynchronises on the next element that parses, rather than
losing the rest of the file.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any, BinaryIO, Generator, Iterator

from ..errors import InputFileError, RowRejected
from .base import ProgressFn, RawRow, too_large
from .jsonvalue import ExactDecoder, needs_exact
from .limits import QUARANTINE_HEAD, human

CHUNK = 1 << 22
_DECODER = json.JSONDecoder()
_WS = " \t\n\r"
_NEXT_OBJECT = re.compile(r"[,\n]\s*(?=\{)")
_MAX_RESYNC_TRIES = 10_000


class _Incomplete(Exception):
    """The value at the read position is not complete within the record limit: too large, or broken."""


def _encoding_problem(raw: str) -> str | None:
    if raw.isascii():
        return None
    for i, ch in enumerate(raw):
        if "\udc80" <= ch <= "\udcff":
            return f"invalid UTF-8 byte 0x{ord(ch) - 0xDC00:02x} at character {i + 1} of the record"
    return None


class _Buffer:
    """Text decoded from a byte stream on demand; `pos` is the read position, `line` its line number."""

    def __init__(self, stream: BinaryIO, progress: ProgressFn | None, limit: int):
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        self._progress = progress
        self._consumed = 0
        self.limit = limit
        self.text = ""
        self.pos = 0
        self.line = 1
        self.eof = False

    def fill(self, grow: bool = False) -> bool:
        """Append the next chunk, dropping what has been consumed; False at end of input. With `grow`,
        read as much again as is unread (an element that spans many chunks)."""
        if self.eof:
            return False
        chunk = self._stream.read(max(CHUNK, len(self.text) - self.pos) if grow else CHUNK)
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

    def fill_all(self) -> None:
        """Read to the end of input; InputFileError past the record limit."""
        while self.fill(grow=True):
            if len(self.text) - self.pos > self.limit:
                raise _Incomplete

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

    def decode(self) -> tuple[Any, int]:
        """The value at the read position and where it ends, reading on while it is incomplete.

        Raises json.JSONDecodeError (or RecursionError) for a broken value, _Incomplete for one that is
        not complete within the record limit.
        """
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
                if end < len(self.text) or self.eof:  # a number at the very end may go on
                    return value, end
            except json.JSONDecodeError as exc:
                # Broken, not cut by the buffer's end: the error is well inside what is buffered (an
                # unterminated string points at its start, so it always reads on).
                if self.eof or (exc.pos < len(self.text) - 64 and not exc.msg.startswith("Unterminated string")):
                    raise
            if len(self.text) - self.pos > self.limit:
                raise _Incomplete
            self.fill(grow=True)


def _row(path: str, line: int, index: int, raw: str, value: Any) -> RawRow:
    """The row for one decoded element, re-read exactly where the fast decoder may have changed it."""
    problem = _encoding_problem(raw)
    if problem:
        return RawRow(path, line, index, raw, None, ("encoding_error", problem))
    if not needs_exact(raw, value):
        return RawRow(path, line, index, raw, value)
    try:
        value, _, notes = ExactDecoder().raw_decode(raw, 0)
    except RowRejected as rej:
        return RawRow(path, line, index, raw, None, (rej.code, rej.message))
    return RawRow(path, line, index, raw, value, None, notes)


def read_json(stream: BinaryIO, path: str, limit: int, progress: ProgressFn | None = None,
              is_record=None) -> Iterator[RawRow]:
    buf = _Buffer(stream, progress, limit)
    try:
        if buf.peek() != "[":
            yield from _document(buf, path, is_record)
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
            yield _rest(buf, path, index, "unexpected data after the JSON array")
            return
    except _Incomplete:
        raise InputFileError(f"{path}: a value starting on line {buf.line} is over {human(limit)} and still not "
                             "complete (too large, or broken); the rows before it were kept. Raise "
                             "{record_bytes} to read it", params={"record_bytes": "limits.record_bytes"}) from None


def _rest(buf: _Buffer, path: str, index: int, why: str) -> RawRow:
    """What is left of the file as one quarantined row (its head, when it is over the record limit)."""
    line = buf.line
    try:
        buf.fill_all()
        raw = buf.advance(len(buf.text)).rstrip()
    except _Incomplete:
        raw = buf.text[buf.pos:buf.pos + QUARANTINE_HEAD]
        why += f"; the rest of the file is over {human(buf.limit)}, so only its start is kept here"
    return RawRow(path, line, index, raw, None, ("invalid_json", why))


def _array_elements(buf: _Buffer, path: str, index: int) -> Generator[RawRow, None, int]:
    """Yields the elements of the array open at `buf`; returns the next row index."""
    while True:
        ch = buf.peek()
        if ch == "]" or ch == "":
            if ch == "]":
                buf.advance(buf.pos + 1)
            return index
        line = buf.line
        try:
            value, end = buf.decode()
        except (json.JSONDecodeError, RecursionError, _Incomplete) as exc:
            yield from _resync(buf, path, index, line, exc)
            index += 1
            if buf.pos >= len(buf.text) and buf.eof:
                return index
            continue
        if end - buf.pos > buf.limit:
            size = end - buf.pos
            yield too_large(path, line, index, buf.advance(end).encode("utf-8", "surrogateescape"), size, buf.limit)
        else:
            yield _row(path, line, index, buf.advance(end), value)
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


def _resync(buf: _Buffer, path: str, index: int, line: int, exc: Exception) -> Iterator[RawRow]:
    """Quarantine the broken element and move to the next element that parses (within what is buffered:
    the rest of the file, or the record limit's worth of it)."""
    text, start = buf.text, buf.pos
    if isinstance(exc, json.JSONDecodeError):  # described before reading on moves the buffer
        err_line = line + text.count("\n", start, exc.pos)
        message = f"{exc.msg} (line {err_line}); the array element starting here is quarantined"
        code = "invalid_json"
    elif isinstance(exc, RecursionError):
        message, code = "the element is nested deeper than Python can parse (~900 levels)", "nested_too_deep"
    else:
        message = (f"the element is over {human(buf.limit)} and still not complete (too large, or broken); it is "
                   "quarantined up to the next element that reads")
        code = "record_too_large"
    while True:
        found = _next_element(buf.text, buf.pos)
        if found is not None:
            raw = buf.advance(found).rstrip()
            yield RawRow(path, line, index, raw if code != "record_too_large" else raw[:QUARANTINE_HEAD], None,
                         (code, message))
            if buf.peek() == ",":
                buf.advance(buf.pos + 1)
            return
        if buf.eof:
            break
        if len(buf.text) - buf.pos > buf.limit:
            raise _Incomplete
        buf.fill(grow=True)
    raw = buf.advance(len(buf.text))
    yield RawRow(path, line, index, raw.rstrip(), None, (code, message))


def _next_element(text: str, start: int) -> int | None:
    """Where the array element after a broken one at `start` begins its separator: the next object at the
    same indentation (pretty-printed JSON) that parses and is followed by ',' or ']'; None if none is
    buffered."""
    column = _indent_column(text, start)
    for tries, match in enumerate(_NEXT_OBJECT.finditer(text, start + 1)):
        if tries >= _MAX_RESYNC_TRIES:
            return None
        cand = match.end()
        if column is not None and _indent_column(text, cand) != column:
            continue  # a nested object inside the broken element, not the next element
        try:
            _, end = _DECODER.raw_decode(text, cand)
        except (json.JSONDecodeError, RecursionError):
            continue
        if text[end:end + 64].lstrip(_WS)[:1] in (",", "]"):
            return match.start()
    return None


def _indent_column(text: str, pos: int) -> int | None:
    """The column of pos when only whitespace precedes it on its line (pretty-printed JSON), else None."""
    line_start = text.rfind("\n", 0, pos) + 1
    if text[line_start:pos].strip(_WS):
        return None
    return pos - line_start


def _document(buf: _Buffer, path: str, is_record) -> Iterator[RawRow]:
    """Not an array: one record, an object holding lists of records, or concatenated values."""
    start, line = buf.pos, buf.line
    try:
        buf.fill_all()
    except _Incomplete:  # too large to be one record: it can only be an object holding lists
        if buf.text[start:start + 1] == "{":
            yield from _object_lists(buf, path)
            return
        raise
    text = buf.text
    try:
        value, end = _DECODER.raw_decode(text, start)
    except (json.JSONDecodeError, RecursionError):
        value, end = None, -1
    if end < 0 or text[end:].strip(_WS):
        # Broken, or more than one value. An object of lists streams its lists, so one broken element
        # costs that element only; anything else reads as a sequence of values.
        if text[start:start + 1] == "{" and _holds_lists(text, start):
            yield from _object_lists(buf, path)
        else:
            yield from _value_sequence(text, start, line, path)
        return
    if isinstance(value, dict) and not (is_record and is_record(value)) and _record_lists(value):
        yield from _object_lists(buf, path)
        return
    yield _row(path, line, 0, text[start:end], value)


_LIST_OF_OBJECTS = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*\[\s*\{')
_TURN_LISTS = frozenset({"messages", "conversations", "conversation", "replies", "tools", "functions", "tool_calls"})


def _holds_lists(text: str, start: int) -> bool:
    """Whether the (broken) object at `start` looks like a container: early on, a key holding a list of
    objects that is not the turns or tools of a single record."""
    return any(m.group(1) not in _TURN_LISTS for m in _LIST_OF_OBJECTS.finditer(text, start, start + 4096))


def _object_lists(buf: _Buffer, path: str) -> Iterator[RawRow]:
    """Stream each list of objects held by the object at the read position, element by element; other
    values (a version, a list of labels) are not records and are passed over."""
    buf.advance(buf.pos + 1)
    while True:
        ch = buf.peek()
        if ch == "}" or ch == "":
            if ch == "}":
                buf.advance(buf.pos + 1)
            if buf.peek():
                yield _rest(buf, path, 0, "unexpected data after the JSON object")
            return
        try:
            key = _member_key(buf)
        except (json.JSONDecodeError, ValueError) as exc:
            yield _rest(buf, path, 0, f"the object's structure breaks here ({exc})")
            return
        if buf.peek() == "[" and key not in _TURN_LISTS and _next_is_object(buf):
            yield from _array_elements(buf, f"{path}#{key}", 0)
        else:
            try:
                _, end = buf.decode()
            except (json.JSONDecodeError, RecursionError) as exc:
                yield _rest(buf, path, 0, f"the value of {key!r} is not valid JSON ({exc})")
                return
            buf.advance(end)
        if buf.peek() == ",":
            buf.advance(buf.pos + 1)


def _member_key(buf: _Buffer) -> str:
    """Read `"key":` at the read position."""
    if buf.peek() != '"':
        raise ValueError("a key was expected")
    key, end = buf.decode()
    buf.advance(end)
    if buf.peek() != ":":
        raise ValueError(f"':' was expected after {key!r}")
    buf.advance(buf.pos + 1)
    return str(key)


def _next_is_object(buf: _Buffer) -> bool:
    """At a '[': whether its first element is an object (then the list is read as records, and the '['
    is consumed); otherwise nothing is consumed."""
    i = buf.pos + 1
    while True:
        while i < len(buf.text) and buf.text[i] in _WS:
            i += 1
        if i < len(buf.text):
            break
        before = buf.pos
        if not buf.fill():
            return False
        i -= before - buf.pos  # fill() drops consumed text, moving every position back
    if buf.text[i] != "{":
        return False
    buf.advance(buf.pos + 1)
    return True


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
            row = _row(path, line, index, text[pos:end], value)
        except (json.JSONDecodeError, RecursionError) as exc:
            nxt = text.find("\n{", pos + 1)
            end = n if nxt < 0 else nxt + 1
            why = (f"{exc.msg} (column {exc.colno})" if isinstance(exc, json.JSONDecodeError)
                   else "nested deeper than Python can parse (~900 levels)")
            code = "invalid_json" if isinstance(exc, json.JSONDecodeError) else "nested_too_deep"
            row = RawRow(path, line, index, text[pos:end].rstrip(), None, (code, why))
        yield row
        line += text.count("\n", pos, end)
        pos, index = end, index + 1


def _record_lists(obj: dict) -> list[str]:
    return [k for k, v in obj.items()
            if isinstance(v, list) and v and isinstance(v[0], dict)]
