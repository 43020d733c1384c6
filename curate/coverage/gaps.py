"""Gaps: connected regions of under-covered production queries, near-identical ones merged into one topic.

A region is a connected component of the graph whose nodes are the under-covered queries (density.py) and
whose edges join a query to its nearest queries; regions of fewer than `MIN_QUERIES` queries are noise.
Regions need not align with the topic clusters, so a missing topic inside a cluster that also holds a
covered one is found on its own. Regions whose centres have cosine at least `MERGE_SIMILARITY` are one
topic (average linkage), listed with its regions as sub-topics.

How many examples to collect for a gap at training size S: its queries' share of production times S is what
the training set would hold if it matched production there; it holds about `train_density` of that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .density import UNDER_COVERED, QueryCoverage, density_ratio

MIN_QUERIES = 3
MERGE_SIMILARITY = 0.75
SPLIT_SIMILARITY = 0.4  # a region's pieces: average pairwise cosine at least this (same-intent queries: ~0.5)
_SPLIT_SAMPLE = 2000  # average linkage is quadratic: a larger region is split on a sample, the rest follow
_MERGE_LIMIT = 2000  # pieces compared for merging (the largest); smaller ones stay gaps of their own


@dataclass
class Gap:
    regions: list[np.ndarray]  # query indices per region, largest first

    @property
    def members(self) -> np.ndarray:
        return np.sort(np.concatenate(self.regions))


def regions(cov: QueryCoverage) -> list[np.ndarray]:
    """Connected components of under-covered queries joined to their nearest queries, largest first."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    under = cov.under_covered
    n = len(under)
    if not under.any():
        return []
    rows = np.repeat(np.arange(n), cov.neighbours.shape[1])
    cols = cov.neighbours.ravel()
    keep = under[rows] & under[cols]
    graph = csr_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    found = [m for m in (np.flatnonzero(labels == c) for c in np.unique(labels[under])) if len(m) >= MIN_QUERIES]
    return sorted(found, key=lambda m: (-len(m), int(m[0])))


def split(region: np.ndarray, queries: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """A region that chains several topics, cut into coherent pieces (average linkage on cosine); a piece too
    small to stand alone joins the piece whose centre is nearest, so no query of the region is lost."""
    if len(region) < 2 * MIN_QUERIES:
        return [region]
    from sklearn.cluster import AgglomerativeClustering

    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(region, _SPLIT_SAMPLE, replace=False)) if len(region) > _SPLIT_SAMPLE else region
    labels = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                     distance_threshold=1 - SPLIT_SIMILARITY).fit_predict(queries[sample])
    pieces = [sample[labels == c] for c in np.unique(labels)]
    kept = [m for m in pieces if len(m) >= MIN_QUERIES] or [region]
    if len(kept) == 1:
        return [region]
    nearest = np.argmax(queries[region] @ np.stack([centre(queries[m]) for m in kept]).T, axis=1)
    return [region[nearest == c] for c in range(len(kept))]


def find(cov: QueryCoverage, queries: np.ndarray, size_train: int, seed: int = 0) -> list[Gap]:
    """The report's gaps: regions, split where they chain topics, kept when under-covered as a whole, merged."""
    pieces = [piece for region in regions(cov) for piece in split(region, queries, seed)]
    return merge(under_covered(pieces, cov, size_train, len(queries)), queries)


def centre(vectors: np.ndarray) -> np.ndarray:
    c = vectors.mean(axis=0)
    return c / max(float(np.linalg.norm(c)), 1e-12)


def merge(found: list[np.ndarray], queries: np.ndarray) -> list[Gap]:
    """Regions whose centres are near-identical, as one gap each (average linkage on cosine)."""
    found = sorted(found, key=lambda m: (-len(m), int(m[0])))
    head, rest = found[:_MERGE_LIMIT], found[_MERGE_LIMIT:]
    if len(head) < 2:
        return [Gap([m]) for m in found]
    from sklearn.cluster import AgglomerativeClustering

    centres = np.stack([centre(queries[m]) for m in head])
    labels = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                     distance_threshold=1 - MERGE_SIMILARITY).fit_predict(centres)
    gaps = [Gap([head[i] for i in np.flatnonzero(labels == g)]) for g in np.unique(labels)] + [Gap([m]) for m in rest]
    return sorted(gaps, key=lambda g: (-len(g.members), int(g.members[0])))


def under_covered(pieces: list[np.ndarray], cov: QueryCoverage, size_train: int, size_query: int) -> list[np.ndarray]:
    """The pieces that are under-covered as a whole, not only query by query (a piece cut from a covered
    topic's edge may be made of queries each just under the line)."""
    return [m for m in pieces if train_density(cov, m, size_train, size_query) < UNDER_COVERED]


def train_density(cov: QueryCoverage, members: np.ndarray, size_train: int, size_query: int) -> float:
    """The pooled coverage ratio of a set of queries: 0 when no training prompt is near any of them."""
    return float(density_ratio(cov.n_train[members].sum(), cov.n_query[members].sum(), size_train, size_query))


def to_collect(n_queries: int, size_query: int, size: int, density: float) -> int:
    """>>> to_collect(40, 3000, 10000, 0.0), to_collect(40, 3000, 10000, 0.5), to_collect(1, 3000, 100, 0.9)
    (134, 67, 1)
    """
    return max(1, math.ceil(n_queries / size_query * size * (1 - min(1.0, density)) - 1e-9))

