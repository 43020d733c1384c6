"""Embeddings as the cache stores them (float16, a row per text) and as they are compared (float32 unit rows).

At 10M texts, float32 vectors are 10 GB of a 24 GB machine: semantic dedup keeps the float16 rows and converts
the rows each matrix product needs, the same way every time, so a result does not depend on which ran.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_BLOCK = 1 << 16  # rows converted at a time where every row is needed


def unit(half: np.ndarray) -> np.ndarray:
    """float32 rows of norm 1 (rounding to float16 moved them off it)."""
    out = half.astype(np.float32)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out


def rows(emb: np.ndarray, idx: Any = slice(None)) -> np.ndarray:
    """Rows `idx` of emb as float32 unit vectors: float16 rows (as stored) are converted, float32 ones are taken
    to be unit already."""
    picked = emb[idx]
    return unit(picked) if picked.dtype == np.float16 else np.asarray(picked, dtype=np.float32)


def mean(emb: np.ndarray) -> np.ndarray:
    """The mean of the unit rows, summed a block at a time (the same sum whatever the rows' dtype)."""
    total = np.zeros(emb.shape[1], dtype=np.float64)
    for s in range(0, len(emb), _BLOCK):
        total += rows(emb, slice(s, s + _BLOCK)).sum(axis=0, dtype=np.float64)
    return (total / max(len(emb), 1)).astype(np.float32)
