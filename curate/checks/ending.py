"""The end of an answer, as the truncation rules read it, and what those rules share: the cut they
report, and the patterns for code lines, comments, assignments and bracket balance."""

from __future__ import annotations

import re
from functools import cached_property
from typing import NamedTuple

from .code import CODE_LINE, is_code
from .lexicon import NUMBERS, STATEMENT_ALONE

PAIRS = {"(": ")", "[": "]", "{": "}"}
QUOTED_BRACKET = re.compile(r"`[^`\n]*`|(['\"])[()\[\]{}]\1")
LIST_OR_CODE = re.compile(r"^\s*([-*+•]|\d+[.)]|\d+ ?-\s|[A-Za-z][.)]\s|[IVX]+\.\s|#|>|\||    |\t)")
ENDS_CUT = re.compile(r"[A-Za-z0-9,(\-]")  # matched against the last character
# A line may end on a whole one-word statement (`pass`, `done`); a name alone on a line is a cut one.
WHOLE = r"(?!(" + "|".join(sorted(STATEMENT_ALONE)) + r")\s*$)"
SENTENCE_END = re.compile(r"[.!?][\"')\]]?(\s|$)")
ENDS_SENTENCE = re.compile(r"[.!?][\"')\]]?\s*$")
# Printed output, hashtags, figures and a quotation's attribution ("..." - C.S. Lewis) are not sentences.
NOT_A_SENTENCE = re.compile(r"(^\s*(Output\b)|#\w+$|^\W*\d[\d\s.,:%x*/+=-]*$|"
                            r"[\"”']\s*[-–—]\s*[A-Z][\w.]*(\s+[A-Z][\w.]*)*$)", re.I)
_COMMENT_GOES_ON = re.compile(r"^\s*\*\s")  # " * more" inside a /* */ comment; in prose, a "* " bullet
_CODE_TOKEN = re.compile(r"[/\\{}<>_=`]")
_WORD_PAIR = re.compile(r"[A-Za-z]{2,}/[A-Za-z]{2,}")  # "narrative/story", "and/or": words, not a path


HEADING = re.compile(r"^#{2,6}\s+\S")  # "## Section" (a lone "#" is as often a comment)
COMMENT = re.compile(r"^\s*(//|#\s|--\s|/\*)")
_DEF = re.compile(r"^([ \t]*)(?:async\s+)?def\s+\w+\s*\(", re.M)
# `x = 5`, `total += x`, `a, b = b, a`, R's `x <- 5`
ASSIGNMENT = re.compile(r"\s*[\w.\[\]'\"]+(?:\s*,\s*[\w.\[\]'\"]+)*\s*([-+*/]?=|<-)\s*\S")


class Cut(NamedTuple):
    """What a rule found; its severity and score are the rule's, in the table (truncation_rules)."""
    message: str
    start: int | None  # where the evidence starts in the answer; None: no span to show


class End:
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
        """Code, by the shared test, or a script of assignments and comments ("# Load the data" over
        "data = pd.read_csv(...)"), which that test, made to keep prose out, leaves aside."""
        if is_code("\n".join(self.lines)):
            return True
        lines = [line for line in self.lines if not line.lstrip().startswith("#")]
        code = sum(bool(CODE_LINE.search(line) or ASSIGNMENT.match(line) or line.lstrip().startswith("//"))
                   for line in lines)
        if len(lines) < len(self.lines):  # with comments, one line of code among them makes a script
            return code >= 1 and code == len(lines)
        return len(lines) >= 2 and code >= 2 and code >= 0.5 * len(lines)

    @cached_property
    def python_defs(self) -> list[re.Match]:
        """The `def` lines, in order (group 1: their indentation); several code rules ask, one scan."""
        return list(_DEF.finditer(self.body)) if "def " in self.body else []

    @cached_property
    def sentence_end(self) -> bool:
        """Whether the last line could be a sentence cut short: prose ending on a word, not code or output."""
        words, body = self.words, self.body
        last = body[-3] if body.endswith(("()", "(s)")) and len(body) > 2 else body[-1]  # "len()"
        return bool(words) and "://" not in words[-1] and ENDS_CUT.match(last) is not None and not (
            code_line(self) or ASSIGNMENT.match(self.last) or COMMENT.match(self.last)
            or (self.code and _COMMENT_GOES_ON.match(self.last)) or NOT_A_SENTENCE.search(self.last[-80:])
            or (_CODE_TOKEN.search(words[-1]) and not _WORD_PAIR.fullmatch(words[-1])))

    @cached_property
    def looks_like_code(self) -> bool:
        """Code, or at least its last two lines are: enough to read a cut in code ("for (...)" after "{")."""
        return self.code or (len(self.lines) >= 2 and all(
            CODE_LINE.search(line) or ASSIGNMENT.match(line) for line in self.lines[-2:]))


def unbalanced(text: str) -> str | None:
    """The innermost bracket left open, if the brackets are out of balance only by openers."""
    if text.count("(") == text.count(")") and text.count("[") == text.count("]") and text.count("{") == text.count("}"):
        return None  # equal counts: the exact (ordered) scan below cannot find an opener left open
    stack = []
    for ch in text:
        if ch in PAIRS:
            stack.append(ch)
        elif ch in PAIRS.values():
            if stack and PAIRS[stack[-1]] == ch:
                stack.pop()
            else:
                return None  # a stray closer is a style issue (smileys, "1)" lists), not a cut
    return stack[-1] if stack else None


def code_line(end: End) -> bool:
    """The last line reads as code. Indentation alone says so only in a code answer: prose lists are
    indented too ("    Resolution: look for ...")."""
    if not CODE_LINE.search(end.last):
        return False
    return end.last[:1] not in " \t" or CODE_LINE.search(end.last.lstrip()) is not None or end.code


def count_of(word: str) -> int:
    """A count written in figures or words: "7", "seven", "Seven"."""
    return int(word) if word.isdigit() else NUMBERS[word.lower()]
