"""Personal data and secrets: e-mail addresses, phone numbers, card numbers (Luhn-checked), IBANs
(mod-97-checked), API keys and tokens. Found text is masked in the message, never echoed whole."""

from __future__ import annotations

import re

from .base import Check, Flag, register, span

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_PHONE = re.compile(r"(?<![\w.])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){2,4}(?!\w|\.\d)")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_SECRETS = {
    "OpenAI-style API key": re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}\b"),
    "Stripe secret key": re.compile(r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}\b"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b"),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH )?PRIVATE KEY-----"),
}


def luhn(digits: str) -> bool:
    total = 0
    for k, d in enumerate(reversed(digits)):
        n = int(d)
        if k % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    s = text.replace(" ", "")
    s = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in s)) % 97 == 1


def mask(text: str) -> str:
    return text[:2] + "*" * max(0, len(text) - 4) + text[-2:] if len(text) > 6 else "*" * len(text)


_SECRET_HINTS = ("sk-", "sk_", "rk_", "AKIA", "ASIA", "gh", "xox", "AIza", "eyJ", "-----BEGIN")
_DIGITS = re.compile(r"\d")


def find(text: str):
    """(kind, severity, start, end) of every personal datum or secret in text.

    Cheap tests first (an '@', enough digits, a key prefix) so most texts skip the expensive patterns."""
    if any(h in text for h in _SECRET_HINTS):
        for kind, pattern in _SECRETS.items():
            for m in pattern.finditer(text):
                yield kind, "error", m.start(), m.end()
    if "@" in text:
        for m in _EMAIL.finditer(text):
            if not m.group(0).lower().endswith((".png", ".jpg", ".gif", ".svg")):  # image@2x.png is a file
                yield "e-mail address", "warning", m.start(), m.end()
    if len(_DIGITS.findall(text)) < 9:
        return
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and luhn(digits) and len(set(digits)) > 1:
            yield "card number", "error", m.start(), m.end()
    for m in _IBAN.finditer(text):
        if iban_ok(m.group(0)):
            yield "IBAN", "error", m.start(), m.end()
    for m in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 9 <= len(digits) <= 15 and not _CARD.fullmatch(m.group(0)) and not re.fullmatch(r"[\d.]+", m.group(0)):
            yield "phone number", "warning", m.start(), m.end()


@register
class PersonalData(Check):
    name = "pii"
    description = "e-mail addresses, phone numbers, card numbers, IBANs, API keys and tokens"

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
