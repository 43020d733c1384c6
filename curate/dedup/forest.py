"""Links between groups of similar documents: of the pairs found, only those that join two groups so far,
strongest first (Kruskal), so a group of m documents keeps m - 1 links however many pairs it has."""

from __future__ import annotations

import numpy as np

from .lsh import union_pairs


class Links:
    """The spanning forest of the pairs added so far, over n documents."""

    def __init__(self, n: int):
        self.parent = np.arange(n)
        self._pairs: list[np.ndarray] = []
        self._scores: list[np.ndarray] = []

    def add(self, a: np.ndarray, b: np.ndarray, score: np.ndarray) -> None:
        """Keep the pairs (a < b) that join two groups, strongest first, and join them."""
        parent = self.parent
        new = parent[a] != parent[b]
        a, b, score = a[new], b[new], score[new]
        keep = _forest(parent, a, b, score)
        if keep.any():
            self._pairs.append(np.stack([a[keep], b[keep]], axis=1))
            self._scores.append(np.minimum(score[keep], 1.0).astype(np.float64))
            self.parent = union_pairs(parent, a[keep], b[keep])

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
