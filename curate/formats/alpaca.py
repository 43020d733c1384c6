"""Alpaca / instruction format: instruction, input, output, optional system and history.

Also reads the self-instruct seed variant where `instances` holds a list of {input, output};
each instance becomes its own example.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import RowRejected
from ..record import Message
from .base import Converted, join_prompt, rest, text_field

NAME = "alpaca"
_USED = frozenset({"instruction", "input", "output", "system", "history"})


def matches(record: Mapping[str, Any]) -> bool:
    return "instruction" in record and ("output" in record or "instances" in record or "input" in record)


def _history(record: Mapping[str, Any]) -> list[Message]:
    history = record.get("history") or []
    if not isinstance(history, list):
        raise RowRejected("missing_messages", "'history' must be a list of [prompt, answer] pairs")
    turns: list[Message] = []
    for i, pair in enumerate(history):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            raise RowRejected("not_a_turn", f"history[{i}] is not a [prompt, answer] pair")
        if not all(isinstance(x, str) for x in pair):
            raise RowRejected("non_string_content", f"history[{i}] holds non-text values")
        turns += [Message("user", pair[0]), Message("assistant", pair[1])]
    return turns


def convert(record: Mapping[str, Any]) -> list[Converted]:
    instruction = text_field(record, "instruction")
    system = text_field(record, "system", required=False)
    head = ([Message("system", system)] if system else []) + _history(record)
    if "instances" in record and "output" not in record:
        return _instances(record, instruction, head)
    prompt = join_prompt(instruction, text_field(record, "input", required=False))
    output = text_field(record, "output")
    messages = head + [Message("user", prompt), Message("assistant", output)]
    return [Converted(messages, rest(record, _USED))]


def _instances(record: Mapping[str, Any], instruction: str, head: list[Message]) -> list[Converted]:
    instances = record["instances"]
    if not isinstance(instances, list) or not instances:
        raise RowRejected("missing_field", "'instances' must be a non-empty list of {input, output}")
    meta = rest(record, _USED | {"instances"})
    out = []
    for i, inst in enumerate(instances):
        if not isinstance(inst, dict):
            raise RowRejected("not_an_object", f"instances[{i}] is not an object")
        prompt = join_prompt(instruction, text_field(inst, "input", required=False))
        messages = head + [Message("user", prompt), Message("assistant", text_field(inst, "output"))]
        extra = rest(inst, {"input", "output"})
        meta_i = dict(meta, instance=i, **({"instance_fields": extra} if extra else {}))
        out.append(Converted(messages, meta_i if len(instances) > 1 or extra else dict(meta)))
    return out
