"""Secrets and personal data in text: finding them, and showing text with them masked.

`find` is what the `pii` check flags. `redact` is the one way example text leaves the review screen: check
findings, reports (JSON, HTML, Markdown), the dedup preview, `curate show`, the quarantine listing, ingest
messages and training samples all pass text through it. `printable` makes control characters visible
wherever text reaches a terminal, so data cannot retitle a window or recolour a shell.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any, Iterator

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# Phone numbers as people write them, each shape anchored on its own punctuation so that plain runs of
# digits (ids, amounts, dates) are not phones: international (+44 20 7946 0958, +1 (415) 867-5309),
# North American ((415) 867-5309, 415-867-5309, 415.867.5309), and European national numbers in pairs or
# groups (06 12 34 56 78, 020 7946 0958, 030 1234567). The leading lookaheads let the regex engine skip to
# a possible first character (1.5-2x).
_PHONE = re.compile(
    r"(?=[+(\d])(?<![\w.+/-])(?:"
    r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]\d{2,4}){1,4}"
    r"|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}"
    r"|\d{3}([.-])\d{3}\1\d{4}"
    r"|0\d(?:[ .]\d{2}){4}"
    r"|0\d{2,4}[ .-]\d{3,4}(?:[ .-]\d{3,4})?"
    r")(?![\w-]|\.\d)")
# Card numbers as they are written: 13-19 digits in one run, in fours (4111 1111 1111 1111), or 4-6-5
# (American Express); not any 13 digits with spaces between them ("1 2 3 4 5 6 7 8 9 10" in a table).
_CARD = re.compile(r"(?=\d)(?<!\d)(?<!\d\.)(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{5})"
                   r"(?!\d|\.\d)")
_IBAN = re.compile(r"(?=[A-Z])\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_SECRETS = {  # kind: (substrings one of which every match contains, pattern)
    "Anthropic API key": (("sk-ant-",), re.compile(r"\bsk-ant-[A-Za-z0-9]{2,8}-[A-Za-z0-9_-]{20,}")),
    "OpenAI-style API key": (("sk-",), re.compile(r"\bsk-(?!ant-)(?:proj-)?[A-Za-z0-9_-]{20,}")),
    "Stripe secret key": (("k_live_", "k_test_"), re.compile(r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}\b")),
    "AWS access key": (("AKIA", "ASIA"), re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")),
    "GitHub token": (("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
                     re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})\b")),
    "GitLab token": (("glpat-", "gldt-", "glrt-"), re.compile(r"\bgl(?:pat|dt|rt)-[A-Za-z0-9_-]{20,}")),
    "Hugging Face token": (("hf_",), re.compile(r"\bhf_[A-Za-z0-9]{30,}\b")),
    "Slack token": (("xox",), re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b")),
    "Google API key": (("AIza",), re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    "Azure storage key": (("AccountKey=", "SharedAccessKey=", "sig="),
                          re.compile(r"(?:AccountKey|SharedAccessKey)=[A-Za-z0-9+/]{40,}={0,2}"
                                     r"|\bsig=[A-Za-z0-9%+/]{30,}={0,2}")),
    "JSON web token": (("eyJ",), re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b")),
    "private key": (("-----BEGIN",), re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----")),
}
_ANY_SECRET_HINT = re.compile("|".join(re.escape(h) for hints, _ in _SECRETS.values() for h in hints))
# A value assigned to a name that says secret (api_key = "...", "token": "...", password: ...). Kept only
# when the value looks generated: long, mixed letters and digits, high entropy, not a placeholder.
_ASSIGNED = re.compile(
    r"(?i)(?<![A-Za-z])(?:api[_-]?key|apikey|secret(?:[_-]?key)?|access[_-]?(?:key|token)|auth[_-]?token|"
    r"token|password|passwd|client[_-]?secret|private[_-]?key)[\"']?\s*(?:=|:|=>)\s*[\"']?([A-Za-z0-9_\-+/=.]{16,})")
_PLACEHOLDER = re.compile(r"(?i)your|example|sample|dummy|placeholder|changeme|xxxx|test|fake|here|secret|token|"
                          r"password|\*{3}|\.\.\.|environ|getenv|config|settings")
_DIGITS = re.compile(r"\d")
# Domains reserved for examples (RFC 2606, RFC 6761): nobody's address.
_RESERVED = re.compile(r"@(?:[\w-]+\.)*(?:example\.(?:com|net|org)|[\w-]+\.(?:example|test|invalid|localhost))$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


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
    """
    >>> mask("sk-proj-Ab3dEfGh1jKlMn0pQrStUvWx"), mask("12345")
    ('sk****************************Wx', '*****')
    """
    return text[:2] + "*" * max(0, len(text) - 4) + text[-2:] if len(text) > 6 else "*" * len(text)


def entropy(text: str) -> float:
    """Shannon entropy in bits per character.

    >>> round(entropy("aaaa"), 2), round(entropy("a1B2c3D4"), 2)
    (0.0, 3.0)
    """
    counts = Counter(text)
    return max(0.0, -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values()))


def _generated(value: str) -> bool:
    """A value that looks machine-made: a key or a token, not a word, a path or a placeholder."""
    stripped = value.strip("=")
    return (len(stripped) >= 16 and any(c.isdigit() for c in stripped) and any(c.isalpha() for c in stripped)
            and entropy(stripped) >= 3.5 and not _PLACEHOLDER.search(stripped)
            and not re.fullmatch(r"[0-9a-f]{16,}\.[a-z]{2,4}|[\w/.-]+\.(?:py|js|json|txt|csv|html?|png)", stripped))


def find(text: str) -> Iterator[tuple[str, str, int, int]]:
    """(kind, severity, start, end) of every personal datum or secret in text.

    Cheap tests first (an '@', enough digits, a key's own prefix) so most texts skip the expensive
    patterns: a pattern runs only on a text holding one of its literal parts (43 -> 17 us per real example)."""
    if _ANY_SECRET_HINT.search(text):  # one scan for all the hints; then each kind whose hint is there
        for kind, (hints, pattern) in _SECRETS.items():
            if any(h in text for h in hints):
                for m in pattern.finditer(text):
                    yield kind, "error", m.start(), m.end()
    if "=" in text or ":" in text:
        for m in _ASSIGNED.finditer(text):
            if _generated(m.group(1)):
                yield "key or token", "error", m.start(1), m.end(1)
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
        if 9 <= len(digits) <= 15 and not _CARD.fullmatch(m.group(0)) and not _in_number_row(text, m):
            yield "phone number", "warning", m.start(), m.end()


def _in_number_row(text: str, m: re.Match) -> bool:
    """A row of a table of numbers ("# 2 4 6 8 10 12 14 16 18 20"), not a phone number: the rest of its
    line is mostly numbers too (4 or more)."""
    start = text.rfind("\n", 0, m.start()) + 1
    end = text.find("\n", m.end())
    rest = (text[start:m.start()] + " " + text[m.end():end if end >= 0 else len(text)]).split()
    numbers = sum(t.isdigit() for t in rest)
    return numbers >= 4 and numbers >= 0.6 * len(rest)


def redact(text: str) -> str:
    """`text` with every secret and personal datum masked (see `mask`).

    >>> redact("call +1 (415) 867-5309 or use hf_abcdefghijklmnopqrstuvwxyz0123456789")
    'call +1*************09 or use hf***********************************89'
    """
    spans = sorted({(start, end) for _, _, start, end in find(text)})
    if not spans:
        return text
    out, at = [], 0
    for start, end in spans:
        if start < at:  # overlapping kinds (a key inside a JSON web token): mask the union
            start = at
            if start >= end:
                continue
        out += [text[at:start], mask(text[start:end])]
        at = end
    return "".join(out) + text[at:]


def redact_value(value: Any) -> Any:
    """`redact` applied to every string in a JSON-like value (dicts, lists, strings)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value


def printable(text: str) -> str:
    """Control characters (escape sequences, bidi overrides, zero-width marks) made visible as <U+XXXX>;
    newlines and tabs kept.

    >>> printable("ok\\x1b]0;pwned\\x07 done")
    'ok<U+001B>]0;pwned<U+0007> done'
    """
    return _CONTROL.sub(lambda m: f"<U+{ord(m.group(0)):04X}>", text)


def shown(text: str) -> str:
    """Example text as every output outside the review screen shows it: masked, and safe for a terminal."""
    return printable(redact(text))
