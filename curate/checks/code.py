"""Telling unfenced code from prose: many datasets (Code Alpaca among them) give code answers without
a ``` fence, and a check that reads them as prose sees repeated lines, sentences without full stops or
single-letter "words" (SQL's `o.order_id` looks Portuguese)."""

from __future__ import annotations

import re

_KEYWORDS = (r"def|class|return|import|from|for|while|if|elif|else|function|var|let|const|public|private|static|"
             r"#include|SELECT|FROM|WHERE|JOIN|INNER|ORDER BY|GROUP BY|INSERT|UPDATE|DELETE|CREATE|try|except|print|"
             r"console\.|end\s*(?:if|for|while)|endif|endwhile|endfor|fi|done|esac")
# A line of code: ends like a statement or block, opens with a keyword, is indented, or is markup or a
# Markdown table row (structured, not prose either).
# An indented sentence ("    Resolution: Look for a TV with 4K.") is a prose list item, not code.
_PROSE = r"[A-Z][\w'-]*[:,]?[^\S\n]+\w[^\n]*[.!?][\"')]?[^\S\n]*$"
CODE_LINE = re.compile(rf"[;{{}}]\s*$|^\s*(?:{_KEYWORDS})\b|^(?:\s{{4,}}|\t)\s*(?!{_PROSE})\S|"
                       rf"^\s*</?[a-zA-Z][\w-]*[\s>/]|^\s*\|")
# The same test at the start of every line of a text at once (one match per code line; `[^\S\n]` is
# whitespace that stays on the line).
_CODE_LINE_STARTS = re.compile(rf"^(?=[^\n]*[;{{}}][^\S\n]*$|[^\S\n]*(?:{_KEYWORDS})\b|"
                               rf"(?: {{4}}|\t)[^\S\n]*(?!{_PROSE})\S|[^\S\n]*</?[a-zA-Z][\w-]*[\s>/]|"
                               rf"[^\S\n]*\|)", re.M)
_LINE_STARTS = re.compile(r"^[^\S\n]*\S", re.M)
FENCED_BLOCK = re.compile(r"```.*?```", re.S)  # a fenced code block, fence included
# A prompt that asks for code: short answers to it can be complete one-liners, and JSON in it is a subject.
ASKS_FOR_CODE = re.compile(r"\b(code|query|regex|regular expression|script|program|function|snippet|command|sql|"
                           r"html|css|jquery|expression|syntax|class|method|python|javascript|java|c\+\+|c#|php|ruby|"
                           r"golang|rust|typescript|node\.?js|curl)\b", re.I)


def is_code(text: str) -> bool:
    """Unfenced code: 30%+ of a text's non-empty lines look like code (3 lines or more), or both of two."""
    if "\n" not in text:
        return False
    lines = len(_LINE_STARTS.findall(text))
    code = len(_CODE_LINE_STARTS.findall(text))
    return (lines >= 3 and code >= 0.3 * lines) or (lines == 2 and code == 2)
