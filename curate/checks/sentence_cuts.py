"""Truncation rules for prose: a sentence that never ended (its siblings end and it does not, it stops
on a word no phrase ends on, it is only its "if" clause or the start of its conclusion), a quotation
left open. Each takes the answer's `End` and returns a `Cut` or None; the table in
`truncation_rules.py` says when each is asked, with what severity and score."""

from __future__ import annotations

import re

from .code import CODE_LINE
from .ending import (
    ASSIGNMENT,
    COMMENT,
    ENDS_CUT,
    ENDS_SENTENCE,
    LIST_OR_CODE,
    NOT_A_SENTENCE,
    SENTENCE_END,
    Cut,
    End,
    code_line,
)
from .lexicon import (
    ASKED_OF,
    ASKING,
    CLOSINGS,
    CODE_DANGLING,
    CONNECTIVES,
    DANGLING,
    ENDS_AFTER_CONNECTIVE,
    MODALS,
    SHOWS,
)

_NOT_VERSE = re.compile(r"```|[=→|]")
_TRAILING_COMMENT = re.compile(r"[\w)\]'\";:]\s+(#|//)\s*\S")  # code, then a note after it on the line
_OPEN_QUOTE = re.compile(r"(^|\s)\"\w[^\"]*$")  # a quotation mark that opens, with no closing one after it
CLOSING = re.compile(r"\b(" + "|".join(CLOSINGS) + r")\b", re.I)


def dangling(end: End, prompt: str) -> Cut | None:
    """Ends on a word no phrase ends on ("and", "the", "to"; in code "in", "def"), or on a comma, an open
    bracket or a dash. Comments are prose here: "# Last i elements are already in" was cut."""
    words, body = end.words, end.body
    if not words or "://" in words[-1] or not ENDS_CUT.match(body[-1]) or re.fullmatch(r"\s*[-=_*~]{3,}", end.last):
        return None  # a URL, or a rule line ("-----")
    last = words[-1].lower().strip(",(-")
    note = _TRAILING_COMMENT.search(end.last)
    if note and not COMMENT.match(end.last):
        # "print(result) # Prints", "if self.items: # pop from the": the note after the code was cut
        dangling = last in DANGLING or last in SHOWS
    elif (code_line(end) or ASSIGNMENT.match(end.last)) and not COMMENT.match(end.last):
        dangling = last in CODE_DANGLING and not (len(words) >= 2 and words[-2].lower() == "end")  # "end while"
    else:
        dangling = last in DANGLING or body.endswith(("(", "-"))
        # "would be" with nothing after; not "as it should be"
        dangling = dangling or (last == "be" and len(words) >= 3 and words[-2].lower() in MODALS
                                and words[-3].lower() != "it")
        dangling = dangling or (body.endswith(",") and not CLOSING.search(end.last))
    if dangling:
        return Cut(f"the answer stops mid-phrase (\"...{end.quoted}\")", end.tail)
    return None


def open_quote(end: End, prompt: str) -> Cut | None:
    """A quotation, or a string literal in code (`return "The answer is`), opened on the last line."""
    on_word = ENDS_CUT.match(end.body[-1]) is not None
    if not end.words or not (on_word or end.body[-1] == '"' or "`" in end.last):
        return None
    opened = bool(on_word and _OPEN_QUOTE.search(end.last))
    # Or a quoted passage that never closes, ending on a quoted word ('... A Kind Of "Gravity"').
    if not opened and end.body.endswith('"') and end.body[-2:-1].isalnum():
        paragraph = end.body[end.body.rfind("\n\n") + 1:]
        opened = paragraph.count('"') % 2 == 1 and not end.code
    if opened:
        return Cut(f"a quotation is opened and never closed (\"...{end.quoted}\")", end.tail)
    assigned = ASSIGNMENT.match(end.last)
    if assigned and on_word:  # cmd = 'aws s3
        code = re.sub(r'"[^"\n]*"', "", end.last[assigned.end(1):])
        if code.count("'") % 2 == 1:
            return Cut(f"a string is opened and never closed (\"...{end.quoted}\")", end.tail)
    tick = end.last.rfind("`")  # an odd one out that opens a span (after a space), not one inside a regex
    if end.last.replace("```", "").count("`") % 2 == 1 and (tick == 0 or end.last[tick - 1] in " \t(:"):
        return Cut(f"a `code` span is opened and never closed (\"...{end.quoted}\")", end.tail)
    return None


