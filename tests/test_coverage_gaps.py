"""Gap regions: connected under-covered queries, chained topics split, near-identical ones merged."""

from __future__ import annotations

import numpy as np

from curate.coverage import gaps
from curate.coverage.density import QueryCoverage


def _blob(rng, centre, n, spread=0.05):
    x = centre + rng.normal(scale=spread, size=(n, len(centre)))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _unit(rng, dim=32):
    v = rng.normal(size=dim)
    return v / np.linalg.norm(v)


def _coverage(vectors, under):
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, np.inf)
    neighbours = np.argsort(-sims, axis=1)[:, :6]  # itself, then its 5 nearest
    n = len(vectors)
    ratio = np.where(under, 0.1, 1.0)
    return QueryCoverage(ratio, np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.float32),
                         np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), neighbours)


def test_regions_are_connected_under_covered_queries():
    rng = np.random.default_rng(0)
    a, b = _unit(rng), _unit(rng)
    x = np.vstack([_blob(rng, a, 20), _blob(rng, b, 20), _blob(rng, _unit(rng), 2)])
    under = np.r_[np.ones(20, bool), np.zeros(20, bool), np.ones(2, bool)]
    found = gaps.regions(_coverage(x, under))
    assert [sorted(m.tolist()) for m in found] == [list(range(20))], "the covered blob and the 2-query noise are not"


def test_near_identical_regions_merge_into_one_gap_with_sub_topics():
    rng = np.random.default_rng(1)
    a, far = _unit(rng), _unit(rng)
    twin = a + 0.1 * _unit(rng)
    x = np.vstack([_blob(rng, a, 10), _blob(rng, twin / np.linalg.norm(twin), 8), _blob(rng, far, 6)])
    merged = gaps.merge([np.arange(10), np.arange(10, 18), np.arange(18, 24)], x)
    assert [len(g.regions) for g in merged] == [2, 1]
    assert merged[0].members.tolist() == list(range(18))


def test_a_chained_region_is_split_and_loses_no_query():
    rng = np.random.default_rng(2)
    x = np.vstack([_blob(rng, _unit(rng), 15, 0.1), _blob(rng, _unit(rng), 12, 0.1), _blob(rng, _unit(rng), 1, 0.1)])
    pieces = gaps.split(np.arange(28), x)
    assert sorted(len(p) for p in pieces) in ([12, 16], [13, 15])
    assert sorted(np.concatenate(pieces).tolist()) == list(range(28))
    assert sorted(gaps.split(np.arange(15), x)[0].tolist()) == list(range(15)), "one topic stays whole"


def test_examples_to_collect():
    assert gaps.to_collect(40, 3000, 10000, 0.0) == 134  # 40/3000 of 10,000, none there yet
    assert gaps.to_collect(40, 3000, 10000, 1.5) == 1  # over-covered by this measure, still a gap: at least one
