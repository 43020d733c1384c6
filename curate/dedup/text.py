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


def words(text: str) -> list[str]:
    """Normalised words.

    >>> words("Hello,  WORLD! Ｃａｆé")
    ['hello', 'world', 'café']
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return _WORD.findall(text.casefold())


def normalise(text: str) -> str:
    """>>> normalise("  Hello,\\tWorld!!  ")
    'hello world'
    """
    return " ".join(words(text))
