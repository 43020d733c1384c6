"""Answers that stop short: an unclosed code fence, unbalanced brackets, or a sentence cut mid-way."""

from __future__ import annotations

import re

from .base import Check, Flag, answers, register, span

_PAIRS = {"(": ")", "[": "]", "{": "}"}
_LIST_OR_CODE = re.compile(r"^\s*([-*+]|\d+[.)]|[A-Za-z][.)]\s|[IVX]+\.\s|#|>|\||    |\t)")
_OPEN_TAG = re.compile(r"<[A-Za-z][\w-]*(?:\s[^<>]*)?$")
_ENDS_CUT = re.compile(r"[A-Za-z0-9,(\-]")  # matched against the last character
_DANGLING = {"the", "a", "an", "and", "or", "to", "of", "with", "for", "in", "on", "at", "by", "from", "that",
             "which", "then", "but", "because", "is", "are", "was", "were", "will", "can", "your", "their", "its",
             "this", "these", "as", "than", "into", "if", "when", "while", "so"}
_SENTENCE_END = re.compile(r"[.!?][\"')\]]?(\s|$)")
_ENDS_SENTENCE = re.compile(r"[.!?][\"')\]]?\s*$")
# Comments, printed output, hashtags, figures, a quotation's attribution ("..." - C.S. Lewis), and lines
# whose last token is code (/cat/g, my_var): none of these is a sentence that could be cut.
_NOT_A_SENTENCE = re.compile(r"(^\s*(//|#\s|Output\b)|#\w+$|^\W*\d[\d\s.,:%x*/+=-]*$|"
                             r"[\"”']\s*[-–—]\s*[A-Z][\w.]*(\s+[A-Z][\w.]*)*$)", re.I)
_CODE_TOKEN = re.compile(r"[/\\{}<>_=`]")
_CODE_ANSWER_LINE = re.compile(r"[;{}]\s*$|^\s*(def|class|return|import|from|for|while|if|elif|else|function|var|let|"
                               r"const|public|private|static|#include|SELECT|print|console\.|end\s*(if|for|while)|"
                               r"endif|endwhile|endfor|fi|done|esac)\b|^(\s{4,}|\t)\S")
