"""Answers that stop short: an unclosed code fence, tag or bracket, a list short of what was asked or of
its own pattern, a table row short of cells, or a sentence cut mid-way.

Each rule looks at the end of the final answer (only it can be cut by a length limit) and either names
what it found or passes; the first that finds something is reported. The rules for prose, lists and
markup are here, those for code in `code_cuts` and `python_cuts`, and what they share (`End`, `Cut`)
in `ending`. They trade recall for a low flag rate: a cut that lands at the end of a line (a list
item, a poem line, a whole statement) reads as a complete answer and is not guessed at. Measured in
bench/checks.py over 5 rounds of cuts planted in every long answer: 0.945, 0.968 of the cuts inside a
line, 0.72 of those at a line's end, every dropped closing fence; 0.42% false flags.
"""

from __future__ import annotations

import re

from . import code_cuts, python_cuts
from .base import Check, Flag, answers, asked_by, register, span
from .code import CODE_LINE, FENCED_BLOCK
from .ending import (
    ASSIGNMENT,
    CODE_DANGLING,
    COMMENT,
    ENDS_CUT,
    HEADING,
    LIST_OR_CODE,
    NUMBERS,
    PAIRS,
    QUOTED_BRACKET,
    Cut,
    End,
    code_line,
    unbalanced,
)

_OPEN_TAG = re.compile(r"<[A-Za-z][\w:-]*(?:\s[^<>]*)?$")  # "<div class=", "<xs:element"
_OPENING_TAG = re.compile(r"<([A-Za-z][\w:.-]*)(\s[^<>]*)?(?<!/)>")
_VOID_TAGS = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "track", "wbr",
              "param", "!doctype"}
_BLOCK_TAGS = ("html", "body", "head", "div", "ul", "ol", "table", "form", "section", "script", "style", "svg")
_DANGLING = {"the", "a", "an", "and", "or", "to", "of", "with", "for", "in", "on", "at", "by", "from", "that",
             "which", "then", "but", "because", "is", "are", "was", "were", "will", "can", "your", "their", "its",
             "as", "than", "into", "unable", "according", "regarding", "including", "despite", "toward", "towards",
             "whether", "various", "numerous", "if", "when", "while", "so", "my", "our", "whose", "such", "every",
             "could", "would", "should", "might", "must",
             "very", "between", "through", "without", "within", "onto", "upon", "among", "via", "per",
             "different", "multiple", "several", "becomes", "equals", "includes", "contains", "requires",
             "involves"}
# "[Chorus]", "(Verse 2)" as the last line: the part's lines never came
_SONG_PART = re.compile(r"\s*[\[(]?(?:verse|chorus|bridge|outro|intro|pre-chorus|hook|refrain)\b[\w .]{0,12}"
                        r"[\])]?:?\s*", re.I)
_NOT_VERSE = re.compile(r"```|[=→|]")
_MODALS = {"would", "will", "could", "should", "must", "can", "may", "might"}
_TRAILING_COMMENT = re.compile(r"[\w)\]'\";:]\s+(#|//)\s*\S")  # code, then a note after it on the line
_SHOWS = {"returns", "prints", "outputs", "output", "gives", "displays", "shows", "yields", "equals", "=>", "->"}
_SECTION = re.compile(r"\s*[IVX]+\.\s+\S")  # an outline's section, "III. The Characters"
_POINT = re.compile(r"\s*[A-Z]\.\s+\S")  # a point under it, "A. Gatsby"
_SENTENCE_END = re.compile(r"[.!?][\"')\]]?(\s|$)")
_ENDS_SENTENCE = re.compile(r"[.!?][\"')\]]?\s*$")
# Printed output, hashtags, figures and a quotation's attribution ("..." - C.S. Lewis) are not sentences.
_NOT_A_SENTENCE = re.compile(r"(^\s*(Output\b)|#\w+$|^\W*\d[\d\s.,:%x*/+=-]*$|"
                             r"[\"”']\s*[-–—]\s*[A-Z][\w.]*(\s+[A-Z][\w.]*)*$)", re.I)
