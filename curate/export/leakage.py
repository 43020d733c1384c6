"""After splitting: how close does any val or test example come to the training split?

Near: word 3-gram Jaccard of the whole conversation, every val/test example whose best training match
reaches `NEAR_REPORT` (below dedup's 0.7 default, so pairs that dedup let through still show).
Semantic (when the embed extra is installed and the export has at most `SEMANTIC_MAX` examples, or
the prompts' embeddings are all cached): cosine of prompt embeddings, the closest pairs whatever their
score, and how many reach the semantic duplicate threshold. Groups are never split, so exact, near and
semantic duplicates found by dedup cannot appear here; what does appear is for a person to judge.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import matching
from ..dedup import DEFAULT_SEMANTIC_THRESHOLD
from ..dedup.tokens import WordIds
from ..record import Example
from ..workspace import Workspace
from .select import Kept

NEAR_REPORT = 0.5
SEMANTIC_MAX = 50_000
_SHOWN = 10


def _pair(e: Example, t: Example, split: str, score: float, method: str) -> dict[str, Any]:
    return {"split": split, "id": e.id, "train_id": t.id, "score": round(float(score), 4), "method": method,
            "text": e.prompt[:200], "train_text": t.prompt[:200]}


def leakage(splits: dict[str, list[Kept]], words: WordIds, read: Callable[[list[Kept]], list[Example]],
            ws: Workspace, semantic: str = "auto", progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """`words`: every kept example's conversation words, by `Kept.pos`; `read`: kept examples as exported."""
    train = splits["train"]
    held = [(name, k) for name in ("val", "test") for k in splits[name]]
    out: dict[str, Any] = {"near_threshold": NEAR_REPORT, "near_pairs": 0, "closest_near": [],
                           "semantic": None}
    if not train or not held:
        return out
    if progress:
        progress("leakage near")
    hits = matching.near_within(words, np.array([k.pos for _, k in held], dtype=np.int64),
                                np.array([k.pos for k in train], dtype=np.int64), NEAR_REPORT)
    shown = sorted(hits, key=lambda i: (-round(hits[i].score, 4), held[i][1].id))[:_SHOWN]
    out["near_pairs"] = len(hits)
    out["closest_near"] = _pairs(read, [(held[i][0], held[i][1], train[hits[i].other], hits[i].score, hits[i].method)
                                        for i in shown])
    if semantic == "off":
        return out
    try:
        from ..embed import Embedder, embed, text_hash
    except ImportError:
        return out
    embedder = Embedder()
    texts = [e.prompt for e in read(train)] + [e.prompt for e in read([k for _, k in held])]
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
                       "closest": _pairs(read, [(held[i][0], held[i][1], train[best[i].other], best[i].score,
                                                 "semantic") for i in order[:_SHOWN]])}
    return out


def _pairs(read: Callable[[list[Kept]], list[Example]],
           shown: list[tuple[str, Kept, Kept, float, str]]) -> list[dict[str, Any]]:
    """The shown pairs with their texts: only these examples are read back."""
    examples = {e.id: e for e in read([k for _, h, t, _, _ in shown for k in (h, t)])}
    return [_pair(examples[h.id], examples[t.id], split, score, method) for split, h, t, score, method in shown]
