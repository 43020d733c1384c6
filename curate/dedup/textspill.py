"""Texts written to a file a chunk at a time and read back by index, as a sequence of str.

Semantic dedup needs each example's key text only to embed what the embedding cache lacks; 10M conversations
held as Python strings are ~5 GB, so they wait on disk (mapped, the OS pages them in) instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, overload

import numpy as np


class TextSpill(Sequence[str]):
    def __init__(self, path: Path):
        self.path = path
        self._fh: BinaryIO | None = open(path, "wb")
        self._sizes: list[np.ndarray] = []
        self._offsets = np.zeros(1, dtype=np.int64)
        self._data: np.ndarray | bytes = b""
        self._pick: np.ndarray | None = None  # a selection's indices into the file's texts

    def add(self, texts: list[str]) -> None:
        assert self._fh is not None, "add after sealing"
        encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
        self._fh.write(b"".join(encoded))
        self._sizes.append(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)))

    def seal(self) -> None:
        """Done adding: the file is mapped for reading."""
        if self._fh is None:
            return
        self._fh.close()
        self._fh = None
        self._offsets = np.concatenate(([0], np.cumsum(np.concatenate(self._sizes or [np.zeros(0, np.int64)]))))
        self._offsets = self._offsets.astype(np.int64)
        self._sizes = []
        if self._offsets[-1]:
            self._data = np.memmap(self.path, dtype=np.uint8, mode="r")

    def select(self, indices: np.ndarray) -> TextSpill:
        """The texts at these indices, in this order, reading the same file."""
        self.seal()
        view = TextSpill.__new__(TextSpill)
        view.path, view._fh, view._sizes = self.path, None, []
        view._offsets, view._data = self._offsets, self._data
        view._pick = np.asarray(indices, dtype=np.int64) if self._pick is None else self._pick[indices]
        return view

    def __len__(self) -> int:
        if self._pick is not None:
            return len(self._pick)
        return len(self._offsets) - 1 if self._fh is None else int(sum(len(s) for s in self._sizes))

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        self.seal()
        if isinstance(i, slice):
            return [self._text(j) for j in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        return self._text(i % len(self))

    def _text(self, i: int) -> str:
        j = int(self._pick[i]) if self._pick is not None else i
        start, end = int(self._offsets[j]), int(self._offsets[j + 1])
        return bytes(self._data[start:end]).decode("utf-8", "surrogatepass")
