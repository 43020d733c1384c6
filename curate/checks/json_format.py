"""Structured output: answers that should be JSON (the prompt asks for it, or most answers in the
set are JSON) but do not parse, and JSON key styles that disagree with the set's majority."""

from __future__ import annotations

import json
import re
from collections import Counter

from .base import Check, Flag, answers, asked_by, register
from .code import ASKS_FOR_CODE

# JSON asked for as the output. Firmly ("Return the answer as JSON", "respond in JSON", "JSON only"),
# whatever else the prompt says; or loosely ("create a JSON object"), unless the prompt is a coding task
# where JSON is the subject ("Write a C++ code to access JSON data").
_INSISTS_ON_JSON = re.compile(r"\b(?:respond|reply|answer|return|output|format(?:ted)?)\b[^.?!\n]{0,30}?\b(?:in|as)\s+"
                              r"(?:a\s+|an\s+|valid\s+)?json\b|\bjson\s+only\b|\b(?:respond|reply|answer|"
                              r"return|output)\s+(?:only\s+|valid\s+)?json\b", re.I)
_ASKS_JSON = re.compile(r"\b(?:give|provide|generate|produce|write|create|make|list)\b[^.?!\n]{0,30}?\bjson\b|"
                        r"\b(?:in|as)\s+(?:a\s+|an\s+|valid\s+)?json\b", re.I)
_FENCE = re.compile(r"^```(?:json)?\s*\n(.*)\n```\s*$", re.S)
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
_CAMEL = re.compile(r"^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+$")


_JSON_BLOCK = re.compile(r"```json\s*\n(.*?)\n```", re.S | re.I)


def _payload(text: str) -> str:
    """The JSON an answer gives: all of it, the inside of its fence, or a ```json block within prose
    ("Sure, here is the data: ```json ...```")."""
    m = _FENCE.match(text.strip())
    if m:
        return m.group(1)
    block = _JSON_BLOCK.search(text) if "```" in text else None
    return block.group(1).strip() if block else text.strip()


def parse(text: str):
    """(value, looks_like_json): looks-like means it opens and closes like an object or array."""
    body = _payload(text)
    first = body[1:].lstrip()[:1]
    # JSON keys take double quotes: {'name': ...} is a Python or JavaScript literal, not broken JSON.
    if not (body.startswith("{") and body.endswith("}") and first in ('"', "}")
            or body.startswith("[") and body.endswith("]") and first and first in '"{[-0123456789tfn]'):
        return None, False  # "[image]" and "{name}" are text
    try:
        return json.loads(body), True
    except ValueError:
        return None, True


def _keys(value, out: list[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            out.append(k)
            _keys(v, out)
    elif isinstance(value, list):
        for v in value[:50]:
            _keys(v, out)


def key_style(value) -> str | None:
    keys: list[str] = []
    _keys(value, keys)
    styles = Counter("snake" if _SNAKE.match(k) else "camel" if _CAMEL.match(k) else None for k in keys)
    styles.pop(None, None)
    return styles.most_common(1)[0][0] if styles else None


@register
class JsonFormat(Check):
    name = "json_format"
    description = "answers that should be JSON but do not parse; JSON key style unlike the rest of the set"
    observes_shares = True  # a majority (measured on a sample of a large collection)

    def __init__(self):
        self.total = self.json_like = 0
        self.styles: Counter = Counter()

    def observe(self, example, ctx):
        for _, text in answers(example):
            self.total += 1
            value, looks = parse(text)
            if looks and value is not None:
                self.json_like += 1
                style = key_style(value)
                if style:
                    self.styles[style] += 1

    def finish(self, ctx):
        ctx.stats["json_majority"] = self.total > 0 and self.json_like / self.total > 0.5
        ctx.stats["json_key_style"] = self.styles.most_common(1)[0][0] if sum(self.styles.values()) >= 3 else None

    def check(self, example, ctx):
        for i, text in answers(example):
            # Each answer is judged by the user turn it answers: in a conversation, a request for JSON in
            # the first turn does not make every later answer JSON.
            prompt = asked_by(example, i)
            asked = "json" in prompt.lower() and bool(
                _INSISTS_ON_JSON.search(prompt) or _ASKS_JSON.search(prompt) and not ASKS_FOR_CODE.search(prompt))
            wants_json = asked or ctx.stats.get("json_majority", False)
            value, looks = parse(text)
            if value is None and (looks or wants_json):
                why = ("the prompt asks for JSON" if asked else
                       "most answers are JSON" if wants_json else "it is shaped like JSON")
                yield Flag("error", 0.9, f"turn {i + 1}: the answer is not valid JSON ({why})", {"turn": i})
            elif value is not None:
                style, majority = key_style(value), ctx.stats.get("json_key_style")
                if style and majority and style != majority:
                    yield Flag("warning", 0.6, f"turn {i + 1}: JSON keys in {style} case; most of the set uses "
                               f"{majority} case", {"turn": i, "style": style, "majority": majority})
