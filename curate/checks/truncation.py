"""Answers that stop short: an unclosed code fence, unbalanced brackets, or a sentence cut mid-way."""

from __future__ import annotations

import re

from .base import Check, Flag, answers, register, span

_PAIRS = {"(": ")", "[": "]", "{": "}"}
_LIST_OR_CODE = re.compile(r"^\s*([-*+]|\d+[.)]|#|>|\||    |\t)")
_OPEN_TAG = re.compile(r"<[A-Za-z][\w-]*(?:\s[^<>]*)?$")
_ENDS_CUT = re.compile(r"[A-Za-z0-9,(\-]$")
_DANGLING = {"the", "a", "an", "and", "or", "to", "of", "with", "for", "in", "on", "at", "by", "from", "that",
             "which", "then", "but", "because", "is", "are", "was", "were", "will", "can", "your", "their", "its",
             "this", "these", "as", "than", "into", "if", "when", "while", "so"}
_SENTENCE_END = re.compile(r"[.!?][\"')\]]?(\s|$)")
_CODE_LINE = re.compile(r"[;{}=]|^\s*(SELECT|def|class|return|import|from|if|for)\b")


def _unbalanced(text: str) -> str | None:
    if all(text.count(o) == text.count(c) for o, c in _PAIRS.items()):
        return None  # equal counts: the exact (ordered) scan below cannot find an opener left open
    stack = []
    for ch in text:
        if ch in _PAIRS:
            stack.append(ch)
        elif ch in _PAIRS.values():
            if stack and _PAIRS[stack[-1]] == ch:
                stack.pop()
            else:
                return None  # a stray closer is a style issue (smileys, "1)" lists), not a cut
    return stack[-1] if stack else None


@register
class Truncation(Check):
    name = "truncation"
    description = "an answer that ends inside a code block, with open brackets, or mid-sentence"

    def check(self, example, ctx):
        turns = list(answers(example))
        if not turns:
            return
        i, text = turns[-1]  # only the final answer can be cut by a length limit
        body = text.rstrip()
        if body.count("```") % 2 == 1:
            start = body.rfind("```")
            yield Flag("error", 0.95, f"turn {i + 1}: a code block is opened and never closed",
                       span(i, body, start, len(body)))
            return
        tag = _OPEN_TAG.search(body)
        if tag:
            yield Flag("warning", 0.8, f"turn {i + 1}: the answer ends inside a markup tag \"{tag.group(0)[:30]}\"",
                       span(i, body, tag.start(), len(body)))
            return
        prose = re.sub(r"```.*?```", "", body, flags=re.S)
        opener = _unbalanced(prose)
        if opener and prose.rstrip()[-1:] not in (")", "]", "}"):
            yield Flag("warning", 0.7, f"turn {i + 1}: '{opener}' is opened and never closed", {"turn": i})
            return
        last_line = body.splitlines()[-1] if body else ""
        words = last_line.split()
        if not (_ENDS_CUT.search(body) and len(words) >= 4 and not _CODE_LINE.search(last_line)
                and "://" not in words[-1]):
            return
        if _LIST_OR_CODE.match(last_line):
            # A list item may end without punctuation, but not on "and", "the" or "to".
            if words[-1].lower().strip(",(-") in _DANGLING or body.endswith((",", "(", "-")):
                yield Flag("warning", 0.6, f"turn {i + 1}: the last list item stops mid-phrase "
                           f"(\"...{' '.join(words[-4:])}\")", span(i, body, max(0, len(body) - 40), len(body)))
            return
        # Cut mid-sentence: it ends on a word no sentence ends on, or on a comma; or the answer punctuates
        # its other sentences but not this one; or the last line is a long lower-case sentence with no end.
        # Outlines, headings and titles (mostly capitalised words) are not flagged.
        dangling = words[-1].lower().strip(",(-") in _DANGLING or body.endswith((",", "(", "-"))
        punctuated = len(_SENTENCE_END.findall(prose)) >= 2
        capitals = sum(w[:1].isupper() for w in words) / len(words)
        prose_line = len(words) >= 8 and capitals < 0.4  # a sentence, not a title, heading or name
        if dangling or punctuated or prose_line:
            yield Flag("warning", 0.6, f"turn {i + 1}: the answer ends mid-sentence (\"...{' '.join(words[-4:])}\")",
                       span(i, body, max(0, len(body) - 40), len(body)))
