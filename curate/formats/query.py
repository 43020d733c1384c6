"""Plain production queries: the first text field among the usual names becomes one user turn."""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import RowRejected
from ..record import Message
from .base import Converted, rest

NAME = "query"
FIELDS = ("text", "query", "question", "prompt", "input", "utterance", "message", "content", "instruction")


def matches(record: Mapping[str, Any]) -> bool:
    return any(isinstance(record.get(f), str) for f in FIELDS)


def convert(record: Mapping[str, Any]) -> list[Converted]:
    for name in FIELDS:
        if isinstance(record.get(name), str):
            return [Converted([Message("user", record[name])], rest(record, {name}))]
    if any(f in record for f in FIELDS):
        raise RowRejected("non_string_content", "the query field does not hold text")
    raise RowRejected("missing_field", f"no query text: expected one of the fields {', '.join(FIELDS)}")
