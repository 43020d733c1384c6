"""Answers that stop short: an unclosed code fence, tag or bracket, a list short of what was asked, or a
sentence cut mid-way.

Each rule below looks at the end of the final answer (only it can be cut by a length limit) and either
names what it found or passes; the first that finds something is reported. The rules trade recall for a
low flag rate: a cut that lands at the end of a line (a list item, a poem line) reads as a complete
answer and is not guessed at. Measured in bench/checks.py.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import NamedTuple

from .base import Check, Flag, answers, asked_by, register, span
from .code import CODE_LINE, FENCED_BLOCK, is_code

_PAIRS = {"(": ")", "[": "]", "{": "}"}
_QUOTED_BRACKET = re.compile(r"`[^`\n]*`|(['\"])[()\[\]{}]\1")
_LIST_OR_CODE = re.compile(r"^\s*([-*+]|\d+[.)]|[A-Za-z][.)]\s|[IVX]+\.\s|#|>|\||    |\t)")
_OPEN_TAG = re.compile(r"<[A-Za-z][\w-]*(?:\s[^<>]*)?$")
_BLOCK_TAGS = ("html", "body", "head", "div", "ul", "ol", "table", "form", "section", "script", "style", "svg")
_ENDS_CUT = re.compile(r"[A-Za-z0-9,(\-]")  # matched against the last character
_DANGLING = {"the", "a", "an", "and", "or", "to", "of", "with", "for", "in", "on", "at", "by", "from", "that",
             "which", "then", "but", "because", "is", "are", "was", "were", "will", "can", "your", "their", "its",
             "as", "than", "into", "if", "when", "while", "so", "my", "our", "whose", "such",
             "very", "between", "through", "without", "within", "onto", "upon", "among", "via", "per"}
# Keywords a line of code cannot end on ("for x in", "class Rectangle:\n    def").
_CODE_DANGLING = {"if", "elif", "for", "while", "in", "def", "class", "let", "var", "const", "new", "not", "and",
                  "or", "is", "import", "from", "lambda", "with", "as", "async", "await", "function", "case",
                  "return", "void", "int", "static", "public", "private", "protected", "struct", "enum",
                  "interface", "extends", "implements", "throws", "select", "where", "join", "on", "by"}
# A block header as the last line has lost its body ("for x in xs:", "if (n > 0)"); a one-line form
# ("if x: return y", "if (x) y;") has not.
_HEADER = re.compile(r"^\s*((if|elif|else|while|for|foreach|def|class|with|try|except|finally|switch)\b"
                     r"|(public|private|protected|static|func|fn|function)\b.*\)\s*$)(?!.*[;}]\s*$)(?!.*:\s+\S)")
# An indented line holding only a name is a statement cut short; `pass`, `break`, `done` are whole.
_BARE_NAME = re.compile(r"^\s+(?!(pass|break|continue|return|end|fi|done|esac|exit|quit|raise|yield|true|false|"
                        r"none|null|nil|else|endif|wend|loop|next)\s*$)[A-Za-z_][\w.]*(\[[^\]\n]*\])*$", re.I)
_HEADING = re.compile(r"^#{2,6}\s+\S")  # "## Section" (a lone "#" is as often a comment)
_SECTION = re.compile(r"\s*[IVX]+\.\s+\S")  # an outline's section, "III. The Characters"
_POINT = re.compile(r"\s*[A-Z]\.\s+\S")  # a point under it, "A. Gatsby"
_SENTENCE_END = re.compile(r"[.!?][\"')\]]?(\s|$)")
_ENDS_SENTENCE = re.compile(r"[.!?][\"')\]]?\s*$")
# Printed output, hashtags, figures and a quotation's attribution ("..." - C.S. Lewis) are not sentences.
_NOT_A_SENTENCE = re.compile(r"(^\s*(Output\b)|#\w+$|^\W*\d[\d\s.,:%x*/+=-]*$|"
                             r"[\"”']\s*[-–—]\s*[A-Z][\w.]*(\s+[A-Z][\w.]*)*$)", re.I)
_COMMENT = re.compile(r"^\s*(//|#\s|--\s|/\*|\*\s)")
_CODE_TOKEN = re.compile(r"[/\\{}<>_=`]")
_ASSIGNMENT = re.compile(r"\s*[\w.\[\]'\"]+\s*[-+*/]?=\s*\S")  # `x = 5`, `total += x`
_OPEN_QUOTE = re.compile(r"(^|\s)\"\w[^\"]*$")  # a quotation mark that opens, with no closing one after it
_LIST_NUMBER = re.compile(r"\s*(\d{1,2})[.)](?!\d)")
_BULLET = re.compile(r"\s*([-*•+])\s")
_NUMBERS = {w: n for n, w in enumerate("one two three four five six seven eight nine ten eleven twelve thirteen "
                                         "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split(), 1)}
_ASKED = re.compile(r"\b(?:list|name|give|provide|generate|suggest|write|create|identify|compose|brainstorm|"
                    r"come up with|outline|describe|find|recommend|share|offer)\b[^.?!\n]{0,40}?\b(\d{1,2}|" +
                    "|".join(_NUMBERS) + r")\b(?!\s*(?:words?|sentences?|characters?|paragraphs?|lines?|"
                    r"minutes?|seconds?|hours?|days?|years?|%|percent))", re.I)
_CLOSING = re.compile(r"\b(regards|sincerely|thanks|thank you|cheers|best|yours|love|warmly)\b", re.I)


class Cut(NamedTuple):
    severity: str
    score: float
    message: str
    start: int | None  # where the evidence starts in the answer; None: no span to show


class _End:
    """The end of an answer, as the rules see it; what only some rules need is worked out when asked."""

    def __init__(self, body: str):
        self.body = body  # right-stripped, so its last line has text
        self.last = body[max(body.rfind("\n"), body.rfind("\r")) + 1:]
        self.words = self.last.split()
        self.quoted = " ".join(self.words[-4:])
        self.tail = max(0, len(body) - 40)

    @cached_property
    def lines(self) -> list[str]:
        """The non-empty lines."""
        return [line for line in self.body.splitlines() if line.strip()]

    @cached_property
    def code(self) -> bool:
        return is_code("\n".join(self.lines))

    @cached_property
    def looks_like_code(self) -> bool:
        """Code, or at least its last two lines are: enough to read a cut in code ("for (...)" after "{")."""
        return self.code or (len(self.lines) >= 2 and all(
            CODE_LINE.search(line) or _ASSIGNMENT.match(line) for line in self.lines[-2:]))


@register
class Truncation(Check):
    name = "truncation"
    description = "an answer that ends inside a code block, a tag or brackets, short of a list, or mid-sentence"

    def check(self, example, ctx):
        turns = list(answers(example))
        if not turns:
            return
        i, text = turns[-1]  # only the final answer can be cut by a length limit
        body = text.rstrip()
        cut = find_cut(body, asked_by(example, i)) if body else None
        if cut:
            evidence = span(i, body, cut.start, len(body)) if cut.start is not None else {"turn": i}
            yield Flag(cut.severity, cut.score, f"turn {i + 1}: {cut.message}", evidence)


def find_cut(body: str, prompt: str = "") -> Cut | None:
    """What shows that `body` was cut off, if anything: the first rule that finds something."""
    if body.count("```") % 2 == 1:
        return Cut("error", 0.95, "a code block is opened and never closed", body.rfind("```"))
    tag = _OPEN_TAG.search(body)
    if tag:
        return Cut("warning", 0.8, f"the answer ends inside a markup tag \"{tag.group(0)[:30]}\"", tag.start())
    end = _End(body)
    for rule in (_unclosed_docstring, _unclosed_bracket, _unclosed_element, _ends_on_operator,
                 _list_short_of_request, _code_cut, _dangling, _heading_last, _open_quote, _list_item_cut,
                 _mid_sentence):
        cut = rule(end, prompt)
        if cut:
            return cut
    return None


def _unclosed_docstring(end: _End, prompt: str) -> Cut | None:
    """An odd number of triple quotes, and only text after the last one (code after it means that one
    closed a string, and an odd one out is a mention in prose)."""
    for marks in ('"""', "'''"):
        if end.body.count(marks) % 2 == 1:
            start = end.body.rfind(marks)
            after = end.body[start + 3:].splitlines()
            if not any(CODE_LINE.search(line) or _ASSIGNMENT.match(line) for line in after):
                return Cut("warning", 0.7, f"a {marks} string is opened and never closed", start)
    return None


