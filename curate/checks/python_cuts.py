"""Truncation rules for Python code: a cut leaves names that nothing uses (a function that builds a
value and never returns it, a local stored last, `__init__` parameters never stored, imports never
used, a script that only sets values), or a block without its other half (`try:` with no `except`, an
`if` that returns with no fallback). Each takes the answer's `End` and returns a `Cut` or None."""

from __future__ import annotations

import re

from .ending import Cut, End, count_of
from .lexicon import NUMBERS


def try_alone(end: End, prompt: str) -> Cut | None:
    """Python code with a `try:` and no `except` or `finally` after it: the handler was cut off."""
    if not end.last[:1].isspace():
        return None  # the code in a `try:` block is indented
    at = max(end.body.rfind("try:"), end.body.rfind("try :"))
    if at >= 0 and end.code and re.match(r"\s*try\s*:\s*$", end.body[end.body.rfind("\n", 0, at) + 1:].split("\n")[0]):
        rest = end.body[at:]
        if not re.search(r"^\s*(except\b|finally\s*:)", rest, re.M):
            return Cut("a `try:` block has no `except` or `finally`: the code stops inside it",
                       at)
    return None


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


_MADE_EMPTY = re.compile(r"=\s*(?:\[\]|\{\}|\"\"|''|set\(\)|dict\(\)|list\(\)|Counter\(\)|defaultdict\()")
# An empty container or string to fill ("result = []", "counts = {}", "s = ''"): a value being built.
_ACCUMULATOR = re.compile(r"^[ \t]*([A-Za-z_]\w*)\s*=\s*(\[\]|\{\}|set\(\)|dict\(\)|list\(\)|\"\"|''|"
                          r"defaultdict\(\w*\)|Counter\(\))\s*(#.*)?$", re.M)
_DOCSTRING_ONLY = re.compile(r"[^\n]*\n\s*(\"\"\"|''')((?!\1).)*\1\s*$", re.S)  # on one line or several
_MAIN = re.compile(r"^if __name__ == ['\"]__main__['\"]\s*:\s*$", re.M)


def main_only_assigns(end: End, prompt: str) -> Cut | None:
    """A `__main__` block that only sets values and never uses them: the lines that would were cut."""
    main = list(_MAIN.finditer(end.body)) if "__main__" in end.body else None
    if not main:
        return None
    block = [line for line in end.body[main[-1].end():].splitlines() if line.strip()]
    if block and all(_LOCAL_STORE.match(line) for line in block):
        return Cut(f"the `__main__` block only sets values and never uses them: the lines "
                   f"after \"...{end.quoted}\" are missing", end.tail)
    return None


