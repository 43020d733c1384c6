"""Template leftovers: `{name}`, `{{var}}`, `<insert ...>`, `[PLACEHOLDER]`, `TODO`, lorem ipsum.

Code blocks and inline code are skipped: `{name}` in an f-string is code, not a leftover.
"""

from __future__ import annotations

import re

from .base import Check, Flag, register, span

_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.S)
_PLACEHOLDER = re.compile(
    r"\{\{\s*\w+\s*\}\}|(?<![\w$%])\{[a-z_][a-z0-9_]{1,30}\}(?!\s*[:;=])|<\s*(insert|your|add|enter|put)\b[^<>]{0,40}>|"
    r"\[(insert|your|placeholder|name|company|date|todo)\b[^\].!?]{0,25}\]|\bTODO\b|\bTBD\b|\bFIXME\b|"
    r"\blorem ipsum\b|\bXXX+\b", re.I)


_HINTS = ("{", "<", "[", "TODO", "TBD", "FIXME", "XXX", "orem")


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
            if not any(h in m.content for h in _HINTS):
                continue  # nothing a placeholder could be made of
            found = _PLACEHOLDER.search(_blank_code(m.content))
            if found:
                severity = "error" if m.role == "assistant" else "warning"
                yield Flag(severity, 0.9, f"turn {i + 1} ({m.role}): template leftover \"{found.group(0)}\"",
                           span(i, m.content, found.start(), found.end()))