def _unclosed_bracket(end: _End, prompt: str) -> Cut | None:
    prose = FENCED_BLOCK.sub("", end.body) if "```" in end.body else end.body
    opener = _unbalanced(prose)
    if opener:  # a bracket written about ('(' or `[`) is not an opener
        prose = _QUOTED_BRACKET.sub("", prose)
        opener = _unbalanced(prose)
    # Prose that ends on a closer has finished its thought ("(see above)"); code that ends on "}" with a
    # "{" still open has lost its outer block.
    if opener and (prose.rstrip()[-1:] not in (")", "]", "}") or (end.looks_like_code and opener == "{")):
        return Cut("warning", 0.7, f"'{opener}' is opened and never closed", None)
    return None


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


def _unclosed_element(end: _End, prompt: str) -> Cut | None:
    """An HTML answer that ends on a tag line with a block element (<body>, <div>, <table>) still open."""
    if not end.last.lstrip().startswith("<") or "</" not in end.body:
        return None
    lower = end.body.lower()
    for tag in _BLOCK_TAGS:
        opened = len(re.findall(rf"<{tag}[\s>]", lower))
        if opened and opened > lower.count(f"</{tag}>"):
            return Cut("warning", 0.7, f"<{tag}> is opened and never closed", end.tail)
    return None


