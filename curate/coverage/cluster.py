"""Clustering training prompts and production queries together, with the number of clusters chosen by silhouette.

The clusters are the report's overview of topics (shares per topic, strata for export) and the blocks the
neighbour search works in at scale; the gaps themselves are regions of queries (gaps.py) that need not
align with them. Both sides get equal total weight in k-means, so a topic that production asks about a
lot pulls a centroid even when the training set barely touches it.

k is chosen on a sample of at most `_SAMPLE` points, so its cost does not grow with the data: the largest k
on a log grid up to `MAX_CLUSTERS` (and at most one cluster per 10 sampled points) whose cosine silhouette
is within `PLATEAU` of the best. (The search once went to 300 clusters on an 8,000-point sample: 3 minutes
for 4,000 texts; on banking77 the silhouette is flat from k=80 on.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_CLUSTERS = 100
PLATEAU = 0.02  # silhouette on a 2,000-point sample moves by ~0.015 between neighbouring k on the plateau
_SAMPLE = 2000  # points used to choose k, with one k-means start each: the fit of the chosen k gets more
_SILHOUETTE_SAMPLE = 1000  # silhouette is quadratic in its sample
_FULL_KMEANS = 30000  # above this, mini-batch k-means (Lloyd's on 200K x 384 takes minutes on 2 cores)
# One k-means run lands in whichever local optimum its random start leads to, and which start that is
# depends on float noise: on the same 157 texts, ONNX int8 and fp32 embeddings (cosine 0.995) or another
# seed gave a missing topic's queries 53% to 100% in gap clusters, and the silhouette's choice of k moved
# between 5 and 15. The best of several starts is stable (84-100%, k 10-15). Small sets, where a start
# costs milliseconds and each point weighs most, get up to `_MAX_STARTS`: as many as fit in
# `_START_BUDGET` points x clusters (~0.1 s of k-means on 2 cores at 384 dimensions); large ones, one.
_MAX_STARTS = 10
_START_BUDGET = 30_000


@dataclass
class Clustering:
    k: int
    labels_train: np.ndarray
    labels_query: np.ndarray
    centroids: np.ndarray  # unit length
    silhouette: dict[int, float]  # k -> score, for the k tried ({} when k was given)


def _weights(n_train: int, n_query: int) -> np.ndarray:
    """Equal total mass for each side; mean weight 1 so k-means' inertia keeps its scale."""
    n = n_train + n_query
    if not n_query:
        return np.ones(n_train)
    return np.concatenate([np.full(n_train, n / (2 * n_train)), np.full(n_query, n / (2 * n_query))])


def starts(n: int, k: int) -> int:
    """How many k-means starts a fit of n points into k clusters gets.

    >>> starts(157, 12), starts(1500, 5), starts(4000, 300)
    (10, 4, 1)
    """
    return int(min(_MAX_STARTS, max(1, _START_BUDGET // max(1, n * k))))


def _kmeans(k: int, seed: int, n: int):
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if n > _FULL_KMEANS:
        return MiniBatchKMeans(k, batch_size=4096, n_init=3, random_state=seed, max_no_improvement=20)
    return KMeans(k, n_init=starts(n, k), random_state=seed)


def candidate_ks(n: int) -> list[int]:
    """A log grid from 2 to min(MAX_CLUSTERS, n // 10).

    >>> candidate_ks(2000)
    [2, 3, 4, 6, 8, 12, 17, 24, 34, 49, 70, 100]
    >>> candidate_ks(40)
    [2, 3, 4]
    """
    hi = max(2, min(MAX_CLUSTERS, n // 10))
    return sorted({int(round(x)) for x in np.geomspace(2, hi, 12)})


def choose_k(x: np.ndarray, weights: np.ndarray, seed: int) -> tuple[int, dict[int, float]]:
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(seed)
    # Sample in proportion to weight, so the sample has the same balance between sides as the fit.
    idx = np.sort(rng.choice(len(x), size=min(_SAMPLE, len(x)), replace=False, p=weights / weights.sum()))
    sample = x[idx]
    scores: dict[int, float] = {}
    for k in candidate_ks(len(sample)):
        if k >= len(sample):
            break
        from sklearn.cluster import KMeans

        labels = KMeans(k, n_init=1, random_state=seed).fit(sample).labels_
        if len(np.unique(labels)) < 2:
            continue
        scores[k] = float(silhouette_score(sample, labels, metric="cosine", sample_size=min(_SILHOUETTE_SAMPLE,
                                                                                         len(sample)),
                                           random_state=seed))
    if not scores:
        return 1, scores
    # On the plateau, the finest clustering: it costs no fit and keeps a small missing topic apart.
    best = max(scores.values())
    return max(k for k, v in scores.items() if v >= best - PLATEAU), scores


def cluster(train: np.ndarray, queries: np.ndarray, k: int | None = None, seed: int = 0) -> Clustering:
    """Cluster both sides together; every point gets a cluster (no noise bin)."""
    x = np.vstack([train, queries]) if len(queries) else train
    weights = _weights(len(train), len(queries))
    scores: dict[int, float] = {}
    if k is None:
        k, scores = choose_k(x, weights, seed)
    k = max(1, min(k, len(x)))
    if k == 1:
        labels = np.zeros(len(x), dtype=np.int64)
        centroids = x.mean(axis=0, keepdims=True)
    else:
        model = _kmeans(k, seed, len(x)).fit(x, sample_weight=weights)
        labels = model.predict(x) if len(x) > _FULL_KMEANS else model.labels_
        centroids = model.cluster_centers_
    centroids = centroids / np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    # Renumber by size so that ids are stable to read (0 = largest) and no id is empty.
    sizes = np.bincount(labels, minlength=k)
    order = [c for c in np.argsort(-sizes, kind="stable") if sizes[c]]
    remap = np.full(k, -1, dtype=np.int64)
    remap[order] = np.arange(len(order))
    labels = remap[labels]
    return Clustering(len(order), labels[:len(train)], labels[len(train):], centroids[order].astype(np.float32),
                      scores)
