"""Refusals and assistant boilerplate: "As an AI language model", "I cannot help with that".

Patterns are about the assistant refusing or talking about itself, not about a policy it states:
"I cannot refund after 30 days" is a support answer, not a refusal.
"""

from __future__ import annotations

import re

from .base import Check, Flag, answers, asked_by, register, span

# "As an AI researcher, I", "not just as an AI tool": a person or a thing in the field, not the assistant.
_AI_NOUN = (r"(?:tools?|researchers?|experts?|engineers?|ethicists?|scientists?|developers?|companies|company|"
            r"startups?|enthusiasts?|products?|practitioners?|professionals?|specialists?|consultants?|teams?|"
            r"community|leaders?|labs?|firms?|platforms?|systems? designer)\b")
_BOILERPLATE = re.compile(
    r"(?:\bas an? (ai|artificial intelligence)( language model| assistant| model)?\b(?! " + _AI_NOUN + r")|"
    r"\bi(?: am|'m) (just |only )?an? (ai|language model|large language model|virtual assistant)\b|"
    r"\bmy (knowledge cutoff|training data)\b)", re.I)
_REFUSAL = re.compile(
    r"(?:\bi(?:'m| am)? (?:sorry,? (?:but )?)?(?:i )?(?:can(?:no|')t|cannot|won't|will not|am unable to|am not able to|"
    r"'m unable to|'m not able to|unable to|not able to) "
    r"(?:help|assist|comply|fulfil+|provide|do|answer|support|engage|create|generate|write|share)(?: you)?(?: with)? "
    r"(?:that|this|it|your request|such|the request|these|those)\b|"
    r"\bi (?:must|have to) (?:decline|refuse)\b|\bi(?:'m| am) not (?:comfortable|allowed|permitted) (?:to|with)\b|"
    r"\b(?:that|this) (?:request )?(?:goes against|violates) my\b)", re.I)
# Words every match of a pattern contains, lowercased: a text holding none of them is not searched.
_REFUSAL_HINTS = ("cannot", "can't", "won't", "will not", "unable to", "not able to", "decline", "refuse",
                  "not comfortable", "not allowed", "not permitted", "goes against", "violates")
_BOILERPLATE_HINTS = ("an ai", "a ai", "artificial intelligence", "language model", "virtual assistant",
                      "knowledge cutoff", "training data")
# The user asking the assistant about itself ("Who are you?", "Are you GPT-4?", "Who taught you?").
_ASKS_IDENTITY = re.compile(r"\b(?:who|what) are you\b|\byour name\b|introduce yourself|about yourself|about you\b|"
                            r"who you are|who (?:made|created|built|trained|taught|developed|programmed) you|"
                            r"\bare you\b[^.!?\n]{0,40}\?|what are you called|what should i call you|which model|"
                            r"your (?:creator|developer|training|model)\b", re.I)
_OUT_OF_SCOPE = re.compile(r"capabilit|\bfunctions?\b|\btools?\b|external task|\bability to\b", re.I)
_PATTERNS = ((_REFUSAL, _REFUSAL_HINTS, "refuses the request", "warning", 0.8),
             (_BOILERPLATE, _BOILERPLATE_HINTS, "AI-assistant boilerplate", "warning", 0.6))


@register
class Refusal(Check):
    name = "refusal"
    description = "the assistant refuses the request or talks about being an AI"

    def check(self, example, ctx):
        for i, text in answers(example):
            low = text.lower()
            for pattern, hints, what, severity, score in _PATTERNS:
                m = pattern.search(text) if any(h in low for h in hints) else None
                if m and pattern is _BOILERPLATE and _ASKS_IDENTITY.search(asked_by(example, i)):
                    # "Who are you?" answered "I'm a language model called Vicuna": the question was about
                    # the assistant, so saying what it is answers it (identity sets are made of these).
                    yield Flag("info", 0.2, f"turn {i + 1}: says what it is, asked about itself: \"{m.group(0)}\"",
                               span(i, text, m.start(), m.end()))
                    break
                if m and example.tools and _OUT_OF_SCOPE.search(text):
                    # Tool-use data teaches declining what the tools cannot do ("I can't book flights; my
                    # function calculates distances"): the right answer there, noted, not held against it.
                    yield Flag("info", 0.3, f"turn {i + 1}: declines a request its tools do not cover: "
                               f"\"{m.group(0)}\"", span(i, text, m.start(), m.end()))
                    break
                if m:
                    yield Flag(severity, score, f"turn {i + 1}: {what}: \"{m.group(0)}\"",
                               span(i, text, m.start(), m.end()))
                    break
