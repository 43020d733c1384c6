"""Near-duplicate pairs: LSH banding over signatures, and every candidate verified by its true
Jaccard similarity, so no false pair is reported. `bench/dedup.py` measures it against datasketch and rensa.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ..gcpause import gc_paused
from . import kernels
from .shingles import ShingleSets, ranges
from .signatures import NUM_PERM, signatures

ByBand = Callable[[np.ndarray, int, int, np.ndarray], Iterator[np.ndarray]]  # (sig, bands, rows, valid) -> pairs

_MAX_BUCKET = 64  # buckets larger than this are verified as a star and a chain, not all pairs
_LOW32 = np.uint64(0xFFFFFFFF)


def optimal_bands(threshold: float, num_perm: int = NUM_PERM, recall_at_threshold: float = 0.995) -> tuple[int, int]:
    """Bands x rows: the most rows per band (fewest false candidates) that still make a pair *at* the
    threshold a candidate with probability >= recall_at_threshold. Recall first, since every candidate
    is verified exactly and false candidates only cost time.

    >>> optimal_bands(0.7, 128)
    (32, 4)
    """
    for r in range(num_perm, 0, -1):
        b = num_perm // r
        if 1 - (1 - threshold ** r) ** b >= recall_at_threshold:
            return b, r
    return num_perm, 1


def _bucket_pairs(keys: np.ndarray, valid: np.ndarray, star_only: bool = False) -> list[np.ndarray]:
    """Pairs of documents sharing a key. `star_only`: each bucket as a star on its first member plus a
    chain (2(k-1) pairs instead of k(k-1)/2), for runs that only need to connect groups."""
    order = np.flatnonzero(valid)
    order = order[np.argsort(keys[order])]  # quicksort: 6x a stable sort; ties are put in order below
    k = keys[order]
    if len(k) < 2:
        return []
    change = np.flatnonzero(k[1:] != k[:-1]) + 1
    starts = np.concatenate(([0], change))
    sizes = np.diff(np.concatenate((starts, [len(k)])))
    _members_in_index_order(order, starts, sizes)
    out = []
    if star_only:
        multi = sizes >= 2
        member_bucket = np.repeat(np.arange(len(starts)), sizes)
        pos = np.arange(len(k))
        not_first = (pos != starts[member_bucket]) & multi[member_bucket]
        first = order[starts[member_bucket[not_first]]]
        out.append(np.stack([first, order[pos[not_first]]], axis=1))
        chain = not_first & (pos - 1 != starts[member_bucket])  # (prev, this) where prev is not the first
        out.append(np.stack([order[pos[chain] - 1], order[pos[chain]]], axis=1))
        return out
    # All buckets of one size at once: their pairs are the same offsets from each bucket's start.
    for size in np.unique(sizes[(sizes >= 2) & (sizes <= _MAX_BUCKET)]).tolist():
        i, j = np.triu_indices(size, 1)
        s = starts[sizes == size][:, None]
        out.append(np.stack([order[(s + i).ravel()], order[(s + j).ravel()]], axis=1))
    for s, size in zip(starts[sizes > _MAX_BUCKET].tolist(), sizes[sizes > _MAX_BUCKET].tolist()):
        members = order[s:s + size]  # a star on the first member and a chain: connected without k^2 checks
        out.append(np.stack([np.full(size - 1, members[0]), members[1:]], axis=1))
        out.append(np.stack([members[:-1], members[1:]], axis=1))
    return out


def _members_in_index_order(order: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> None:
    """Sort each bucket's members by document index, in place, as a stable sort would have left them, so
    pairs do not depend on the sort algorithm. Only shared buckets are touched (few, at real thresholds)."""
    multi = np.flatnonzero(sizes >= 2)
    if not len(multi):
        return
    pos = ranges(starts[multi], sizes[multi])
    bucket = np.repeat(np.arange(len(multi), dtype=np.int64), sizes[multi])
    n = np.int64(order.max()) + 1  # above every document index (not len(order): invalid ones are left out)
    order[pos] = np.sort(bucket * n + order[pos]) % n


def _band_keys(sig: np.ndarray, bands: int, rows: int) -> Iterator[np.ndarray]:
    """One 64-bit key per document per band. Bands take bins from all over the signature: densified
    neighbours are correlated, and a band of adjacent bins would collide more often than its rows suggest."""
    rng = np.random.default_rng(7)
    mult = rng.integers(1, 2**63, size=rows, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    columns = rng.permutation(sig.shape[1])
    with np.errstate(over="ignore"):
        for band in range(bands):
            block = sig[:, columns[band * rows:(band + 1) * rows]].astype(np.uint64)
            yield (block * mult).sum(axis=1, dtype=np.uint64)


def _unique_pairs(pairs: list[np.ndarray], n: int) -> np.ndarray:
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64)
    allp = np.concatenate(pairs).astype(np.int64)
    allp.sort(axis=1)
    allp = allp[allp[:, 0] != allp[:, 1]]
    code = np.unique(allp[:, 0] * np.int64(n) + allp[:, 1])
    return np.stack([code // n, code % n], axis=1)


def candidates(sig: np.ndarray, bands: int, rows: int, valid: np.ndarray) -> np.ndarray:
    """All pairs (i < j) sharing at least one LSH band, unique."""
    pairs: list[np.ndarray] = []
    for keys in _band_keys(sig, bands, rows):
        pairs += _bucket_pairs(keys, valid)
    return _unique_pairs(pairs, sig.shape[0])


def roots(parent: np.ndarray) -> np.ndarray:
    """Union-find roots of every element at once, by pointer jumping."""
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def union_pairs(parent: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Union many pairs at once (the smaller root wins); returns the compressed parent array."""
    while len(a):
        parent = roots(parent)
        ra, rb = parent[a], parent[b]
        differ = ra != rb
        a, b, ra, rb = a[differ], b[differ], ra[differ], rb[differ]
        if not len(a):
            break
        parent[np.maximum(ra, rb)] = np.minimum(ra, rb)  # conflicting writes: one wins, the loop redoes the rest
    return roots(parent)


