"""One pass over a collection for dedup: ids, sources, quality, and the dedup key's words (and the prompts'
and answers' where conflicts or contamination need them); exact classes over those words."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np

from ..engine import Engine
from ..findings import Progress
from ..record import Source
from ..workspace import Workspace
from .partitioned import word_ids_on
from .text import key_text
from .tokens import WordIds, word_ids


@dataclass
class Corpus:
    ids: list[str]
    sources: list[Source]
    quality: list[tuple]
    texts: list[str]  # the dedup key's raw text, kept for embeddings only
    words: WordIds = field(default_factory=lambda: word_ids([]))  # of the dedup key
    prompts: WordIds = field(default_factory=lambda: word_ids([]))
    responses: WordIds = field(default_factory=lambda: word_ids([]))

    def __len__(self) -> int:
        return len(self.ids)


def exact_classes(docs: WordIds) -> tuple[np.ndarray, dict[int, list[int]]]:
    """class_of[i] = the first index with the same normalised words; and the classes of 2+ members."""
    n = len(docs)
    if not n:
        return np.zeros(0, dtype=np.int64), {}
    _, first, inverse = np.unique(docs.keys(), return_index=True, return_inverse=True)
    class_of = first[inverse.ravel()].astype(np.int64)
    classes: dict[int, list[int]] = {}
    collided: set[int] = set()
    for i in np.flatnonzero(class_of != np.arange(n)).tolist():
        j = int(class_of[i])
        classes.setdefault(j, [j]).append(i)
        if not docs.same(i, j):
            collided.add(j)
    for j in collided:  # two different texts with one 64-bit key (p ~ n^2 / 2^65): split them by content
        del classes[j]
        by_words: dict[bytes, int] = {}
        for i in np.flatnonzero(class_of == j).tolist():  # j, the class's first member, comes first
            k = by_words.setdefault(docs.doc(i).tobytes(), i)
            class_of[i] = k
            if k != i:
                classes.setdefault(k, [k]).append(i)
    return class_of, dict(sorted(classes.items()))


def load(ws: Workspace, collection: str, key: str, with_turns: bool, with_text: bool,
          progress: Progress | None, engine: Engine | None = None) -> Corpus:
    """One pass over the collection: ids, sources, the key's words, and prompt/response words if needed."""
    total = ws.count_examples(collection)
    c = Corpus([], [], [], [])
    prompts: list[str] = []
    responses: list[str] = []
    # Representative policy: the best quality score from the latest `curate check` run (examples it did
    # not flag score 1.0), then the most complete answer (longest response), then the earliest example.
    checked = ws.latest_run(collection, "check")
    quality = (checked.summary or {}).get("quality_below_1", {}) if checked else {}
    for n, ex in enumerate(ws.iter_examples(collection), 1):
        c.ids.append(ex.id)
        c.sources.append(ex.source)
        response = ex.response
        c.quality.append((quality.get(ex.id, 1.0), len(response.strip()), len(ex.messages)))
        c.texts.append(key_text(ex, key))
        if with_turns:
            prompts.append(ex.prompt)
            responses.append(response)
        if progress and n % 5000 == 0:
            progress("load", n, total)
    hashed = partial(word_ids_on, engine) if engine is not None and engine.distributed else word_ids
    c.words = hashed(c.texts)
    if not with_text:  # only embeddings need the raw text again; as words it is a fraction of the memory
        c.texts = []
    if with_turns:
        c.prompts = c.words if key == "prompt" else hashed(prompts)
        c.responses = c.words if key == "response" else hashed(responses)
    if progress:
        progress("load", total, total)
    return c
