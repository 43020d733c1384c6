"""Semantic duplicates: pairs of normalised embeddings with cosine >= threshold.

Up to `BRUTE_FORCE_MAX` documents are compared all against all, in blocks. Beyond that, approximate
nearest neighbours: usearch HNSW shards of at most `ANN_SHARD` documents, built in parallel but each on
one thread (so the same input gives the same graphs and the same pairs on any machine), each document's
`ANN_K` nearest in every shard are searched, documents whose
last neighbour is still above the threshold (groups of many near-copies) are searched again with four
times the k, up to `ANN_K_MAX`, and candidates are kept when their exact cosine, recomputed from the
embeddings, is >= threshold: reported scores are exact, and recall of true pairs is >= 0.99 on real
embeddings (bench/ann.py). Where usearch is not installed, the old SemDeDup-style fallback runs:
k-means (about sqrt(n) clusters) partitions the embeddings, each document joins its two nearest
clusters, and documents are compared within clusters only, which misses pairs across partitions.
As with near duplicates, only links between different groups are kept.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..engine import Engine
from .lsh import union_pairs

BRUTE_FORCE_MAX = 20_000
_BLOCK = 1024
ANN_K = 16  # neighbours searched per document; saturated documents are searched again with 4x
ANN_K_MAX = 1024  # past this many neighbours above the threshold a document is linked to its group anyway
# HNSW settings (bench/ann.py): i8 vectors for the graph, exact cosines for the verdict.
_ANN_DTYPE, _ANN_CONNECTIVITY, _ANN_EXPANSION_ADD, _ANN_EXPANSION_SEARCH = "i8", 16, 64, 64
_PAIR_BLOCK = 65536
ANN_SHARD = 250_000  # documents per HNSW shard (bench/ann.py): shards build in parallel, one thread each
ANN_PARTITION = 100_000  # documents searched per task on a distributed engine


def _have_usearch() -> bool:
    try:
        import usearch.index  # noqa: F401
    except ImportError:
        return False
    return True


def _exact_cos(emb: np.ndarray, rows: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """cos(emb[rows[i]], emb[keys[i, j]]), in chunks that keep the gathered neighbours small."""
    out = np.empty(keys.shape, dtype=np.float32)
    step = max(1, (1 << 22) // (keys.shape[1] * emb.shape[1]))
    for s in range(0, len(rows), step):
        out[s:s + step] = np.einsum("ij,ikj->ik", emb[rows[s:s + step]], emb[keys[s:s + step]])
    return out


def ann_pairs(emb: np.ndarray, threshold: float, k: int = ANN_K, threads: int = 0,
              engine: Engine | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (lower index first, sorted) with exact cosine >= threshold among each document's approximate
    nearest neighbours (usearch HNSW), and their cosines. The index is built here; on a distributed engine
    the searches run by partitions of documents, each on a copy of it (a search depends on the index and
    its document alone, so the pairs are the same)."""
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    shards = _ann_index(emb)
    n = len(emb)
    if engine is not None and engine.distributed:
        slices = [np.arange(s, min(n, s + ANN_PARTITION)) for s in range(0, n, ANN_PARTITION)]
        saved = [bytes(shard.save()) for shard in shards]
        found = list(engine.map(_ann_search_part, slices, saved, emb, threshold, k))
    else:
        found = [_ann_search(shards, emb, np.arange(n), threshold, k, threads)]
    a, b, c = (np.concatenate([f[i] for f in found]) for i in range(3))
    _, first = np.unique(a * n + b, return_index=True)
    return np.stack([a[first], b[first]], axis=1), c[first]


