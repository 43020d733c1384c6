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

Exact below `_EXACT_LIMIT` similarity computations; above it, each query's neighbours are searched in its
own cluster and the `_NEAR_CLUSTERS - 1` clusters whose centroids are nearest to it. That can only
miss neighbours, never invent them. The report's clusters stop at 100, so past `_BLOCK_POINTS` points per
cluster the search uses about sqrt(n) blocks of its own: its cost then grows as n^1.5, not n^2
(bench/README.md, coverage: 100K + 300K queries' search from 74 s to 28 s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEIGHBOURS = 10
QUERY_NEIGHBOURS = 10
UNDER_COVERED = 0.5
_EXACT_LIMIT = 4e8
_NEAR_CLUSTERS = 3
_BLOCK_POINTS = 3000  # above this many points per report cluster, the search gets finer blocks (_blocks)
_BLOCK_SAMPLE = 200_000
_BLOCK_FLOATS = 1 << 24


@dataclass
class QueryCoverage:
    ratio: np.ndarray  # pooled training/production density ratio per query
    nearest: np.ndarray  # index of each query's most similar training example
    nearest_similarity: np.ndarray
    n_train: np.ndarray  # training prompts among the query's NEIGHBOURS nearest points
    n_query: np.ndarray  # other queries among them
    neighbours: np.ndarray  # (n, 1 + QUERY_NEIGHBOURS): the query itself, then its nearest queries

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


def _measure(q: np.ndarray, q_idx: np.ndarray, train: np.ndarray, t_idx: np.ndarray, queries: np.ndarray,
             pool_q_idx: np.ndarray, out: QueryCoverage) -> None:
    """Fill `out` for queries `q` (global indices q_idx) against the candidate pools given by index."""
    t_cand, q_cand = train[t_idx], queries[pool_q_idx]
    block = max(1, _BLOCK_FLOATS // max(1, len(t_idx) + len(pool_q_idx)))
    for s in range(0, len(q), block):
        qb, ib = q[s:s + block], q_idx[s:s + block]
        st = qb @ t_cand.T
        sq = qb @ q_cand.T
        sq[pool_q_idx[None, :] == ib[:, None]] = -np.inf  # a query is not its own neighbour
        both = np.hstack([st, sq])
        kk = min(NEIGHBOURS, both.shape[1] - 1)
        kth = -np.partition(-both, kk - 1, axis=1)[:, kk - 1] if kk >= 1 else np.full(len(qb), np.inf)
        out.n_train[ib] = (st >= kth[:, None]).sum(axis=1)
        out.n_query[ib] = (sq >= kth[:, None]).sum(axis=1)
        kq = min(QUERY_NEIGHBOURS, sq.shape[1] - 1)
        if kq >= 1:
            out.neighbours[ib, 1:kq + 1] = pool_q_idx[_top(sq, kq)]
        if len(t_idx):
            best = st.argmax(axis=1)
            out.nearest[ib] = t_idx[best]
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


def query_coverage(train: np.ndarray, queries: np.ndarray, labels_train: np.ndarray, labels_query: np.ndarray,
                   centroids: np.ndarray) -> QueryCoverage:
    n_t, n_q = len(train), len(queries)
    out = _empty(n_q)
    if not n_q or not n_t:
        return out
    if float(n_q) * (n_t + n_q) <= _EXACT_LIMIT:
        _measure(queries, np.arange(n_q), train, np.arange(n_t), queries, np.arange(n_q), out)
    else:
        if (n_t + n_q) / max(1, len(centroids)) > _BLOCK_POINTS:
            labels_train, labels_query, centroids = _blocks(train, queries)
        _measure_by_cluster(train, queries, labels_train, labels_query, centroids, out)
    nb = out.neighbours
    out.ratio = density_ratio(out.n_train[nb].mean(axis=1), out.n_query[nb].mean(axis=1), n_t, n_q)
    return out


def _blocks(train: np.ndarray, queries: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Finer blocks for the search than the report's clusters: about sqrt(n) of them, fitted on a sample,
    so the points a query is compared with grow as sqrt(n), not n / k."""
    from ..matching import unit_centroids

    x = np.vstack([train, queries])
    rng = np.random.default_rng(seed)
    sample = x[rng.choice(len(x), min(len(x), _BLOCK_SAMPLE), replace=False)]
    k = int(np.sqrt(len(x)))
    centroids = unit_centroids(sample, k, seed).astype(np.float32)
    labels = np.empty(len(x), dtype=np.int64)
    step = max(1, _BLOCK_FLOATS // k)
    for s in range(0, len(x), step):
        labels[s:s + step] = np.argmax(x[s:s + step] @ centroids.T, axis=1)
    return labels[:len(train)], labels[len(train):], centroids


def _measure_by_cluster(train: np.ndarray, queries: np.ndarray, labels_train: np.ndarray, labels_query: np.ndarray,
                        centroids: np.ndarray, out: QueryCoverage) -> None:
    by_t = [np.flatnonzero(labels_train == c) for c in range(len(centroids))]
    by_q = [np.flatnonzero(labels_query == c) for c in range(len(centroids))]
    near = np.argsort(-(centroids @ centroids.T), axis=1, kind="stable")[:, :_NEAR_CLUSTERS]
    for c in range(len(centroids)):
        if not len(by_q[c]):
            continue
        t_idx = np.concatenate([by_t[o] for o in near[c]])
        if not len(t_idx):  # no training example nearby: the nearest one is somewhere else; look everywhere
            t_idx = np.arange(len(train))
        q_idx = np.concatenate([by_q[o] for o in near[c]])
        _measure(queries[by_q[c]], by_q[c], train, t_idx, queries, q_idx, out)
