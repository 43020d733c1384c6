"""OpenAI chat fine-tuning format: `messages` with role/content, plus name, tool_calls, weight and `tools`."""

from __future__ import annotations

from typing import Any, Mapping

import orjson

from ..errors import RowRejected
from ..record import Message
from .base import Converted, rest
from .turns import content_text, role_of, tool_call

NAME = "openai"
_ROLES = {"system": "system", "user": "user", "assistant": "assistant", "tool": "tool", "developer": "system",
          "function": "tool"}
_TURN_KEYS = frozenset({"role", "content", "name", "tool_calls", "function_call", "tool_call_id", "weight"})


def matches(record: Mapping[str, Any]) -> bool:
    msgs = record.get("messages")
    return "messages" in record and not (isinstance(msgs, list) and msgs and isinstance(msgs[0], dict)
                                         and "from" in msgs[0] and "role" not in msgs[0])


def _turn(raw: Any, i: int) -> tuple[Message, dict]:
    where = f"messages[{i}]"
    if not isinstance(raw, dict):
        raise RowRejected("not_a_turn", f"{where} is {type(raw).__name__}, not an object")
    if not isinstance(raw.get("role"), str):
        raise RowRejected("unknown_role", f"{where} has no role")
    role, written = role_of(raw["role"], _ROLES)
    if role is None:
        raise RowRejected("unknown_role", f"{where} has role {raw['role']!r}")
    calls = raw.get("tool_calls") or ([raw["function_call"]] if raw.get("function_call") else [])
    if not isinstance(calls, list):
        raise RowRejected("invalid_tool_call", f"{where}.tool_calls is not a list")
    tool_calls = tuple(tool_call(c, f"{where}.tool_calls[{j}]") for j, c in enumerate(calls))
    content = content_text(raw.get("content"), where, allow_none=bool(tool_calls) or role == "tool")
    weight = raw.get("weight")
    if weight is not None and (isinstance(weight, bool) or weight not in (0, 1)):
        raise RowRejected("invalid_weight", f"{where} has weight {weight!r}")
    name, call_id = raw.get("name"), raw.get("tool_call_id")
    msg = Message(role, content, name if isinstance(name, str) else None, tool_calls,
                  call_id if isinstance(call_id, str) else None, weight)
    extras = {k: v for k, v in raw.items() if k not in _TURN_KEYS}
    if written is not None:
        extras["role"] = written  # "User", "ASSISTANT": read as the role, kept as written
    return msg, extras


def convert(record: Mapping[str, Any]) -> list[Converted]:
    raw_msgs = record.get("messages")
    if not isinstance(raw_msgs, list) or not raw_msgs:
        raise RowRejected("missing_messages", "'messages' must be a non-empty list of turns")
    messages, extras = [], {}
    for i, raw in enumerate(raw_msgs):
        msg, extra = _turn(raw, i)
        messages.append(msg)
        if extra:
            extras[str(i)] = extra
    tools = record.get("tools", record.get("functions"))
    meta = rest(record, {"messages", "tools", "functions"})
    if extras:
        meta["turn_fields"] = extras
    if isinstance(tools, str):  # columnar files (Parquet, HF) hold the tool schemas as JSON text
        try:
            parsed = orjson.loads(tools)
        except orjson.JSONDecodeError:
            parsed = None
        tools = parsed if isinstance(parsed, list) else tools
    if tools is not None and not isinstance(tools, list):
        meta["tools"] = tools
        tools = None
    return [Converted(messages, meta, tuple(tools or ()))]