def _ann_index(emb: np.ndarray) -> list[Any]:
    """HNSW shards of at most ANN_SHARD consecutive documents, built in parallel, each on one thread: a graph
    built on several threads depends on their timing, a shard's depends on its documents only. Shards are
    cut by size, not by core count, so every machine builds the same ones."""
    n = len(emb)
    edges = np.linspace(0, n, -(-n // ANN_SHARD) + 1).astype(int)
    with ThreadPoolExecutor(min(len(edges) - 1, os.cpu_count() or 1)) as pool:  # usearch releases the GIL
        return list(pool.map(lambda ab: _ann_shard(emb, *ab), zip(edges[:-1].tolist(), edges[1:].tolist())))


def _ann_shard(emb: np.ndarray, a: int, b: int) -> Any:
    from usearch.index import Index

    index = Index(ndim=emb.shape[1], metric="ip", dtype=_ANN_DTYPE, connectivity=_ANN_CONNECTIVITY,
                  expansion_add=_ANN_EXPANSION_ADD, expansion_search=_ANN_EXPANSION_SEARCH, enable_key_lookups=False)
    index.add(np.arange(a, b, dtype=np.uint64), emb[a:b], threads=1)
    return index


def _ann_search_part(rows: np.ndarray, saved: list[bytes], emb: np.ndarray, threshold: float,
                     k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from usearch.index import Index

    return _ann_search([Index.restore(s) for s in saved], emb, rows, threshold, k, 1)


def _ann_search(shards: list[Any], emb: np.ndarray, rows: np.ndarray, threshold: float, k: int,
                threads: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, cos) with a < b for these rows' neighbours at cosine >= threshold (k from each shard), looking
    further (4x k, up to ANN_K_MAX) for rows whose last neighbour found in some shard is still above it."""
    n = len(emb)
    found_a, found_b, found_c = [], [], []
    while len(rows):
        k = min(k, n)
        keys = np.concatenate([_shard_keys(shard, emb[rows], k, threads) for shard in shards], axis=1)
        valid = (keys >= 0) & (keys < n)
        keys = np.where(valid, keys, rows[:, None])
        cos = _exact_cos(emb, rows, keys)
        hit = valid & (keys != rows[:, None]) & (cos >= threshold)
        r, c = np.nonzero(hit)
        a, b = rows[r], keys[r, c]
        found_a.append(np.minimum(a, b))
        found_b.append(np.maximum(a, b))
        found_c.append(cos[r, c])
        if k >= min(n, ANN_K_MAX):
            break
        saturated = (hit.reshape(len(rows), len(shards), k).sum(axis=2) >= k - 1).any(axis=1)
        rows = rows[saturated]  # some shard's k-th neighbour may still be above: look further
        k *= 4
    return np.concatenate(found_a), np.concatenate(found_b), np.concatenate(found_c)


def _shard_keys(shard: Any, queries: np.ndarray, k: int, threads: int) -> np.ndarray:
    """Each query's k nearest in one shard (-1 where the shard has fewer), as global document indices."""
    shard.expansion_search = max(_ANN_EXPANSION_SEARCH, k)  # usearch has a setter
    keys = shard.search(queries, k, threads=threads).keys.astype(np.int64)  # searches are independent
    keys = keys.reshape(len(queries), -1)
    return np.pad(keys, ((0, 0), (0, k - keys.shape[1])), constant_values=-1) if keys.shape[1] < k else keys


def _links(parent: np.ndarray, a: np.ndarray, b: np.ndarray, cos: np.ndarray,
           pairs_out: list[np.ndarray], scores_out: list[np.ndarray]) -> np.ndarray:
    """Keep the pairs that join two groups (a spanning forest), union them; returns the new parent."""
    new = parent[a] != parent[b]
    a, b, cos = a[new], b[new], cos[new]
    keep = _forest(parent, a, b, cos)
    if keep.any():
        pairs_out.append(np.stack([a[keep], b[keep]], axis=1))
        scores_out.append(np.minimum(cos[keep], 1.0).astype(np.float64))
        parent = union_pairs(parent, a[keep], b[keep])
    return parent


def _partitions(emb: np.ndarray, seed: int) -> list[np.ndarray]:
    """All documents, or (beyond BRUTE_FORCE_MAX, without usearch) overlapping k-means partitions."""
    n = len(emb)
    if n <= BRUTE_FORCE_MAX:
        return [np.arange(n)]
    from ..matching import unit_centroids

    k = int(np.sqrt(n))
    centroids = unit_centroids(emb, k, seed)
    nearest = np.empty((n, 2), dtype=np.int64)
    for s in range(0, n, 65536):
        sims = emb[s:s + 65536] @ centroids.T
        nearest[s:s + 65536] = np.argpartition(-sims, 1, axis=1)[:, :2]
    doc = np.repeat(np.arange(n), 2)
    cluster = nearest.ravel()
    order = np.argsort(cluster, kind="stable")
    bounds = np.searchsorted(cluster[order], np.arange(k + 1))
    return [doc[order[bounds[c]:bounds[c + 1]]] for c in range(k) if bounds[c + 1] - bounds[c] > 1]


def _forest(parent: np.ndarray, a: np.ndarray, b: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Which of these pairs join two groups, strongest first (Kruskal): a spanning forest of the block."""
    keep = np.zeros(len(a), dtype=bool)
    local: dict[int, int] = {}

    def find(x: int) -> int:
        root = local.get(x, x)
        while root != local.get(root, root):
            root = local.get(root, root)
        local[x] = root
        return root

    roots_a, roots_b = parent[a].tolist(), parent[b].tolist()
    for k in np.argsort(-score, kind="stable").tolist():
        ra, rb = find(roots_a[k]), find(roots_b[k])
        if ra != rb:
            local[max(ra, rb)] = min(ra, rb)
            keep[k] = True
    return keep


def semantic_links(emb: np.ndarray, threshold: float, seed: int = 0,
                   engine: Engine | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(pairs, cosines) linking documents whose embeddings have cosine >= threshold; the neighbour search
    runs by partitions on a distributed engine."""
    n = len(emb)
    parent = np.arange(n)
    pairs_out: list[np.ndarray] = []
    scores_out: list[np.ndarray] = []
    if n > BRUTE_FORCE_MAX and _have_usearch():
        pairs, cos = ann_pairs(emb, threshold, engine=engine)
        for s in range(0, len(pairs), _PAIR_BLOCK):
            parent = _links(parent, pairs[s:s + _PAIR_BLOCK, 0], pairs[s:s + _PAIR_BLOCK, 1], cos[s:s + _PAIR_BLOCK],
                            pairs_out, scores_out)
        parts: list[np.ndarray] = []
    else:
        parts = _partitions(emb, seed)
    for part in parts:
        sub = emb[part]
        for s in range(0, len(part), _BLOCK):
            sims = sub[s:s + _BLOCK] @ sub.T
            rows, cols = np.nonzero(sims >= threshold)
            keep = cols > rows + s  # upper triangle: each pair once, no self pairs
            rows, cols = rows[keep], cols[keep]
            if not len(rows):
                continue
            parent = _links(parent, part[rows + s], part[cols], sims[rows, cols], pairs_out, scores_out)
    if not pairs_out:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    return np.concatenate(pairs_out), np.concatenate(scores_out)


def all_pairs(emb: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Every pair with cosine >= threshold, all against all (for previews on samples)."""
    pairs, scores = [], []
    for s in range(0, len(emb), _BLOCK):
        sims = emb[s:s + _BLOCK] @ emb.T
        rows, cols = np.nonzero(sims >= threshold)
        keep = cols > rows + s
        pairs.append(np.stack([rows[keep] + s, cols[keep]], axis=1))
        scores.append(np.minimum(sims[rows[keep], cols[keep]], 1.0).astype(np.float64))
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    return np.concatenate(pairs), np.concatenate(scores)
