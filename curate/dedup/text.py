"""Text normalisation and the keys duplicates are compared on.

Normalised text: Unicode NFKC, case-folded, punctuation dropped, whitespace collapsed; so
"Hello,  World!" and "hello world" are the same text for exact dedup and for shingling.
"""

from __future__ import annotations

import re
import unicodedata

from ..record import Example

KEYS = ("conversation", "prompt", "response")
_WORD = re.compile(r"\w+")


def key_text(example: Example, key: str) -> str:
    """The text of an example that a key compares: the conversation, the user turns, or the assistant turns.

    The conversation leaves out system prompts: a set usually shares one, and it would make every pair of
    short examples look alike.
    """
    if key == "prompt":
        return example.prompt
    if key == "response":
        return example.response
    return "\n".join(m.content for m in example.messages if m.role != "system")


def stored_key_text(messages: list[dict], key: str) -> str:
    """`key_text` of messages as the workspace stores them (dicts), for passes over millions of rows that
    do not build Example objects (the same strings: tested)."""
    if key == "conversation":
        return "\n".join(m["content"] for m in messages if m["role"] != "system")
    role = "user" if key == "prompt" else "assistant"
    return "\n\n".join(m["content"] for m in messages if m["role"] == role)


# For ASCII text: every character that is not a word character becomes a space, in C (2.5x the regex).
_ASCII_NON_WORD = str.maketrans({c: " " for c in map(chr, range(128)) if not (c.isalnum() or c == "_")})


def words(text: str) -> list[str]:
    """Normalised words: the `\\w+` runs of the NFKC, case-folded text.

    >>> words("Hello,  WORLD! Ｃａｆé")
    ['hello', 'world', 'café']
    >>> words("snake_case, x2 -- ok?") == _WORD.findall("snake_case, x2 -- ok?")
    True
    """
    if text.isascii():
        return text.lower().translate(_ASCII_NON_WORD).split()
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def normalise(text: str) -> str:
    """>>> normalise("  Hello,\\tWorld!!  ")
    'hello world'
    """
    return " ".join(words(text))
