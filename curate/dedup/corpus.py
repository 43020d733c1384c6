"""One pass over a collection for dedup: ids, sources, quality, the dedup key's words, and the prompts' and
answers' words where conflicts or contamination need them; exact classes over words.

Memory is what bounds the collection size on one machine (10M conversations), so texts are hashed a chunk at
a time and dropped (only semantic dedup keeps the key's text, for its embeddings), sources and quality are
columns, not objects, and the turns' words wait in a file until the key's shingles and signatures are gone.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from ..engine import Engine
from ..findings import Progress
from ..record import Source
from ..workspace import Workspace
from .partitioned import PARTITION, word_ids_on
from .text import stored_key_text
from .textspill import TextSpill
from .tokens import WordIds, WordSpill, word_ids

CHUNK = 50_000  # examples hashed at a time: their strings are dropped before the next chunk is read
Row = tuple[str, list[dict], Source]


class SourceColumn:
    """Where each example came from, as columns: a Source object per example costs ~280 bytes at 10M rows."""

    def __init__(self) -> None:
        self.names: list[tuple[str, str]] = []
        self._code: dict[tuple[str, str], int] = {}
        self._parts: list[np.ndarray] = []  # (path and format code, line, index) rows, a chunk each
        self._rows: list[tuple[int, int, int]] = []
        self._where: np.ndarray | None = None

    def add(self, source: Source) -> None:
        name = (source.path, source.format)
        code = self._code.get(name)
        if code is None:
            code = self._code[name] = len(self.names)
            self.names.append(name)
        self._rows.append((code, source.line, source.index))

    def seal(self) -> None:
        """Move the rows added since the last seal into an array (one per chunk: joined once, when first read)."""
        if self._rows:
            self._parts.append(np.array(self._rows, dtype=np.int64))
            self._rows = []
            self._where = None

    def __getitem__(self, i: int) -> Source:
        if self._where is None:
            self._where = np.concatenate(self._parts) if self._parts else np.zeros((0, 3), dtype=np.int64)
            self._parts = [self._where]
        code, line, index = self._where[i].tolist()
        path, fmt = self.names[code]
        return Source(path, line, index, fmt)


@dataclass
class Corpus:
    ids: list[str]
    sources: SourceColumn
    quality: np.ndarray  # (check score, answer length, turns) per example: the representative policy
    texts: TextSpill | None  # the dedup key's raw text, kept on disk for embeddings only
    prompts: TextSpill | None = None  # the prompts' raw text, on disk, for contamination's embeddings
    words: WordIds = field(default_factory=lambda: word_ids([]))  # of the dedup key
    spills: tuple[WordSpill, WordSpill] | None = None  # the prompts' and answers' words, on disk

    def turns(self) -> tuple[WordIds, WordIds]:
        """The words of every prompt and every answer (mapped from disk), in the same order as `ids`."""
        assert self.spills is not None, "load(..., spill=DIR) keeps the turns"
        return self.spills[0].words(), self.spills[1].words()

    def __len__(self) -> int:
        return len(self.ids)

    def quality_of(self, i: int) -> tuple:
        score, length, turns = self.quality[i].tolist()
        return score, int(length), int(turns)


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


def release_freed_memory() -> None:
    """Hand the heap that the chunks' strings left free back to the OS (glibc keeps it otherwise: ~0.6 GB per
    million conversations, which the signatures would then need on top)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to hand back this way
        pass


def _chunks(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def _hasher(engine: Engine | None) -> tuple[Callable[[Sequence[str]], WordIds], int]:
    """How to hash a chunk of texts into words, and the chunk size: on a distributed engine, chunks are large
    enough to give every worker CPU two partitions at a time."""
    if engine is None or not engine.distributed:
        return word_ids, CHUNK
    cpus = int(engine.describe().get("cpus") or 1)
    return partial(word_ids_on, engine), max(CHUNK, 2 * cpus * PARTITION)


def load(ws: Workspace, collection: str, key: str, text_file: Path | None, progress: Progress | None,
         engine: Engine | None = None, spill: Path | None = None, prompt_file: Path | None = None) -> Corpus:
    """One pass over the collection: ids, sources, quality and the key's words (and its text, in `text_file`,
    if given, and the prompts' text in `prompt_file`); with `spill` (a directory), the prompts' and answers'
    words too, kept there until `Corpus.turns` reads them."""
    total = ws.count_examples(collection)
    # Representative policy: the best quality score from the latest `curate check` run (examples it did
    # not flag score 1.0), then the most complete answer (longest response), then the earliest example.
    checked = ws.latest_run(collection, "check")
    scores = (checked.summary or {}).get("quality_below_1", {}) if checked else {}
    c = Corpus([], SourceColumn(), np.zeros((0, 3)), TextSpill(text_file) if text_file else None)
    if spill is not None:
        c.spills = (WordSpill(spill / "prompts.u64"), WordSpill(spill / "responses.u64"))
    if prompt_file is not None:
        c.prompts = TextSpill(prompt_file)
    hashed, size = _hasher(engine)
    words: list[WordIds] = []
    quality: list[np.ndarray] = []
    for chunk in _chunks(ws.iter_raw(collection), size):
        for eid, messages, source in chunk:
            c.ids.append(eid)
            c.sources.add(source)
        c.sources.seal()
        responses = [stored_key_text(messages, "response") for _, messages, _ in chunk]
        quality.append(np.array([(scores.get(eid, 1.0), len(r.strip()), len(messages))
                                 for (eid, messages, _), r in zip(chunk, responses)], dtype=np.float64))
        texts = responses if key == "response" else [stored_key_text(messages, key) for _, messages, _ in chunk]
        words.append(hashed(texts))
        wanted = c.spills is not None or c.prompts is not None
        prompts = [stored_key_text(messages, "prompt") for _, messages, _ in chunk] if wanted and key != "prompt" \
            else texts
        if c.spills:
            c.spills[0].add(words[-1] if key == "prompt" else hashed(prompts))
            c.spills[1].add(words[-1] if key == "response" else hashed(responses))
        if c.prompts is not None:
            c.prompts.add(prompts)
        del chunk, responses, prompts
        if c.texts is not None:  # only embeddings need the raw text again
            c.texts.add(texts)
        if progress:
            progress("load", len(c.ids), total)
    c.words = WordIds.concat(words)
    c.quality = np.concatenate(quality) if quality else np.zeros((0, 3))
    del words, quality
    release_freed_memory()
    if progress:
        progress("load", total, total)
    return c
