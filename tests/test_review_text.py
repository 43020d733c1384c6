"""The review screen shows text as written: no Markdown reflow, nothing hidden, findings' spans marked."""

from __future__ import annotations

import re

from rich.console import Console

from .conftest import require

require("textual", "tui")

from tui.written import SPAN_STYLE, as_written  # noqa: E402

ANSWER = """Set it up like this:
# read the key
key = os.environ["KEY"]  # or paste <your API key here>
print(key)

```python
def f(x):
    return x * 2
```
Done."""


def _shown(renderable, width=100) -> str:
    console = Console(record=True, width=width, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_unfenced_code_comments_and_placeholders_show_as_written():
    text = _shown(as_written(ANSWER))
    lines = [line.rstrip() for line in text.splitlines()]
    for line in ('# read the key', 'key = os.environ["KEY"]  # or paste <your API key here>', "print(key)",
                 "```python", "def f(x):", "    return x * 2", "```", "Done."):
        assert line in lines, (line, lines)


def test_a_cut_fence_stays_visible_and_control_characters_are_shown():
    text = _shown(as_written("Here:\n```python\nprint('hi')\x1b[2J"))
    assert "```python" in text and "print('hi')<U+001B>[2J" in text


def test_finding_spans_are_marked_in_prose_and_in_code():
    start = ANSWER.index("<your API key here>")
    code = ANSWER.index("return x * 2")
    group = as_written(ANSWER, [(start, start + len("<your API key here>")), (code, code + 6)])
    prose = group.renderables[0]
    marked = [prose.plain[s.start:s.end] for s in prose.spans if s.style == SPAN_STYLE]
    assert marked == ["<your API key here>"]
    console = Console(record=True, width=100, color_system="truecolor", force_terminal=True)
    console.print(group)
    assert re.search(r"\x1b\[1;7;31[;0-9]*mreturn\x1b\[0m", console.export_text(styles=True))
