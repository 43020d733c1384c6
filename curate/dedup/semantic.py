"""Semantic duplicates: pairs of normalised embeddings with cosine >= threshold.

Up to `BRUTE_FORCE_MAX` documents are compared all against all, in blocks. Beyond that, SemDeDup-style:
k-means (about sqrt(n) clusters) partitions the embeddings, each document joins its two nearest
clusters (so pairs across a boundary are not lost), and documents are compared within clusters only.
As with near duplicates, only links between different groups are kept.
"""

from __future__ import annotations

import numpy as np

from .lsh import union_pairs

BRUTE_FORCE_MAX = 20_000
_BLOCK = 1024


def _partitions(emb: np.ndarray, seed: int) -> list[np.ndarray]:
    n = len(emb)
    if n <= BRUTE_FORCE_MAX:
        return [np.arange(n)]
    from sklearn.cluster import MiniBatchKMeans

    k = int(np.sqrt(n))
    km = MiniBatchKMeans(n_clusters=k, random_state=seed, batch_size=4096, n_init=1).fit(emb)
    centroids = km.cluster_centers_ / np.maximum(np.linalg.norm(km.cluster_centers_, axis=1, keepdims=True), 1e-12)
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


def semantic_links(emb: np.ndarray, threshold: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(pairs, cosines) linking documents whose embeddings have cosine >= threshold."""
    n = len(emb)
    parent = np.arange(n)
    pairs_out: list[np.ndarray] = []
    scores_out: list[np.ndarray] = []
    for part in _partitions(emb, seed):
        sub = emb[part]
        for s in range(0, len(part), _BLOCK):
            sims = sub[s:s + _BLOCK] @ sub.T
            rows, cols = np.nonzero(sims >= threshold)
            keep = cols > rows + s  # upper triangle: each pair once, no self pairs
            rows, cols = rows[keep], cols[keep]
            if not len(rows):
                continue
            a, b = part[rows + s], part[cols]
            new = parent[a] != parent[b]
            a, b, cos = a[new], b[new], sims[rows[new], cols[new]]
            keep = _forest(parent, a, b, cos)
            if keep.any():
                pairs_out.append(np.stack([a[keep], b[keep]], axis=1))
                scores_out.append(np.minimum(cos[keep], 1.0).astype(np.float64))
                parent = union_pairs(parent, a[keep], b[keep])
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
