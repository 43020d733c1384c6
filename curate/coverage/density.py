"""How well the training set covers each production query, from its neighbourhood in embedding space.

For each query: among its `NEIGHBOURS` nearest points (training prompts and other queries), how many are
training prompts and how many queries; then the same counts pooled over the query and its `QUERY_NEIGHBOURS`
nearest queries. Pooling is what finds a missing topic that sits next to a covered one: a single query of
the missing topic may have a few of the neighbour topic's training prompts among its nearest points, but its
fellow queries, which are each other's nearest queries, mostly do not.

The coverage ratio is the pooled training share over the pooled query share, each over its side's size, with
one pseudo-point split between the sides in proportion to their sizes. 1 means covered like the average
query whatever the ratio of training to production size (the query itself is not counted, so a set with 9
training prompts per query does not read as under-covered); under `UNDER_COVERED` the training set is less
than half as dense as production there.

Measured in bench/coverage_gaps.py on banking77 and hwu64 (ROC AUC of the ratio for the queries of intents
removed from training: single-query counts 0.94 / 0.87, pooled over 10 queries 0.96 / 0.93).

Exact below `_EXACT_LIMIT` similarity computations; above it, through inverted lists with a running best
per query (neighbours.py), which can only miss neighbours, never invent them (bench/coverage_search.py
measures what it misses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..dedup.ivf import RECALL
from .neighbours import Best, K, first_copies, nearest_points, tie_copies

NEIGHBOURS = QUERY_NEIGHBOURS = K  # the lists' running best keeps K of each (neighbours.py)
UNDER_COVERED = 0.5
_EXACT_LIMIT = 4e8
_BLOCK_FLOATS = 1 << 24


@dataclass
class QueryCoverage:
    ratio: np.ndarray  # pooled training/production density ratio per query
    nearest: np.ndarray  # index of each query's most similar training example
    nearest_similarity: np.ndarray
    n_train: np.ndarray  # training prompts among the query's NEIGHBOURS nearest points
    n_query: np.ndarray  # other queries among them
    neighbours: np.ndarray  # (n, 1 + QUERY_NEIGHBOURS): the query itself, then its nearest queries
    search: Any = None  # neighbours.Searched where inverted lists searched, None where all against all

    def how_searched(self) -> str:
        s = self.search
        if s is None:
            return "all against all"
        short = "" if s.probes >= s.needed else \
            f" (the search budget's most; {s.needed} would reach {RECALL} of them)"
        far = "" if not s.far else (f"; {s.far:,} queries had no training prompt among their {K} nearest points: "
                                    "their nearest one searched " + ("among all" if s.far_all else
                                    f"in the nearest lists, {s.far_recall:.4f} of a sample's reached"))
        return (f"inverted lists: {s.probes} of {s.lists} probed per query{short}, {s.sample_recall:.4f} of a "
                f"sample's exact neighbours reached, {s.exact_share:.0%} of all against all's products{far}")

    @property
    def under_covered(self) -> np.ndarray:
        return self.ratio < UNDER_COVERED


def density_ratio(n_train: np.ndarray | float, n_query: np.ndarray | float, size_train: int, size_query: int):
    """Training share over query share of a neighbourhood holding n_train prompts and n_query queries.

    >>> round(density_ratio(9, 1, 9000, 1000), 2), round(density_ratio(0, 10, 9000, 1000), 2)
    (1.0, 0.01)
    """
    total = size_train + size_query
    return ((n_train + size_train / total) / size_train) / ((n_query + size_query / total) / size_query)


def _measure(train: np.ndarray, queries: np.ndarray, out: QueryCoverage, rows: np.ndarray | None = None) -> None:
    """Fill `out` for these queries (all, or the indices `rows`) against every point, a block at a time."""
    points = np.vstack([train, queries])
    copies, all_points = first_copies(points), np.arange(len(points))
    n_t, q_idx = len(train), np.arange(len(queries)) if rows is None else rows
    block = max(1, _BLOCK_FLOATS // len(points))
    for s in range(0, len(q_idx), block):
        ib = q_idx[s:s + block]
        qb = queries[ib]
        both = qb @ points.T
        tie_copies(both, copies, all_points)
        st, sq = both[:, :n_t], both[:, n_t:]
        sq[np.arange(len(ib)), ib] = -np.inf  # a query is not its own neighbour
        kk = min(NEIGHBOURS, both.shape[1] - 1)
        kth = -np.partition(-both, kk - 1, axis=1)[:, kk - 1] if kk >= 1 else np.full(len(qb), np.inf)
        out.n_train[ib] = (st >= kth[:, None]).sum(axis=1)
        out.n_query[ib] = (sq >= kth[:, None]).sum(axis=1)
        kq = min(QUERY_NEIGHBOURS, sq.shape[1] - 1)
        if kq >= 1:
            out.neighbours[ib, 1:kq + 1] = _top(sq, kq)
        if n_t:
            best = st.argmax(axis=1)
            out.nearest[ib] = best
            out.nearest_similarity[ib] = st[np.arange(len(qb)), best]


def _top(sims: np.ndarray, k: int) -> np.ndarray:
    """Per row, the columns of the k largest values, ties going to the lower column: the same neighbours on
    every CPU (numpy's partition picks among equal values by its SIMD kernel, AVX-512 or not)."""
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(sims, top, axis=1).min(axis=1)
    for r in np.flatnonzero((sims >= kth[:, None]).sum(axis=1) > k).tolist():  # a tie across the k-th place
        top[r] = np.argsort(-sims[r], kind="stable")[:k]
    return np.sort(top, axis=1)


def _empty(n_q: int) -> QueryCoverage:
    neighbours = np.repeat(np.arange(n_q)[:, None], 1 + QUERY_NEIGHBOURS, axis=1)  # unfilled slots: the query itself
    return QueryCoverage(np.zeros(n_q), np.zeros(n_q, dtype=np.int64), np.full(n_q, -1.0, dtype=np.float32),
                         np.zeros(n_q, dtype=np.int64), np.zeros(n_q, dtype=np.int64), neighbours)


def query_coverage(train: np.ndarray, queries: np.ndarray,
                   progress: Callable[[int, int], None] | None = None) -> QueryCoverage:
    n_t, n_q = len(train), len(queries)
    out = _empty(n_q)
    if not n_q or not n_t:
        return out
    big = float(n_q) * (n_t + n_q) > _EXACT_LIMIT
    searched = nearest_points(train, queries, progress=progress) if big else None
    if searched is None:
        _measure(train, queries, out)
    else:
        _fill(searched.best, n_t, out)
        out.search = searched
    nb = out.neighbours
    out.ratio = density_ratio(out.n_train[nb].mean(axis=1), out.n_query[nb].mean(axis=1), n_t, n_q)
    return out


def _fill(best: Best, n_t: int, out: QueryCoverage) -> None:
    """The counts and neighbours as _measure writes them: nearest queries in index order, then the query
    itself in the slots left unfilled."""
    out.n_train = ((best.pid >= 0) & (best.pid < n_t)).sum(axis=1) + best.ties_train
    out.n_query = (best.pid >= n_t).sum(axis=1) + best.ties_query
    none = np.iinfo(np.int64).max
    found = np.sort(np.where(best.q_pid >= 0, best.q_pid - n_t, none), axis=1)[:, :QUERY_NEIGHBOURS]
    out.neighbours[:, 1:] = np.where(found == none, out.neighbours[:, :1], found)
    out.nearest, out.nearest_similarity = best.t_pid, best.t_val
