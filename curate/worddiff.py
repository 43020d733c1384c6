"""Where two near-duplicate texts differ, word by word: what a reader needs to judge a pair at a glance
(both texts cut at the same length often looked identical)."""

from __future__ import annotations

import difflib
import re

_TOKEN = re.compile(r"\s+|[^\s]+")


def word_diff(a: str, b: str) -> list[tuple[str, str]]:
    """(op, text) segments: '=' in both, '-' only in a, '+' only in b; whitespace kept with its words.

    >>> word_diff("the cat sat down", "the dog sat down")
    [('=', 'the '), ('-', 'cat'), ('+', 'dog'), ('=', ' sat down')]
    """
    ta, tb = _TOKEN.findall(a), _TOKEN.findall(b)
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("=", "".join(ta[i1:i2])))
            continue
        if i2 > i1:
            out.append(("-", "".join(ta[i1:i2])))
        if j2 > j1:
            out.append(("+", "".join(tb[j1:j2])))
    return out


def clipped(segments: list[tuple[str, str]], context: int = 6) -> list[tuple[str, str]]:
    """The same segments with long common stretches cut to `context` words on each side of a change.

    >>> clipped([("=", "one two three four five six seven eight nine ten eleven twelve thirteen "), ("+", "x")], 2)
    [('=', '… twelve thirteen '), ('+', 'x')]
    """
    out = []
    for k, (op, text) in enumerate(segments):
        tokens = _TOKEN.findall(text)
        words = [i for i, t in enumerate(tokens) if not t.isspace()]
        if op != "=" or len(words) <= 2 * context + 1:
            out.append((op, text))
            continue
        head = "".join(tokens[:words[context - 1] + 1]) + " …" if k > 0 else ""
        tail = "… " + "".join(tokens[words[-context]:]) if k < len(segments) - 1 else ""
        out.append((op, " ".join(x for x in (head, tail) if x)))
    return out
