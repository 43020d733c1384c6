"""Personal data and secrets: e-mail addresses, phone numbers, card numbers (Luhn-checked), IBANs
(mod-97-checked), API keys and tokens. Found text is masked in the message, never echoed whole."""

from __future__ import annotations

import re

from .base import Check, Flag, register, span

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# The leading lookaheads name the characters a match can start with, which lets the regex engine skip to
# them instead of trying the whole pattern at every position (1.5-2x).
_PHONE = re.compile(r"(?=[+(\d])(?<![\w.])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){2,4}"
                    r"(?!\w|\.\d)")
# Card numbers as they are written: 13-19 digits in one run, in fours (4111 1111 1111 1111), or 4-6-5
# (American Express); not any 13 digits with spaces between them ("1 2 3 4 5 6 7 8 9 10" in a table).
_CARD = re.compile(r"(?=\d)(?<!\d)(?<!\d\.)(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{5})"
                   r"(?!\d|\.\d)")
_IBAN = re.compile(r"(?=[A-Z])\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_SECRETS = {  # kind: (substrings one of which every match contains, pattern)
    "OpenAI-style API key": (("sk-",), re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}\b")),
    "Stripe secret key": (("k_live_", "k_test_"), re.compile(r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}\b")),
    "AWS access key": (("AKIA", "ASIA"), re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")),
    "GitHub token": (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b")),
    "Slack token": (("xox",), re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b")),
    "Google API key": (("AIza",), re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    "JSON web token": (("eyJ",), re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b")),
    "private key": (("-----BEGIN",), re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH )?PRIVATE KEY-----")),
}
_ANY_SECRET_HINT = re.compile("|".join(re.escape(h) for hints, _ in _SECRETS.values() for h in hints))


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


_DIGITS = re.compile(r"\d")
# Domains reserved for examples (RFC 2606, RFC 6761): nobody's address.
_RESERVED = re.compile(r"@(?:[\w-]+\.)*(?:example\.(?:com|net|org)|[\w-]+\.(?:example|test|invalid|localhost))$")


def find(text: str):
    """(kind, severity, start, end) of every personal datum or secret in text.

    Cheap tests first (an '@', enough digits, a key's own prefix) so most texts skip the expensive
    patterns: a pattern runs only on a text holding one of its literal parts (43 -> 17 us per real example)."""
    if _ANY_SECRET_HINT.search(text):  # one scan for all the hints; then each kind whose hint is there
        for kind, (hints, pattern) in _SECRETS.items():
            if any(h in text for h in hints):
                for m in pattern.finditer(text):
                    yield kind, "error", m.start(), m.end()
    if "@" in text:
        for m in _EMAIL.finditer(text):
            address = m.group(0).lower()
            if not address.endswith((".png", ".jpg", ".gif", ".svg")) and not _RESERVED.search(address):
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
        if (9 <= len(digits) <= 15 and not _CARD.fullmatch(m.group(0)) and not re.fullmatch(r"[\d.]+", m.group(0))
                and not _in_number_row(text, m)):
            yield "phone number", "warning", m.start(), m.end()


def _in_number_row(text: str, m: re.Match) -> bool:
    """A row of a table of numbers ("# 2 4 6 8 10 12 14 16 18 20"), not a phone number: the rest of its
    line is mostly numbers too (4 or more)."""
    start = text.rfind("\n", 0, m.start()) + 1
    end = text.find("\n", m.end())
    rest = (text[start:m.start()] + " " + text[m.end():end if end >= 0 else len(text)]).split()
    numbers = sum(t.isdigit() for t in rest)
    return numbers >= 4 and numbers >= 0.6 * len(rest)


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
