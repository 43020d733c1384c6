"""Template leftovers: `{name}`, `{{var}}`, `<insert ...>`, `[PLACEHOLDER]`, `TODO`, lorem ipsum.

Code blocks and inline code are skipped: `{name}` in an f-string is code, not a leftover.
"""

from __future__ import annotations

import re

from .base import Check, Flag, register, span

_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.S)
# Two patterns, so each scans fast: the bracketed slots start with a literal { < [ (the lookahead lets the
# regex engine skip to those characters), and the words are only searched for when the text holds one.
# Together 6x one combined pattern on real answers.
_BRACKETED = re.compile(
    r"(?=[{<\[])(?:\{\{\s*\w+\s*\}\}|(?<![\w$%])\{[a-z_][a-z0-9_]{1,30}\}(?!\s*[:;=])|"
    r"<\s*(insert|your|add|enter|put)\b[^<>]{0,40}>|"
    r"\[(insert|your|placeholder|name|company|date|todo)\b[^\].!?]{0,25}\])", re.I)
_WORDS = re.compile(r"\b(?:TODO|TBD|FIXME|lorem ipsum|XXX+)\b", re.I)
_WORD_HINTS = ("TODO", "TBD", "FIXME", "XXX", "orem")  # in capitals: "(xxx) xxx-xxxx" is a format, not a slot


def find(text: str) -> re.Match | None:
    """The first placeholder outside code, if any. Code is blanked only for a text that matches as it is:
    blanking turns characters into spaces, which can remove a match but never make one."""
    found = _first(text)
    return _first(_blank_code(text)) if found else None


def _first(text: str) -> re.Match | None:
    slot = None
    if any(c in text for c in "{<["):
        # A {name} on a line of unfenced code is an f-string or a template literal, not a leftover.
        slot = next((m for m in _BRACKETED.finditer(text) if not (m.group(0).startswith("{") and _in_code(text, m))),
                    None)
    hits = [m for m in (slot, _WORDS.search(text) if any(h in text for h in _WORD_HINTS) else None) if m]
    return min(hits, key=lambda m: m.start()) if hits else None


# Code that fills a {name} itself: an f-string or C# $-string opened before it on the line, a JSX or Ruby
# interpolation right after = ( > or #, a JSDoc type (@param {string}), a .format( call after it.
_FORMATTED_STRING = re.compile(r"""[fF$]["'][^"']*$""")
_JSDOC = re.compile(r"@(param|returns?|type|throws)\s*$")


def _in_code(text: str, m: re.Match) -> bool:
    start = text.rfind("\n", 0, m.start()) + 1
    end = text.find("\n", m.end())
    before, after = text[start:m.start()], text[m.end():end if end >= 0 else len(text)]
    return bool(before[-1:] in ("=", "(", ">", "#") and before or _FORMATTED_STRING.search(before)
                or _JSDOC.search(before) or ".format(" in after)


def _blank_code(text: str) -> str:
    return _CODE.sub(lambda m: " " * len(m.group(0)), text)


@register
class Placeholders(Check):
    name = "placeholders"
    description = "unfilled template slots and placeholders: {name}, <insert ...>, TODO, lorem ipsum"

    def check(self, example, ctx):
        for i, m in enumerate(example.messages):
            if m.role not in ("user", "assistant") or not m.content:
                continue
            found = find(m.content)
            if found and m.role == "assistant" and found.group(0).lower() in example.prompt.lower():
                continue  # the prompt holds it too ("format this: Lorem ipsum ..."): the answer repeats it
            if found:
                severity = "error" if m.role == "assistant" else "warning"
                yield Flag(severity, 0.9, f"turn {i + 1} ({m.role}): template leftover \"{found.group(0)}\"",
                           span(i, m.content, found.start(), found.end()))
