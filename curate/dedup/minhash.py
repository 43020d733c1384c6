"""Near-duplicate detection: word-shingle MinHash signatures computed for whole batches in numpy,
LSH banding, and every candidate pair verified by its true Jaccard similarity.

Why not one `datasketch.MinHash` per document: the per-document Python loop dominates. Here each
word is hashed once (cached), shingles are combined arithmetically, and all permutations of all
shingles of a chunk are one vectorised multiply-shift, reduced per document with `minimum.reduceat`.
numpy releases the GIL, so chunks run on all cores. `bench/dedup.py` measures it against datasketch
and rensa with the same shingles.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .text import words

SHINGLE = 3  # words per shingle
NUM_PERM = 128
_MAX_BUCKET = 64  # buckets larger than this are verified as a star and a chain, not all pairs
_CHUNK_SHINGLES = 1 << 15
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)


class _WordHashes(dict):
    """word -> stable 64-bit hash; blake2b once per distinct word, a dict lookup after that."""

    def __missing__(self, word: str) -> int:
        value = int.from_bytes(hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                               "little")
        self[word] = value
        return value


@dataclass
class ShingleSets:
    """The shingle hashes of many documents, concatenated; document i owns values[offsets[i]:offsets[i+1]]."""

    values: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    def of(self, i: int) -> np.ndarray:
        return np.unique(self.values[self.offsets[i]:self.offsets[i + 1]])


def shingle(texts: Iterable[str], n: int = SHINGLE, hashes: dict | None = None) -> ShingleSets:
    """Word n-gram shingles of each text (a text shorter than n words is one shingle of all its words)."""
    return shingle_words((words(t) for t in texts), n, hashes)


def shingle_words(word_lists: Iterable[list[str]], n: int = SHINGLE, hashes: dict | None = None) -> ShingleSets:
    """`shingle` for texts already split into normalised words."""
    table = hashes if hashes is not None else _WordHashes()
    lengths: list[int] = []
    tokens: list[str] = []
    for w in word_lists:
        lengths.append(len(w))
        tokens.extend(w)
    ids = np.fromiter(map(table.__getitem__, tokens), dtype=np.uint64, count=len(tokens))
    lens = np.asarray(lengths, dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lens)))
    with np.errstate(over="ignore"):
        if len(ids) >= n:
            grams = ids[:len(ids) - n + 1] * _MIX[0]
            for k in range(1, n):
                grams = grams + ids[k:len(ids) - n + 1 + k] * _MIX[k % 3]
            grams ^= grams >> np.uint64(29)
        else:
            grams = np.zeros(0, dtype=np.uint64)
        # Document i's n-grams start at starts[i] .. starts[i] + len_i - n; short docs get one shingle.
        n_sh = np.where(lens >= n, lens - n + 1, np.minimum(lens, 1))
        offsets = np.concatenate(([0], np.cumsum(n_sh)))
        values = np.empty(int(offsets[-1]), dtype=np.uint64)
        long_docs = np.flatnonzero(lens >= n)
        if len(long_docs):
            counts = n_sh[long_docs]
            values[_ranges(offsets[long_docs], counts)] = grams[_ranges(starts[long_docs], counts)]
        for d in np.flatnonzero((lens > 0) & (lens < n)):
            acc = np.uint64(0)
            for k, t in enumerate(ids[starts[d]:starts[d] + lens[d]]):
                acc = acc + t * _MIX[k % 3]
            values[offsets[d]] = acc ^ (acc >> np.uint64(29))
    return ShingleSets(values, offsets)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated aranges: [s0, s0+1, ..., s0+l0-1, s1, ...], vectorised.

    >>> _ranges(np.array([5, 20, 7]), np.array([3, 0, 2])).tolist()
    [5, 6, 7, 7, 8]
    """
    keep = lengths > 0
    starts, lengths = starts[keep], lengths[keep]
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    out = np.ones(total, dtype=np.int64)
    out[0] = starts[0]
    jumps = ends[:-1]
    out[jumps] = starts[1:] - (starts[:-1] + lengths[:-1] - 1)
    return np.cumsum(out)


