"""Shared pieces of the format converters: the conversion result and field helpers.

A converter takes one source record (a dict it must not mutate) and returns one or more
`Converted` conversations, or raises `RowRejected` with a stable code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import RowRejected
from ..record import Issue, Message


@dataclass(slots=True)
class Converted:
    messages: list[Message]
    metadata: dict[str, Any]
    tools: tuple[Any, ...] = ()
    warnings: list[Issue] = field(default_factory=list)


def text_field(record: Mapping[str, Any], key: str, *, required: bool = True) -> str:
    """A string field; missing optional fields read as ''. Numbers are not silently stringified."""
    if key not in record or record[key] is None:
        if required:
            raise RowRejected("missing_field", f"field '{key}' is missing")
        return ""
    value = record[key]
    if not isinstance(value, str):
        raise RowRejected("non_string_content", f"field '{key}' is {type(value).__name__}, not text")
    return value


def rest(record: Mapping[str, Any], used: set[str] | frozenset[str]) -> dict[str, Any]:
    """Every field not consumed by the conversation: these become metadata, verbatim."""
    return {k: v for k, v in record.items() if k not in used}


def join_prompt(instruction: str, extra: str) -> str:
    """Instruction and its input/context as one user turn, separated by a blank line."""
    return f"{instruction}\n\n{extra}" if extra.strip() else instruction
