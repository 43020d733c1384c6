"""Compiled loops for the two hot spots of near-duplicate detection, used where numba is installed.

Signatures and Jaccard verification are plain loops over a few numbers per shingle; numpy has to express
them as whole-array passes (and Python sets for verification), which costs 10-50x more than a compiled
loop on the same data. The results are identical to the numpy paths (tests compare them); without numba
those paths run instead.
"""

from __future__ import annotations

import numpy as np

try:
    import numba
except ImportError:  # the numpy paths in signatures.py and lsh.py take over
    numba = None

AVAILABLE = numba is not None
_EMPTY = 0xFFFFFFFF

if AVAILABLE:

    @numba.njit(cache=True, nogil=True)
    def oph(hashed, offsets, k, shift):  # pragma: no cover - compiled
        """One-permutation signatures with rotation densification; the same rule as `signatures_oph`."""
        n = len(offsets) - 1
        sig = np.full((n, k), _EMPTY, dtype=np.uint32)
        base = np.empty(k, dtype=np.uint32)
        nxt = np.empty(k, dtype=np.int64)
        for d in range(n):
            lo, hi = offsets[d], offsets[d + 1]
            if lo == hi:
                continue
            for p in range(lo, hi):
                h = hashed[p]
                b = np.int64(h >> np.uint64(shift))
                v = np.uint32(h & np.uint64(_EMPTY))
                if v < sig[d, b]:
                    sig[d, b] = v
            base[:] = sig[d]
            following = -1
            for i in range(2 * k - 1, -1, -1):  # the next filled bin at or after each bin, circularly
                if base[i % k] != _EMPTY:
                    following = i
                if i < k:
                    nxt[i] = following
            for j in range(k):
                if base[j] == _EMPTY:
                    salt = np.uint32(((nxt[j] - j) * 0x85EBCA6B) & _EMPTY)
                    sig[d, j] = base[nxt[j] % k] ^ salt
        return sig

    @numba.njit(cache=True, nogil=True)
    def sorted_sets(values, offsets):  # pragma: no cover - compiled
        """Each document's distinct shingle hashes, sorted, as (values, offsets)."""
        n = len(offsets) - 1
        out = np.empty(len(values), dtype=values.dtype)
        new_offsets = np.empty(n + 1, dtype=np.int64)
        new_offsets[0] = 0
        w = 0
        for d in range(n):
            seg = np.sort(values[offsets[d]:offsets[d + 1]])
            for t in range(len(seg)):
                if t == 0 or seg[t] != seg[t - 1]:
                    out[w] = seg[t]
                    w += 1
            new_offsets[d + 1] = w
        return out[:w], new_offsets

    @numba.njit(cache=True, nogil=True)
    def jaccard(values, offsets, pairs):  # pragma: no cover - compiled
        """True Jaccard of each pair of sorted distinct sets, by merging."""
        out = np.empty(len(pairs), dtype=np.float64)
        for t in range(len(pairs)):
            i, j = pairs[t, 0], pairs[t, 1]
            a, a_end, b, b_end = offsets[i], offsets[i + 1], offsets[j], offsets[j + 1]
            inter = 0
            while a < a_end and b < b_end:
                if values[a] == values[b]:
                    inter += 1
                    a += 1
                    b += 1
                elif values[a] < values[b]:
                    a += 1
                else:
                    b += 1
            union = (offsets[i + 1] - offsets[i]) + (offsets[j + 1] - offsets[j]) - inter
            out[t] = inter / union if union > 0 else 0.0
        return out

    _P = np.uint64(0x100000001B3)
    _GOLDEN_8 = np.uint64((0x9E3779B97F4A7C15 * 8) % 2**64)  # splitmix's increment for seed 7
    _M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
    _S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)

    @numba.njit(cache=True, nogil=True)
    def word_hashes(b):  # pragma: no cover - compiled
        """`shingles._word_hashes_chunk` in one pass over the bytes: per word, the sum of (byte + 1) x
        P^(position + 1), then the splitmix finaliser with seed 7. Words are separated by spaces/newlines."""
        out = np.empty(len(b) // 2 + 1, dtype=np.uint64)
        n = 0
        acc = np.uint64(0)
        power = np.uint64(1)
        inside = False
        for i in range(len(b)):
            c = b[i]
            if c == 32 or c == 10:
                if inside:
                    out[n] = acc
                    n += 1
                    inside = False
                continue
            if not inside:
                inside = True
                acc = np.uint64(0)
                power = np.uint64(1)
            power = power * _P
            acc = acc + (np.uint64(c) + np.uint64(1)) * power
        if inside:
            out[n] = acc
            n += 1
        for t in range(n):
            z = out[t] + _GOLDEN_8
            z = (z ^ (z >> _S30)) * _M1
            z = (z ^ (z >> _S27)) * _M2
            out[t] = z ^ (z >> _S31)
        return out[:n]
