"""Answers that stop short: an unclosed code fence, tag or bracket, a list short of what was asked or of
its own pattern, a table row short of cells, or a sentence cut mid-way.

The rules are a table (`truncation_rules.RULES`): each row names a rule, its family, severity and score,
the endings it reads, and an answer it must flag and one it must not. They look at the end of the final
answer (only it can be cut by a length limit); the first row that finds something is reported, and the
finding's evidence names it (`rule`). They trade recall for a low flag rate: a cut that lands at the end
of a line (a list item, a poem line, a whole statement) reads as a complete answer and is not guessed
at. bench/truncation.py measures the table on held-out seeds, rule by rule.
"""

from __future__ import annotations

from .base import Check, Flag, answers, asked_by, register, span
from .truncation_rules import Found, first_cut


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
        found = find_cut(body, asked_by(example, i)) if body else None
        if found:
            rule, cut = found
            where = span(i, body, cut.start, len(body)) if cut.start is not None else {"turn": i}
            evidence = {**where, "rule": rule.name}
            yield Flag(rule.severity, rule.score, f"turn {i + 1}: {cut.message}", evidence)


def find_cut(body: str, prompt: str = "") -> Found | None:
    """What shows that `body` (right-stripped, non-empty) was cut off, if anything: the first rule that
    finds something, and what it found."""
    return first_cut(body, prompt)
