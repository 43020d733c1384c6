"""Truncation rules for code in any language: where a cut leaves code that cannot be whole (a block
header with no body, a statement with no ";" among statements that all have one, a comment over code
that never came). Python's own are in python_cuts.py. Each takes the answer's `End` and returns a `Cut`
or None; the table in `truncation_rules.py` says when each is asked, with what severity and score."""

from __future__ import annotations

import re

from .code import CODE_LINE
from .ending import ASSIGNMENT, COMMENT, HEADING, QUOTED_BRACKET, WHOLE, Cut, End, unbalanced
from .lexicon import BLOCK_ENDS, CODE_DANGLING, PLACEHOLDER_WORDS, SHOWN_VALUES

# A block header as the last line has lost its body ("for x in xs:", "if (n > 0)"); a one-line form
# ("if x: return y", "if (x) y;") has not.
_HEADER = re.compile(r"^\s*(\}?\s*(if|elif|else|while|for|foreach|def|class|with|try|except|catch|finally|switch)\b"
                     r"|(public|private|protected|static|func|fn|function)\b.*\)\s*$"
                     r"|((public|private|protected|abstract|final|static|export)\s+)+(class|interface|enum|struct)\s)"
                     r"(?!.*[;}]\s*$)(?!.*:\s+\S)")
# A declaration cut before its "=" or ";" ("let subStr", "int total"); an SQL condition or join cut
# before its test ("WHERE e.salary", "INNER JOIN Orders").
_DECLARED = re.compile(r"^\s*((let|const|var|auto)\s+[A-Za-z_]\w*|(int|long|float|double|char|bool|boolean|string|"
                       r"String)(\[\])*(\s+[A-Za-z_]\w*)?)$")
_SQL_OPEN = re.compile(r"^\s*((WHERE|AND|OR|ON|HAVING)\s+[\w.]+|((INNER|LEFT|RIGHT|FULL|CROSS)\s+)?(OUTER\s+)?JOIN\s+"
                       r"\w+(\s+\w+)?(\s+ON\s+[\w.]+)?|(SELECT|FROM|GROUP BY|ORDER BY))$")
_BARE_NAME = re.compile(r"^\s+" + WHOLE + r"\$?[A-Za-z_][\w.]*(\[[^\]\n]*\])*"
                        r"(\s*,\s*\$?[A-Za-z_][\w.]*(\[[^\]\n]*\])*)*$", re.I)


def unclosed_string_or_comment(end: End, prompt: str) -> Cut | None:
    """An odd number of triple quotes, and only text after the last one (code after it means that one
    closed a string, and an odd one out is a mention in prose); or a `/*` comment never closed."""
    for marks in ('"""', "'''"):
        if end.body.count(marks) % 2 == 1:
            start = end.body.rfind(marks)
            after = end.body[start + 3:].splitlines()
            if not any(CODE_LINE.search(line.strip()) or ASSIGNMENT.match(line) for line in after):
                return Cut(f"a {marks} string is opened and never closed", start)
    if end.body.count("/*") > end.body.count("*/") and re.search(r"^\s*/\*", end.body, re.M):
        return Cut("a /* comment is opened and never closed", end.body.rfind("/*"))
    return None


_NOTE = re.compile(r"\s+#[^'\"#]*$")  # a note after the code on its line
_BLOCK_END = re.compile(r"@?(" + "|".join(BLOCK_ENDS) + ")", re.I)
# "int main()", "public static String reverse(String s)": a C-family function signature with no body.
_SIGNATURE = re.compile(r"^\s*(?!(?:return|new|else|print|echo|await|throw|yield|delete|puts|raise)\b)[A-Za-z_]"
                        r"[\w:<>*&\[\], ]*[\w>*&\]]\s+"
                        r"[*&]*[A-Za-z_][\w:]*\s*\([^;{}]*\)\s*(const)?\s*$")
# A line that is one name at the margin ("model", "tfidf_vectorizer"): in code, the start of a statement
# whose "= ..." was cut, unless the code defined it before (a notebook cell shows a value that way).
_TOP_NAME = re.compile(WHOLE + r"\$?[a-z_]\w*$", re.I)


