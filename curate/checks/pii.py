"""Personal data and secrets: e-mail addresses, phone numbers, card numbers (Luhn-checked), IBANs
(mod-97-checked), API keys and tokens (curate/secrets.py finds them). Found text is masked in the
message, never echoed whole."""

from __future__ import annotations

from ..secrets import find, iban_ok, luhn, mask
from .base import Check, Flag, register, span

__all__ = ["PersonalData", "find", "iban_ok", "luhn", "mask"]


@register
class PersonalData(Check):
    name = "pii"
    description = "e-mail addresses, phone numbers, card numbers, IBANs, API keys, tokens and key=value secrets"

    def check(self, example, ctx):
        for i, m in enumerate(example.messages):
            seen = set()
            for kind, severity, start, end in find(m.content):
                if kind in seen:
                    continue
                seen.add(kind)
                yield Flag(severity, 0.95 if severity == "error" else 0.7,
                           f"turn {i + 1} ({m.role}): {kind} {mask(m.content[start:end])}",
                           dict(span(i, m.content, start, end), text=mask(m.content[start:end]), kind=kind))
