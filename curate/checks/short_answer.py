"""Answers far too short for what the prompt asks: "Explain ..." answered in two words."""

from __future__ import annotations

import re

from .base import Check, Flag, register

_ASKS_FOR_PROSE = re.compile(r"\b(explain|describe|write|compose|draft|summari[sz]e|elaborate|discuss|compare|"
                             r"outline|list|how (do|can|does|should|would|to)|why)\b", re.I)
_ASKS_FOR_SHORT = re.compile(r"\b(classify|categori[sz]e|one word|single word|yes or no|true or false|which (one|of)|"
                             r"label|sentiment|rate|score|choose|select|pick|answer with|in one)\b", re.I)


@register
class ShortAnswer(Check):
    name = "short_answer"
    description = "an answer of one or two words to a prompt that asks for an explanation or a text"

    def check(self, example, ctx):
        prompt = example.prompt
        if not _ASKS_FOR_PROSE.search(prompt) or _ASKS_FOR_SHORT.search(prompt) or len(prompt.split()) < 5:
            return
        turns = [(i, m.content) for i, m in enumerate(example.messages) if m.role == "assistant" and m.content]
        if not turns:
            return
        i, answer = turns[-1]
        n = len(answer.split())
        if n <= 2 and "```" not in answer:
            yield Flag("warning", 0.9 if n == 1 else 0.7,
                       f"turn {i + 1}: a {n}-word answer to a prompt asking for an explanation or a text",
                       {"turn": i, "words": n})
