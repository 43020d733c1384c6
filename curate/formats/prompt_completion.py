"""Prompt/completion pairs (OpenAI legacy fine-tuning, TRL's standard format)."""

from __future__ import annotations

from typing import Any, Mapping

from ..record import Message
from .base import Converted, rest, text_field

NAME = "prompt_completion"
_USED = frozenset({"prompt", "completion"})


def matches(record: Mapping[str, Any]) -> bool:
    return isinstance(record.get("prompt"), str) and "completion" in record


def convert(record: Mapping[str, Any]) -> list[Converted]:
    messages = [Message("user", text_field(record, "prompt")),
                Message("assistant", text_field(record, "completion"))]
    return [Converted(messages, rest(record, _USED))]
