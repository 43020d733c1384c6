"""One JSON record parsed as its source wrote it: nothing silently changed, nothing raised.

orjson parses nearly every row, fast, but loses what its types cannot hold: an integer beyond 64 bits
comes back as a float, and a key written twice keeps only its last value. The cheap tests below notice
those rows, and the standard library parses them again, keeping:

- numbers that neither a double nor a 64-bit integer holds (2**70, 1e400, NaN, Infinity) as the text
  the source wrote, with a `number_as_text` warning; the same for integers longer than Python converts;
- the last value of a key written twice (what every JSON parser keeps), with a `duplicate_key` warning
  and the whole row as written in metadata `curate:source_row`.

A row nested deeper than `MAX_DEPTH` is rejected (`nested_too_deep`): the store (orjson) stops at 254
levels, and later steps wrap a record in a few more.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from typing import Any, Iterable

import orjson

from ..errors import RowRejected
from ..record import Issue

MAX_DEPTH = 200
SOURCE_ROW_KEY = "curate:source_row"

# 20 digits in a row may exceed 64 bits (19 never do). Found by mapping every digit to "0" and looking for
# twenty of them: 0.5 us for a 350-byte row, where the regex \d{20} took 3.4 us.
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
_TWENTY_DIGITS = b"0" * 20
_KEY_END = re.compile(rb'"\s*:')  # every key ends so; so do some strings, which only costs a slow parse
_LONG_INT_TEXT = re.compile(r"\d{20}")
_KEY_END_TEXT = re.compile(r'"\s*:')
_ODD_NUMBER = re.compile(r"NaN|Infinity|[eE][+-]?\d{3}")  # what the standard decoder turns into nan or inf
_MAX_INT_DIGITS = 4300  # Python's int-from-text limit (sys.get_int_max_str_digits)


def loads(data: bytes) -> tuple[Any, tuple[Issue, ...]]:
    """The value of one JSON text and the warnings on it; raises RowRejected for a row it cannot keep.

    >>> loads(b'{"a": 1}')
    ({'a': 1}, ())
    >>> value, notes = loads(b'{"id": 1180591620717411303424, "a": 1, "a": 2}')
    >>> value["id"], value["a"], [n.code for n in notes]
    ('1180591620717411303424', 2, ['number_as_text', 'duplicate_key'])
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return exact_loads(data)
    if _TWENTY_DIGITS in data.translate(_DIGITS_AS_ZERO) or data.count(b"[") + data.count(b"{") > MAX_DEPTH:
        return exact_loads(data)
    if isinstance(value, (dict, list)) and len(_KEY_END.findall(data)) != _written_keys(value):
        return exact_loads(data)  # a key written twice, or only a string that looks like a key's end
    return value, ()


def needs_exact(text: str, value: Any) -> bool:
    """Whether the standard decoder's plain result for `text` may differ from what the text says (NaN,
    Infinity, 1e400, a key written twice, or deeper nesting than is kept): then ExactDecoder reads it.

    >>> needs_exact('{"a": 1}', {"a": 1}), needs_exact('{"a": 1, "a": 2}', {"a": 2})
    (False, True)
    """
    if _ODD_NUMBER.search(text) or _LONG_INT_TEXT.search(text) or text.count("[") + text.count("{") > MAX_DEPTH:
        return True
    return isinstance(value, (dict, list)) and len(_KEY_END_TEXT.findall(text)) != _written_keys(value)


def _written_keys(value: Any) -> int:
    """How many keys orjson writes for `value`: fewer than the source's when a key was written twice."""
    try:
        return orjson.dumps(value).count(b'":')
    except orjson.JSONEncodeError:
        return -1


def exact_loads(data: bytes | str) -> tuple[Any, tuple[Issue, ...]]:
    """Parse with the standard library, keeping every number's text and noting duplicate keys.

    Raises json.JSONDecodeError or UnicodeDecodeError for a row that is not JSON, RowRejected for one
    nested too deep.
    """
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    value, end, notes = ExactDecoder().raw_decode(text, 0)
    if text[end:].strip():
        raise json.JSONDecodeError("Extra data", text, end)
    return value, notes


class ExactDecoder:
    """The standard library's decoder, noting what it keeps as text and which keys were written twice."""

    def __init__(self) -> None:
        self._notes: list[Issue] = []
        self._decoder = json.JSONDecoder(object_pairs_hook=self._pairs, parse_int=self._int,
                                         parse_float=self._float, parse_constant=self._constant)

    def raw_decode(self, text: str, pos: int) -> tuple[Any, int, tuple[Issue, ...]]:
        """The value starting at `pos` (after any whitespace), where it ends, and the warnings on it."""
        self._notes = []
        try:
            value, end = self._decoder.raw_decode(text, pos)
        except RecursionError:
            raise RowRejected("nested_too_deep", "the record is nested more levels deep than Python can parse "
                                                 f"(~900); curate keeps records of up to {MAX_DEPTH}") from None
        depth = nesting(value)
        if depth > MAX_DEPTH:
            raise RowRejected("nested_too_deep", f"the record is nested {depth} levels deep; curate keeps "
                                                 f"records of up to {MAX_DEPTH} levels")
        if isinstance(value, dict) and any(n.code == "duplicate_key" for n in self._notes):
            value[SOURCE_ROW_KEY] = text[pos:end].strip()
        return value, end, tuple(self._notes)

    def _as_text(self, literal: str, why: str) -> str:
        shown = literal if len(literal) <= 40 else f"{literal[:20]}...{literal[-10:]} ({len(literal):,} digits)"
        self._notes.append(Issue("number_as_text", f"the number {shown} {why}; it is kept as the text written"))
        return literal

    def _int(self, literal: str) -> int | str:
        if len(literal) - literal.startswith("-") > _MAX_INT_DIGITS:
            return self._as_text(literal, f"has more than {_MAX_INT_DIGITS:,} digits")
        number = int(literal)
        if -(1 << 63) <= number < (1 << 64):
            return number
        return self._as_text(literal, "needs more than 64 bits")

    def _float(self, literal: str) -> float | str:
        number = float(literal)
        return number if math.isfinite(number) else self._as_text(literal, "overflows a double")

    def _constant(self, literal: str) -> str:
        return self._as_text(literal, "is not a JSON number")

    def _pairs(self, items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        if len(obj) < len(items):
            twice = sorted(k for k, n in Counter(k for k, _ in items).items() if n > 1)
            self._notes.append(Issue(
                "duplicate_key", f"key {', '.join(map(repr, twice[:5]))} is written more than once; the last "
                                 f"value is used and the row as written is kept in metadata '{SOURCE_ROW_KEY}'"))
        return obj


def nesting(value: Any) -> int:
    """How many levels of lists and objects `value` has (0 for a scalar), without recursion.

    >>> nesting({"a": [1, {"b": []}]}), nesting("x")
    (4, 0)
    """
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth <= MAX_DEPTH:  # deeper than the limit is all the caller needs to know
            stack.extend((child, depth + 1) for child in children)
    return deepest
