"""Answers that stop short: an unclosed code fence, tag or bracket, a list short of what was asked or of
its own pattern, a table row short of cells, or a sentence cut mid-way.

Each rule looks at the end of the final answer (only it can be cut by a length limit) and either names
what it found or passes; the first that finds something is reported. The rules live by what they
read: `sentence_cuts` (prose), `list_cuts` (lists, tables, headings, markup), `code_cuts` (code in any
language), `python_cuts` (Python); brackets and operators, which all text shares, are here, and what
the rules share (`End`, `Cut`) is in `ending`. They trade recall for a low flag rate: a cut that lands
at the end of a line (a list item, a poem line, a whole statement) reads as a complete answer and is
not guessed at. Measured in bench/checks.py over 5 rounds of cuts planted in every long answer: 0.945,
0.968 of the cuts inside a line, 0.72 of those at a line's end, every dropped closing fence; 0.42%
false flags.
"""

from __future__ import annotations

import re

from . import code_cuts, list_cuts, python_cuts, sentence_cuts
from .base import Check, Flag, answers, asked_by, register, span
from .code import FENCED_BLOCK
from .ending import ENDS_CUT, PAIRS, QUOTED_BRACKET, Cut, End, unbalanced

_OPEN_TAG = re.compile(r"<[A-Za-z][\w:-]*(?:\s[^<>]*)?$")  # "<div class=", "<xs:element"


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
    end = End(body)
    last = body[-1]
    on_word = ENDS_CUT.match(last) is not None or body.endswith(("()", "(s)"))
    for rule in _AFTER_FULL_STOP if last in ".!?" else _RULES if on_word else _AFTER_A_SIGN:
        cut = rule(end, prompt)
        if cut:
            return cut
    return None


def _unclosed_bracket(end: End, prompt: str) -> Cut | None:
    """A bracket left open: in the answer outside code fences (a bracket quoted or in backticks is
    written about, not opened), or on the last line."""
    prose = FENCED_BLOCK.sub("", end.body) if "```" in end.body else end.body
    opener = unbalanced(prose)
    if opener:  # a bracket written about ('(' or `[`) is not an opener
        prose = QUOTED_BRACKET.sub("", prose)
        opener = unbalanced(prose)
    # Prose that ends on a closer has finished its thought ("(see above)"); code that ends on "}" with a
    # "{" still open has lost its outer block.
    if opener and (prose.rstrip()[-1:] not in (")", "]", "}") or (end.looks_like_code and opener == "{")):
        return Cut("warning", 0.7, f"'{opener}' is opened and never closed", None)
    # A line that opens more than it closes stops inside them, whatever it ends on ("str(age)" in
    # 'print("Hello " + name + str(age)'); but a line may open a block the next lines close.
    last = QUOTED_BRACKET.sub("", end.last)
    if opener and opener != "{" and last.count(opener) > last.count(PAIRS[opener]):
        return Cut("warning", 0.7, f"'{opener}' is opened on the last line and never closed", end.tail)
    return None


def _ends_on_operator(end: End, prompt: str) -> Cut | None:
    """An answer that stops on an operator or a colon, where its operand or what it announced was cut."""
    body, words = end.body, end.words
    # "x =", "a +", "17 / 3 =", "the steps:"; not a path ("data/"), a URL or a heading's "====" underline.
    operator = words and (words[-1] in ("=", "==", "+", "/", "-", "*", ">", "<", ">=", "<=", "!=", "<<", ">>",
                                        "+=", "-=", "*=", "/=", "&&", "||", "#", "##", "//", "&", "->", "=>", "→")
                          or words[-1].endswith((":", ":**", ":*")))
    if operator and len(body) >= 20 and "://" not in words[-1] and set(end.last.strip()) != {"="}:
        return Cut("warning", 0.6, f"the answer stops after \"{body[-1]}\" (\"...{end.quoted}\")", end.tail)
    return None


_RULES = (code_cuts.unclosed_string_or_comment, _unclosed_bracket, list_cuts.unclosed_element, _ends_on_operator,
          list_cuts.list_short_of_request, *code_cuts.RULES, python_cuts.python_cut, list_cuts.short_row,
          sentence_cuts.dangling, list_cuts.heading_last, sentence_cuts.open_quote, list_cuts.list_item_cut,
          sentence_cuts.sum_left_open, sentence_cuts.clause_alone, sentence_cuts.mid_sentence)
# Ending on a sign (")", "}", ";", ">", a quote), an answer has no sentence left open for the rules on words.
_WORD_RULES = (sentence_cuts.dangling, list_cuts.list_item_cut, sentence_cuts.clause_alone, sentence_cuts.mid_sentence)
_AFTER_A_SIGN = (*(rule for rule in _RULES if rule not in _WORD_RULES), sentence_cuts.aside_last,
                 sentence_cuts.quoted_last)
# Most answers end with a full stop; only these rules can find a cut before one (a string, bracket,
# element or list left open, a table row short of cells), so the rest are not asked.
_AFTER_FULL_STOP = (code_cuts.unclosed_string_or_comment, _unclosed_bracket, list_cuts.unclosed_element,
                    list_cuts.list_short_of_request, list_cuts.short_row, list_cuts.heading_last)
