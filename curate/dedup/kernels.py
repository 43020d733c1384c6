"""Compiled loops for the hot spots of near-duplicate detection, used where numba is installed.

Signatures and Jaccard verification are plain loops over a few numbers per shingle; numpy has to express
them as whole-array passes (and Python sets for verification), which costs 10-50x more than a compiled
loop on the same data. The results are identical to the numpy paths (tests compare them); without numba
those paths run instead.
"""

from __future__ import annotations

import numpy as np

try:
    import numba

    AVAILABLE = True
except ImportError:  # the numpy paths in signatures.py and lsh.py take over
    AVAILABLE = False
_EMPTY = 0xFFFFFFFF

if AVAILABLE:
    _P = np.uint64(0x100000001B3)
    _GOLDEN_8 = np.uint64((0x9E3779B97F4A7C15 * 8) % 2**64)  # splitmix's increment for seed 7
    _M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
    _S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)

    @numba.njit(cache=True, nogil=True)
    def oph(values, increment, offsets, k, shift):  # pragma: no cover - compiled
        """One-permutation signatures with rotation densification; the same rule as `signatures_oph`,
        with its splitmix of each value (seeded by `increment`) done here, in the same pass."""
        n = len(offsets) - 1
        sig = np.full((n, k), _EMPTY, dtype=np.uint32)
        base = np.empty(k, dtype=np.uint32)
        nxt = np.empty(k, dtype=np.int64)
        for d in range(n):
            lo, hi = offsets[d], offsets[d + 1]
            if lo == hi:
                continue
            for p in range(lo, hi):
                z = values[p] + increment
                z = (z ^ (z >> _S30)) * _M1
                z = (z ^ (z >> _S27)) * _M2
                h = z ^ (z >> _S31)
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
    def jaccard(values, offsets, ready, pairs):  # pragma: no cover - compiled
        """True Jaccard of each pair's sets of shingle hashes. A document's slice of `values` is sorted in
        place the first time a pair needs it (`ready` records which are), so only documents that reach
        verification are ever sorted; repeated values count once."""
        out = np.empty(len(pairs), dtype=np.float64)
        for t in range(len(pairs)):
            i, j = pairs[t, 0], pairs[t, 1]
            for d in (i, j):
                if not ready[d]:
                    values[offsets[d]:offsets[d + 1]].sort()
                    ready[d] = True
            a, a_end, b, b_end = offsets[i], offsets[i + 1], offsets[j], offsets[j + 1]
            inter = 0
            na = 0
            nb = 0
            while a < a_end and b < b_end:
                va, vb = values[a], values[b]
                if va <= vb:
                    na += 1
                    while a < a_end and values[a] == va:
                        a += 1
                if vb <= va:
                    nb += 1
                    while b < b_end and values[b] == vb:
                        b += 1
                if va == vb:
                    inter += 1
            while a < a_end:
                na += 1
                va = values[a]
                while a < a_end and values[a] == va:
                    a += 1
            while b < b_end:
                nb += 1
                vb = values[b]
                while b < b_end and values[b] == vb:
                    b += 1
            union = na + nb - inter
            out[t] = inter / union if union > 0 else 0.0
        return out

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

    @numba.njit(cache=True, nogil=True)
    def text_word_hashes(b, is_word, n_docs):  # pragma: no cover - compiled
        """Word hashes straight from UTF-8 text: documents separated by NUL bytes, words are runs of code
        points marked in `is_word` (the `\\w` of `re`), ASCII letters lowercased (other text arrives
        case-folded). Each word hashes exactly as `word_hashes` hashes it; returns (hashes, words per doc)."""
        out = np.empty(len(b) // 2 + 1, dtype=np.uint64)
        counts = np.zeros(n_docs, dtype=np.int64)
        n = 0
        doc = 0
        acc = np.uint64(0)
        power = np.uint64(1)
        inside = False
        i = 0
        size = len(b)
        while i < size:
            c = b[i]
            if c < 0x80:  # ASCII, most bytes: the same steps as below, without the decoding
                if (97 <= c <= 122) or (48 <= c <= 57) or (65 <= c <= 90) or c == 95:
                    if not inside:
                        inside = True
                        acc = np.uint64(0)
                        power = np.uint64(1)
                    if c <= 90 and c >= 65:
                        c += 32
                    power = power * _P
                    acc = acc + (np.uint64(c) + np.uint64(1)) * power
                else:
                    if inside:
                        out[n] = acc
                        n += 1
                        counts[doc] += 1
                        inside = False
                    if c == 0:
                        doc += 1
                i += 1
                continue
            if c < 0xE0:
                width, cp = 2, c & 0x1F
            elif c < 0xF0:
                width, cp = 3, c & 0x0F
            else:
                width, cp = 4, c & 0x07
            for t in range(1, width):
                cp = (cp << 6) | (b[i + t] & 0x3F)
            if is_word[cp]:
                if not inside:
                    inside = True
                    acc = np.uint64(0)
                    power = np.uint64(1)
                for t in range(width):
                    power = power * _P
                    acc = acc + (np.uint64(b[i + t]) + np.uint64(1)) * power
            elif inside:
                out[n] = acc
                n += 1
                counts[doc] += 1
                inside = False
            i += width
        if inside:
            out[n] = acc
            n += 1
            counts[doc] += 1
        for t in range(n):
            z = out[t] + _GOLDEN_8
            z = (z ^ (z >> _S30)) * _M1
            z = (z ^ (z >> _S27)) * _M2
            out[t] = z ^ (z >> _S31)
        return out[:n], counts

    @numba.njit(cache=True, nogil=True)
    def star_chain_pairs(keys, valid):  # pragma: no cover - compiled
        """The pairs `lsh._bucket_pairs(star_only=True)` makes, found with a hash table instead of a sort:
        documents in index order, each paired with its bucket's first document and with the bucket's
        previous one (when that is not the first)."""
        n = len(keys)
        size = 1
        while size < 2 * n + 2:
            size *= 2
        mask = np.uint64(size - 1)
        table_key = np.empty(size, dtype=np.uint64)
        table_first = np.full(size, -1, dtype=np.int64)
        table_last = np.empty(size, dtype=np.int64)
        out = np.empty((2 * n, 2), dtype=np.int64)
        w = 0
        for d in range(n):
            if not valid[d]:
                continue
            key = keys[d]
            slot = np.int64((key ^ (key >> np.uint64(29))) & mask)
            while table_first[slot] != -1 and table_key[slot] != key:
                slot = (slot + 1) & (size - 1)
            if table_first[slot] == -1:
                table_key[slot] = key
                table_first[slot] = d
                table_last[slot] = d
                continue
            first, last = table_first[slot], table_last[slot]
            out[w, 0] = first
            out[w, 1] = d
            w += 1
            if last != first:
                out[w, 0] = last
                out[w, 1] = d
                w += 1
            table_last[slot] = d
        return out[:w]
