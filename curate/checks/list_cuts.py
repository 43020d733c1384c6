"""Truncation rules for lists, tables, headings and markup: a list short of the items asked for or
announced, an item that stops short of its siblings, a table row short of cells, a heading with
nothing under it, an element never closed. Each takes the answer's `End` and returns a `Cut` or None;
the table in `truncation_rules.py` says when each is asked, with what severity and score."""

from __future__ import annotations

import re

from .ending import ENDS_CUT, ENDS_SENTENCE, HEADING, LIST_OR_CODE, SENTENCE_END, Cut, End, count_of
from .lexicon import (
    ASK_FOR_ITEMS,
    ASKING,
    BLOCK_TAGS,
    CLOSING_SECTIONS,
    NOT_ITEMS,
    NUMBERS,
    VOID_TAGS,
)

_OPENING_TAG = re.compile(r"<([A-Za-z][\w:.-]*)(\s[^<>]*)?(?<!/)>")
_SECTION = re.compile(r"\s*[IVX]+\.\s+\S")  # an outline's section, "III. The Characters"
_LIST_NUMBER = re.compile(r"\s*(\d{1,2})[.)](?!\d)")
_LETTER_ONLY = re.compile(r"\s*([b-zB-Z])([.)])")
_MARKER_ONLY = re.compile(r"\s*(\d{1,3}[.)]|[-*•+])")
_FIRST_CELLS = re.compile(r"\s*\|[^|\n]+\|")
_FIGURE = re.compile(r"[$€£]?\d[\d,.:/-]*%?")
_NUMBERED_ROW = re.compile(r"\s*\|\s*(\d{1,2})\s*\|")
_BULLET = re.compile(r"\s*([-*•+])\s")
_COUNT = r"(\d{1,2}|" + "|".join(NUMBERS) + r")\b(?!\s*(?:" + "|".join(NOT_ITEMS) + r"))"
_ASKED = re.compile(r"\b(?:" + "|".join(ASK_FOR_ITEMS) + r")\b[^.?!\n]{0,40}?\b" + _COUNT, re.I)
# The answer's own promise: "Here are 7 tips", "There are three main types of ...", "the following 5 steps".
_PROMISED = re.compile(r"\b(?:here are|there are|these|the following|following are)\s+(?:[a-z]+\s+){0,2}?"
                       + _COUNT, re.I)


def unclosed_element(end: End, prompt: str) -> Cut | None:
    """An HTML or XML answer that ends on a tag line with a block element (<body>, <div>, <table>) still
    open, or on an opening tag alone ("<xs:sequence>"): the element's content never came."""
    if not end.last.lstrip().startswith("<"):
        return None
    opening = _OPENING_TAG.fullmatch(end.last.strip())
    markup = len(end.lines) >= 2 and end.lines[-2].lstrip().startswith("<")
    if opening and markup and opening.group(1).lower() not in VOID_TAGS:
        return Cut(f"the answer ends on an opening <{opening.group(1)}> tag", end.tail)
    if "</" not in end.body:
        return None
    lower = end.body.lower()
    for tag in BLOCK_TAGS:
        opened = len(re.findall(rf"<{tag}[\s>]", lower))
        if opened and opened > lower.count(f"</{tag}>"):
            return Cut(f"<{tag}> is opened and never closed", end.tail)
    return None


def list_short_of_request(end: End, prompt: str) -> Cut | None:
    """A list that stops short of the number of items the prompt asked for: the last number of a numbered
    list, or the count of bullets in the list the answer ends with. Or a last item with only its number."""
    letter = _LETTER_ONLY.fullmatch(end.last)  # "d)" under "c) Paper checks"
    if (_MARKER_ONLY.fullmatch(end.last) and "\n" in end.body) or (letter and re.search(
            rf"^\s*{chr(ord(letter.group(1)) - 1)}\{letter.group(2)}\s+\S", end.body, re.M)):
        return Cut(f"the list's last item \"{end.last.strip()}\" is empty", end.tail)
    item = _LIST_NUMBER.match(end.last) or _NUMBERED_ROW.match(end.last)  # "|9| Lebanon| 667|" too
    bullet = None if item else _BULLET.match(end.last)
    if not (item or bullet):
        return None
    asked = _asked_count(prompt) or _promised_count(end.body)
    if not asked:
        return None
    if item:
        have = int(item.group(1))
    elif bullet:
        have = 0
        for line in reversed(end.lines):  # the bullets of the list the answer ends with
            if not line.lstrip().startswith(bullet.group(1)):
                break
            have += 1
    if 0 < have < asked:
        return Cut(f"the list stops at item {have} of the {asked} asked for "
                   f"(\"...{end.quoted}\")", end.tail)
    return None


