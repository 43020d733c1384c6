"""Turn-level parsing shared by the chat formats: content parts and tool calls."""

from __future__ import annotations

from typing import Any, Mapping

import orjson

from ..errors import RowRejected
from ..record import ToolCall


def content_text(value: Any, where: str, *, allow_none: bool = False) -> str:
    """A turn's content as text: a string, or a list of OpenAI text parts joined in order."""
    if isinstance(value, str):
        return value
    if value is None:
        if allow_none:
            return ""
        raise RowRejected("empty_content", f"{where} has no content")
    if isinstance(value, list):
        texts = []
        for part in value:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            else:
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise RowRejected("non_string_content", f"{where} has a content part of type {kind!r}")
        return "".join(texts)
    raise RowRejected("non_string_content", f"{where} content is {type(value).__name__}, not text")


def arguments_text(args: Any, where: str) -> str:
    if isinstance(args, str):
        return args
    if isinstance(args, (dict, list)):
        return orjson.dumps(args).decode()
    if args is None:
        return "{}"
    raise RowRejected("invalid_tool_call", f"{where} arguments are {type(args).__name__}, not JSON")


def tool_call(raw: Any, where: str) -> ToolCall:
    """One call, from OpenAI's {id, type, function: {name, arguments}} or the flat {name, arguments}."""
    if not isinstance(raw, dict):
        raise RowRejected("invalid_tool_call", f"{where} is not an object")
    fn = raw.get("function", raw)
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
        raise RowRejected("invalid_tool_call", f"{where} has no function name")
    call_id = raw.get("id")
    return ToolCall(fn["name"], arguments_text(fn.get("arguments"), where),
                    call_id if isinstance(call_id, str) else None)


def role_of(name: Any, aliases: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(the role a speaker name stands for, or None; the name as written when its case or spacing differs
    from the format's own spelling, so metadata can keep it).

    >>> aliases = {"user": "user", "human": "user"}
    >>> role_of("User", aliases), role_of("human", aliases), role_of(" HUMAN ", aliases), role_of("bot", aliases)
    (('user', 'User'), ('user', None), ('user', ' HUMAN '), (None, None))
    """
    if not isinstance(name, str):
        return None, None
    key = name.strip().lower()
    role = aliases.get(key)
    return role, (name if role is not None and name != key else None)
