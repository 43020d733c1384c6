"""Example text as written, for the review screen.

Markdown rendering hid what a reviewer must see: unfenced code lost its newlines, `# comment` lines became
centred headings, and `<your API key here>` vanished as an HTML tag, so the placeholder a finding flagged
was invisible. Here prose is shown character for character (wrapped at the pane's edge, never reflowed),
fenced code is highlighted with its fences shown, control characters are made visible, and the spans that
findings point at are marked.
"""

from __future__ import annotations

import re
from typing import Sequence

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text

from curate.secrets import printable

SPAN_STYLE = "bold reverse red"
FOUND_STYLE = "black on yellow"
Mark = tuple[int, int, str]  # start, end, style
_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$\n?", re.M | re.S)


def as_written(content: str, spans: Sequence[tuple[int, int]] = (), found: str | None = None) -> RenderableType:
    """`content` as written; `spans` are (start, end) offsets findings point at, `found` a searched text
    whose occurrences are marked too. An unclosed fence (a cut answer) stays plain text, as written, so the
    cut shows."""
    marks = [(s, e, SPAN_STYLE) for s, e in spans if s < e] + _occurrences(content, found)
    parts: list[RenderableType] = []
    pos = 0
    for m in _FENCE.finditer(content):
        if m.start() > pos:
            parts.append(_plain(content, pos, m.start(), marks))
        parts += _code(m, marks)
        pos = m.end()
    if pos < len(content):
        parts.append(_plain(content, pos, len(content), marks))
    return Group(*parts)


def _occurrences(content: str, found: str | None) -> list[Mark]:
    if not found:
        return []
    return [(m.start(), m.end(), FOUND_STYLE) for m in re.finditer(re.escape(found), content, re.I)]


def _plain(content: str, a: int, b: int, marks: Sequence[Mark]) -> Text:
    if content[a:b].endswith("\n"):  # the line break before a code block: the block starts a line anyway
        b -= 1
    cuts = sorted({a, b} | {x for s, e, _ in marks for x in (s, e) if a < x < b})
    text = Text()
    for x, y in zip(cuts, cuts[1:]):
        style = next((st for s, e, st in marks if s <= x and y <= e), "")
        text.append(printable(content[x:y]), style=style)
    return text


def _code(m: re.Match[str], marks: Sequence[Mark]) -> list[RenderableType]:
    lang, code = m.group(1), m.group(2)
    syntax = Syntax(printable(code.rstrip("\n")), lang or "text", word_wrap=True, background_color="default",
                    theme="ansi_dark")
    start = m.start(2)
    for s, e, style in marks:
        s, e = max(s, start), min(e, start + len(code))
        if s < e:
            syntax.stylize_range(style, _line_col(code, s - start), _line_col(code, e - start))
    fence = Text(m.group(0).split("\n", 1)[0].strip(), style="dim")
    return [fence, syntax, Text("```", style="dim")]


def _line_col(text: str, offset: int) -> tuple[int, int]:
    """rich's (1-based line, 0-based column) of a character offset."""
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1)