_COMMENT_GOES_ON = re.compile(r"^\s*\*\s")  # " * more" inside a /* */ comment; in prose, a "* " bullet
_CODE_TOKEN = re.compile(r"[/\\{}<>_=`]")
_WORD_PAIR = re.compile(r"[A-Za-z]{2,}/[A-Za-z]{2,}|24/7")  # "narrative/story", "and/or", not a path
_OPEN_QUOTE = re.compile(r"(^|\s)\"\w[^\"]*$")  # a quotation mark that opens, with no closing one after it
_LIST_NUMBER = re.compile(r"\s*(\d{1,2})[.)](?!\d)")
_LETTER_ONLY = re.compile(r"\s*([b-zB-Z])([.)])")
_MARKER_ONLY = re.compile(r"\s*(\d{1,3}[.)]|[-*•+])")
_FIRST_CELLS = re.compile(r"\s*\|[^|\n]+\|")
_FIGURE = re.compile(r"[$€£]?\d[\d,.:/-]*%?")
_NUMBERED_ROW = re.compile(r"\s*\|\s*(\d{1,2})\s*\|")
_BULLET = re.compile(r"\s*([-*•+])\s")
_ASKED = re.compile(r"\b(?:list|name|give|provide|generate|suggest|write|create|identify|compose|brainstorm|"
                    r"come up with|outline|describe|find|recommend|share|offer)\b[^.?!\n]{0,40}?\b(\d{1,2}|" +
                    "|".join(NUMBERS) + r")\b(?!\s*(?:words?|sentences?|characters?|paragraphs?|lines?|"
                    r"minutes?|seconds?|hours?|days?|years?|%|percent))", re.I)
# The answer's own promise: "Here are 7 tips", "There are three main types of ...", "the following 5 steps".
_PROMISED = re.compile(r"\b(?:here are|there are|these|the following|following are)\s+(?:[a-z]+\s+){0,2}?(\d{1,2}|" +
                       "|".join(NUMBERS) + r")\b(?!\s*(?:words?|sentences?|characters?|minutes?|seconds?|hours?|"
                       r"days?|years?|%|percent))", re.I)
_ASKING = {"what", "how", "why", "which", "who", "whom", "where", "when", "do", "does", "did", "is", "are", "can",
           "could", "would", "should", "will", "have", "has", "shall", "may"}
_UNITS = {"cup", "cups", "tablespoon", "tablespoons", "tbsp", "teaspoon", "teaspoons", "tsp", "oz", "ounce", "ounces",
          "g", "grams", "gram", "kg", "lb", "lbs", "pound", "pounds", "ml", "l", "liter", "liters", "litre", "litres",
          "can", "cans", "pinch", "clove", "cloves", "slice", "slices", "piece", "pieces", "handful", "dash", "stick",
          "sticks", "package", "packages", "bunch", "head", "jar", "bottle", "quart", "pint", "gallon"}
_QUANTITY = re.compile(r"\s*(?:[-*•+]|\d+[.)])?\s*(\d+(?:[/.]\d+)?|½|¼|¾|a|an|one|two|three)\s")
_ASKED_OF = {"there", "it", "you", "the", "a", "an", "this", "that", "we", "they", "i", "he", "she", "your", "my"}
_CLOSING = re.compile(r"\b(regards|sincerely|thanks|thank you|cheers|best|yours|love|warmly)\b", re.I)


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


def _unclosed_element(end: End, prompt: str) -> Cut | None:
    """An HTML or XML answer that ends on a tag line with a block element (<body>, <div>, <table>) still
    open, or on an opening tag alone ("<xs:sequence>"): the element's content never came."""
    if not end.last.lstrip().startswith("<"):
        return None
    opening = _OPENING_TAG.fullmatch(end.last.strip())
    markup = len(end.lines) >= 2 and end.lines[-2].lstrip().startswith("<")
    if opening and markup and opening.group(1).lower() not in _VOID_TAGS:
        return Cut("warning", 0.7, f"the answer ends on an opening <{opening.group(1)}> tag", end.tail)
    if "</" not in end.body:
        return None
    lower = end.body.lower()
    for tag in _BLOCK_TAGS:
        opened = len(re.findall(rf"<{tag}[\s>]", lower))
        if opened and opened > lower.count(f"</{tag}>"):
            return Cut("warning", 0.7, f"<{tag}> is opened and never closed", end.tail)
    return None