def _promised_count(body: str) -> int | None:
    """How many items the answer itself announces ("Here are 7 tips", "the following five steps")."""
    return _count(_PROMISED.search(body[:300]))


def _asked_count(prompt: str) -> int | None:
    """How many items the prompt asks for ("Name five countries", "List 10 tips"), if it says."""
    return _count(_ASKED.search(prompt))


def _count(m: re.Match | None) -> int | None:
    if not m:
        return None
    n = count_of(m.group(1))
    return n if 2 <= n <= 30 else None


def short_row(end: End, prompt: str) -> Cut | None:
    """A table whose last row has fewer cells than the two rows above it: a Markdown "|" table (or a row
    that lacks the closing "|" the others have), tab-separated columns, or a grid of figures."""
    grid = end.last[-1].isdigit()  # a row of figures ends on one
    if not grid and "|" not in end.last and "\t" not in end.body:
        return None
    lines = end.lines
    if _FIRST_CELLS.match(end.last) and not end.last.rstrip().endswith("|") and not any(
            line.lstrip().startswith("|") for line in lines[:-1]):
        # "| Rank | Country": a table's first row stopped before its closing "|"
        return Cut(f"the table's first row stops before its closing \"|\" (\"...{end.quoted}\")",
                   end.tail)
    if len(lines) < 3:
        return None
    for sep in ("|", "\t"):
        # the two rows above agree; the last may have lost even its first separator ("Porsche")
        least = 1 if sep == "|" else 2
        # "2006" under "2005 | 6.62": with "|" too when the rows start on a figure, as the last line does
        first_cell = sep in end.last or sep == "\t" or (_FIGURE.fullmatch(end.last.strip()) is not None and all(
            _FIGURE.fullmatch(line.strip().split(sep)[0].strip()) for line in lines[-3:-1]))
        if all(line.count(sep) >= least for line in lines[-3:-1]) and first_cell:
            above, row = (len(line.strip().strip("|").split(sep)) for line in (lines[-2], end.last))
            if row < above == len(lines[-3].strip().strip("|").split(sep)):
                return Cut(f"the table's last row has {row} of its {above} cells "
                           f"(\"...{end.quoted}\")", end.tail)
            if sep == "|" and all(line.rstrip().endswith("|") for line in lines[-3:-1]) and not end.last.endswith("|"):
                return Cut(f"the table's last row stops before its closing \"|\" "
                           f"(\"...{end.quoted}\")", end.tail)
    # "# 9 18 27 ... 90" twice, then "# 10 20 30 40 50 60": a grid row cut short
    rows = [re.sub(r"^\s*(#|//)", "", line).split() for line in lines[-3:]]
    if len(rows[0]) == len(rows[1]) > len(rows[2]) >= 1 and len(rows[0]) >= 4 and not re.search(
            r"[=(\[{]", "".join(lines[-3:])) and all(
            sum(any(c.isdigit() for c in cell) for cell in row) >= 0.5 * len(row) for row in rows):
        return Cut(f"the last row has {len(rows[2])} of the {len(rows[0])} figures of the rows "
                   f"above it (\"...{end.quoted}\")", end.tail)
    return None


def heading_last(end: End, prompt: str) -> Cut | None:
    """A Markdown heading as the last line of a prose answer, or an outline's section ("III. ...") where
    the other sections have points under them: its section never came."""
    if HEADING.match(end.last) and len(end.lines) >= 2 and not end.code:
        return Cut(f"the answer ends on a heading (\"...{end.quoted}\")", end.tail)
    if (len(end.words) <= 5 and ENDS_CUT.match(end.body[-1]) and not LIST_OR_CODE.match(end.last)
            and len(lines := end.lines) >= 4 and LIST_OR_CODE.match(lines[-2]) and not end.code
            and any(a.rstrip().endswith(":") and len(a.split()) <= 6 and LIST_OR_CODE.match(b)
                    for a, b in zip(lines, lines[1:]))):
        # "World War I:" over a list, then the list, then "World War": the next section's title, cut
        return Cut(f"the answer ends on the title of a new section (\"...{end.quoted}\")",
                   end.tail)
    if _SECTION.match(end.last):
        lines = end.lines
        filled = any(_SECTION.match(a) and not _SECTION.match(b) for a, b in zip(lines, lines[1:]))
        if filled:
            return Cut(f"the outline ends on a section with nothing under it "
                       f"(\"...{end.quoted}\")", end.tail)
    if len(end.words) <= 6 and ENDS_CUT.match(end.body[-1]) and _LIST_NUMBER.match(end.last) and not end.code:
        # "6. Continual Improvement" where items 1-5 each have a paragraph under them: its own never came
        lines = end.lines
        heads = [k for k, line in enumerate(lines[:-1]) if _LIST_NUMBER.match(line)]
        if len(heads) >= 2 and all(k + 1 < len(lines) - 1 and not LIST_OR_CODE.match(lines[k + 1])
                                   and len(lines[k + 1].split()) >= 8 for k in heads):
            return Cut(f"the answer ends on a numbered heading with nothing under it "
                       f"(\"...{end.quoted}\")", end.tail)
    return None