def code_cut(end: End, prompt: str) -> Cut | None:
    """In a code answer: a block header with no body after it (a C or Java signature with no "{" too), a
    declaration or SQL clause cut before its value or test, an indented line holding only a name, a
    statement ending on a comma, or a name alone that no line before defines."""
    last = end.last
    if last[-1] in ".!?;}\"'":
        return None  # no statement cut short ends so
    # "def sqrt(x): # Square root": a header is one with a comment after it, too
    header, name = _HEADER.match(_NOTE.sub("", last) if "#" in last else last), _TOP_NAME.match(last)
    stops = header or _BARE_NAME.match(last) or _SIGNATURE.match(last) or _DECLARED.match(last) or (
        _SQL_OPEN.match(last) and re.match(r"\s*(SELECT|WITH)\b", end.body)) or (
        last.endswith(",") and not last.lstrip().startswith("print "))
    if not (stops or name):
        return None  # the shape of the last line comes first: it is cheap, and rules out most answers
    before = end.lines[-2] if len(end.lines) >= 2 else ""
    # Code just above makes one lone line code too: "# Define the model" over "model", "For example:"
    # over "class MyClass", "sentence = ..." over "words".
    lead_in = re.match(r"\s*(#|//)\s*\w+\s+\w", before) or before.rstrip().endswith(":") or ASSIGNMENT.match(before)
    # "public static boolean isAnagram(String s1, String s2)": a signature is code on its own.
    signature = header and re.match(r"\s*(public|private|protected)\s", last)
    if not (end.looks_like_code or (lead_in and (name or header)) or signature):
        return None
    if last.endswith(",") and unbalanced(QUOTED_BRACKET.sub("", end.body)):
        stops = False  # a comma inside an open list or call: the bracket rule speaks for it
    if not stops and name:
        word = re.escape(last.strip())
        code = re.sub(r"(#|//).*", "", end.body[:len(end.body) - len(last)])  # a comment defines nothing
        stops = last.strip() in CODE_DANGLING or not re.search(
            rf"(^|[\s,(])\$?{word}\s*(,[^=\n]*)?[-+*/]?=(?!=)|import\s[^\n]*\b{word}\b|\b(as|def|class|let|var|const)"
            rf"\s+{word}\b|for\s[^\n]*\b{word}\b[^\n]*\sin\b", code, re.M)  # a parameter is not defined outside
    if stops:
        return Cut(f"the code stops mid-statement (\"...{end.quoted}\")", end.tail)
    return None


_LINE_COMMENT = re.compile(r"\s*(#|//)\s*(\S.*)")
# Comments that stand in for code left out on purpose, or show a result ("# Output: 12", "# prints 5").
_PLACEHOLDER = re.compile(r"\b(" + "|".join(PLACEHOLDER_WORDS) + ")", re.I)
_NOT_INTRO = re.compile(r"^\W*(output|result|returns|prints|expected|\d)|:\s*\S|=>|->|==|\bso on\b|\betc\b|"
                        r"\.\.\.|…|\b(?:your|more|other)\b.*\bhere\b",
                        re.I)
# A line whose output the comments after it may show: a print, or a bare call ("triangle(4)").
_SHOWS_OUTPUT = re.compile(r"print|console\.log|echo|puts|cout|System\.out|output|result|^\s*[\w.]+\(.*\)\s*;?\s*$",
                           re.I)


def comment_last(end: End, prompt: str) -> Cut | None:
    """Code that ends on a comment that introduces code ("# Return the result", "# Build"), or on a doc
    comment ("/** ... */") with nothing documented after it. Not a placeholder ("# your code here",
    "except E:\n    # handle it"), a note ending with a full stop, or what the line above prints."""
    if end.last.strip() == "*/":
        previous = end.body.rfind("*/", 0, len(end.body) - 2)  # the comment before this one ends there
        if "/**" in end.body[previous + 2 if previous >= 0 else 0:]:
            return Cut("the code ends on a doc comment, before what it documents", end.tail)
    comment = _LINE_COMMENT.match(end.last)
    if not comment or end.last.endswith(".") or HEADING.match(end.last) or len(end.lines) < 2 or not end.code:
        return None
    text = comment.group(2)
    # One word introduces code too ("# Driver", "# Extract"), unless it is a value the line above printed.
    one_value = len(text.split()) < 2 and (not text.isalpha() or len(text) < 4 or text.lower() in SHOWN_VALUES)
    if _NOT_INTRO.search(text) or one_value:
        return None
    before = end.lines[-2]
    # Output shown in comments sits right below the line at the margin; inside a block it is a step.
    right_below = not re.search(r"\n[^\S\n]*\n[^\n]*$", end.body) and not end.last[:1].isspace()
    if (before.rstrip().endswith((":", "{")) and _PLACEHOLDER.search(text)) or (
            right_below and _SHOWS_OUTPUT.search(before)):
        return None
    return Cut(f"the code ends on a comment, before the code it introduces (\"...{end.quoted}\")",
               end.tail)


def no_semicolon(end: End, prompt: str) -> Cut | None:
    """Code whose statements all end with ";" (JavaScript, C, Java, PHP) stopping on a word: a statement
    cut short ("const port"). A cut at a space never removes a ";" alone, so a missing one after ")"
    is a slip, not a cut, and is left alone."""
    last = end.last.strip()
    if (end.body.count(";") < 2 or not (last[-1:].isalnum() or last[-1:] in "_\"'") or "//" in last or " #" in last
            or COMMENT.match(last) or _BLOCK_END.fullmatch(last)
            or not end.code):
        return None  # "console.log(x); // 15": a trailing comment follows a whole statement; "@end" is one
    if len(end.lines) >= 2 and "output" in end.lines[-2].lower():
        return None  # printed output after "// Output"
    ends = [line.rstrip()[-1] for line in end.lines[:-1] if not COMMENT.match(line)]
    semicolons = ends.count(";")
    unended = sum(c.isalnum() or c in "_\"')]" for c in ends)
    if semicolons >= 2 and unended <= 0.34 * semicolons:
        return Cut(f"the code's statements end with \";\" and its last one stops short "
                   f"(\"...{end.quoted}\")", end.tail)
    return None


