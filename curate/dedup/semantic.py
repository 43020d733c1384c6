"""Semantic duplicates: pairs of normalised embeddings with cosine >= threshold.

Up to `BRUTE_FORCE_MAX` documents are compared all against all, in blocks. Beyond that, inverted lists
(`ivf`): each document is compared with the members of the few lists around it, as matrix products, and
pairs are kept with their exact cosines; recall of true pairs is >= 0.99 on real embeddings
(bench/ann.py). At low thresholds, where the probes that recall needs would cost more than all against
all, the lists serve all against all, still by ranges of lists. As with near duplicates, only links
between different groups are kept.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from ..engine import Engine
from ..vectors import rows as unit_rows
from . import ivf
from .forest import Links

BRUTE_FORCE_MAX = 20_000
_BLOCK = 1024
PARTITION = 100_000  # documents per scan task, about: the ranges of lists follow the data, not the workers


def semantic_links(emb: np.ndarray, threshold: float, seed: int = 0, engine: Engine | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   stats: dict[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(pairs, cosines) linking documents whose embeddings have cosine >= threshold: a spanning forest of
    the pairs, strongest first. `emb` is float32 unit rows, or float16 rows as the cache stores them, which
    stay float16 (10M of them are 5 GB) and are converted a block at a time. Beyond BRUTE_FORCE_MAX the scan
    runs by ranges of lists, on the workers of a distributed engine; `progress(done, total)` counts them.
    `stats` gets how the search ran."""
    n = len(emb)
    links = Links(n)
    stats = {} if stats is None else stats
    stats["search"] = "all against all"
    if n > BRUTE_FORCE_MAX:
        lists = ivf.build(emb, threshold, seed)
        stats.update(lists=len(lists), probes=lists.probes)
        if not lists.exhaustive:
            stats.update(search="inverted lists", sample_recall=round(lists.sample_recall, 4))
        spans = lists.ranges(-(-n // PARTITION))
        for done, (pairs, cos) in enumerate((engine or Engine()).map(ivf.scan, spans, lists, emb, threshold), 1):
            links.add(pairs[:, 0], pairs[:, 1], cos)
            if progress:
                progress(done, len(spans))
        return links.result()
    for a, b, cos in _blocks(unit_rows(emb), threshold):
        if len(a):
            links.add(a, b, cos)
    return links.result()


def all_pairs(emb: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Every pair with cosine >= threshold, all against all (for previews on samples; float16 rows are
    converted as in semantic_links)."""
    found = list(_blocks(unit_rows(emb), threshold))
    if not found:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    a, b, cos = (np.concatenate(col) for col in zip(*found))
    return np.stack([a, b], axis=1), np.minimum(cos, 1.0).astype(np.float64)


def _blocks(emb: np.ndarray, threshold: float) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(a, b, cosine) with a < b at cosine >= threshold, all against all, a block of rows at a time."""
    for s in range(0, len(emb), _BLOCK):
        sims = emb[s:s + _BLOCK] @ emb.T
        rows, cols = np.nonzero(sims >= threshold)
        keep = cols > rows + s  # upper triangle: each pair once, no self pairs
        rows, cols = rows[keep], cols[keep]
        yield rows + s, cols, sims[rows, cols]