def _ends_on_operator(end: End, prompt: str) -> Cut | None:
    body, words = end.body, end.words
    # "x =", "a +", "17 / 3 =", "the steps:"; not a path ("data/"), a URL or a heading's "====" underline.
    operator = words and (words[-1] in ("=", "==", "+", "/", "-", "*", ">", "<", ">=", "<=", "!=", "<<", ">>",
                                        "+=", "-=", "*=", "/=", "&&", "||", "#", "##", "//", "&", "->", "=>", "→")
                          or words[-1].endswith((":", ":**", ":*")))
    if operator and len(body) >= 20 and "://" not in words[-1] and set(end.last.strip()) != {"="}:
        return Cut("warning", 0.6, f"the answer stops after \"{body[-1]}\" (\"...{end.quoted}\")", end.tail)
    return None


def _list_short_of_request(end: End, prompt: str) -> Cut | None:
    """A list that stops short of the number of items the prompt asked for: the last number of a numbered
    list, or the count of bullets in the list the answer ends with. Or a last item with only its number."""
    letter = _LETTER_ONLY.fullmatch(end.last)  # "d)" under "c) Paper checks"
    if (_MARKER_ONLY.fullmatch(end.last) and "\n" in end.body) or (letter and re.search(
            rf"^\s*{chr(ord(letter.group(1)) - 1)}\{letter.group(2)}\s+\S", end.body, re.M)):
        return Cut("warning", 0.7, f"the list's last item \"{end.last.strip()}\" is empty", end.tail)
    item = _LIST_NUMBER.match(end.last) or _NUMBERED_ROW.match(end.last)  # "|9| Lebanon| 667|" too
    bullet = None if item else _BULLET.match(end.last)
    if not (item or bullet):
        return None
    asked = _asked_count(prompt) or _promised_count(end.body)
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


def _promised_count(body: str) -> int | None:
    """How many items the answer itself announces ("Here are 7 tips", "the following five steps")."""
    return _count(_PROMISED.search(body[:300]))


def _asked_count(prompt: str) -> int | None:
    """How many items the prompt asks for ("Name five countries", "List 10 tips"), if it says."""
    return _count(_ASKED.search(prompt))


def _count(m: re.Match | None) -> int | None:
    if not m:
        return None
    word = m.group(1).lower()
    n = int(word) if word.isdigit() else NUMBERS[word]
    return n if 2 <= n <= 30 else None


