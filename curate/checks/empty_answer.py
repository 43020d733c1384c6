"""Answers that are empty or only whitespace (ingest rejects them; edits and custom loaders can bring them back)."""

from __future__ import annotations

from .base import Check, Flag, register


@register
class EmptyAnswer(Check):
    name = "empty_answer"
    description = "an assistant turn with no text and no tool call"

    def check(self, example, ctx):
        for i, m in enumerate(example.messages):
            if m.role == "assistant" and not m.tool_calls and not m.content.strip():
                yield Flag("error", 1.0, f"turn {i + 1}: the answer is empty", {"turn": i})