def script_only_sets(end: End, prompt: str) -> Cut | None:
    """A script whose top-level lines, after its functions or classes (or after the docstring it opens
    with), only set data nothing uses ("s = '11001'" under `def isBinaryNumber`): the calls that
    would use it were cut. A docstring with nothing under it is the same cut, earlier."""
    if end.last[:1].isspace():
        return None
    tops = [m for m in end.python_defs if not m.group(1)] + (
        list(_TOP_CLASS.finditer(end.body)) if "class " in end.body else [])
    opening = _OPENING_DOCSTRING.match(end.body) if end.body.lstrip()[:1] in ("'", '"') else None
    if not (tops or opening) or re.search(r"[{;]\s*$", end.body, re.M):
        return None
    if tops:
        after = end.body[max(m.end() for m in tops):]
        after = after[after.find("\n") + 1:] if "\n" in after else ""
    elif opening and not re.search(r"doc|comment", prompt, re.I):
        after = end.body[opening.end():]
        if all(not line.strip() or line.lstrip().startswith("#") for line in after.splitlines()):
            return Cut("the code stops after its docstring", end.tail)  # or after a comment
    else:
        return None
    lines = [line for line in after.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    top = lines[next((k for k, line in enumerate(lines) if not line[:1].isspace()), len(lines)):]  # past the body
    stores = [_TOP_STORE.match(line) for line in top if not line[:1].isspace()]
    if not top or len(stores) < len(top) or not all(stores):
        return None
    for k, store in enumerate(stores):
        names = re.findall(r"\w+", store.group(1) if store else "")
        if any(re.search(rf"\b{n}\b", later) for n in names for later in top[k + 1:]):
            return None
    return Cut(f"after its functions the script only sets values and never uses them: the lines "
               f"after \"...{end.quoted}\" are missing", end.tail)


_TOP_CLASS = re.compile(r"^class\s+\w+.*:[ \t]*$", re.M)
# Data for a call that never came ("arr = [1, 2, 3]", "s = '11001'"); a stored call's result is a use.
_TOP_STORE = re.compile(r"([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=\s*(?=[\"'\[{(]|-?\d)")
_OPENING_DOCSTRING = re.compile(r"\s*(\"\"\"|\'\'\')((?!\1).)*\1[ \t]*\n?", re.S)


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




def init_left_open(end: End, prompt: str) -> Cut | None:
    """The code stops inside an `__init__` that stores its parameters on `self` ("self.color = color")
    before it reached all of them: a parameter nothing uses is one whose line was cut."""
    defs = end.python_defs
    if not defs or not end.last[:1].isspace() or "__init__" not in end.body[defs[-1].start():defs[-1].end()]:
        return None
    init = _INIT.match(end.body, defs[-1].start())
    if not init or len(end.last) - len(end.last.lstrip()) <= len(init.group(1)):
        return None
    body = end.body[init.end():]
    names = [re.split(r"[:=]", p)[0].strip().lstrip("*") for p in init.group(2).split(",")]
    unused = [n for n in names if n.isidentifier() and not re.search(rf"\b{n}\b", body)]
    if unused and _STORES_ARGUMENT.search(body):
        return Cut(f"`__init__` never stores {', '.join(map(repr, unused))}: the code stops "
                   f"inside it (\"...{end.quoted}\")", end.tail)
    return None


_INIT = re.compile(r"([ \t]*)def __init__\(\s*self\s*,((?:[^()]|\([^()]*\))*)\)[^:\n]*:")
_STORES_ARGUMENT = re.compile(r"self\.(\w+)\s*=\s*\1\b")


def imports_unused(end: End, prompt: str) -> Cut | None:
    """Code that imports and then stops before using anything it imported ("import collections" under
    the task's docstring, "#include <iostream>" under "you can write:"): the program was cut."""
    if ("import" not in end.body and "#include" not in end.last) or "\n" not in end.body or end.last.startswith(
            "```") or re.search(r"\b(import|include)", prompt, re.I):
        return None  # a question about importing is answered by the import alone
    if re.match(r"\s*#include\s*[<\"]", end.last):
        return Cut(f"the code stops after its #include lines (\"...{end.quoted}\")", end.tail)
    imports = list(_IMPORT.finditer(end.body))
    if not imports or re.search(r"[{;]\s*$", end.body, re.M):  # braces and semicolons: not Python (Swift)
        return None
    after = end.body[imports[-1].end():]
    names = [name for m in imports for name in _bound_names(m)]
    if names and not any(re.search(rf"\b{re.escape(n)}\b", after) for n in names) and not re.search(
            r"^\s*(def|class)\b", end.body[:imports[0].start()], re.M):
        return Cut(f"the code imports {', '.join(names[:3])} and stops before using it "
                   f"(\"...{end.quoted}\")", end.tail)
    return None


# Python's forms only: Java's end with ";", JavaScript's and Go's name a quoted module.
_IMPORT = re.compile(r"^(?:from\s+[\w.]+\s+import\s+(\(?[\w \t,]+\)?)|import\s+([\w.]+(?:\s+as\s+\w+)?"
                     r"(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*))[ \t]*$", re.M)


def _bound_names(m: re.Match) -> list[str]:
    """The names an import statement binds: `import a.b as c` binds c, `import a.b` binds a."""
    out = []
    for part in (m.group(1) or m.group(2)).strip("() \t").split(","):
        words = part.split()
        if words and words[0] != "*":
            out.append(words[-1] if len(words) == 3 and words[1] == "as" else words[0].split(".")[0])
    return out


def count_never_started(end: End, prompt: str) -> Cut | None:
    """Counting that ends on `if w in counts: counts[w] += 1`: the `else: counts[w] = 1` that puts a
    first count in was cut, and without it the counts stay empty."""
    if not end.last.rstrip().endswith("+= 1") or len(end.lines) < 2:
        return None
    m = _COUNT_IF_PRESENT.match(end.lines[-2] + "\n" + end.last)
    if m:
        return Cut(f"the count only grows keys already in {m.group(3)!r}: the `else` that adds "
                   f"them is missing (\"...{end.quoted}\")", end.tail)
    return None


_COUNT_IF_PRESENT = re.compile(r"([ \t]*)if\s+\(?\s*(\w+)\s+in\s+([\w.]+)\s*\)?\s*:\s*\n\1[ \t]+\3\[\2\]\s*\+=\s*1\s*$")


def fewer_definitions_than_asked(end: End, prompt: str) -> Cut | None:
    """The prompt asks for a number of classes or functions ("Create three classes named Car, Truck and
    Motorcycle") and the code stops inside an earlier one."""
    if not end.last[:1].isspace() or not any(w in prompt for w in ("class", "function", "method")):
        return None  # the words first: the count pattern is slow to try on every prompt
    asked = _ASKED_DEFINITIONS.search(prompt)
    if not asked:
        return None
    want = count_of(asked.group(1))
    kind = "class" if asked.group(2).lower().startswith("class") else "def"
    have = len(re.findall(rf"^[ \t]*{kind}\s+\w+", end.body, re.M))
    if 0 < have < want <= 20:
        return Cut(f"the prompt asks for {want} {asked.group(2).lower()} and the code stops inside "
                   f"number {have} (\"...{end.quoted}\")", end.tail)
    return None


_ASKED_DEFINITIONS = re.compile(r"\b(\d{1,2}|" + "|".join(NUMBERS) + r")\s+(?:\w+\s+)?(classes|functions|methods)\b",
                                re.I)


def built_never_used(end: End, prompt: str) -> Cut | None:
    """An empty list, dict or string made to be filled ("odd_numbers = []") that no line after it
    mentions: the code that fills it was cut."""
    if "\n" not in end.body.strip():
        return None  # "my_list = []" alone answers "Initialize an empty list"
    start = max(0, len(end.body) - 800)  # what a cut left unfilled was made shortly before it
    made = list(_ACCUMULATOR.finditer(end.body, start)) if _MADE_EMPTY.search(end.body, start) else []
    for m in made[-3:]:
        if not re.search(rf"\b{m.group(1)}\b", end.body[m.end():]):
            return Cut(f"{m.group(1)!r} is made empty to be filled and nothing fills or uses it: the "
                       f"code after \"...{end.quoted}\" is missing", end.tail)
    return None


# Every rule here needs one of these in the answer (or a docstring opening it, or an empty container
# made): an answer with none is not asked at all, which spares prose ending on ")" eleven calls.
_NEEDS = ("def ", "class ", "import", "try", "__main__", "+= 1", "#include")


def may_hold_python(end: End) -> bool:
    """Whether the answer holds anything the Python rules read; the table asks this before them."""
    body = end.body
    return (any(word in body for word in _NEEDS) or body.lstrip()[:1] in ("'", '"')
            or _MADE_EMPTY.search(body, max(0, len(body) - 800)) is not None)