def list_item_cut(end: End, prompt: str) -> Cut | None:
    """A list item may end without punctuation, unless it is written as prose (it has a full stop inside,
    or its siblings end with one). Nor may it stop well short of its siblings' length, their shared
    pattern or their "-ing" verb and its object; a closing "Index" or "Conclusion" is whole."""
    marker = LIST_OR_CODE.match(end.last)
    if not marker or not end.sentence_end:
        return None
    kind = _marker_kind(marker.group(1))  # siblings: "1." items, not the "- Eggs" list above them
    items = [line for line in end.lines[:-1] if (m := LIST_OR_CODE.match(line)) and _marker_kind(m.group(1)) == kind]
    texts = [line[m.end():] for line in items[-6:] if (m := LIST_OR_CODE.match(line))]  # without their markers
    own = end.last[marker.end():]
    stops = sum(ENDS_SENTENCE.search(line) is not None for line in items)
    prose_item = len(end.words) >= 8 and SENTENCE_END.search(end.last, marker.end()) is not None
    # "1. What is its purpose?" then "2. What": a question item that never reached its "?"
    question = bool(items) and items[-1].rstrip().endswith("?") and end.words[1:2] != [] and (
        end.words[1].lower() in ASKING)
    if (len(items) >= 2 and stops >= 0.8 * len(items)
            or (len(items) == 1 and stops == 1 and len(end.words) >= 3 and len(items[0].split()) >= 6)
            or prose_item or question):
        return Cut(f"the last list item stops short; the list's items end with a full stop "
                   f"(\"...{end.quoted}\")", end.tail)
    # Items of five words or more, and a last one under a third of their length ("10. Salt and" under
    # "9. Burger with a doughnut bun" and longer): it stopped early
    sizes = sorted(len(text.split()) for text in texts)
    size = len(own.split())
    if size <= 2 and end.words[-1].strip(":").lower() in CLOSING_SECTIONS:
        return None  # a table of contents ends on "Index", an outline on "Conclusion", steps on "End"
    if len(sizes) >= 3 and sizes[0] >= 5 and size <= 0.3 * sizes[len(sizes) // 2] and kind not in ("indent", "#"):
        return Cut(f"the last list item is a fraction of the length of the others "
                   f"(\"...{end.quoted}\")", end.tail)
    # Items that each start with a verb in -ing and go on ("Renting a paddle boat"): the last stopped
    # after its verb ("10. Participating").
    verb = own.split()
    heads = [text.split() for text in texts[-4:]]
    if len(verb) == 1 and verb[0].endswith("ing") and len(heads) >= 2 and all(
            len(head) >= 3 and head[0].endswith("ing") for head in heads):
        return Cut(f"the last list item stops after its first word (\"...{end.quoted}\")", end.tail)
    # Items written to one pattern ("Boston - 139 landmarks", "Gwendoline Christie as Captain Phasma"):
    # the last stops before the part every other item has ("3. Los").
    if len(texts) >= 2 and all(len(line.split()) <= 10 for line in items[-6:]):  # entries, not prose
        for sep in _ITEM_PARTS:
            if sep not in own and all(sep in text for text in texts):
                return Cut(f"the last list item stops before the \"{sep.strip()}\" part every "
                           f"other item has (\"...{end.quoted}\")", end.tail)
    return None


_ITEM_PARTS = (" - ", " – ", " — ", ": ", " by ", " as ", " (", " = ")


def _marker_kind(marker: str) -> str:
    marker = marker.strip()
    if not marker:
        return "indent"
    if marker[0].isdigit():
        return "number"
    return marker[0] if marker[0] in "-*+•#>|" else "letter"

