"""Signatures for LSH: one-permutation hashing with densification (the default) or classic MinHash.

One-permutation hashing hashes each shingle once into one of num_perm bins instead of once per
permutation. Its estimates are a little noisier than MinHash's on short texts, which costs nothing
here because every candidate is verified exactly, and its LSH recall was equal on every corpus
measured (`bench/dedup.py`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import kernels
from .shingles import ShingleSets, splitmix

NUM_PERM = 128
_CHUNK_SHINGLES = 1 << 15


def permutations(num_perm: int = NUM_PERM, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    return a, b


def signatures(sets: ShingleSets, num_perm: int = NUM_PERM, seed: int = 1, threads: int = 2,
               engine: str = "oph") -> np.ndarray:
    """Signatures (n_docs x num_perm, uint32); empty documents get all-ones rows.

    engine "oph" (default): one-permutation hashing, see `signatures_oph`; "minhash": classic MinHash
    with num_perm multiply-shift hash functions (slower, the textbook reference)."""
    if engine == "oph":
        return signatures_oph(sets, num_perm, seed, threads=threads)
    if engine != "minhash":
        raise ValueError(f"unknown signature engine {engine!r}")
    a, b = permutations(num_perm, seed)
    n = len(sets)
    sig = np.full((n, num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    sizes = sets.sizes()
    docs = np.flatnonzero(sizes > 0)
    # Chunks of whole documents holding about _CHUNK_SHINGLES shingles each.
    bounds = [0]
    acc = 0
    for pos, d in enumerate(docs):
        acc += sizes[d]
        if acc >= _CHUNK_SHINGLES:
            bounds.append(pos + 1)
            acc = 0
    if bounds[-1] != len(docs):
        bounds.append(len(docs))

    def work(k: int) -> None:
        chunk = docs[bounds[k]:bounds[k + 1]]
        lo, hi = sets.offsets[chunk[0]], sets.offsets[chunk[-1] + 1]
        x = sets.values[lo:hi]
        buf = np.empty((len(x), num_perm), dtype=np.uint64)
        with np.errstate(over="ignore"):
            np.multiply(x[:, None], a[None, :], out=buf)
            buf += b
        buf >>= np.uint64(32)
        starts = sets.offsets[chunk] - lo
        sig[chunk] = np.minimum.reduceat(buf, starts, axis=0).astype(np.uint32)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        list(pool.map(work, range(len(bounds) - 1)))
    return sig


_MIN_DOCS_PER_THREAD = 2_000  # below this a thread costs more than it saves
_MAX_DOCS_PER_PART = 1 << 16  # each part's rows are a temporary copy: 32 MB at most, not a second `sig`


def _split_docs(n: int, threads: int) -> list[tuple[int, int]]:
    parts = max(1, min(threads, n // _MIN_DOCS_PER_THREAD))
    if parts > 1:
        parts = max(parts, -(-n // _MAX_DOCS_PER_PART))
    edges = np.linspace(0, n, parts + 1).astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def signatures_oph(sets: ShingleSets, num_perm: int = NUM_PERM, seed: int = 1, compiled: bool = True,
                   threads: int = 1) -> np.ndarray:
    """One-permutation hashing with rotation densification (Shrivastava & Li 2014): each shingle is
    hashed once into one of num_perm bins, keeping the minimum per bin, and an empty bin takes the value
    of the next non-empty bin to its right (circularly), salted by the distance. O(shingles + docs x bins)
    instead of O(shingles x num_perm); measured recall equal to classic MinHash (bench/dedup.py)."""
    if num_perm & (num_perm - 1):
        raise ValueError("num_perm must be a power of two for one-permutation hashing")
    n, k = len(sets), num_perm
    shift = np.uint64(64 - (k.bit_length() - 1))
    if compiled and kernels.AVAILABLE:
        increment = np.uint64((0x9E3779B97F4A7C15 * (seed + 1)) % 2**64)  # as in `splitmix`
        offsets = sets.offsets.astype(np.int64)
        parts = _split_docs(n, threads)
        if len(parts) == 1:
            return kernels.oph(sets.values, increment, offsets, k, int(shift))
        # The kernel releases the GIL: documents split across threads, each part into its rows of `sig`.
        sig = np.empty((n, k), dtype=np.uint32)

        def part(bounds: tuple[int, int]) -> None:
            lo, hi = bounds
            sig[lo:hi] = kernels.oph(sets.values, increment, offsets[lo:hi + 1], k, int(shift))

        with ThreadPoolExecutor(min(threads, len(parts))) as pool:
            list(pool.map(part, parts))
        return sig
    h = splitmix(sets.values, seed)
    empty_val = np.uint32(0xFFFFFFFF)
    flat = np.full(n * k, empty_val, dtype=np.uint32)
    cell = np.repeat(np.arange(n, dtype=np.int64) * k, sets.sizes()) + (h >> shift).astype(np.int64)
    np.minimum.at(flat, cell, (h & np.uint64(0xFFFFFFFF)).astype(np.uint32))
    sig = flat.reshape(n, k)
    filled = sig != empty_val
    rows = np.flatnonzero(~filled.all(axis=1) & filled.any(axis=1))
    for lo in range(0, len(rows), 1 << 14):  # dense array work, in slices to bound memory
        r = rows[lo:lo + (1 << 14)]
        f, base = filled[r], sig[r]
        pos = np.where(np.concatenate([f, f], axis=1), np.arange(2 * k), 2 * k)
        nxt = np.minimum.accumulate(pos[:, ::-1], axis=1)[:, ::-1][:, :k]
        dist = (nxt - np.arange(k)).astype(np.uint32)
        borrowed = np.take_along_axis(base, nxt % k, axis=1) ^ (dist * np.uint32(0x85EBCA6B))
        sig[r] = np.where(f, base, borrowed)
    return sig


