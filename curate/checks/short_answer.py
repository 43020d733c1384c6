"""Answers far too short for what the prompt asks: "Explain ..." answered in two words."""

from __future__ import annotations

import re

from .base import Check, Flag, asked_by, register
from .code import ASKS_FOR_CODE

# "List" asks for prose only as an instruction ("List five ..."), not as a noun ("the given list").
_ASKS_FOR_PROSE = re.compile(r"\b(explain|describe|write|compose|draft|summari[sz]e|elaborate|discuss|compare|"
                             r"outline|how (do|can|does|should|would|to)|why)\b|"
                             r"(?:^|[.!?:\n]\s*)list\b(?!\s*[=:\[])", re.I)
_ASKS_FOR_SHORT = re.compile(r"\b(classify|categori[sz]e|one word|single word|yes or no|true or false|which (one|of)|"
                             r"label|sentiment|rate|score|choose|select|pick|answer with|in one)\b", re.I)
# Asking for detail outweighs a word like "classify" elsewhere in the prompt.
_DEMANDS_DETAIL = re.compile(r"\b(in detail|detailed|step[- ]by[- ]step|thoroughly|in depth|at length|essay|"
                             r"paragraphs?|at least \d+ words)\b", re.I)
_LOOKS_LIKE_CODE = re.compile(r"[(){}\[\];=$\\<>/*^|`]|\w\.\w|^[a-z]+_[a-z_]+$")
# Words that answer nothing, whatever the prompt asked for.
_FILLER = {"yes", "no", "sure", "ok", "okay", "maybe", "thanks", "fine", "n/a", "none", "idk", "yep", "nope",
           "certainly", "of course", "done"}


@register
class ShortAnswer(Check):
    name = "short_answer"
    description = "an answer of one or two words to a prompt that asks for an explanation or a text"

    def check(self, example, ctx):
        turns = [(i, m.content) for i, m in enumerate(example.messages) if m.role == "assistant" and m.content]
        if not turns:
            return
        i, answer = turns[-1]
        n = len(answer.split(None, 3))  # the answer first: most are far longer, and this is the cheap test
        if n > 2 or "```" in answer:
            return
        prompt = asked_by(example, i)  # the question this answer answers, in a conversation the last one
        if not _ASKS_FOR_PROSE.search(prompt) or len(prompt.split()) < 5:
            return
        if _ASKS_FOR_SHORT.search(prompt) and not _DEMANDS_DETAIL.search(prompt):
            return
        filler = answer.strip(" .!?\n").lower() in _FILLER
        # A one-line answer to a request for code ("mkdir test", "db.c.countDocuments()") is complete.
        if not filler and (ASKS_FOR_CODE.search(prompt) or _LOOKS_LIKE_CODE.search(answer.strip())):
            return
        yield Flag("warning", 0.9 if n == 1 else 0.7,
                   f"turn {i + 1}: a {n}-word answer to a prompt asking for an explanation or a text",
                   {"turn": i, "words": n})
