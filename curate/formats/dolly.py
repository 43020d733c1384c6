"""Databricks Dolly: instruction, context, response, category."""

from __future__ import annotations

from typing import Any, Mapping

from ..record import Message
from .base import Converted, join_prompt, rest, text_field

NAME = "dolly"
_USED = frozenset({"instruction", "context", "response"})


def matches(record: Mapping[str, Any]) -> bool:
    return "instruction" in record and "response" in record


def convert(record: Mapping[str, Any]) -> list[Converted]:
    prompt = join_prompt(text_field(record, "instruction"), text_field(record, "context", required=False))
    messages = [Message("user", prompt), Message("assistant", text_field(record, "response"))]
    return [Converted(messages, rest(record, _USED))]
