"""ShareGPT: `conversations` of {from, value}, with role aliases, optional `system` and `tools`.

`function_call` turns become assistant tool calls and `observation` turns tool results,
so tool-use data from LLaMA-Factory / Glaive keeps its structure.
"""

from __future__ import annotations

from typing import Any, Mapping

import orjson

from ..errors import RowRejected
from ..record import Issue, Message
from .base import Converted, rest
from .turns import role_of, tool_call

NAME = "sharegpt"
ROLE_ALIASES = {
    "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "bot": "assistant",
    "chatgpt": "assistant", "model": "assistant", "bard": "assistant", "system": "system",
    "function_call": "function_call", "observation": "tool", "tool": "tool", "function": "tool",
    "function_response": "tool", "ipython": "tool",
}
_KEYS = ("conversations", "conversation", "messages")
_TURN_KEYS = frozenset({"from", "value", "role", "content"})


def _turns_key(record: Mapping[str, Any]) -> str | None:
    return next((k for k in _KEYS if k in record), None)


def matches(record: Mapping[str, Any]) -> bool:
    key = _turns_key(record)
    if key in ("conversations", "conversation"):
        return True
    turns = record.get("messages")
    return isinstance(turns, list) and bool(turns) and isinstance(turns[0], dict) and "from" in turns[0]


def _function_call(value: str, where: str) -> Message:
    try:
        call = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise RowRejected("invalid_tool_call", f"{where} function_call value is not JSON") from None
    return Message("assistant", "", tool_calls=(tool_call(call, where),))


def _tools(raw: Any, meta: dict, warnings: list[Issue]) -> tuple[Any, ...]:
    if raw is None or raw == "" or raw == []:
        return ()
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            meta["tools"] = raw
            warnings.append(Issue("tools_not_json", "the 'tools' field is not valid JSON; kept as text"))
            return ()
    return tuple(raw) if isinstance(raw, list) else (raw,)


def convert(record: Mapping[str, Any]) -> list[Converted]:
    key = _turns_key(record)
    raw_turns = record.get(key) if key else None
    if not isinstance(raw_turns, list) or not raw_turns:
        raise RowRejected("missing_messages", "'conversations' must be a non-empty list of {from, value} turns")
    messages: list[Message] = []
    extras: dict[str, Any] = {}
    system = record.get("system")
    if isinstance(system, str) and system:
        messages.append(Message("system", system))
    for i, turn in enumerate(raw_turns):
        where = f"{key}[{i}]"
        if not isinstance(turn, dict):
            raise RowRejected("not_a_turn", f"{where} is {type(turn).__name__}, not an object")
        speaker = turn.get("from", turn.get("role"))
        value = turn.get("value", turn.get("content"))
        role, written = role_of(speaker, ROLE_ALIASES)
        if role is None:
            raise RowRejected("unknown_role", f"{where} has unknown speaker {speaker!r}")
        if not isinstance(value, str):
            raise RowRejected("non_string_content", f"{where} value is {type(value).__name__}, not text")
        messages.append(_function_call(value, where) if role == "function_call" else Message(role, value))
        extra = {k: v for k, v in turn.items() if k not in _TURN_KEYS}
        if written is not None and written.strip().lower() not in ("human", "gpt"):  # ShareGPT's own spellings
            extra["from"] = written
        if extra:
            extras[str(i)] = extra
    meta = rest(record, {key or "", "tools"} | ({"system"} if isinstance(system, str) else set()))
    if extras:
        meta["turn_fields"] = extras
    warnings: list[Issue] = []
    tools = _tools(record.get("tools"), meta, warnings)
    return [Converted(messages, meta, tools, warnings)]