def _short_row(end: End, prompt: str) -> Cut | None:
    """A table whose last row has fewer cells than the two rows above it: a Markdown "|" table (or a row
    that lacks the closing "|" the others have), tab-separated columns, or a grid of figures."""
    grid = end.last[-1].isdigit()  # a row of figures ends on one
    if not grid and "|" not in end.last and "\t" not in end.body:
        return None
    lines = end.lines
    if _FIRST_CELLS.match(end.last) and not end.last.rstrip().endswith("|") and not any(
            line.lstrip().startswith("|") for line in lines[:-1]):
        # "| Rank | Country": a table's first row stopped before its closing "|"
        return Cut("warning", 0.6, f"the table's first row stops before its closing \"|\" (\"...{end.quoted}\")",
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
                return Cut("warning", 0.6, f"the table's last row has {row} of its {above} cells "
                           f"(\"...{end.quoted}\")", end.tail)
            if sep == "|" and all(line.rstrip().endswith("|") for line in lines[-3:-1]) and not end.last.endswith("|"):
                return Cut("warning", 0.6, f"the table's last row stops before its closing \"|\" "
                           f"(\"...{end.quoted}\")", end.tail)
    # "# 9 18 27 ... 90" twice, then "# 10 20 30 40 50 60": a grid row cut short
    rows = [re.sub(r"^\s*(#|//)", "", line).split() for line in lines[-3:]]
    if len(rows[0]) == len(rows[1]) > len(rows[2]) >= 1 and len(rows[0]) >= 4 and not re.search(
            r"[=(\[{]", "".join(lines[-3:])) and all(
            sum(any(c.isdigit() for c in cell) for cell in row) >= 0.5 * len(row) for row in rows):
        return Cut("warning", 0.6, f"the last row has {len(rows[2])} of the {len(rows[0])} figures of the rows "
                   f"above it (\"...{end.quoted}\")", end.tail)
    return None


def _heading_last(end: End, prompt: str) -> Cut | None:
    """A Markdown heading as the last line of a prose answer, or an outline's section ("III. ...") where
    the other sections have points under them: its section never came."""
    if (HEADING.match(end.last) or _SONG_PART.fullmatch(end.last)) and len(end.lines) >= 2 and not end.code:
        return Cut("warning", 0.6, f"the answer ends on a heading (\"...{end.quoted}\")", end.tail)
    if (len(end.words) <= 5 and ENDS_CUT.match(end.body[-1]) and not LIST_OR_CODE.match(end.last)
            and len(lines := end.lines) >= 4 and LIST_OR_CODE.match(lines[-2]) and not end.code
            and any(a.rstrip().endswith(":") and len(a.split()) <= 6 and LIST_OR_CODE.match(b)
                    for a, b in zip(lines, lines[1:]))):
        # "World War I:" over a list, then the list, then "World War": the next section's title, cut
        return Cut("warning", 0.6, f"the answer ends on the title of a new section (\"...{end.quoted}\")",
                   end.tail)
    if _SECTION.match(end.last):
        lines = end.lines
        filled = any(_SECTION.match(a) and not _SECTION.match(b) for a, b in zip(lines, lines[1:]))
        if filled:
            return Cut("warning", 0.6, f"the outline ends on a section with nothing under it "
                       f"(\"...{end.quoted}\")", end.tail)
    if len(end.words) <= 6 and ENDS_CUT.match(end.body[-1]) and _LIST_NUMBER.match(end.last) and not end.code:
        # "6. Continual Improvement" where items 1-5 each have a paragraph under them: its own never came
        lines = end.lines
        heads = [k for k, line in enumerate(lines[:-1]) if _LIST_NUMBER.match(line)]
        if len(heads) >= 2 and all(k + 1 < len(lines) - 1 and not LIST_OR_CODE.match(lines[k + 1])
                                   and len(lines[k + 1].split()) >= 8 for k in heads):
            return Cut("warning", 0.6, f"the answer ends on a numbered heading with nothing under it "
                       f"(\"...{end.quoted}\")", end.tail)
    return None


def _dangling(end: End, prompt: str) -> Cut | None:
    """Ends on a word no phrase ends on ("and", "the", "to"; in code "in", "def"), or on a comma, an open
    bracket or a dash. Comments are prose here: "# Last i elements are already in" was cut."""
    words, body = end.words, end.body
    if not words or "://" in words[-1] or not ENDS_CUT.match(body[-1]) or re.fullmatch(r"\s*[-=_*~]{3,}", end.last):
        return None  # a URL, or a rule line ("-----")
    last = words[-1].lower().strip(",(-")
    note = _TRAILING_COMMENT.search(end.last)
    if note and not COMMENT.match(end.last):
        # "print(result) # Prints", "if self.items: # pop from the": the note after the code was cut
        dangling = last in _DANGLING or last in _SHOWS
    elif (code_line(end) or ASSIGNMENT.match(end.last)) and not COMMENT.match(end.last):
        dangling = last in CODE_DANGLING and not (len(words) >= 2 and words[-2].lower() == "end")  # "end while"
    else:
        dangling = last in _DANGLING or body.endswith(("(", "-"))
        # "would be" with nothing after; not "as it should be"
        dangling = dangling or (last == "be" and len(words) >= 3 and words[-2].lower() in _MODALS
                                and words[-3].lower() != "it")
        dangling = dangling or (body.endswith(",") and not _CLOSING.search(end.last))
        # "- 1/2 cup": a quantity whose ingredient never came
        dangling = dangling or (last in _UNITS and _QUANTITY.match(end.last) is not None)
    if dangling:
        return Cut("warning", 0.6, f"the answer stops mid-phrase (\"...{end.quoted}\")", end.tail)
    return None


def _is_sentence_end(end: End) -> bool:
    """Whether the last line could be a sentence cut short: prose ending on a word, not code or output."""
    if end.sentence_end is not None:
        return end.sentence_end  # three rules ask; the answer is worked out once
    words = end.words
    last = end.body[-3] if end.body.endswith(("()", "(s)")) and len(end.body) > 2 else end.body[-1]  # "len()"
    end.sentence_end = bool(words) and "://" not in words[-1] and ENDS_CUT.match(last) is not None and not (
        code_line(end) or ASSIGNMENT.match(end.last) or COMMENT.match(end.last)
        or (end.code and _COMMENT_GOES_ON.match(end.last)) or _NOT_A_SENTENCE.search(end.last[-80:])
        or (_CODE_TOKEN.search(words[-1]) and not _WORD_PAIR.fullmatch(words[-1])))
    return end.sentence_end


def _open_quote(end: End, prompt: str) -> Cut | None:
    """A quotation, or a string literal in code (`return "The answer is`), opened on the last line."""
    on_word = ENDS_CUT.match(end.body[-1]) is not None
    if not end.words or not (on_word or end.body[-1] == '"' or "`" in end.last):
        return None
    opened = on_word and _OPEN_QUOTE.search(end.last)
    # Or a quoted passage that never closes, ending on a quoted word ('... A Kind Of "Gravity"').
    if not opened and end.body.endswith('"') and end.body[-2:-1].isalnum():
        paragraph = end.body[end.body.rfind("\n\n") + 1:]
        opened = paragraph.count('"') % 2 == 1 and not end.code
    if opened:
        return Cut("warning", 0.6, f"a quotation is opened and never closed (\"...{end.quoted}\")", end.tail)
    assigned = ASSIGNMENT.match(end.last)
    if assigned and on_word:  # cmd = 'aws s3
        code = re.sub(r'"[^"\n]*"', "", end.last[assigned.end(1):])
        if code.count("'") % 2 == 1:
            return Cut("warning", 0.6, f"a string is opened and never closed (\"...{end.quoted}\")", end.tail)
    tick = end.last.rfind("`")  # an odd one out that opens a span (after a space), not one inside a regex
    if end.last.replace("```", "").count("`") % 2 == 1 and (tick == 0 or end.last[tick - 1] in " \t(:"):
        return Cut("warning", 0.6, f"a `code` span is opened and never closed (\"...{end.quoted}\")", end.tail)
    return None


def _list_item_cut(end: End, prompt: str) -> Cut | None:
    """A list item may end without punctuation, unless it is written as prose (it has a full stop inside,
    or its siblings end with one). An item much shorter than its siblings is not taken as cut: tables of
    contents end on "Index"."""
    marker = LIST_OR_CODE.match(end.last)
    if not marker or not _is_sentence_end(end):
        return None
    kind = _marker_kind(marker.group(1))  # siblings: "1." items, not the "- Eggs" list above them
    items = [line for line in end.lines[:-1] if (m := LIST_OR_CODE.match(line)) and _marker_kind(m.group(1)) == kind]
    stops = sum(_ENDS_SENTENCE.search(line) is not None for line in items)
    prose_item = len(end.words) >= 8 and _SENTENCE_END.search(end.last, marker.end()) is not None
    # "1. What is its purpose?" then "2. What": a question item that never reached its "?"
    question = bool(items) and items[-1].rstrip().endswith("?") and end.words[1:2] != [] and (
        end.words[1].lower() in _ASKING)
    if (len(items) >= 2 and stops >= 0.8 * len(items)
            or (len(items) == 1 and stops == 1 and len(end.words) >= 3 and len(items[0].split()) >= 6)
            or prose_item or question):
        return Cut("warning", 0.6, f"the last list item stops short; the list's items end with a full stop "
                   f"(\"...{end.quoted}\")", end.tail)
    # Items of five words or more, and a last one under a third of their length ("10. Salt and" under
    # "9. Burger with a doughnut bun" and longer): it stopped early
    sizes = sorted(len(line[LIST_OR_CODE.match(line).end():].split()) for line in items[-6:])
    size = len(end.last[marker.end():].split())
    if size <= 2 and end.words[-1].strip(":").lower() in _CLOSING_SECTIONS:
        return None  # a table of contents ends on "Index", an outline on "Conclusion", steps on "End"
    if len(sizes) >= 3 and sizes[0] >= 5 and size <= 0.3 * sizes[len(sizes) // 2] and kind not in ("indent", "#"):
        return Cut("warning", 0.5, f"the last list item is a fraction of the length of the others "
                   f"(\"...{end.quoted}\")", end.tail)
    # Items that each start with a verb in -ing and go on ("Renting a paddle boat"): the last stopped
    # after its verb ("10. Participating").
    verb = end.last[marker.end():].split()
    heads = [line[LIST_OR_CODE.match(line).end():].split() for line in items[-4:]]
    if len(verb) == 1 and verb[0].endswith("ing") and len(heads) >= 2 and all(
            len(head) >= 3 and head[0].endswith("ing") for head in heads):
        return Cut("warning", 0.6, f"the last list item stops after its first word (\"...{end.quoted}\")", end.tail)
    # Items written to one pattern ("Boston - 139 landmarks", "Gwendoline Christie as Captain Phasma"):
    # the last stops before the part every other item has ("3. Los").
    same_list = items[-6:]
    if len(same_list) >= 2 and all(len(line.split()) <= 10 for line in same_list):  # entries, not prose
        body = end.last[marker.end():]
        for sep in _ITEM_PARTS:
            if sep not in body and all(sep in line[LIST_OR_CODE.match(line).end():] for line in same_list):
                return Cut("warning", 0.6, f"the last list item stops before the \"{sep.strip()}\" part every "
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


def _mid_sentence(end: End, prompt: str) -> Cut | None:
    """The answer punctuates its other sentences but not this one; or the last line is a long lower-case
    sentence with no end. Titles, headings, names, verse and a signature after "Best regards," are not."""
    if not _is_sentence_end(end) or LIST_OR_CODE.match(end.last):
        return None
    words, lines = end.words, end.lines
    if _verse(lines):
        # verse is not judged by full stops; but a line of one to three words under lines of four or more
        # lost the rest of itself ("A moment")
        above = sorted(len(line.split()) for line in lines[-4:-1])
        refrain = len({w.strip(",;").lower() for w in words}) < len(words)  # "Always, always"
        if len(words) <= 3 and above[0] >= 4 and len(words) <= 0.5 * above[1] and not (
                refrain or _CLOSING.search(end.last)):
            return Cut("warning", 0.5, f"the poem's last line stops after {len(words)} word(s) "
                       f"(\"...{end.quoted}\")", end.tail)
        return None
    shown = len(lines) >= 2 and "output" in lines[-2].lower()
    # code above: the answer is code, or its two lines above the last are (`a = [4, 21]` in backticks)
    code_above = end.code or len(lines) >= 3 and all(
        CODE_LINE.search(line) or ASSIGNMENT.match(line.strip("`")) for line in lines[-3:-1])
    if code_above and 2 <= len(words) < 8 and not shown and words[0][:1].isupper() and not code_line(end) and (
            CODE_LINE.search(lines[-2]) or ASSIGNMENT.match(lines[-2])) and all(w.isalpha() for w in words[1:]):
        # "In this" under the code: its explanation was cut, unless the line is what the code prints
        # (its words are in the code) or closes a block ("End Function")
        shown = re.search(r"[\"'>]\s*" + re.escape(end.last.strip()), end.body[:len(end.body) - len(end.last)])
        if words[0] != "End" and not shown:
            return Cut("warning", 0.5, f"the explanation after the code stops mid-sentence (\"...{end.quoted}\")",
                       end.tail)
    if end.code and (len(words) < 8 or any(c in end.last for c in "()[]{};=<>") or shown):
        return None  # in a code answer, only a plain prose line is judged as a sentence
    punctuated = len(_SENTENCE_END.findall(end.body)) >= 2  # the body ends on a word: all of these are inside
    capitals = sum(w[:1].isupper() for w in words) / len(words)
    wordy = sum(any(c.isalpha() for c in w) for w in words) >= 0.6 * len(words)  # not "12 -> 15 -> 20"
    prose_line = len(words) >= 8 and (capitals < 0.4 or len(words) >= 14 and capitals < 0.7) and wordy
    signature = len(lines) >= 2 and lines[-2].rstrip().endswith(",") and len(words) <= 4
    sentence = _SENTENCE_END.split(end.last)[-1].split()  # the last sentence, which never ended
    # "What sort of mentoring interests" after punctuated sentences: a question that lost its end
    question = ((len(sentence) >= 3 or len(sentence) == 2 and sentence[1].lower() in _ASKED_OF)
                and sentence[0].lower() in _ASKING and _SENTENCE_END.search(end.body) is not None
                and not _NOT_A_SENTENCE.search(end.last[-80:]))
    if (punctuated and wordy or prose_line or question) and not signature:
        return Cut("warning", 0.5, f"the answer may end mid-sentence: no full stop after \"...{end.quoted}\"",
                   end.tail)  # the weakest evidence: casual writers drop the last full stop too
    return None


def _sum_left_open(end: End, prompt: str) -> Cut | None:
    """Working that ends on a sum with no "=" ("10 + 3b" under "2(5) + 3b = 20"): every step above
    gives its result, this one lost it."""
    last = end.last.strip()
    if "=" in last or not last[-1:].isalnum() and last[-1:] != ")" or not _EXPRESSION.fullmatch(last) or (
            not _OPERATION.search(last)) or end.code:
        return None
    steps = [line for line in end.lines[-4:-1] if "=" in line and any(c.isdigit() for c in line)]
    if steps and any(c.isdigit() for c in last):
        return Cut("warning", 0.5, f"the working stops on \"{last[-30:]}\" with no result, where the steps above "
                   f"give theirs", end.tail)
    return None


_EXPRESSION = re.compile(r"[\w\s().,$€£%^²³+*/×÷−-]+")
_OPERATION = re.compile(r"[\w)²³%]\s*[-+*/×÷−]\s*[\w($€£(]")


def _clause_alone(end: End, prompt: str) -> Cut | None:
    """A last sentence that is only its "if" clause ("So, if the temperature given in Fahrenheit"): the
    main clause never came."""
    low = end.last.lower()
    words = low.split()
    if 2 <= len(words) <= 4 and words[0].strip(",") in _CONNECTIVES and words[-1] not in _ENDS_AFTER_CONNECTIVE and (
            _is_sentence_end(end) and not LIST_OR_CODE.match(end.last) and not _verse(end.lines)):
        # "So the angle", "Thus, the final" under the working: the conclusion it opens never came
        return Cut("warning", 0.5, f"the answer stops on the start of its conclusion (\"...{end.quoted}\")",
                   end.tail)
    if not any(word in low for word in ("if ", "though ", "unless ", "whereas ")) or not _is_sentence_end(end):
        return None
    marker = LIST_OR_CODE.match(end.last)
    sentence = _SENTENCE_END.split(end.last[marker.end() if marker else 0:])[-1].strip()
    if len(sentence.split()) >= 4 and _CONDITION.match(sentence) and " then " not in sentence:
        return Cut("warning", 0.5, f"the last sentence is a condition with nothing after it (\"...{end.quoted}\")",
                   end.tail)
    return None


_CLOSING_SECTIONS = {"index", "conclusion", "conclusions", "summary", "appendix", "appendices", "references",
                     "bibliography", "glossary", "acknowledgments", "acknowledgements", "epilogue", "afterword",
                     "sources", "notes", "resources", "faq", "contact", "end", "stop", "done", "finish", "exit"}
_CONNECTIVES = {"so", "thus", "therefore", "hence", "finally"}
_ENDS_AFTER_CONNECTIVE = {"it", "all", "on", "etc", "that", "this", "these", "those", "them", "more", "well", "too",
                          "now", "again", "here", "there", "forth", "so", "you", "me", "us", "yes", "no", "true"}
_CONDITION = re.compile(r"(?:(?:so|and|but|now),?\s+)?(?:if|although|though|unless|whereas)\s[^,;:()]+$", re.I)


def _quoted_last(end: End, prompt: str) -> Cut | None:
    """A long sentence that ends on a quoted word or phrase with no full stop after it ('...means it can
    act as a "buffer"'): the sentence went on. Short ones are left: casual writers end 'How about "Saw"'."""
    if end.body[-1:] not in "\"”'’" or not end.body[-2:-1].isalnum() or end.code:
        return None
    close = end.body[-1]
    sentence = _SENTENCE_END.split(end.last)[-1].strip()
    opened = sentence.rfind(_OPENING.get(close, close), 0, len(sentence) - 1)
    quoted = sentence[opened + 1:-1].split()
    # a word or phrase quoted inside a long sentence, not a title that is the whole line, after other
    # sentences that do end ("How about "Saw"" alone is a casual reply)
    if opened > 0 and len(quoted) <= 6 and len(sentence.split()) >= 10 and _SENTENCE_END.search(end.body):
        return Cut("warning", 0.5, f"the answer may end mid-sentence: no full stop after \"...{end.quoted}\"",
                   end.tail)
    return None


_OPENING = {"”": "“", "’": "‘"}


def _verse(lines: list[str]) -> bool:
    """Short lines that mostly end without a full stop, as the last one does; list items, equations and
    code above are not verse."""
    return len(lines) >= 4 and all(len(line.split()) <= 12 for line in lines[-4:]) and sum(
        _ENDS_SENTENCE.search(line) is None for line in lines[-4:-1]) >= 2 and not any(
        CODE_LINE.search(line) or ASSIGNMENT.match(line) or LIST_OR_CODE.match(line) or _NOT_VERSE.search(line)
        for line in lines[-4:-1])


def _aside_last(end: End, prompt: str) -> Cut | None:
    """A sentence that ends on an aside in brackets ("...of the behavior (failing to finish the task)")
    with no full stop after it: the aside closed, the sentence did not; judged without the aside."""
    if not end.body.endswith(")"):
        return None
    opened = end.body.rfind("(")
    if opened < 2 or "\n" in end.body[opened:] or not re.match(r"\w+\s$", end.body[opened - 2:opened]) or end.code:
        return None  # "(555) 123", an aside that is the whole sentence, "f(x)"
    return _mid_sentence(End(end.body[:opened].rstrip()), prompt)


_RULES = (code_cuts.unclosed_string_or_comment, _unclosed_bracket, _unclosed_element, _ends_on_operator,
          _list_short_of_request, *code_cuts.RULES, python_cuts.python_cut, _short_row, _dangling, _heading_last,
          _open_quote, _list_item_cut, _sum_left_open, _clause_alone, _mid_sentence)
# Ending on a sign (")", "}", ";", ">", a quote), an answer has no sentence left open for the rules on words.
_AFTER_A_SIGN = (*(rule for rule in _RULES if rule not in (_dangling, _list_item_cut, _clause_alone, _mid_sentence)),
                 _aside_last, _quoted_last)
# Most answers end with a full stop; only these rules can find a cut before one (a string, bracket,
# element or list left open, a table row short of cells), so the rest are not asked.
_AFTER_FULL_STOP = (code_cuts.unclosed_string_or_comment, _unclosed_bracket, _unclosed_element, _list_short_of_request,
                    _short_row, _heading_last)
