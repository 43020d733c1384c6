"""Each row's best match on another side at cosine >= a threshold, through ivf's inverted lists.

Contamination compares a training collection (up to millions of prompts) with an eval set or production
queries (thousands to hundreds of thousands). All against all is rows x queries products: 10M x 100K is hours
on 2 cores. The lists are built over the rows, as for semantic dedup (`ivf`); each query probes its nearest
lists and is compared with their members only. Unlike dedup, only the query probes: a match is found when
the query probes the row's list, so the probes are calibrated on that one rank, on a sample of queries whose
exact matches are known (RECALL of them, by pairs and by queries). Where the probes would cost over half of
all against all, all against all runs instead.
"""

from __future__ import annotations

import numpy as np

from ..vectors import rows as unit_rows
from . import ivf

BRUTE_FORCE_PRODUCTS = 4e8  # up to this many rows x queries, all against all (20K x 20K: seconds)
_BLOCK = 2048  # rows of a similarity matrix at a time in all against all: 2048 x 100K float32 is 800 MB


def best_matches(rows: np.ndarray, queries: np.ndarray, threshold: float, seed: int = 0,
                 stats: dict | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, its most similar query, cosine) for each row with a query at cosine >= threshold, by row; ties go
    to the lower query, as all against all gives them. Rows and queries are unit float32, or float16 as
    stored. `stats` gets how the search ran."""
    stats = {} if stats is None else stats
    n, m = len(rows), len(queries)
    if not n or not m:
        return _empty()
    if n * m <= BRUTE_FORCE_PRODUCTS:
        stats["search"] = "all against all"
        return exhaustive(rows, queries, threshold)
    rng = np.random.default_rng(seed)
    centroids, shift = ivf.centred_centroids(rows, rng)
    p, recall = probes(rows, queries, centroids, shift, threshold, rng)
    members, member_bounds = ivf.runs(ivf.nearest(rows, centroids, shift, 1)[:, 0], len(centroids))
    probed = ivf.nearest(queries, centroids, shift, p)
    probers, prober_bounds = ivf.runs(probed.ravel(), len(centroids))
    probers //= p
    work = np.diff(member_bounds) * np.diff(prober_bounds)
    if work.sum() >= ivf.WORTH * n * m:
        stats["search"] = f"all against all (the {p} probes of {len(centroids):,} lists this threshold needs " \
                          "would cost more)"
        return exhaustive(rows, queries, threshold)
    stats.update(search="inverted lists", lists=len(centroids), probes=p, sample_recall=round(recall, 4))
    found = [_empty()]
    for c in np.flatnonzero(work).tolist():
        mine = members[member_bounds[c]:member_bounds[c + 1]]
        theirs = probers[prober_bounds[c]:prober_bounds[c + 1]]
        for s in range(0, len(mine), _BLOCK):
            found.append(_matched(unit_rows(rows, mine[s:s + _BLOCK]), unit_rows(queries, theirs), threshold,
                                  mine[s:s + _BLOCK], theirs))
    return _best(*(np.concatenate(col) for col in zip(*found)))


def exhaustive(rows: np.ndarray, queries: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`best_matches` by all against all, a block of rows at a time."""
    theirs = unit_rows(queries)
    every = np.arange(len(queries))
    found = [_empty()]
    for s in range(0, len(rows), _BLOCK):
        block = np.arange(s, min(s + _BLOCK, len(rows)))
        found.append(_matched(unit_rows(rows, block), theirs, threshold, block, every))
    return _best(*(np.concatenate(col) for col in zip(*found)))


def probes(rows: np.ndarray, queries: np.ndarray, centroids: np.ndarray, shift: np.ndarray, threshold: float,
           rng: np.random.Generator) -> tuple[int, float]:
    """How many lists each query must probe to reach RECALL of a random sample of queries' exact matches (by
    pairs and by queries, as `ivf.probes`; at least ivf.PROBES), and the share those probes reach. A match
    needs 1 + the rank of the row's list among the query's."""
    k = len(centroids)
    size = min(len(queries), max(ivf.SAMPLE_DOCS, ivf.SAMPLE_WORK // len(rows)))
    q, r, partners = ivf.sample_pairs(rows, threshold, rng.choice(len(queries), size, replace=False), rng, queries)
    if not len(q):
        return min(ivf.PROBES, k), 1.0
    return ivf.calibrated(ivf.rank(unit_rows(queries, q), unit_rows(rows, r), centroids, shift) + 1, partners, k)


def _matched(x: np.ndarray, y: np.ndarray, threshold: float, row_ids: np.ndarray,
             query_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each of these rows' best query at >= threshold among these queries."""
    sims = x @ y.T
    best = sims.argmax(axis=1)
    score = sims[np.arange(len(best)), best]
    hit = np.flatnonzero(score >= threshold)
    return row_ids[hit], query_ids[best[hit]], score[hit].astype(np.float64)


def _best(r: np.ndarray, q: np.ndarray, cos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One match per row: the highest cosine, then the lowest query."""
    order = np.lexsort((q, -cos, r))
    r, q, cos = r[order], q[order], cos[order]
    first = np.flatnonzero(np.r_[True, r[1:] != r[:-1]]) if len(r) else np.zeros(0, np.int64)
    return r[first], q[first], cos[first]


def _empty() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
