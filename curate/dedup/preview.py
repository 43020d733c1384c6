"""`dedup --preview`: pairs, groups and duplicates at each threshold, and the pairs nearest the chosen one
to read, from a sample, so that a threshold is chosen by looking."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..secrets import redact
from ..worddiff import clipped, word_diff
from .groups import Edge, UnionFind
from .lsh import near_duplicates
from .shingles import shingle_ids
from .tokens import WordIds

PREVIEW_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
PREVIEW_SAMPLE = 20_000


def near_preview(docs: WordIds, class_of: np.ndarray, threshold: float, num_perm: int,
             ids: list[str], text: Callable[[str], str]) -> dict[str, Any]:
    """Pairs, groups and duplicates at each preview threshold, from every verified pair of a sample."""
    reps = np.flatnonzero(class_of == np.arange(len(class_of)))
    if len(reps) > PREVIEW_SAMPLE:
        reps = np.sort(np.random.default_rng(0).choice(reps, PREVIEW_SAMPLE, replace=False))
    sets = shingle_ids(docs.take(reps))
    res = near_duplicates(sets, min(PREVIEW_THRESHOLDS[0], threshold), num_perm=num_perm, all_pairs=True)
    edges = [Edge(int(reps[a]), int(reps[b]), float(s), "near") for (a, b), s in zip(res.pairs.tolist(), res.scores)]
    rows = _count_at(edges, len(class_of), PREVIEW_THRESHOLDS)
    samples = _samples(edges, threshold, ids, text)
    return {"near": {"sampled_documents": int(len(reps)), "thresholds": rows, "samples_near_threshold": samples}}


SEMANTIC_PREVIEW_THRESHOLDS = (0.8, 0.85, 0.9, 0.95)


def _count_at(edges: list[Edge], n: int, thresholds) -> list[dict[str, Any]]:
    rows = []
    for t in thresholds:
        uf = UnionFind(n)
        pairs = [e for e in edges if e.score >= t]
        for e in pairs:
            uf.union(e.a, e.b)
        roots = {uf.find(e.a) for e in pairs}
        members = {i for e in pairs for i in (e.a, e.b)}
        rows.append({"threshold": t, "pairs": len(pairs), "groups": len(roots),
                     "duplicates": len(members) - len(roots)})
    return rows


def _samples(edges: list[Edge], threshold: float, ids: list[str], text: Callable[[str], str]) -> list[dict]:
    """The pairs to eyeball: spread over those within 0.05 of the threshold, or else the 8 nearest it."""
    near_thr = sorted((e for e in edges if abs(e.score - threshold) <= 0.05), key=lambda e: e.score)
    if not near_thr:
        near_thr = sorted(sorted(edges, key=lambda e: abs(e.score - threshold))[:8], key=lambda e: e.score)
    step = max(1, len(near_thr) // 8)
    out = []
    for e in near_thr[::step][:8]:
        a, b = redact(text(ids[e.a])), redact(text(ids[e.b]))
        # Where they differ, word by word: cut at the same length, the two sides often looked identical.
        out.append({"a": ids[e.a], "b": ids[e.b], "score": round(e.score, 3), "text_a": a[:300], "text_b": b[:300],
                    "diff": [list(s) for s in clipped(word_diff(a, b))]})
    return out


def semantic_preview(emb: np.ndarray, reps: np.ndarray, rank: np.ndarray, threshold: float, ids: list[str],
                     text: Callable[[str], str]) -> dict[str, Any]:
    """As near_preview, with groups counted as semantic dedup forms them: stars around the best documents
    (`rank`, lower is better), not chains."""
    from .semantic import all_pairs

    if len(reps) > PREVIEW_SAMPLE:
        pick = np.sort(np.random.default_rng(0).choice(len(reps), PREVIEW_SAMPLE, replace=False))
        emb, reps, rank = emb[pick], reps[pick], rank[pick]
    pairs, cos = all_pairs(emb, min(SEMANTIC_PREVIEW_THRESHOLDS[0], threshold))
    edges = [Edge(int(reps[a]), int(reps[b]), float(c), "semantic") for (a, b), c in zip(pairs.tolist(), cos)]
    rows = [_stars_at(emb, pairs, cos, rank, t) for t in SEMANTIC_PREVIEW_THRESHOLDS]
    return {"sampled_documents": int(len(reps)), "thresholds": rows,
            "samples_near_threshold": _samples(edges, threshold, ids, text)}


def _stars_at(emb: np.ndarray, pairs: np.ndarray, cos: np.ndarray, rank: np.ndarray,
              threshold: float) -> dict[str, Any]:
    """Pairs, groups and duplicates at `threshold`, grouped by the same stars.stars that dedup runs: each
    duplicate is one (centre, member) link, so the documents in groups are the centres plus the links."""
    from .stars import stars

    near = cos >= threshold
    links, _ = stars(emb, pairs[near], cos[near], threshold, rank)
    in_groups = len(np.unique(links)) if len(links) else 0
    return {"threshold": threshold, "pairs": int(near.sum()), "groups": in_groups - len(links),
            "duplicates": len(links)}
