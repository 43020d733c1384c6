"""Documents as sequences of 64-bit word hashes: the form exact and near dedup compare.

`word_ids` hashes the normalised words of many texts (see `text.words`) without building a Python string
per word: with the compiled kernels it reads each chunk of texts as one UTF-8 buffer (5x `words()` on
real texts, 7x on short ones, in a fraction of the memory of word lists). The hashes are the same
either way (tested).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Sequence

import numpy as np

from . import kernels
from .shingles import Segments, ranges, splitmix, word_hashes
from .text import words

_CHUNK_DOCS = 20_000  # per byte buffer: memory stays flat however many documents there are
_MIN_CHUNK = 2_000  # smaller chunks cost more in thread hand-offs than they save


class WordIds(Segments):
    """The word hashes of many documents, in order."""

    def take(self, index: Sequence[int] | np.ndarray) -> WordIds:
        index = np.asarray(index, dtype=np.int64)
        sizes = self.sizes()[index]
        return WordIds(self.values[ranges(self.offsets[index], sizes)],
                       np.concatenate(([0], np.cumsum(sizes))).astype(np.int64))

    def slice(self, a: int, b: int) -> WordIds:
        """Documents a..b-1, sharing the values array."""
        lo, hi = self.offsets[a], self.offsets[b]
        return WordIds(self.values[lo:hi], self.offsets[a:b + 1] - lo)

    def __add__(self, other: WordIds) -> WordIds:
        return WordIds(np.concatenate([self.values, other.values]),
                       np.concatenate([self.offsets, other.offsets[1:] + self.offsets[-1]]))

    def same(self, i: int, j: int) -> bool:
        """Whether documents i and j have the same normalised words."""
        return np.array_equal(self.doc(i), self.doc(j))

    def keys(self) -> np.ndarray:
        """A 64-bit key per document from its words and their order; equal documents get equal keys
        (different ones collide with p ~ n^2 / 2^65, so callers confirm with `same`). Computed a block of
        documents at a time: the per-word temporaries would otherwise be several times the words' size."""
        n = len(self)
        out = np.empty(n, dtype=np.uint64)
        start = 0
        while start < n:
            end = int(np.searchsorted(self.offsets, self.offsets[start] + _KEY_BLOCK_WORDS, side="right")) - 1
            end = min(n, max(end, start + 1))
            out[start:end] = self.slice(start, end)._keys()
            start = end
        return out

    def _keys(self) -> np.ndarray:
        n = len(self)
        doc = np.repeat(np.arange(n, dtype=np.int64), self.sizes())
        pos = np.arange(len(self.values), dtype=np.int64) - self.offsets[doc]
        with np.errstate(over="ignore"):
            mixed = splitmix(self.values ^ splitmix(pos.astype(np.uint64), 3), 5)
            total = np.zeros(n, dtype=np.uint64)
            _sum_segments(mixed, self.offsets, total)
            return splitmix(total ^ self.sizes().astype(np.uint64), 9)


_KEY_BLOCK_WORDS = 1 << 22  # words per block of `keys`: ~200 MB of temporaries at most


class WordSpill:
    """Documents' words written to a file chunk by chunk, then mapped back: words wait on disk while other
    arrays hold the memory (dedup's turns during the key's signatures; export's conversations until the
    leakage check), and the OS pages them in when they are read."""

    def __init__(self, path: Path):
        self.path, self.sizes = path, [np.zeros(0, dtype=np.int64)]
        self._fh: BinaryIO | None = open(path, "wb")

    def add(self, docs: WordIds) -> None:
        assert self._fh is not None, "add after words()"
        docs.values.astype(np.uint64, copy=False).tofile(self._fh)
        self.sizes.append(docs.sizes())

    def words(self) -> WordIds:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        offsets = np.concatenate(([0], np.cumsum(np.concatenate(self.sizes)))).astype(np.int64)
        values = np.memmap(self.path, dtype=np.uint64, mode="r") if offsets[-1] else np.zeros(0, dtype=np.uint64)
        return WordIds(values, offsets)


def _sum_segments(values: np.ndarray, offsets: np.ndarray, out: np.ndarray) -> None:
    nonempty = np.flatnonzero(np.diff(offsets) > 0)
    if len(nonempty):
        with np.errstate(over="ignore"):
            out[nonempty] = np.add.reduceat(values, offsets[nonempty])


def word_ids(texts: Sequence[str], threads: int = 2) -> WordIds:
    """The word hashes of each text's normalised words (`words(text)`), in order. With the compiled
    kernel, chunks go to `threads` threads: the kernel releases the GIL while the next chunk is prepared."""
    size = min(_CHUNK_DOCS, max(_MIN_CHUNK, -(-len(texts) // max(1, threads))))
    chunks = [texts[s:s + size] for s in range(0, len(texts), size)]
    if kernels.AVAILABLE and threads > 1 and len(chunks) > 1:
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(_chunk, chunks))
    else:
        results = [_chunk(c) for c in chunks]
    vals = [v for v, _ in results]
    counts = [c for _, c in results]
    sizes = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
    values = np.concatenate(vals) if vals else np.zeros(0, dtype=np.uint64)
    return WordIds(values, np.concatenate(([0], np.cumsum(sizes))).astype(np.int64))


def word_ids_of_lists(word_lists: Sequence[list[str]]) -> WordIds:
    """`word_ids` for texts already split into normalised words."""
    values, lengths = word_hashes(list(word_lists))
    return WordIds(values, np.concatenate(([0], np.cumsum(lengths))).astype(np.int64))


def _chunk(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    if not kernels.AVAILABLE:
        values, lengths = word_hashes([words(t) for t in texts])
        return values, np.asarray(lengths, dtype=np.int64)
    # NFKC and case folding stay in Python's C code (ASCII text needs neither: the kernel lowercases it).
    prepped = [t if t.isascii() else unicodedata.normalize("NFKC", t).casefold() for t in texts]
    joined = "\x00".join(prepped)
    if joined.count("\x00") != len(prepped) - 1:  # a NUL inside a text is a separator like any other
        joined = "\x00".join(t.replace("\x00", " ") for t in prepped)
    b = np.frombuffer(joined.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    table = _word_table() if not joined.isascii() else _ASCII_ONLY
    return kernels.text_word_hashes(b, table, len(texts))


_ASCII_ONLY = np.zeros(1, dtype=np.uint8)  # never read: ASCII is classified in the kernel
_TABLE: list[np.ndarray] = []
_TABLE_LOCK = threading.Lock()


def _word_table() -> np.ndarray:
    """For every code point, whether `re`'s `\\w` matches it (built once, from `re` itself: 0.13 s)."""
    with _TABLE_LOCK:
        return _TABLE[0] if _TABLE else _build_table()


def _build_table() -> np.ndarray:
    table = np.zeros(0x110000, dtype=np.uint8)
    for m in re.finditer(r"\w+", "".join(map(chr, range(0x110000)))):
        table[m.start():m.end()] = 1
    _TABLE.append(table)
    return table
