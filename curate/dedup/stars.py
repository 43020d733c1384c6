"""Semantic groups as stars: every duplicate within the threshold of the example it is grouped under.

The neighbour search keeps a spanning forest of the pairs it finds, which joins documents by chains: on
banking77 conversations with the static embedder one chain held 2,575 examples of 21 intents, most of them
far from the one kept, and each was reported as its duplicate. As semhash does, a group is instead a centre
and the documents within the threshold of it. Centres are taken best first (the order that picks a group's
representative); each takes every document of its chain not yet taken whose cosine to it reaches the
threshold, and a document that no centre takes is a centre itself (it may take nothing and stay alone). Only
the members of one chain can be within the threshold of each other, so chains are split one at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..vectors import rows as unit_rows
from .lsh import union_pairs

STAR_BUDGET = 2_000_000_000  # cosines computed over all chains (~30 s on 2 cores); past it, chains stay chains
_MAX_CHAIN_BYTES = 2 << 30  # a chain's float32 rows, held while it is split; a longer chain stays a chain
_CELLS = 1 << 24  # entries of one product of the rest of a chain against a block of candidate centres


def stars(emb: np.ndarray, pairs: np.ndarray, cos: np.ndarray, threshold: float, rank: np.ndarray,
          budget: int | None = None, stats: dict[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(pairs, cosines) of (centre, member) links replacing the chains of `pairs` (rows of `emb`); `rank[i]`
    orders the documents best first (lower is better). Links of two documents are kept as they are; a chain
    left when the budget is spent keeps its links, and `stats` says how many documents that left chained."""
    budget = STAR_BUDGET if budget is None else budget
    if not len(pairs):
        if stats is not None:
            stats["stars"] = {"chains": 0, "cosines": 0, "left_chained": 0}
        return pairs.astype(np.int64).reshape(-1, 2), np.minimum(cos, 1.0).astype(np.float64)
    comp = union_pairs(np.arange(len(emb)), pairs[:, 0], pairs[:, 1])
    pair_root = comp[pairs[:, 0]]
    roots, sizes = np.unique(pair_root, return_counts=True)
    chained = set(roots[sizes >= 2].tolist())  # two links or more: three documents or more
    keep = ~np.isin(pair_root, list(chained))
    out_pairs, out_cos = [pairs[keep]], [cos[keep]]
    spent, left = 0, []
    members_of = _members(comp, chained)
    for root in sorted(chained, key=lambda r: len(members_of[r])):  # small chains first: most fit the budget
        members = members_of[root]
        members = members[np.lexsort((members, rank[members]))]
        split, cost = _split(emb, members, threshold, budget - spent)
        spent += cost  # a chain given up on costs what it computed too, so the budget bounds the work
        if split is None:  # too long to hold, or past the budget: this chain stays as it was found
            left.append(root)
            continue
        centre, member, sim = split
        out_pairs.append(np.stack([members[centre], members[member]], axis=1))
        out_cos.append(sim)
    if left:
        mine = np.isin(pair_root, left)
        out_pairs.append(pairs[mine])
        out_cos.append(cos[mine])
    if stats is not None:
        stats["stars"] = {"chains": len(chained), "cosines": int(spent),
                          "left_chained": int(sum(len(members_of[r]) for r in left))}
    found = np.concatenate(out_pairs).astype(np.int64).reshape(-1, 2)
    lo, hi = found.min(axis=1), found.max(axis=1)
    return np.stack([lo, hi], axis=1), np.minimum(np.concatenate(out_cos), 1.0).astype(np.float64)


def _members(comp: np.ndarray, chained: set[int]) -> dict[int, np.ndarray]:
    inside = np.flatnonzero(np.isin(comp, list(chained)))
    order = inside[np.argsort(comp[inside], kind="stable")]
    bounds = np.flatnonzero(np.diff(comp[order])) + 1
    return {int(comp[part[0]]): part for part in np.split(order, bounds) if len(part)}


def _split(emb: np.ndarray, members: np.ndarray, threshold: float,
           budget: int) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray] | None, int]:
    """Greedy stars over one chain, its members best first: (centre, member, cosine) positions, or None where
    its rows would pass _MAX_CHAIN_BYTES or its cosines `budget`; and the cosines computed. Candidate
    centres are taken a block at a time, one product against the documents still free (gathered again when
    half of them have been taken)."""
    if len(members) * emb.shape[1] * 4 > _MAX_CHAIN_BYTES:
        return None, 0
    vecs = unit_rows(emb, members)
    m = len(vecs)
    free = np.ones(m, dtype=bool)
    live, live_vecs = np.arange(m), vecs
    centres, taken_by, sims = [], [], []
    cost, k = 0, 0
    while k < m:
        if free[live].sum() * 2 < len(live):
            live = live[free[live]]
            live_vecs = vecs[live]
            if not len(live):
                break
        block = live[(live >= k) & free[live]][:max(1, min(256, _CELLS // len(live)))]
        if not len(block):
            break
        if cost + len(live) * len(block) > budget:
            return None, cost
        cost += len(live) * len(block)
        products = live_vecs @ vecs[block].T
        for j, c in enumerate(block.tolist()):
            if not free[c]:
                continue  # taken by a centre earlier in this block
            free[c] = False
            taken = (products[:, j] >= threshold) & free[live]
            hit = live[taken]
            free[hit] = False
            centres.append(np.full(len(hit), c))
            taken_by.append(hit)
            sims.append(products[taken, j])
        k = int(block[-1]) + 1
    if not centres:
        return (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)), cost
    return (np.concatenate(centres), np.concatenate(taken_by), np.concatenate(sims).astype(np.float64)), cost
