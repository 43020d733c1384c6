"""Truncation rules for Python code: a cut leaves a function short of its end (one that builds a value
and never returns it, a local stored last, a docstring with no body, a swap half done), or an `if`
that returns with no fallback. Each takes the answer's `End` and returns a `Cut` or None."""

from __future__ import annotations

import re

from .ending import Cut, End

_LOCAL_STORE = re.compile(r"^([ \t]+)([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*(?:[-+*/%]|//)?=(?!=)")
_GIVES_BACK = re.compile(r"\b(return|yield|print|global|nonlocal|write|append|extend|update|put|send|"
                         r"setattr|exec|eval)\b|\bself\.|\[\w[^\]]*\]\s*=(?!=)")


def unused_local(end: End, prompt: str) -> Cut | None:
    """A Python function whose last line stores a local variable, while nothing in the function returns,
    yields, prints or writes anything: the store is lost, so the lines that used it were cut."""
    store = _LOCAL_STORE.match(end.last)
    if not store or not end.code:
        return None
    defs = end.python_defs
    if not defs or len(defs[-1].group(1)) >= len(store.group(1)):
        return None
    body = end.body[defs[-1].end():]
    before = body[:len(body) - len(end.last)]
    # An empty list or dict made on the last line is built after it, whatever else the function returns;
    # so is a name the function never mentioned before ("left_depth = depth(root.left)").
    new = not re.search(rf"\b{store.group(2)}\b", before) and "," not in store.group(2) and store.group(2) != "_"
    if _GIVES_BACK.search(before) and not _ACCUMULATOR.match(end.last) and not new:
        return None
    return Cut(f"the function ends by setting {store.group(2)!r}, which nothing uses: the code "
               f"after it is missing (\"...{end.quoted}\")", end.tail)


# An empty container or string to fill ("result = []", "counts = {}", "s = ''"): a value being built.
_ACCUMULATOR = re.compile(r"^[ \t]*([A-Za-z_]\w*)\s*=\s*(\[\]|\{\}|set\(\)|dict\(\)|list\(\)|\"\"|''|"
                          r"defaultdict\(\w*\)|Counter\(\))\s*(#.*)?$", re.M)
_DOCSTRING_ONLY = re.compile(r"[^\n]*\n\s*(\"\"\"|''')((?!\1).)*\1\s*$", re.S)  # on one line or several
# A swap through a temporary: "temp = a[i]" and, on the next line, "a[i] = ...".
_SWAP = re.compile(r"^([ \t]+)(temp|tmp|aux)\s*=\s*([\w.]+\[[^\]\n]+\]|[\w]+\.[\w.]+);?[ \t]*\n\1\3\s*=(?!=)",
                   re.M)


def function_left_open(end: End, prompt: str) -> Cut | None:
    """The code stops inside a Python function that has only its docstring, or that builds a value
    ("found = []") it never returns, yields or prints."""
    if not end.last[:1].isspace() or "def " not in end.body:
        return None
    defs = end.python_defs
    if not defs or len(end.last) - len(end.last.lstrip()) <= len(defs[-1].group(1)):
        return None
    function = end.body[defs[-1].end():]
    if _DOCSTRING_ONLY.match(function):
        return Cut("the function has a docstring and no body", end.tail)
    built = _ACCUMULATOR.search(function)
    if built and not re.search(r"\b(return|yield|print|global|nonlocal)\b", function):
        return Cut(f"the function builds {built.group(1)!r} and never returns or prints it: "
                   f"the code stops inside it (\"...{end.quoted}\")", end.tail)
    # A swap through a temporary ("temp = a[i]", then "a[i] = a[j]") that never puts the temporary back.
    swap = list(_SWAP.finditer(function))
    if swap and not re.search(rf"=\s*{swap[-1].group(2)}\b", function[swap[-1].end():]):
        return Cut(f"a swap through {swap[-1].group(2)!r} stops half done (\"...{end.quoted}\")",
                   end.tail)
    return None


def branch_only_return(end: End, prompt: str) -> Cut | None:
    """A function whose last line returns inside an `if`, while no `return` stands at the function's own
    level: the `else` or the fallback after the branch was cut ("if a > b:\n        return a")."""
    ret = re.match(r"([ \t]+)return\b", end.last)
    if not ret or len(end.lines) < 3:
        return None
    header = re.match(r"([ \t]*)(if|elif)\b.*:\s*$", end.lines[-2])
    defs = end.python_defs if header else None
    if not defs or not header:
        return None
    function = end.body[defs[-1].end():].splitlines()[1:]
    body_level = next((len(line) - len(line.lstrip()) for line in function if line.strip()), 0)
    falls_back = any(re.match(r"[ \t]*(return|raise)\b", line) and len(line) - len(line.lstrip()) == body_level
                     for line in function)
    if not falls_back and len(defs[-1].group(1)) < body_level and len(header.group(1)) < len(ret.group(1)):
        return Cut(f"the function returns only when its last `{header.group(2)}` holds: its "
                   f"other branch is missing (\"...{end.quoted}\")", end.tail)
    return None


def may_hold_python(end: End) -> bool:
    """Every Python rule reads a function (`def`): an answer with none is not asked, which spares prose
    ending on ")" the three calls."""
    return "def " in end.body
