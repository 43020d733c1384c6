"""Word n-gram shingles of many documents at once, as 64-bit hashes in one numpy array.

All words are hashed together over one byte buffer and shingles are combined arithmetically, so there
is no per-word Python work; this is where datasketch's per-document loop spends its time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence, TypeVar

import numpy as np

from . import kernels

if TYPE_CHECKING:
    from .tokens import WordIds

SHINGLE = 3  # words per shingle
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)


def splitmix(x: np.ndarray, seed: int) -> np.ndarray:
    """The splitmix64 finaliser, vectorised: spreads structured 64-bit values into uniform ones."""
    with np.errstate(over="ignore"):
        z = x + np.uint64((0x9E3779B97F4A7C15 * (seed + 1)) % 2**64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))



_S = TypeVar("_S", bound="Segments")


@dataclass
class Segments:
    """Per-document arrays, concatenated: document i owns values[offsets[i]:offsets[i+1]]."""

    values: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    def doc(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i]:self.offsets[i + 1]]

    @classmethod
    def concat(cls: type[_S], parts: Sequence[Segments]) -> _S:
        """Consecutive documents' arrays as one."""
        if not parts:
            return cls(np.zeros(0, dtype=np.uint64), np.zeros(1, dtype=np.int64))
        sizes = np.concatenate([p.sizes() for p in parts])
        return cls(np.concatenate([p.values for p in parts]),
                   np.concatenate(([0], np.cumsum(sizes))).astype(np.int64))


class ShingleSets(Segments):
    """The shingle hashes of many documents."""


def shingle(texts: Sequence[str], n: int = SHINGLE) -> ShingleSets:
    """Word n-gram shingles of each text (a text shorter than n words is one shingle of all its words)."""
    from .tokens import word_ids

    return shingle_ids(word_ids(texts), n)


_CHUNK_DOCS = 20_000  # per byte buffer: the per-byte arrays below cost ~40 bytes per input byte


def word_hashes(word_lists: list[list[str]]) -> tuple[np.ndarray, list[int]]:
    """A 64-bit hash of every word, in order, computed over byte buffers in numpy (no per-word Python
    work): a polynomial over each word's bytes, then a splitmix finaliser. Words never contain spaces or
    newlines (they are runs of word characters), so those separate words and documents. Chunked, so
    memory stays flat however many documents there are."""
    parts = [_word_hashes_chunk(word_lists[s:s + _CHUNK_DOCS]) for s in range(0, len(word_lists), _CHUNK_DOCS)]
    if not parts:
        return np.zeros(0, dtype=np.uint64), []
    return np.concatenate([p[0] for p in parts]), [n for p in parts for n in p[1]]


def _word_hashes_chunk(word_lists: list[list[str]], compiled: bool = True) -> tuple[np.ndarray, list[int]]:
    lengths = [len(w) for w in word_lists]
    joined = "\n".join(" ".join(w) for w in word_lists).encode("utf-8", "surrogatepass")
    b = np.frombuffer(joined, dtype=np.uint8)
    if not len(b):
        return np.zeros(0, dtype=np.uint64), lengths
    if compiled and kernels.AVAILABLE:  # one pass over the bytes instead of ten numpy passes: 8x
        return kernels.word_hashes(b), lengths
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
        return splitmix(np.add.reduceat(contrib, starts), 7), lengths


def shingle_words(word_lists: list[list[str]], n: int = SHINGLE) -> ShingleSets:
    """`shingle` for texts already split into normalised words."""
    ids, lengths = word_hashes(word_lists)
    return _shingles(ids, np.asarray(lengths, dtype=np.int64), n)


def shingle_ids(docs: WordIds, n: int = SHINGLE) -> ShingleSets:
    """`shingle` for documents already hashed into words (`tokens.word_ids`)."""
    return _shingles(docs.values, docs.sizes(), n)


_BLOCK_DOCS = 100_000  # documents shingled at a time: the n-gram temporaries are ~4x their words


def shingles_of(docs: WordIds, index: np.ndarray | None = None, n: int = SHINGLE) -> ShingleSets:
    """`shingle_ids(docs.take(index))` (default: every document), a block of documents at a time into one
    array allocated up front: at 10M documents, a whole-array pass would need gigabytes of temporaries."""
    every = index is None or (len(index) == len(docs) and np.array_equal(index, np.arange(len(docs))))
    lens = docs.sizes() if every else docs.sizes()[index]
    offsets = np.concatenate(([0], np.cumsum(_counts(lens, n)))).astype(np.int64)
    values = np.empty(int(offsets[-1]), dtype=np.uint64)
    for a in range(0, len(lens), _BLOCK_DOCS):
        b = min(len(lens), a + _BLOCK_DOCS)
        part = shingle_ids(docs.slice(a, b) if every or index is None else docs.take(index[a:b]), n)
        values[offsets[a]:offsets[b]] = part.values
    return ShingleSets(values, offsets)


def _shingles(ids: np.ndarray, lens: np.ndarray, n: int) -> ShingleSets:
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
        n_sh = _counts(lens, n)
        offsets = np.concatenate(([0], np.cumsum(n_sh)))
        values = np.empty(int(offsets[-1]), dtype=np.uint64)
        long_docs = np.flatnonzero(lens >= n)
        if len(long_docs):
            counts = n_sh[long_docs]
            values[ranges(offsets[long_docs], counts)] = grams[ranges(starts[long_docs], counts)]
        for d in np.flatnonzero((lens > 0) & (lens < n)):
            acc = np.uint64(0)
            for k, t in enumerate(ids[starts[d]:starts[d] + lens[d]]):
                acc = acc + t * _MIX[k % 3]
            values[offsets[d]] = acc ^ (acc >> np.uint64(29))
    return ShingleSets(values, offsets)


def _counts(lens: np.ndarray, n: int) -> np.ndarray:
    """Shingles per document of `lens` words: every n-gram, or one of all its words if shorter."""
    return np.where(lens >= n, lens - n + 1, np.minimum(lens, 1))


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated aranges: [s0, s0+1, ..., s0+l0-1, s1, ...], vectorised.

    >>> ranges(np.array([5, 20, 7]), np.array([3, 0, 2])).tolist()
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