_OPEN_QUOTE = re.compile(r"(^|\s)\"\w[^\"]*$")  # a quotation mark that opens, with no closing one after it
_ASSIGNMENT = re.compile(r"\s*[\w.\[\]'\"]+\s*[-+*/]?=\s*\S")  # `x = 5`, `total += x`: code, not prose
_LIST_NUMBER = re.compile(r"\s*(\d{1,2})[.)]\s")
_NUMBERS = {w: n for n, w in enumerate("one two three four five six seven eight nine ten eleven twelve thirteen "
                                         "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split(), 1)}
_ASKED = re.compile(r"\b(?:list|name|give|provide|generate|suggest|write|create|identify|compose|brainstorm|"
                    r"come up with|outline|describe|find|recommend|share|offer)\b[^.?!\n]{0,40}?\b(\d{1,2}|" +
                    "|".join(_NUMBERS) + r")\b(?!\s*(?:words?|sentences?|characters?|paragraphs?|lines?|"
                    r"minutes?|seconds?|hours?|days?|years?|%|percent))", re.I)
_CLOSING = re.compile(r"\b(regards|sincerely|thanks|thank you|cheers|best|yours|love|warmly)\b", re.I)


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
        lines = [line for line in body.splitlines() if line.strip()]
        last_line = lines[-1] if lines else ""
        words = last_line.split()
        if not words or "://" in words[-1]:
            return
        tail = span(i, body, max(0, len(body) - 40), len(body))
        quoted = " ".join(words[-4:])
        if body[-1] in "=+/:" and body[-2:-1] not in ("=", ":") and len(body) >= 40:
            yield Flag("warning", 0.6, f"turn {i + 1}: the answer stops after \"{body[-1]}\" (\"...{quoted}\")",
                       tail)
            return
        item = _LIST_NUMBER.match(last_line)
        asked = _asked_count(example.prompt) if item else None
        if asked and int(item.group(1)) < asked and item.group(1) != "0":
            yield Flag("warning", 0.7, f"turn {i + 1}: the list stops at item {item.group(1)} of the {asked} asked "
                       f"for (\"...{quoted}\")", tail)
            return
        if _NOT_A_SENTENCE.search(last_line[-80:]) or _CODE_TOKEN.search(words[-1]):
            return
        if _OPEN_QUOTE.search(last_line):
            yield Flag("warning", 0.6, f"turn {i + 1}: a quotation is opened and never closed (\"...{quoted}\")",
                       tail)
            return
        if not _ENDS_CUT.match(body[-1]) or _CODE_ANSWER_LINE.search(last_line) or _ASSIGNMENT.match(last_line):
            return
        # Ends on a word no phrase ends on ("and", "the", "to"), or on a comma, an open bracket or a dash.
        dangling = words[-1].lower().strip(",(-") in _DANGLING or body.endswith(("(", "-"))
        if dangling or (body.endswith(",") and not _CLOSING.search(last_line)):
            yield Flag("warning", 0.6, f"turn {i + 1}: the answer stops mid-phrase (\"...{quoted}\")", tail)
            return
        if _is_code(lines):
            return  # unfenced code: a cut shows as open brackets (above), not as a missing full stop
        if _LIST_OR_CODE.match(last_line):
            items = [line for line in lines[:-1] if _LIST_OR_CODE.match(line)]
            if _item_cut(words, items):
                yield Flag("warning", 0.6, f"turn {i + 1}: the last list item stops short of its siblings "
                           f"(\"...{quoted}\")", tail)
            return
        # Cut mid-sentence: the answer punctuates its other sentences but not this one; or the last line is
        # a long lower-case sentence with no end. A closing line ("Best regards") or a signature is not.
        punctuated = len(_SENTENCE_END.findall("\n".join(lines[:-1]))) >= 2
        capitals = sum(w[:1].isupper() for w in words) / len(words)
        wordy = sum(any(c.isalpha() for c in w) for w in words) >= 0.6 * len(words)  # not "12 -> 15 -> 20"
        prose_line = len(words) >= 8 and capitals < 0.4 and wordy  # a sentence, not a title, heading or name
        signature = len(lines) >= 2 and lines[-2].rstrip().endswith(",") and len(words) <= 4
        if (punctuated and wordy or prose_line) and not signature:
            yield Flag("warning", 0.6, f"turn {i + 1}: the answer ends mid-sentence (\"...{quoted}\")", tail)


def _asked_count(prompt: str) -> int | None:
    """How many items the prompt asks for ("Name five countries", "List 10 tips"), if it says."""
    m = _ASKED.search(prompt)
    if not m:
        return None
    word = m.group(1).lower()
    n = int(word) if word.isdigit() else _NUMBERS[word]
    return n if 2 <= n <= 30 else None


def _item_cut(words: list[str], items: list[str]) -> bool:
    """A list item may end without punctuation, unless its siblings end with a full stop, or it is a
    fragment of theirs (a third of their usual length, when they run to sentences)."""
    if len(items) < 2:
        return False
    stops = sum(_ENDS_SENTENCE.search(line) is not None for line in items)
    if stops >= 0.8 * len(items) or (stops >= 0.5 * len(items) and len(words) >= 10):
        return True
    lengths = sorted(len(line.split()) for line in items)
    typical = lengths[len(lengths) // 2]
    final_step = words[-1].lower() in ("end", "done", "stop", "finish", "exit")  # "8. End" closes an algorithm
    return typical >= 6 and len(words) <= typical / 3 and not final_step


def _is_code(lines: list[str]) -> bool:
    code = sum(_CODE_ANSWER_LINE.search(line) is not None for line in lines)
    return len(lines) >= 3 and code >= 0.3 * len(lines)
