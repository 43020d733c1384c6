"""Dedup's per-document work cut into partitions for a distributed engine (curate/engine.py): word hashes,
shingles and signatures per partition of documents, and LSH bucket candidates per band. Every value is a
function of one document (or one band) alone, so the concatenated results equal the local engine's; the
head keeps what needs all of them at once: exact classes, verification and the groups."""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from ..engine import Engine
from .lsh import ByBand, _band_keys, star_chain
from .shingles import ShingleSets, shingle_ids
from .signatures import signatures
from .tokens import WordIds, word_ids

PARTITION = 50_000  # documents per task: a few MB of words each way, well above Ray's per-task overhead


def _slices(n: int) -> list[tuple[int, int]]:
    return [(s, min(n, s + PARTITION)) for s in range(0, n, PARTITION)]


def _word_ids(texts: list[str]) -> WordIds:
    return word_ids(texts, threads=1)  # one task per CPU already


def word_ids_on(engine: Engine, texts: Sequence[str]) -> WordIds:
    """`tokens.word_ids(texts)`, computed by partitions on the engine."""
    parts = (list(texts[a:b]) for a, b in _slices(len(texts)))
    return WordIds.concat(list(engine.map(_word_ids, parts)))


def _sign(docs: WordIds, num_perm: int, seed: int) -> tuple[ShingleSets, np.ndarray]:
    sets = shingle_ids(docs)
    return sets, signatures(sets, num_perm, seed, threads=1)


def signed_on(engine: Engine, docs: WordIds, index: np.ndarray, num_perm: int,
              seed: int = 1) -> tuple[ShingleSets, np.ndarray]:
    """Shingle sets and signatures of the documents `index` of `docs`, computed by partitions on the engine."""
    parts = (docs.take(index[a:b]) for a, b in _slices(len(index)))
    results = list(engine.map(_sign, parts, num_perm, seed))
    sets = ShingleSets.concat([s for s, _ in results])
    sig = np.concatenate([g for _, g in results]) if results else np.zeros((0, num_perm), dtype=np.uint32)
    return sets, sig


def band_candidates_on(engine: Engine) -> ByBand:
    """`lsh.band_candidates` with one task per band, in band order."""
    def by_band(sig: np.ndarray, bands: int, rows: int, valid: np.ndarray) -> Iterator[np.ndarray]:
        return engine.map(star_chain, _band_keys(sig, bands, rows), valid)
    return by_band