def permutations(num_perm: int = NUM_PERM, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    return a, b


def signatures(sets: ShingleSets, num_perm: int = NUM_PERM, seed: int = 1, threads: int = 2) -> np.ndarray:
    """MinHash signatures (n_docs x num_perm, uint32) by multiply-shift hashing; empty docs get all-ones rows."""
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


def optimal_bands(threshold: float, num_perm: int = NUM_PERM, fn_weight: float = 0.9) -> tuple[int, int]:
    """Bands x rows minimising weighted false-positive and false-negative probability mass around the
    threshold (datasketch's method). Recall is weighted high: every candidate is verified exactly."""
    s_lo = np.linspace(0.0, threshold, 200)
    s_hi = np.linspace(threshold, 1.0, 200)
    best, best_err = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        r = num_perm // b
        if r < 1:
            break
        fp = np.trapezoid(1 - (1 - s_lo ** r) ** b, s_lo)
        fn = np.trapezoid((1 - s_hi ** r) ** b, s_hi)
        err = (1 - fn_weight) * fp + fn_weight * fn
        if err < best_err:
            best, best_err = (b, r), err
    return best


def _bucket_pairs(keys: np.ndarray, valid: np.ndarray) -> list[np.ndarray]:
    order = np.flatnonzero(valid)
    order = order[np.argsort(keys[order], kind="stable")]
    k = keys[order]
    if len(k) < 2:
        return []
    change = np.flatnonzero(k[1:] != k[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [len(k)]))
    multi = np.flatnonzero(ends - starts >= 2)
    out = []
    for s, e in zip(starts[multi], ends[multi]):
        members = order[s:e]
        if len(members) <= _MAX_BUCKET:
            i, j = np.triu_indices(len(members), 1)
            out.append(np.stack([members[i], members[j]], axis=1))
        else:  # a star on the first member and a chain: connects the bucket without k^2 checks
            star = np.stack([np.full(len(members) - 1, members[0]), members[1:]], axis=1)
            chain = np.stack([members[:-1], members[1:]], axis=1)
            out += [star, chain]
    return out


def candidates(sig: np.ndarray, bands: int, rows: int, valid: np.ndarray) -> np.ndarray:
    """Pairs (i < j) sharing at least one LSH band, unique."""
    rng = np.random.default_rng(7)
    mult = rng.integers(1, 2**63, size=rows, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    pairs: list[np.ndarray] = []
    with np.errstate(over="ignore"):
        for band in range(bands):
            block = sig[:, band * rows:(band + 1) * rows].astype(np.uint64)
            keys = (block * mult).sum(axis=1, dtype=np.uint64)
            pairs += _bucket_pairs(keys, valid)
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64)
    allp = np.concatenate(pairs).astype(np.int64)
    allp.sort(axis=1)
    n = np.int64(sig.shape[0])
    code = np.unique(allp[:, 0] * n + allp[:, 1])
    return np.stack([code // n, code % n], axis=1)


def estimate(sig: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Signature agreement: the MinHash estimate of each pair's Jaccard."""
    out = np.empty(len(pairs), dtype=np.float64)
    for s in range(0, len(pairs), 1 << 16):
        p = pairs[s:s + (1 << 16)]
        out[s:s + len(p)] = (sig[p[:, 0]] == sig[p[:, 1]]).mean(axis=1)
    return out


def jaccard(sets: ShingleSets, pairs: np.ndarray) -> np.ndarray:
    """True Jaccard similarity of each pair's shingle sets."""
    cache: dict[int, np.ndarray] = {}

    def get(i: int) -> np.ndarray:
        s = cache.get(i)
        if s is None:
            s = cache[i] = sets.of(i)
        return s

    out = np.empty(len(pairs), dtype=np.float64)
    for k, (i, j) in enumerate(pairs.tolist()):
        a, b = get(i), get(j)
        inter = np.intersect1d(a, b, assume_unique=True).size
        out[k] = inter / (a.size + b.size - inter)
    return out


@dataclass
class NearResult:
    pairs: np.ndarray  # (k, 2) document indices, verified
    scores: np.ndarray  # true Jaccard of each pair
    candidates: int  # LSH candidate pairs before verification
    bands: int
    rows: int


def near_duplicates(sets: ShingleSets, threshold: float, *, num_perm: int = NUM_PERM, seed: int = 1,
                    sig: np.ndarray | None = None, threads: int = 2, min_threshold: float | None = None) -> NearResult:
    """Verified pairs with Jaccard >= threshold. `min_threshold` (<= threshold) widens the LSH net and the
    returned pairs, for threshold previews."""
    lo = min(threshold, min_threshold if min_threshold is not None else threshold)
    if sig is None:
        sig = signatures(sets, num_perm, seed, threads)
    bands, rows = optimal_bands(lo, num_perm)
    valid = sets.sizes() > 0
    cand = candidates(sig, bands, rows, valid)
    # Cheap filter by the signature estimate (generous slack), then exact verification.
    keep = cand[estimate(sig, cand) >= lo - 0.2] if len(cand) else cand
    scores = jaccard(sets, keep) if len(keep) else np.zeros(0)
    ok = scores >= lo
    return NearResult(keep[ok], scores[ok], len(cand), bands, rows)
