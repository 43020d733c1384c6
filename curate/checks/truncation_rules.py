"""The truncation rules as a table: one row per rule, in the order they are asked.

Each row names the rule, its family (what it reads: structure, prose, list, code, python), the severity
and score of its finding, the endings it reads, and two answers: one it must flag and one it must not
(tests/test_truncation_rules.py holds every row to both). The first row that finds a cut is reported.

Endings: an answer ends on a full stop ("stop"), on a word, a digit, a comma, a dash or an open bracket
("word"), or on another sign (")", "}", ";", ">", a quote: "sign"). After a full stop no sentence and no
statement is left open, so only the rows that read structure (a fence, bracket, element, list or table
left short) are asked; the prose rows that need a last word read "word" only.

bench/truncation.py measures every row (hits, unique hits, false flags) on a fit and a held-out half of
answers and seeds; a row that earns nothing on the fit half (fewer than 2 cuts found by it alone, or no
more of those than its false flags) is removed, and the held-out half says whether that held.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from . import code_cuts, list_cuts, python_cuts, sentence_cuts
from .code import FENCED_BLOCK
from .ending import ENDS_CUT, PAIRS, QUOTED_BRACKET, Cut, End, unbalanced

STOP, WORD, SIGN = "stop", "word", "sign"
ANY = frozenset({STOP, WORD, SIGN})
NOT_STOP = frozenset({WORD, SIGN})
FAMILIES = ("structure", "prose", "list", "code", "python")


@dataclass(frozen=True)
class Rule:
    name: str
    family: str
    severity: str
    score: float
    find: Callable[[End, str], Cut | None]
    flags: str  # an answer the rule must flag (asked with `prompt`)
    passes: str  # an answer no rule may flag (asked with `prompt`)
    reads: frozenset[str] = NOT_STOP
    prompt: str = ""
    gate: Callable[[End], bool] | None = None  # a cheap test shared by a family, asked before the rule


class Found(NamedTuple):
    rule: Rule
    cut: Cut


def ending(body: str) -> str:
    """How the (right-stripped, non-empty) answer ends, as the table's `reads` names it."""
    last = body[-1]
    if last in ".!?":
        return STOP
    return WORD if ENDS_CUT.match(last) or body.endswith(("()", "(s)")) else SIGN


def cuts(body: str, prompt: str = "") -> Iterator[Found]:
    """Every rule that finds a cut in `body`, in the table's order."""
    end, kind = End(body), ending(body)
    for rule in RULES:
        if kind in rule.reads and (rule.gate is None or rule.gate(end)):
            cut = rule.find(end, prompt)
            if cut:
                yield Found(rule, cut)


def first_cut(body: str, prompt: str = "") -> Found | None:
    """What the check reports: the first rule that finds a cut."""
    return next(cuts(body, prompt), None)


def fired(body: str, prompt: str = "") -> set[str]:
    """The names of all rules that find a cut, each asked on its own (the bench's per-rule counts)."""
    return {found.rule.name for found in cuts(body, prompt)}


# --- structure: what every text shares (fences, tags, brackets, operators) --------------------------------

_OPEN_TAG = re.compile(r"<[A-Za-z][\w:-]*(?:\s[^<>]*)?$")  # "<div class=", "<xs:element"


def open_fence(end: End, prompt: str) -> Cut | None:
    if end.body.count("```") % 2 == 1:
        return Cut("a code block is opened and never closed", end.body.rfind("```"))
    return None


def open_tag(end: End, prompt: str) -> Cut | None:
    tag = _OPEN_TAG.search(end.body)
    if tag:
        return Cut(f"the answer ends inside a markup tag \"{tag.group(0)[:30]}\"", tag.start())
    return None


def unclosed_bracket(end: End, prompt: str) -> Cut | None:
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
        return Cut(f"'{opener}' is opened and never closed", None)
    # A line that opens more than it closes stops inside them, whatever it ends on ("str(age)" in
    # 'print("Hello " + name + str(age)'); but a line may open a block the next lines close.
    last = QUOTED_BRACKET.sub("", end.last)
    if opener and opener != "{" and last.count(opener) > last.count(PAIRS[opener]):
        return Cut(f"'{opener}' is opened on the last line and never closed", end.tail)
    return None


_OPERATORS = frozenset(("=", "==", "+", "/", "-", "*", ">", "<", ">=", "<=", "!=", "<<", ">>", "+=", "-=", "*=",
                        "/=", "&&", "||", "#", "##", "//", "&", "->", "=>", "→"))


def ends_on_operator(end: End, prompt: str) -> Cut | None:
    """An answer that stops on an operator or a colon, where its operand or what it announced was cut;
    not a path ("data/"), a URL or a heading's "====" underline."""
    words = end.words
    operator = words and (words[-1] in _OPERATORS or words[-1].endswith((":", ":**", ":*")))
    if operator and len(end.body) >= 20 and "://" not in words[-1] and set(end.last.strip()) != {"="}:
        return Cut(f"the answer stops after \"{end.body[-1]}\" (\"...{end.quoted}\")", end.tail)
    return None


_PY = python_cuts.may_hold_python

