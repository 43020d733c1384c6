"""Links between groups of similar documents: of the pairs found, only those that join two groups so far,
strongest first (Kruskal), so a group of m documents keeps m - 1 links however many pairs it has."""

from __future__ import annotations

import numpy as np

from .lsh import union_pairs

_CHUNK = 65_536  # pairs per pass of the Kruskal loop


class Links:
    """The spanning forest of the pairs added so far, over n documents."""

    def __init__(self, n: int):
        self.parent = np.arange(n)
        self._pairs: list[np.ndarray] = []
        self._scores: list[np.ndarray] = []

    def add(self, a: np.ndarray, b: np.ndarray, score: np.ndarray) -> None:
        """Keep the pairs (a < b) that join two groups, strongest first, and join them. The Kruskal loop is
        Python, so it takes the pairs a chunk at a time and drops, between chunks and in numpy, those the
        groups so far already join: a clique of 1,500 near-copies (1.1M pairs) costs one chunk."""
        order = np.argsort(-score, kind="stable")
        a, b, score = a[order], b[order], score[order]
        while len(a):
            parent = self.parent
            new = parent[a] != parent[b]
            a, b, score = a[new], b[new], score[new]
            ca, cb, cs = a[:_CHUNK], b[:_CHUNK], score[:_CHUNK]
            keep = _forest(parent, ca, cb, cs)
            if keep.any():
                self._pairs.append(np.stack([ca[keep], cb[keep]], axis=1))
                self._scores.append(np.minimum(cs[keep], 1.0).astype(np.float64))
                self.parent = union_pairs(parent, ca[keep], cb[keep])
            a, b, score = a[_CHUNK:], b[_CHUNK:], score[_CHUNK:]

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(pairs, scores) in the order they were kept."""
        if not self._pairs:
            return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
        return np.concatenate(self._pairs), np.concatenate(self._scores)


def _forest(parent: np.ndarray, a: np.ndarray, b: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Which of these pairs join two groups, strongest first (Kruskal): a spanning forest of the block."""
    keep = np.zeros(len(a), dtype=bool)
    local: dict[int, int] = {}

    def find(x: int) -> int:
        while (up := local.get(x, x)) != x:
            local[x] = local.get(up, up)  # path halving: chains stay short
            x = local[x]
        return x

    roots_a, roots_b = parent[a].tolist(), parent[b].tolist()
    for k in np.argsort(-score, kind="stable").tolist():
        ra, rb = find(roots_a[k]), find(roots_b[k])
        if ra != rb:
            local[max(ra, rb)] = min(ra, rb)
            keep[k] = True
    return keep
