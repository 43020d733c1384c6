"""Union of duplicate pairs into groups, and the choice of one representative per group.

Grouping is single-linkage: a pair links two groups whatever the method. Semantic pairs arrive as stars
(`stars.py`: each links a duplicate to its centre), so chains of meaning do not join here. A group's method is the
loosest method among the links it needs (exact < near < semantic), so "exact" means every member
is an exact duplicate of another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

METHOD_ORDER = {"exact": 0, "near": 1, "semantic": 2}


class UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return int(root)

    def union(self, i: int, j: int) -> bool:
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return False
        if ri > rj:
            ri, rj = rj, ri
        self.parent[rj] = ri  # the smaller index (earlier example) stays root
        return True


@dataclass
class Edge:
    a: int
    b: int
    score: float
    method: str


@dataclass
class Group:
    members: list[int]
    representative: int
    method: str
    edges: list[Edge] = field(default_factory=list)


def build_groups(n: int, edges: Iterable[Edge], quality: Callable[[int], tuple]) -> list[Group]:
    """Groups of 2+ members from the linking edges; the representative maximises `quality(i)`."""
    uf = UnionFind(n)
    kept: list[Edge] = []
    for e in sorted(edges, key=lambda e: (METHOD_ORDER[e.method], -e.score)):
        if uf.union(e.a, e.b):
            kept.append(e)  # only edges that join groups: the evidence that connects each group
    by_root: dict[int, list[int]] = {}
    for e in kept:
        for i in (e.a, e.b):
            by_root.setdefault(uf.find(i), [])
    for i in range(n):
        root = uf.find(i)
        if root in by_root:
            by_root[root].append(i)
    edges_by_root: dict[int, list[Edge]] = {}
    for e in kept:
        edges_by_root.setdefault(uf.find(e.a), []).append(e)
    groups = []
    for root, members in sorted(by_root.items()):
        group_edges = edges_by_root[root]
        method = max((e.method for e in group_edges), key=METHOD_ORDER.__getitem__)
        rep = max(members, key=lambda i: (quality(i), -i))
        groups.append(Group(sorted(members), rep, method, group_edges))
    return groups