def _ends_on_operator(end: _End, prompt: str) -> Cut | None:
    body, words = end.body, end.words
    # "x =", "a +", "17 / 3 =", "the steps:"; not a path ("data/"), a URL or a heading's "====" underline.
    operator = words and (words[-1] in ("=", "==", "+", "/", "-", "*", ">", "<", ">=", "<=", "!=", "<<", ">>",
                                        "+=", "-=", "*=", "/=", "&&", "||", "#", "//")
                          or words[-1].endswith((":", ":**", ":*")))
    if operator and len(body) >= 20 and "://" not in words[-1] and set(end.last.strip()) != {"="}:
        return Cut("warning", 0.6, f"the answer stops after \"{body[-1]}\" (\"...{end.quoted}\")", end.tail)
    return None


def _list_short_of_request(end: _End, prompt: str) -> Cut | None:
    """A list that stops short of the number of items the prompt asked for: the last number of a numbered
    list, or the count of bullets in the list the answer ends with."""
    item = _LIST_NUMBER.match(end.last)
    bullet = None if item else _BULLET.match(end.last)
    if not (item or bullet):
        return None
    asked = _asked_count(prompt)
    if not asked:
        return None
    if item:
        have = int(item.group(1))
    else:
        have = 0
        for line in reversed(end.lines):  # the bullets of the list the answer ends with
            if not line.lstrip().startswith(bullet.group(1)):
                break
            have += 1
    if 0 < have < asked:
        return Cut("warning", 0.7, f"the list stops at item {have} of the {asked} asked for "
                   f"(\"...{end.quoted}\")", end.tail)
    return None


def _asked_count(prompt: str) -> int | None:
    """How many items the prompt asks for ("Name five countries", "List 10 tips"), if it says."""
    m = _ASKED.search(prompt)
    if not m:
        return None
    word = m.group(1).lower()
    n = int(word) if word.isdigit() else _NUMBERS[word]
    return n if 2 <= n <= 30 else None


def _code_cut(end: _End, prompt: str) -> Cut | None:
    """In a code answer: a block header with no body after it, or an indented line holding only a name."""
    if (_HEADER.match(end.last) or _BARE_NAME.match(end.last)) and end.looks_like_code:
        return Cut("warning", 0.6, f"the code stops mid-statement (\"...{end.quoted}\")", end.tail)
    return None


def _heading_last(end: _End, prompt: str) -> Cut | None:
    """A Markdown heading as the last line of a prose answer, or an outline's section ("III. ...") where
    the other sections have points under them: its section never came."""
    if _HEADING.match(end.last) and len(end.lines) >= 2 and not end.code:
        return Cut("warning", 0.6, f"the answer ends on a heading (\"...{end.quoted}\")", end.tail)
    if _SECTION.match(end.last):
        lines = end.lines
        filled = any(_SECTION.match(a) and _POINT.match(b) for a, b in zip(lines, lines[1:]))
        if filled:
            return Cut("warning", 0.6, f"the outline ends on a section with nothing under it "
                       f"(\"...{end.quoted}\")", end.tail)
    return None


