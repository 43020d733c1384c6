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

from ..dedup.run import DEFAULT_SEMANTIC_THRESHOLD, cross_matches
from ..dedup.signatures import NUM_PERM
from ..dedup.text import key_text
from ..dedup.tokens import word_ids
from ..record import Example
from ..workspace import Workspace

NEAR_REPORT = 0.5
SEMANTIC_MAX = 50_000
_SHOWN = 10


def _pair(e: Example, t: Example, split: str, score: float, method: str) -> dict[str, Any]:
    return {"split": split, "id": e.id, "train_id": t.id, "score": round(float(score), 4), "method": method,
            "text": e.prompt[:200], "train_text": t.prompt[:200]}


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
    hits = cross_matches(word_ids([key_text(e, "conversation") for _, e in held]),
                         word_ids([key_text(t, "conversation") for t in train]), NEAR_REPORT, NUM_PERM)
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
    tv, hv = vectors[:len(train)], vectors[len(train):]
    best_score, best_idx = [], []
    for s in range(0, len(hv), 2048):
        sims = hv[s:s + 2048] @ tv.T
        idx = sims.argmax(axis=1)
        best_idx += idx.tolist()
        best_score += sims[range(len(idx)), idx].tolist()
    order = sorted(range(len(held)), key=lambda i: (-best_score[i], held[i][1].id))
    out["semantic"] = {"model": embedder.model, "threshold": DEFAULT_SEMANTIC_THRESHOLD,
                       "pairs_at_threshold": sum(s >= DEFAULT_SEMANTIC_THRESHOLD for s in best_score),
                       "closest": [_pair(held[i][1], train[best_idx[i]], held[i][0], min(best_score[i], 1.0),
                                         "semantic") for i in order[:_SHOWN]]}
    return out