RULES: tuple[Rule, ...] = (
    # structure
    Rule("open_fence", "structure", "error", 0.95, open_fence, "Here:\n```python\nprint('hi')\n",
         "```python\nprint('hi')\n```", ANY),
    Rule("open_tag", "structure", "warning", 0.8, open_tag, '<div class="note">Text</div>\n<p class=',
         "<p>Use <b>bold</b> text.</p>", ANY),
    Rule("unclosed_string_or_comment", "code", "warning", 0.7, code_cuts.unclosed_string_or_comment,
         'def area(r):\n    """Return the area of a circle of', 'def area(r):\n    """The area."""\n    return r * r',
         ANY),
    Rule("unclosed_bracket", "structure", "warning", 0.7, unclosed_bracket,
         'name = "John"\nage = 25\nprint("Hello " + name + ", you are " + str(age)',
         "This works because (as noted) the sun is hot.", ANY),
    Rule("unclosed_element", "list", "warning", 0.7, list_cuts.unclosed_element,
         '<xs:schema>\n  <xs:element name="contact">\n    <xs:complexType>\n      <xs:sequence>',
         "<form>\n  <label>Name</label>\n</form>\n<br>", ANY),
    Rule("ends_on_operator", "structure", "warning", 0.6, ends_on_operator,
         "Dividing both sides, we get the result x =", "The regular expression to find the word cat is /cat/g"),
    Rule("list_short_of_request", "list", "warning", 0.7, list_cuts.list_short_of_request,
         "1. France\n2. Spain\n3. Italy", "1. France\n2. Spain\n3. Italy\n4. Greece\n5. Malta", ANY,
         prompt="Name five countries in Europe."),
    # code in any language
    Rule("code_cut", "code", "warning", 0.6, code_cuts.code_cut, "def f(xs):\n    total = 0\n    total",
         "def total(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s"),
    Rule("comment_last", "code", "warning", 0.6, code_cuts.comment_last,
         "def extract(d):\n    name = d['name']\n    age = d['age']\n\n    # Return the extracted",
         "try:\n   # Code that can cause exception\nexcept ExceptionName:\n   # Code to handle exception"),
    Rule("no_semicolon", "code", "warning", 0.6, code_cuts.no_semicolon,
         "var total = 0;\nvar count = 3;\ntotal = total + count;\ntotal = total * coun",
         "let arr = [2, 5];\nlet max = 0;\nconsole.log(findMax(arr)); // Output: 9"),
    # Python
    Rule("unused_local", "python", "warning", 0.6, python_cuts.unused_local,
         "def days(a, b):\n    d1 = parse(a)\n    d2 = parse(b)",
         "def days(a, b):\n    d1 = parse(a)\n    d2 = parse(b)\n    return (d2 - d1).days", gate=_PY),
    Rule("function_left_open", "python", "warning", 0.6, python_cuts.function_left_open,
         'def product(xs):\n    """Find the product of all numbers."""',
         'def product(xs):\n    """Find the product of all numbers."""\n    return math.prod(xs)', gate=_PY),
    Rule("branch_only_return", "python", "warning", 0.6, python_cuts.branch_only_return,
         "def max_num(a, b):\n    if a > b:\n        return a",
         "def find(xs, x):\n    for i, v in enumerate(xs):\n        if v == x:\n            return i\n    return -1",
         gate=_PY),
    # lists and tables
    Rule("short_row", "list", "warning", 0.6, list_cuts.short_row,
         "| Year | Rate |\n|---|---|\n| 2014 | 7.17 |\n| 2015 |",
         "| Year | Rate |\n|---|---|\n| 2014 | 7.17 |\n| 2015 | 7.21 |", ANY),
    # prose
    Rule("dangling", "prose", "warning", 0.6, sentence_cuts.dangling,
         "Tips:\n1. Use a long password\n2. Turn on two-factor login and",
         "Tips:\n1. Use a long password\n2. Turn on two-factor login", frozenset({WORD})),
    Rule("heading_last", "list", "warning", 0.6, list_cuts.heading_last,
         "Rome grew for centuries. Its roads still stand.\n\n## Legacy",
         "I. Introduction\nII. Health\nIII. Cost-benefit analysis", ANY),
    Rule("open_quote", "prose", "warning", 0.6, sentence_cuts.open_quote, 'He said: "Stay hungry, stay',
         '"No man is an island." - John Donne'),
    Rule("list_item_cut", "list", "warning", 0.6, list_cuts.list_item_cut,
         "1. Sleep well.\n2. Drink water.\n3. Walk daily.\n4. Eat more fresh",
         "Activities:\n1. Swimming\n2. Hiking\n3. Fishing", frozenset({WORD})),
    Rule("clause_alone", "prose", "warning", 0.5, sentence_cuts.clause_alone,
         "The formula is: (F - 32) x 5/9 = C.\n\nSo, if the temperature given in Fahrenheit",
         "When to act:\n- If the fever lasts three days, call a doctor\n- If the rash spreads then go to hospital",
         frozenset({WORD})),
    Rule("mid_sentence", "prose", "warning", 0.5, sentence_cuts.mid_sentence,
         "Good to hear you want to learn.\n\nWhat sort of mentoring most interests",
         "Roses are red,\nViolets are blue,\nSugar is sweet,\nAnd so are you", frozenset({WORD})),
)
