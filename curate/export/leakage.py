"""After splitting: how close does any val or test example come to the training split?

Near: word 3-gram Jaccard of the whole conversation, every val/test example whose best training match
reaches `NEAR_REPORT` (below dedup's 0.7 default, so pairs that dedup let through still show).
Semantic (when the embed extra is installed and the export has at most `SEMANTIC_MAX` examples, or
the prompts' embeddings are all cached): cosine of prompt embeddings, the closest pairs whatever their
score, and how many reach the semantic duplicate threshold. Groups are never split, so exact, near and
semantic duplicates found by dedup cannot appear here; what does appear is for a person to judge.
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Callable, Iterable

import numpy as np

from .. import matching
from ..dedup import DEFAULT_SEMANTIC_THRESHOLD
from ..dedup.text import key_text
from ..dedup.tokens import WordIds, word_ids
from ..record import Example
from ..workspace import Workspace

NEAR_REPORT = 0.5
SEMANTIC_MAX = 50_000
_SHOWN = 10
_CHUNK = 50_000


def _pair(e: Example, t: Example, split: str, score: float, method: str) -> dict[str, Any]:
    return {"split": split, "id": e.id, "train_id": t.id, "score": round(float(score), 4), "method": method,
            "text": e.prompt[:200], "train_text": t.prompt[:200]}


def _words(examples: Iterable[Example]) -> WordIds:
    """The conversations' words, hashed a chunk at a time: a million conversations' strings at once would
    cost more memory than their words."""
    it = iter(examples)
    parts = []
    while chunk := [key_text(e, "conversation") for e in islice(it, _CHUNK)]:
        parts.append(word_ids(chunk))
    return WordIds.concat(parts)


def leakage(splits: dict[str, list[Example]], ws: Workspace, semantic: str = "auto",
            progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    train = splits["train"]
    held = [(name, e) for name in ("val", "test") for e in splits[name]]
    out: dict[str, Any] = {"near_threshold": NEAR_REPORT, "near_pairs": 0, "closest_near": [],
                           "semantic": None}
    if not train or not held:
        return out
    if progress:
        progress("leakage near")
    hits = matching.near(_words(e for _, e in held), _words(train), NEAR_REPORT)
    pairs = sorted((_pair(held[i][1], train[j], held[i][0], s, m) for i, (j, s, m) in hits.items()),
                   key=lambda p: (-p["score"], p["id"]))
    out["near_pairs"] = len(pairs)
    out["closest_near"] = pairs[:_SHOWN]
    if semantic == "off":
        return out
    try:
        from ..embed import Embedder, embed, text_hash
    except ImportError:
        return out
    embedder = Embedder()
    texts = [t.prompt for t in train] + [e.prompt for _, e in held]
    if len(texts) > SEMANTIC_MAX and semantic == "auto":
        hashes = list(dict.fromkeys(text_hash(t) for t in texts))
        if len(ws.cached_embeddings(embedder.name, hashes)) < len(hashes):
            out["semantic"] = {"skipped": f"{len(texts):,} prompts not all embedded; run curate dedup --methods "
                                          f"semantic first, or pass --leakage semantic"}
            return out
    if progress:
        progress("leakage semantic")
    try:
        vectors = embed(texts, ws, embedder)
    except Exception as exc:  # a missing model or extra must not sink the export: report it instead
        out["semantic"] = {"skipped": str(exc)}
        return out
    best = matching.semantic(vectors[len(train):], vectors[:len(train)], -np.inf)  # each one's closest, always
    order = sorted(best, key=lambda i: (-best[i].score, held[i][1].id))
    out["semantic"] = {"model": embedder.model, "threshold": DEFAULT_SEMANTIC_THRESHOLD,
                       "pairs_at_threshold": sum(m.score >= DEFAULT_SEMANTIC_THRESHOLD for m in best.values()),
                       "closest": [_pair(held[i][1], train[best[i].other], held[i][0], best[i].score, "semantic")
                                   for i in order[:_SHOWN]]}
    return out
