"""Mojibake (UTF-8 decoded as Latin-1: "cafÃ©", "donâ€™t") and control characters in text."""

from __future__ import annotations

import re

from .base import Check, Flag, register, span

_MOJIBAKE = re.compile(r"Ã[\u0080-\u00bf]|â€[\u0098-\u009d™œ\u009c\u0153\u201c\u201d\u2122\u02dc]|Â[\u00a0-\u00bf]|ï»¿|"
                       r"\ufffd")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@register
class Encoding(Check):
    name = "encoding"
    description = "mojibake (text decoded with the wrong encoding), replacement characters, control characters"

    def check(self, example, ctx):
        for i, m in enumerate(example.messages):
            text = m.content
            bad = _MOJIBAKE.search(text)
            if bad:
                yield Flag("warning", 0.8, f"turn {i + 1}: mojibake \"{bad.group(0)}\" (text decoded with the wrong "
                           "encoding)", span(i, text, max(0, bad.start() - 10), bad.end() + 10))
            ctrl = _CONTROL.search(text)
            if ctrl:
                yield Flag("warning", 0.7, f"turn {i + 1}: control character U+{ord(ctrl.group(0)):04X}",
                           span(i, text, ctrl.start(), ctrl.end()))