def mid_sentence(end: End, prompt: str) -> Cut | None:
    """The answer punctuates its other sentences but not this one; or the last line is a long lower-case
    sentence with no end. Titles, headings, names, verse and a signature after "Best regards," are not."""
    if not end.sentence_end or LIST_OR_CODE.match(end.last):
        return None
    words, lines = end.words, end.lines
    if _verse(lines):
        # verse is not judged by full stops; but a line of one to three words under lines of four or more
        # lost the rest of itself ("A moment")
        above = sorted(len(line.split()) for line in lines[-4:-1])
        refrain = len({w.strip(",;").lower() for w in words}) < len(words)  # "Always, always"
        if len(words) <= 3 and above[0] >= 4 and len(words) <= 0.5 * above[1] and not (
                refrain or CLOSING.search(end.last)):
            return Cut(f"the poem's last line stops after {len(words)} word(s) "
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
        shown = bool(re.search(r"[\"'>]\s*" + re.escape(end.last.strip()), end.body[:len(end.body) - len(end.last)]))
        if words[0] != "End" and not shown:
            return Cut(f"the explanation after the code stops mid-sentence (\"...{end.quoted}\")",
                       end.tail)
    if end.code and (len(words) < 8 or any(c in end.last for c in "()[]{};=<>") or shown):
        return None  # in a code answer, only a plain prose line is judged as a sentence
    # Sentences above that end, and this one does not (the body ends on a word: every end found is inside);
    # after one sentence only, a last line with code's signs in it ("arr.includes(4); // x") is not prose,
    # nor is a reply of two words ("Why not").
    ends = len(SENTENCE_END.findall(end.body))
    punctuated = ends >= 2 or ends == 1 and not _CODE_SIGNS.search(end.last) and len(words) >= 3
    capitals = sum(w[:1].isupper() for w in words) / len(words)
    wordy = sum(any(c.isalpha() for c in w) for w in words) >= 0.6 * len(words)  # not "12 -> 15 -> 20"
    prose_line = len(words) >= 8 and (capitals < 0.4 or len(words) >= 14 and capitals < 0.7) and wordy
    signature = len(lines) >= 2 and lines[-2].rstrip().endswith(",") and len(words) <= 4
    sentence = SENTENCE_END.split(end.last)[-1].split()  # the last sentence, which never ended
    # "What sort of mentoring interests" after punctuated sentences: a question that lost its end
    question = ((len(sentence) >= 3 or len(sentence) == 2 and sentence[1].lower() in ASKED_OF)
                and sentence[0].lower() in ASKING and SENTENCE_END.search(end.body) is not None
                and not NOT_A_SENTENCE.search(end.last[-80:]))
    if (punctuated and wordy or prose_line or question) and not signature:
        return Cut(f"the answer may end mid-sentence: no full stop after \"...{end.quoted}\"",
                   end.tail)  # the weakest evidence: casual writers drop the last full stop too
    return None


_CODE_SIGNS = re.compile(r"[;(){}=/_<>]|\w\.\w")


def clause_alone(end: End, prompt: str) -> Cut | None:
    """A last sentence that is only its "if" clause ("So, if the temperature given in Fahrenheit"): the
    main clause never came."""
    low = end.last.lower()
    words = low.split()
    if 2 <= len(words) <= 4 and words[0].strip(",") in CONNECTIVES and words[-1] not in ENDS_AFTER_CONNECTIVE and (
            end.sentence_end and not LIST_OR_CODE.match(end.last) and not _verse(end.lines)):
        # "So the angle", "Thus, the final" under the working: the conclusion it opens never came
        return Cut(f"the answer stops on the start of its conclusion (\"...{end.quoted}\")",
                   end.tail)
    if not any(word in low for word in ("if ", "though ", "unless ", "whereas ")) or not end.sentence_end:
        return None
    marker = LIST_OR_CODE.match(end.last)
    sentence = SENTENCE_END.split(end.last[marker.end() if marker else 0:])[-1].strip()
    if len(sentence.split()) >= 4 and _CONDITION.match(sentence) and " then " not in sentence:
        return Cut(f"the last sentence is a condition with nothing after it (\"...{end.quoted}\")",
                   end.tail)
    return None


_CONDITION = re.compile(r"(?:(?:so|and|but|now),?\s+)?(?:if|although|though|unless|whereas)\s[^,;:()]+$", re.I)


def _verse(lines: list[str]) -> bool:
    """Short lines that mostly end without a full stop, as the last one does; list items, equations and
    code above are not verse."""
    return len(lines) >= 4 and all(len(line.split()) <= 12 for line in lines[-4:]) and sum(
        ENDS_SENTENCE.search(line) is None for line in lines[-4:-1]) >= 2 and not any(
        CODE_LINE.search(line) or ASSIGNMENT.match(line) or LIST_OR_CODE.match(line) or _NOT_VERSE.search(line)
        for line in lines[-4:-1])