def _dangling(end: _End, prompt: str) -> Cut | None:
    """Ends on a word no phrase ends on ("and", "the", "to"; in code "in", "def"), or on a comma, an open
    bracket or a dash. Comments are prose here: "# Last i elements are already in" was cut."""
    words, body = end.words, end.body
    if not words or "://" in words[-1] or not _ENDS_CUT.match(body[-1]):
        return None
    last = words[-1].lower().strip(",(-")
    if (CODE_LINE.search(end.last) or _ASSIGNMENT.match(end.last)) and not _COMMENT.match(end.last):
        dangling = last in _CODE_DANGLING and not (len(words) >= 2 and words[-2].lower() == "end")  # "end while"
    else:
        dangling = last in _DANGLING or body.endswith(("(", "-"))
        dangling = dangling or (body.endswith(",") and not _CLOSING.search(end.last))
    if dangling:
        return Cut("warning", 0.6, f"the answer stops mid-phrase (\"...{end.quoted}\")", end.tail)
    return None


def _is_sentence_end(end: _End) -> bool:
    """Whether the last line could be a sentence cut short: prose ending on a word, not code or output."""
    words = end.words
    return bool(words) and "://" not in words[-1] and _ENDS_CUT.match(end.body[-1]) is not None and not (
        CODE_LINE.search(end.last) or _ASSIGNMENT.match(end.last) or _COMMENT.match(end.last)
        or _NOT_A_SENTENCE.search(end.last[-80:]) or _CODE_TOKEN.search(words[-1]))


def _open_quote(end: _End, prompt: str) -> Cut | None:
    """A quotation, or a string literal in code (`return "The answer is`), opened on the last line."""
    if end.words and _ENDS_CUT.match(end.body[-1]) and _OPEN_QUOTE.search(end.last):
        return Cut("warning", 0.6, f"a quotation is opened and never closed (\"...{end.quoted}\")", end.tail)
    return None


def _list_item_cut(end: _End, prompt: str) -> Cut | None:
    """A list item may end without punctuation, unless it is written as prose (it has a full stop inside,
    or its siblings end with one). An item much shorter than its siblings is not taken as cut: tables of
    contents end on "Index"."""
    marker = _LIST_OR_CODE.match(end.last)
    if not marker or not _is_sentence_end(end):
        return None
    items = [line for line in end.lines[:-1] if _LIST_OR_CODE.match(line)]
    stops = sum(_ENDS_SENTENCE.search(line) is not None for line in items)
    prose_item = len(end.words) >= 8 and _SENTENCE_END.search(end.last, marker.end()) is not None
    if (len(items) >= 2 and (stops >= 0.8 * len(items) or (stops >= 0.5 * len(items) and len(end.words) >= 10))
            or (len(items) == 1 and stops == 1 and len(end.words) >= 6) or prose_item):
        return Cut("warning", 0.6, f"the last list item stops short; the list's items end with a full stop "
                   f"(\"...{end.quoted}\")", end.tail)
    return None


def _mid_sentence(end: _End, prompt: str) -> Cut | None:
    """The answer punctuates its other sentences but not this one; or the last line is a long lower-case
    sentence with no end. Titles, headings, names and a signature after "Best regards," are not."""
    if not _is_sentence_end(end) or _LIST_OR_CODE.match(end.last):
        return None
    words, lines = end.words, end.lines
    if end.code and (len(words) < 8 or any(c in end.last for c in "()[]{};=<>")
                     or (len(lines) >= 2 and "output" in lines[-2].lower())):
        return None  # in a code answer, only a plain prose line is judged as a sentence
    punctuated = len(_SENTENCE_END.findall(end.body)) >= 2  # the body ends on a word: all of these are inside
    capitals = sum(w[:1].isupper() for w in words) / len(words)
    wordy = sum(any(c.isalpha() for c in w) for w in words) >= 0.6 * len(words)  # not "12 -> 15 -> 20"
    prose_line = len(words) >= 8 and (capitals < 0.4 or len(words) >= 14 and capitals < 0.7) and wordy
    signature = len(lines) >= 2 and lines[-2].rstrip().endswith(",") and len(words) <= 4
    if (punctuated and wordy or prose_line) and not signature:
        return Cut("warning", 0.5, f"the answer may end mid-sentence: no full stop after \"...{end.quoted}\"",
                   end.tail)  # the weakest evidence: casual writers drop the last full stop too
    return None