def estimate(sig: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Signature agreement: the MinHash estimate of each pair's Jaccard."""
    out = np.empty(len(pairs), dtype=np.float64)
    for s in range(0, len(pairs), 1 << 16):
        p = pairs[s:s + (1 << 16)]
        out[s:s + len(p)] = (sig[p[:, 0]] == sig[p[:, 1]]).mean(axis=1)
    return out


def jaccard(sets: ShingleSets, pairs: np.ndarray) -> np.ndarray:
    """True Jaccard similarity of each pair's shingle sets."""
    return _Verifier(sets)(pairs)


@dataclass
class NearResult:
    pairs: np.ndarray  # (k, 2) document indices, verified
    scores: np.ndarray  # true Jaccard of each pair
    candidates: int  # LSH candidate pairs before verification
    bands: int
    rows: int


def near_duplicates(sets: ShingleSets, threshold: float, *, num_perm: int = NUM_PERM, seed: int = 1,
                    sig: np.ndarray | None = None, threads: int = 2, all_pairs: bool = False,
                    engine: str = "oph", by_band: ByBand | None = None) -> NearResult:
    """Verified near-duplicate pairs (true Jaccard >= threshold).

    By default the pairs are the links that connect groups: band by band, only candidates between
    documents not yet in the same group are verified, so a cluster of k near-copies costs about k
    verifications, not k^2, and memory stays linear. `all_pairs=True` returns every verified pair
    (for threshold previews on samples). `by_band` yields each band's bucket candidates (default: here, band
    by band; dedup/partitioned.py runs them on a distributed engine). Each document's shingles in `sets` are
    sorted in place (a set's order means nothing; a copy would double the largest array of a run)."""
    with gc_paused():
        return _near_duplicates(sets, threshold, num_perm, seed, sig, threads, all_pairs, engine, by_band)


def band_candidates(sig: np.ndarray, bands: int, rows: int, valid: np.ndarray) -> Iterator[np.ndarray]:
    """Each band's bucket candidates as star-and-chain pairs, in band order."""
    for keys in _band_keys(sig, bands, rows):
        yield star_chain(keys, valid)


def star_chain(keys: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """One band's star-and-chain pairs: distinct, and already (smaller, larger)."""
    if kernels.AVAILABLE:  # a hash table in one pass instead of a sort: the same pairs
        return kernels.star_chain_pairs(keys, valid)
    return np.concatenate(_bucket_pairs(keys, valid, star_only=True) or [np.zeros((0, 2), np.int64)])


def _near_duplicates(sets, threshold, num_perm, seed, sig, threads, all_pairs, engine, by_band) -> NearResult:
    if sig is None:
        sig = signatures(sets, num_perm, seed, threads, engine)
    bands, rows = optimal_bands(threshold, num_perm)
    valid = sets.sizes() > 0
    n = len(sets)
    verifier = _Verifier(sets, in_place=True)
    if all_pairs:
        cand = candidates(sig, bands, rows, valid)
        keep = cand[estimate(sig, cand) >= threshold - 0.25] if len(cand) else cand
        scores = verifier(keep)
        ok = scores >= threshold
        return NearResult(keep[ok], scores[ok], len(cand), bands, rows)
    parent = np.arange(n)
    found_pairs: list[np.ndarray] = []
    found_scores: list[np.ndarray] = []
    n_cand = 0
    for cand in (by_band or band_candidates)(sig, bands, rows, valid):
        cand = cand[parent[cand[:, 0]] != parent[cand[:, 1]]]
        n_cand += len(cand)
        if not len(cand):
            continue
        # Cheap filter by the signature estimate (generous slack), then exact verification.
        cand = cand[estimate(sig, cand) >= threshold - 0.25]
        scores = verifier(cand)
        ok = np.flatnonzero(scores >= threshold)
        ok = ok[np.lexsort((cand[ok, 1], cand[ok, 0]))]  # reported in (a, b) order within a band
        found_pairs.append(cand[ok])
        found_scores.append(scores[ok])
        parent = union_pairs(parent, cand[ok, 0], cand[ok, 1])
    pairs = np.concatenate(found_pairs) if found_pairs else np.zeros((0, 2), dtype=np.int64)
    scores = np.concatenate(found_scores) if found_scores else np.zeros(0)
    return NearResult(pairs, scores, n_cand, bands, rows)


class _Verifier:
    """True Jaccard of pairs. Compiled: a merge over each document's sorted distinct shingles. Without
    numba: Python sets with a bounded cache (at tens of shingles per document, 4x faster than numpy's
    per-call overhead), on 32 bits of each hash (two documents share a false value with p ~1e-7)."""

    def __init__(self, sets: ShingleSets, cache_size: int = 300_000, compiled: bool = True, in_place: bool = False):
        self.sets, self.cache_size, self.in_place = sets, cache_size, in_place
        self.cache: dict[int, frozenset] = {}
        self.compiled = compiled and kernels.AVAILABLE
        self._sorted: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _get(self, i: int) -> frozenset:
        s = self.cache.get(i)
        if s is None:
            if len(self.cache) >= self.cache_size:
                self.cache.clear()
            off = self.sets.offsets
            s = self.cache[i] = frozenset((self.sets.values[off[i]:off[i + 1]] & _LOW32).tolist())
        return s

    def __call__(self, pairs: np.ndarray) -> np.ndarray:
        if self.compiled:
            if self._sorted is None:  # the kernel sorts documents as it meets them: in a copy unless in_place
                values = self.sets.values if self.in_place else self.sets.values.copy()
                self._sorted = (values, self.sets.offsets.astype(np.int64),
                                np.zeros(len(self.sets), dtype=np.bool_))
            return kernels.jaccard(*self._sorted, np.ascontiguousarray(pairs, dtype=np.int64))
        get = self._get
        out = np.empty(len(pairs), dtype=np.float64)
        for k, (i, j) in enumerate(pairs.tolist()):
            a, b = get(i), get(j)
            inter = len(a & b)
            union = len(a) + len(b) - inter
            out[k] = inter / union if union else 0.0
        return out
