"""Near-duplicate detection: word-shingle signatures computed for whole batches in numpy, LSH
banding, and every candidate pair verified by its true Jaccard similarity (no false pair is reported).

Why not one `datasketch.MinHash` per document: the per-document Python loop dominates. Here all words
are hashed at once over one byte buffer, shingles are combined arithmetically, and signatures come from
one-permutation hashing with densification: each shingle is hashed once instead of once per
permutation. Its estimates are a little noisier than MinHash's on short texts, which costs nothing here
because every candidate is verified exactly, and its LSH recall was equal on every corpus measured.
Classic MinHash remains available as engine="minhash". `bench/dedup.py` measures both against datasketch and rensa.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from ..gcpause import gc_paused
from .text import words

SHINGLE = 3  # words per shingle
NUM_PERM = 128
_MAX_BUCKET = 64  # buckets larger than this are verified as a star and a chain, not all pairs
_CHUNK_SHINGLES = 1 << 15
_LOW32 = np.uint64(0xFFFFFFFF)
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)


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


def shingle(texts: Iterable[str], n: int = SHINGLE) -> ShingleSets:
    """Word n-gram shingles of each text (a text shorter than n words is one shingle of all its words)."""
    return shingle_words([words(t) for t in texts], n)


def _word_hashes(word_lists: list[list[str]]) -> tuple[np.ndarray, list[int]]:
    """A 64-bit hash of every word, in order, computed over one byte buffer in numpy (no per-word Python
    work): a polynomial over each word's bytes, then a splitmix finaliser. Words never contain spaces or
    newlines (they are runs of word characters), so those separate words and documents."""
    lengths = [len(w) for w in word_lists]
    joined = "\n".join(" ".join(w) for w in word_lists).encode("utf-8", "surrogatepass")
    b = np.frombuffer(joined, dtype=np.uint8)
    if not len(b):
        return np.zeros(0, dtype=np.uint64), lengths
    sep = (b == 32) | (b == 10)
    pos = np.arange(len(b))
    is_start = ~sep & np.concatenate(([True], sep[:-1]))
    starts = np.flatnonzero(is_start)
    start_of = np.maximum.accumulate(np.where(is_start, pos, 0))
    offset = pos - start_of
    with np.errstate(over="ignore"):
        powers = np.cumprod(np.full(int(offset.max()) + 1, 0x100000001B3, dtype=np.uint64))
        contrib = (b.astype(np.uint64) + np.uint64(1)) * powers[offset]
        contrib[sep] = 0
        return _splitmix(np.add.reduceat(contrib, starts), 7), lengths


def shingle_words(word_lists: list[list[str]], n: int = SHINGLE) -> ShingleSets:
    """`shingle` for texts already split into normalised words."""
    ids, lengths = _word_hashes(word_lists)
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


def signatures(sets: ShingleSets, num_perm: int = NUM_PERM, seed: int = 1, threads: int = 2,
               engine: str = "oph") -> np.ndarray:
    """Signatures (n_docs x num_perm, uint32); empty documents get all-ones rows.

    engine "oph" (default): one-permutation hashing, see `signatures_oph`; "minhash": classic MinHash
    with num_perm multiply-shift hash functions (slower, the textbook reference)."""
    if engine == "oph":
        return signatures_oph(sets, num_perm, seed)
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


def _splitmix(x: np.ndarray, seed: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64((0x9E3779B97F4A7C15 * (seed + 1)) % 2**64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def signatures_oph(sets: ShingleSets, num_perm: int = NUM_PERM, seed: int = 1) -> np.ndarray:
    """One-permutation hashing with rotation densification (Shrivastava & Li 2014): each shingle is
    hashed once into one of num_perm bins, keeping the minimum per bin, and an empty bin takes the value
    of the next non-empty bin to its right (circularly), salted by the distance. O(shingles + docs x bins)
    instead of O(shingles x num_perm); measured recall equal to classic MinHash (bench/dedup.py)."""
    if num_perm & (num_perm - 1):
        raise ValueError("num_perm must be a power of two for one-permutation hashing")
    n, k = len(sets), num_perm
    shift = np.uint64(64 - (k.bit_length() - 1))
    h = _splitmix(sets.values, seed)
    empty_val = np.uint32(0xFFFFFFFF)
    sig = np.full(n * k, empty_val, dtype=np.uint32)
    cell = np.repeat(np.arange(n, dtype=np.int64) * k, sets.sizes()) + (h >> shift).astype(np.int64)
    np.minimum.at(sig, cell, (h & np.uint64(0xFFFFFFFF)).astype(np.uint32))
    sig = sig.reshape(n, k)
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
    order = order[np.argsort(keys[order], kind="stable")]
    k = keys[order]
    if len(k) < 2:
        return []
    change = np.flatnonzero(k[1:] != k[:-1]) + 1
    starts = np.concatenate(([0], change))
    sizes = np.diff(np.concatenate((starts, [len(k)])))
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
                    engine: str = "oph") -> NearResult:
    """Verified near-duplicate pairs (true Jaccard >= threshold).

    By default the pairs are the links that connect groups: band by band, only candidates between
    documents not yet in the same group are verified, so a cluster of k near-copies costs about k
    verifications, not k^2, and memory stays linear. `all_pairs=True` returns every verified pair
    (for threshold previews on samples)."""
    with gc_paused():
        return _near_duplicates(sets, threshold, num_perm, seed, sig, threads, all_pairs, engine)


def _near_duplicates(sets, threshold, num_perm, seed, sig, threads, all_pairs, engine) -> NearResult:
    if sig is None:
        sig = signatures(sets, num_perm, seed, threads, engine)
    bands, rows = optimal_bands(threshold, num_perm)
    valid = sets.sizes() > 0
    n = len(sets)
    verifier = _Verifier(sets)
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
    for keys in _band_keys(sig, bands, rows):
        cand = _unique_pairs(_bucket_pairs(keys, valid, star_only=True), n)
        cand = cand[parent[cand[:, 0]] != parent[cand[:, 1]]]
        n_cand += len(cand)
        if not len(cand):
            continue
        # Cheap filter by the signature estimate (generous slack), then exact verification.
        cand = cand[estimate(sig, cand) >= threshold - 0.25]
        scores = verifier(cand)
        ok = scores >= threshold
        found_pairs.append(cand[ok])
        found_scores.append(scores[ok])
        parent = union_pairs(parent, cand[ok, 0], cand[ok, 1])
    pairs = np.concatenate(found_pairs) if found_pairs else np.zeros((0, 2), dtype=np.int64)
    scores = np.concatenate(found_scores) if found_scores else np.zeros(0)
    return NearResult(pairs, scores, n_cand, bands, rows)


class _Verifier:
    """True Jaccard of pairs, with a bounded cache of each document's shingle set. Python sets: at tens
    of shingles per document, set intersection is 4x faster than numpy's per-call overhead."""

    def __init__(self, sets: ShingleSets, cache_size: int = 300_000):
        self.sets, self.cache_size = sets, cache_size
        self.cache: dict[int, frozenset] = {}

    def _get(self, i: int) -> frozenset:
        s = self.cache.get(i)
        if s is None:
            if len(self.cache) >= self.cache_size:
                self.cache.clear()
            off = self.sets.offsets
            # 32 bits of each shingle hash: small ints hash faster, and two documents' sets of tens of
            # shingles share a false 32-bit value with probability ~1e-7.
            s = self.cache[i] = frozenset((self.sets.values[off[i]:off[i + 1]] & _LOW32).tolist())
        return s

    def __call__(self, pairs: np.ndarray) -> np.ndarray:
        get = self._get
        out = np.empty(len(pairs), dtype=np.float64)
        for k, (i, j) in enumerate(pairs.tolist()):
            a, b = get(i), get(j)
            inter = len(a & b)
            out[k] = inter / (len(a) + len(b) - inter)
        return out
