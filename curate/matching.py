"""Cross-collection matching: for each text of one side, its best match on the other side.

The one home for it, used by `dedup --against` (contamination findings), `export --exclude-near` (what matches
an eval set is left out) and export's leakage check (val and test against train). Within one collection,
duplicates are dedup's job (groups, not best matches).

Near: an identical word sequence first (score 1, "exact"), else MinHash LSH candidates verified by word
3-gram Jaccard ("near"). Semantic: the cosine of normalised embeddings ("semantic"); where both find a
match, the lexical one is kept, since it is the stronger evidence.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from .dedup.groups import UnionFind
from .dedup.lsh import jaccard, near_duplicates
from .dedup.shingles import shingles_of
from .dedup.signatures import NUM_PERM
from .dedup.tokens import WordIds, word_ids

_CHECKED_PER_GROUP = 20  # the other side's members checked per candidate group (groups of templated text are huge)


class Match(NamedTuple):
    other: int  # index on the other side
    score: float
    method: str  # exact | near | semantic


def _words(texts: WordIds | Sequence[str]) -> WordIds:
    return texts if isinstance(texts, WordIds) else word_ids(list(texts))


def near(mine: WordIds | Sequence[str], theirs: WordIds | Sequence[str], threshold: float,
         num_perm: int = NUM_PERM) -> dict[int, Match]:
    """index of `mine` -> its best exact or near match in `theirs` (Jaccard >= threshold); empty texts match
    nothing."""
    a, b = _words(mine), _words(theirs)
    return near_within(a + b, np.arange(len(a)), np.arange(len(a), len(a) + len(b)), threshold, num_perm)


def near_within(docs: WordIds, mine: np.ndarray, theirs: np.ndarray, threshold: float,
                num_perm: int = NUM_PERM) -> dict[int, Match]:
    """`near` for two selections of rows of one array of documents (export's splits, without copying their
    words): index into `mine` -> its best match, as an index into `theirs`."""
    found = _exact(docs, mine, theirs)
    n = len(mine)
    sets = shingles_of(docs, np.concatenate([mine, theirs]).astype(np.int64))
    pairs = near_duplicates(sets, threshold, num_perm=num_perm).pairs.tolist()
    for members in _linked(pairs, len(sets)):
        left = sorted({i for i in members if i < n} - set(found))
        right = sorted({i for i in members if i >= n})[:_CHECKED_PER_GROUP]
        if not left or not right:
            continue
        candidates = np.array([(i, j) for i in left for j in right], dtype=np.int64)
        for (i, j), s in zip(candidates.tolist(), jaccard(sets, candidates).tolist()):
            if s >= threshold and (i not in found or found[i].score < s):
                found[i] = Match(j - n, s, "near")
    return found


def _exact(docs: WordIds, mine: np.ndarray, theirs: np.ndarray) -> dict[int, Match]:
    keys = docs.keys()
    by_key: dict[int, list[int]] = {}
    for j, k in enumerate(keys[theirs].tolist()):
        by_key.setdefault(k, []).append(j)
    found = {}
    for i, (row, k) in enumerate(zip(mine.tolist(), keys[mine].tolist())):
        if docs.offsets[row] == docs.offsets[row + 1]:
            continue  # an empty text matches nothing
        same = next((j for j in by_key.get(k, ()) if docs.same(row, int(theirs[j]))), None)
        if same is not None:
            found[i] = Match(same, 1.0, "exact")
    return found


def _linked(pairs: list[list[int]], n: int) -> list[list[int]]:
    """The candidate pairs' connected groups: a group holding texts of both sides is checked pair by pair."""
    uf = UnionFind(n)
    for a, b in pairs:
        uf.union(a, b)
    groups: dict[int, list[int]] = {}
    for a, b in pairs:
        for i in (a, b):
            groups.setdefault(uf.find(i), []).append(i)
    return list(groups.values())


def semantic(mine: np.ndarray, theirs: np.ndarray, threshold: float,
             stats: dict | None = None) -> dict[int, Match]:
    """index of `mine` -> its most similar row of `theirs` when the cosine reaches `threshold` (-inf: always,
    all against all). Rows are unit float32, or float16 as the embedding cache stores them. With a threshold,
    large sides are searched through inverted lists (`dedup.ivf_cross`: >= 0.99 of the matches); `stats`
    says how."""
    from .dedup.ivf_cross import best_matches, exhaustive

    if threshold == -np.inf:
        r, q, cos = exhaustive(mine, theirs, threshold)
    else:
        r, q, cos = best_matches(mine, theirs, threshold, stats=stats)
    return {i: Match(j, min(s, 1.0), "semantic") for i, j, s in zip(r.tolist(), q.tolist(), cos.tolist())}


def unit_centroids(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k-means centroids of `x` (MiniBatchKMeans, one init), scaled to unit length: the vectors they partition
    are compared by cosine. Shared by semantic dedup's fallback partitions and coverage's search blocks."""
    from sklearn.cluster import MiniBatchKMeans

    km = MiniBatchKMeans(n_clusters=k, random_state=seed, batch_size=4096, n_init=1).fit(x)
    return km.cluster_centers_ / np.maximum(np.linalg.norm(km.cluster_centers_, axis=1, keepdims=True), 1e-12)


def combined(lexical: dict[int, Match], by_meaning: dict[int, Match]) -> dict[int, Match]:
    """Near matches, and semantic ones where there is none: exact and near are the stronger evidence."""
    out = dict(by_meaning)
    out.update(lexical)
    return dict(sorted(out.items()))
