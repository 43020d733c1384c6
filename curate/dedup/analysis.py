"""A dedup run over one collection: exact and near duplicates, groups with representatives,
conflicts (same prompt, materially different answers) and contamination against another collection.

Results are stored as one analysis run in the workspace: a finding per non-representative member,
per conflict side and per contaminated example, and the groups themselves (export keeps groups
inside one split). Every step is reported with its evidence, never applied silently.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from .. import matching
from ..engine import Engine
from ..errors import UsageError
from ..findings import CONFLICT, CONTAMINATION, DUPLICATE, Finding, Progress, Report, Severity
from ..gcpause import gc_paused
from ..record import Source
from ..workspace import Workspace, opened
from ..workspace.scratch import scratch_dir
from .corpus import exact_classes, load
from .groups import Edge, Group, build_groups
from .lsh import jaccard, near_duplicates
from .partitioned import band_candidates_on, signed_on
from .preview import near_preview, semantic_preview
from .shingles import shingles_of
from .signatures import NUM_PERM
from .text import KEYS, key_text
from .tokens import WordIds

if TYPE_CHECKING:
    from ..embed import Embedder

METHODS = ("exact", "near", "semantic")
DEFAULT_METHODS = ("exact", "near")
DEFAULT_NEAR_THRESHOLD = 0.7
DEFAULT_SEMANTIC_THRESHOLD = 0.9
# Per embedder: the static one's default is the lowest threshold with the full model's MSRP precision at
# 0.9, calibrated on MSRP's train split by bench/embedders.py (0.895 when written: it keeps 0.9).
SEMANTIC_THRESHOLDS = {"full": DEFAULT_SEMANTIC_THRESHOLD, "static": 0.9}
CONFLICT_MAX_RESPONSE_JACCARD = 0.5  # answers sharing less than half their shingles differ materially


def semantic_threshold_for(embedder: str) -> float:
    return SEMANTIC_THRESHOLDS.get(embedder, DEFAULT_SEMANTIC_THRESHOLD)


@dataclass
class DedupReport(Report):
    groups: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    contamination: list[dict[str, Any]] = field(default_factory=list)
    preview: dict[str, Any] | None = None

    def _parts(self) -> dict[str, Any]:
        parts = {"groups": self.groups, "conflicts": self.conflicts, "contamination": self.contamination}
        return parts if self.preview is None else {**parts, "preview": self.preview}


def _near_edges(docs: WordIds, class_of: np.ndarray, threshold: float, num_perm: int, progress: Progress | None,
                engine: Engine, release: Callable[[], None] | None = None) -> tuple[list[Edge], dict]:
    """Near links among one member per exact class, as edges between example indices. `release` is called
    once the words are shingled: a caller done with them frees them before the signatures are made."""
    reps = np.flatnonzero(class_of == np.arange(len(class_of)))
    if progress:
        progress("shingle", 0, None)
    sig, by_band = None, None
    if engine.distributed:
        sets, sig = signed_on(engine, docs, reps, num_perm)
        by_band = band_candidates_on(engine)
    else:
        sets = shingles_of(docs, reps)
    del docs
    if release:
        release()
    if progress:
        progress("near", 0, None)
    res = near_duplicates(sets, threshold, num_perm=num_perm, sig=sig, by_band=by_band)
    edges = [Edge(int(reps[a]), int(reps[b]), float(s), "near") for (a, b), s in zip(res.pairs.tolist(), res.scores)]
    stats = {"candidates": res.candidates, "verified": int(len(res.pairs)), "bands": res.bands, "rows": res.rows}
    return edges, stats


def _conflicts(prompts: WordIds, responses: WordIds, threshold: float,
               num_perm: int, engine: Engine) -> list[tuple[int, int, float, float]]:
    """(a, b, prompt similarity, response Jaccard) for near-identical prompts with different answers."""
    class_of, classes = exact_classes(prompts)
    pairs: list[tuple[int, int, float]] = []
    for members in classes.values():
        pairs += [(members[0], m, 1.0) for m in members[1:]]
    near, _ = _near_edges(prompts, class_of, threshold, num_perm, None, engine)
    pairs += [(e.a, e.b, e.score) for e in near]
    if not pairs:
        return []
    arr = np.array([(a, b) for a, b, _ in pairs], dtype=np.int64)
    involved, local = np.unique(arr, return_inverse=True)  # only the answers of linked prompts are shingled
    resp_j = jaccard(shingles_of(responses, involved), local.reshape(arr.shape))
    return [(a, b, ps, float(rj)) for (a, b, ps), rj in zip(pairs, resp_j)
            if rj < CONFLICT_MAX_RESPONSE_JACCARD and not responses.same(a, b)]


def run(
    collection: str,
    *,
    workspace: Workspace | str | None = None,
    progress: Progress | None = None,
    methods: tuple[str, ...] = DEFAULT_METHODS,
    key: str = "conversation",
    near_threshold: float = DEFAULT_NEAR_THRESHOLD,
    semantic_threshold: float | None = None,
    model: str | None = None,
    embedder: str = "full",
    against: str | None = None,
    preview: bool = False,
    num_perm: int = NUM_PERM,
    engine: Engine | None = None,
) -> DedupReport:
    """Find duplicate groups in a collection and store them as a dedup run; see the module doc."""
    if semantic_threshold is None:
        semantic_threshold = semantic_threshold_for(embedder)
    unknown = set(methods) - set(METHODS)
    if unknown or not methods:
        raise UsageError(f"unknown dedup method(s) {', '.join(sorted(unknown)) or '(none)'}; "
                         "choose from exact, near, semantic")
    if not 0 < semantic_threshold <= 1:
        raise UsageError(f"{{semantic_threshold}} must be in (0, 1], got {semantic_threshold}",
                         params=("semantic_threshold",))
    if key not in KEYS:
        raise UsageError(f"unknown key {key!r}; choose from {', '.join(KEYS)}")
    if not 0 < near_threshold <= 1:
        raise UsageError(f"{{near_threshold}} must be in (0, 1], got {near_threshold}", params=("near_threshold",))
    params = {"methods": list(methods), "key": key, "near_threshold": near_threshold, "against": against,
              "num_perm": num_perm, "shingle_words": 3, "representative": "check quality, then longest answer"}
    with opened(workspace) as ws, gc_paused(), scratch_dir(ws.dir, "dedup") as spill:
        return _Run(ws, collection, params, semantic_threshold, model, embedder, progress,
                    engine or Engine(), spill).run(preview)


class _Run:
    """One dedup run's state, so that each stage is a short method: links, groups, conflicts, contamination."""

    def __init__(self, ws: Workspace, collection: str, params: dict[str, Any], semantic_threshold: float,
                 model: str | None, embedder: str, progress: Progress | None, engine: Engine, spill: Path):
        self.ws, self.collection, self.params, self.progress, self.spill = ws, collection, params, progress, spill
        self.engine = engine
        self.methods, self.against = params["methods"], params["against"]
        self.threshold, self.num_perm = params["near_threshold"], params["num_perm"]
        self.semantic_threshold = semantic_threshold
        self.embedder: Embedder | None = None
        self.emb: np.ndarray | None = None  # of one member per exact class (sem_reps), for the preview
        self.sem_reps: np.ndarray | None = None
        self.sem_rank: np.ndarray | None = None  # of sem_reps, best first: the order stars take centres in
        self.semantic_stats: dict[str, Any] = {}  # how the neighbour search ran (lists, probes, sample recall)
        self.contamination_stats: dict[str, Any] = {}  # ... and the semantic search for contamination
        if "semantic" in self.methods:
            from ..embed import embedder_for

            self.embedder = embedder_for(model, embedder)
            params.update(semantic_threshold=semantic_threshold, model=self.embedder.model,
                          embedding_backend=self.embedder.backend)
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}
        self.findings: list[Finding] = []

    @contextmanager
    def _stage(self, name: str, announce: bool = False) -> Iterator[None]:
        if announce and self.progress:
            self.progress(name, 0, None)
        start = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - start

    def run(self, preview: bool) -> DedupReport:
        ws, collection = self.ws, self.collection
        kind = ws.collection_kind(collection)
        if self.against is not None:
            ws.collection_id(self.against)
        run_id = ws.start_run(collection, "dedup", self.params, reads=[self.against] if self.against else [])
        report = DedupReport(collection, run_id, self.params)
        with self._stage("load"):
            semantic = "semantic" in self.methods
            self.corpus = load(ws, collection, self.params["key"], self.spill / "texts.utf8" if semantic else None,
                               self.progress, self.engine,
                               self.spill if kind == "examples" or self.against is not None else None,
                               self.spill / "prompts.utf8" if semantic and self.against is not None else None)
        self.class_of, classes = exact_classes(self.corpus.words)
        self.keep_words = preview
        edges, near_stats = self._links(classes)
        if preview:
            report.preview = self._preview()
        self._drop_words()
        groups, repeats = self._groups(edges)
        self._group_findings(groups, repeats, report)
        if self.corpus.spills:
            self.prompts, self.responses = self.corpus.turns()
        if kind == "examples":
            with self._stage("conflicts", announce=True):
                self._conflict_findings(report)
        if self.against is not None:
            with self._stage("contamination", announce=True):
                self._contamination_findings(report)
        report.summary = self._summary(groups, repeats, report, near_stats)
        ws.finish_run(run_id, report.summary, self.findings, self.stored_groups)
        return report

    def _links(self, classes: dict[int, list[int]]) -> tuple[list[Edge], dict[str, Any]]:
        edges: list[Edge] = []
        with self._stage("exact"):
            if "exact" in self.methods:
                for same in classes.values():
                    edges += [Edge(same[0], m, 1.0, "exact") for m in same[1:]]
        near_stats: dict[str, Any] = {}
        if "near" in self.methods:
            with self._stage("near"):
                near_edges, near_stats = _near_edges(self.corpus.words, self.class_of, self.threshold,
                                                     self.num_perm, self.progress, self.engine,
                                                     None if self.keep_words else self._drop_words)
                edges += near_edges
        if self.embedder is not None:
            if not self.keep_words:
                self._drop_words()  # 10M conversations' words are ~5 GB, and the embeddings come next
            with self._stage("semantic"):
                edges += self._semantic_edges(self.embedder)
        return edges, near_stats

    def _drop_words(self) -> None:
        """The key's words, the largest array of a run, are not needed past shingling (nor past the preview)."""
        self.corpus.words = WordIds.concat([])

    def _semantic_edges(self, embedder: Embedder) -> list[Edge]:
        from ..embed import stored_vectors
        from .semantic import semantic_links
        from .stars import stars

        progress = self.progress
        reps = self.sem_reps = np.flatnonzero(self.class_of == np.arange(len(self.corpus)))
        assert self.corpus.texts is not None, "load(..., text_file) keeps the texts for semantic dedup"
        texts = self.corpus.texts.select(reps)
        if progress:  # now: looking up the cache and loading (or distilling) the model ran under 'near'
            progress("embed", 0, len(reps))
        emb = stored_vectors(texts, self.ws, embedder, (lambda done, total: progress("embed", done, total))
                             if progress else None, self.engine)
        del texts
        self.corpus.texts = None  # unmapped: at 10M its pages are 3.5 GB of the process's resident memory
        self.emb = emb if self.keep_words else None  # only the preview reads them again (10M: 5 GB)
        if progress:
            progress("semantic", 0, None)
        counted = (lambda done, total: progress("semantic", done, total)) if progress else None
        pairs, cos = semantic_links(emb, self.semantic_threshold, engine=self.engine, progress=counted,
                                    stats=self.semantic_stats)
        with self._stage("stars"):
            self.sem_rank = class_rank(self.corpus.quality, self.class_of, reps)
            pairs, cos = stars(emb, pairs, cos, self.semantic_threshold, self.sem_rank, stats=self.semantic_stats)
        return [Edge(int(reps[a]), int(reps[b]), float(c), "semantic") for (a, b), c in zip(pairs.tolist(), cos)]

    def _groups(self, edges: list[Edge]) -> tuple[list[Group], dict[str, list[Source]]]:
        """Groups of linked examples; exact repeats recorded at ingest are members too (the same id at another
        file:line), a group of their own where nothing else links them."""
        if self.progress:
            self.progress("group", 0, None)
        corpus = self.corpus
        groups = build_groups(len(corpus), edges, corpus.quality_of)
        repeats: dict[str, list[Source]] = {}
        for eid, src in self.ws.iter_repeats(self.collection):
            repeats.setdefault(eid, []).append(src)
        index_of = {eid: i for i, eid in enumerate(corpus.ids)} if repeats else {}
        grouped = {i for g in groups for i in g.members}
        for eid in repeats:
            i = index_of.get(eid)
            if i is not None and i not in grouped:
                groups.append(Group([i], i, "exact", []))
        return groups, repeats

    def _group_findings(self, groups: list[Group], repeats: dict[str, list[Source]], report: DedupReport) -> None:
        ids, sources = self.corpus.ids, self.corpus.sources
        self.stored_groups = []
        for no, g in enumerate(sorted(groups, key=lambda g: g.members[0]), 1):
            rep_id = ids[g.representative]
            listed: list[dict[str, Any]] = []
            for i in g.members:
                listed.append({"id": ids[i], "source": sources[i].location()})
                listed += [{"id": ids[i], "source": s.location(), "repeat": True} for s in repeats.get(ids[i], [])]
            evidence = [{"a": ids[e.a], "b": ids[e.b], "score": round(e.score, 4), "method": e.method}
                        for e in g.edges]
            evidence += [{"a": ids[i], "b": ids[i], "score": 1.0, "method": "repeat"}
                         for i in g.members for _ in repeats.get(ids[i], [])]
            report.groups.append({"id": no, "method": g.method, "representative": rep_id, "members": listed,
                                  "evidence": evidence})
            self.stored_groups.append((no, g.method, rep_id, [ids[i] for i in g.members]))
            best = _best_link(g)
            for i in g.members:
                if i != g.representative:
                    score, method = best.get(i, (1.0, g.method))
                    self.findings.append(DUPLICATE(
                        ids[i], score, f"{method} duplicate in group {no}; representative {rep_id[:12]} is kept",
                        {"group": no, "representative": rep_id, "method": method, "score": round(score, 4)}))

    def _conflict_findings(self, report: DedupReport) -> None:
        ids, sources = self.corpus.ids, self.corpus.sources
        for a, b, ps, rj in _conflicts(self.prompts, self.responses, self.threshold, self.num_perm, self.engine):
            report.conflicts.append({"a": ids[a], "b": ids[b], "prompt_similarity": round(ps, 4),
                                     "response_similarity": round(rj, 4), "source_a": sources[a].location(),
                                     "source_b": sources[b].location()})
            for me, them in ((a, b), (b, a)):
                self.findings.append(CONFLICT(
                    ids[me], 1 - rj, f"same prompt as {ids[them][:12]} but a different answer (answer overlap "
                                     f"{rj:.0%})",
                    {"other": ids[them], "prompt_similarity": round(ps, 4), "response_similarity": round(rj, 4)}))

    def _contamination_findings(self, report: DedupReport) -> None:
        ws, against, corpus = self.ws, self.against, self.corpus
        other = list(ws.iter_examples(against))
        lexical = matching.near(self.prompts, [e.prompt for e in other], self.threshold, self.num_perm)
        by_meaning: dict[int, matching.Match] = {}
        if self.embedder is not None:
            from ..embed import stored_vectors

            assert corpus.prompts is not None, "load(..., prompt_file) keeps the prompts for contamination"
            mine = stored_vectors(corpus.prompts, ws, self.embedder, None, self.engine)
            theirs = stored_vectors([ex.prompt for ex in other], ws, self.embedder, None, self.engine)
            by_meaning = matching.semantic(mine, theirs, self.semantic_threshold, self.contamination_stats)
        # Against an eval set (examples) a match is a leak: an error, which export drops. Against production
        # queries it is overlap worth seeing but not a fault (covering what users ask is the point): info.
        severity = Severity.INFO if ws.collection_kind(against) == "queries" else Severity.ERROR
        for i, (j, s, method) in matching.combined(lexical, by_meaning).items():
            report.contamination.append({"id": corpus.ids[i], "source": corpus.sources[i].location(),
                                         "against": other[j].id, "against_source": other[j].source.location(),
                                         "score": round(s, 4), "method": method})
            self.findings.append(CONTAMINATION(
                corpus.ids[i], s, f"{method} match of {against} example {other[j].id[:12]} (similarity {s:.2f})",
                {"against": against, "other": other[j].id, "method": method, "score": round(s, 4)}, severity))

    def _preview(self) -> dict[str, Any] | None:
        def text(eid: str) -> str:
            return key_text(self.ws.get_example(self.collection, eid), self.params["key"])

        out = None
        if "near" in self.methods:
            out = near_preview(self.corpus.words, self.class_of, self.threshold, self.num_perm, self.corpus.ids, text)
        if self.emb is not None and self.sem_reps is not None and self.sem_rank is not None:
            out = dict(out or {}, semantic=semantic_preview(self.emb, self.sem_reps, self.sem_rank,
                                                            self.semantic_threshold, self.corpus.ids, text))
        return out

    def _summary(self, groups: list[Group], repeats: dict[str, list[Source]], report: DedupReport,
                 near_stats: dict[str, Any]) -> dict[str, Any]:
        n = len(self.corpus)
        duplicates = sum(len(g.members) - 1 for g in groups)
        by_method: dict[str, int] = {}
        for g in groups:
            by_method[g.method] = by_method.get(g.method, 0) + 1
        return {
            "examples": n, "groups": len(groups), "groups_by_method": by_method, "duplicates": duplicates,
            "kept": n - duplicates, "ingest_repeats": sum(len(v) for v in repeats.values()),
            "conflicts": len(report.conflicts), "contaminated": len(report.contamination),
            "near": near_stats, **({"semantic": self.semantic_stats} if self.semantic_stats else {}),
            **({"contamination_search": self.contamination_stats} if self.contamination_stats else {}),
            "seconds": round(time.perf_counter() - self.started, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            **({"engine": self.engine.describe()} if self.engine.distributed else {}),
        }


def class_rank(quality: np.ndarray, class_of: np.ndarray, reps: np.ndarray) -> np.ndarray:
    """Each exact class's place (its first member in `reps`), best first, by its best member: the one a group
    would keep. The first member, which the class's embedding stands for, may have a shorter answer where
    the key is the prompt, and a star centred on it could take what is not within the threshold of the kept."""
    rank = _rank(quality)
    best = np.full(len(rank), len(rank))
    np.minimum.at(best, class_of, rank)
    return best[reps]


def _rank(quality: np.ndarray) -> np.ndarray:
    """Each row's place when ordered best first, as build_groups picks a representative: the highest
    (score, length, turns), then the earliest."""
    order = np.lexsort((np.arange(len(quality)), *(-quality[:, k] for k in (2, 1, 0))))
    rank = np.empty(len(quality), dtype=np.int64)
    rank[order] = np.arange(len(quality))
    return rank


def _best_link(g: Group) -> dict[int, tuple[float, str]]:
    best: dict[int, tuple[float, str]] = {}
    for e in g.edges:
        for i in (e.a, e.b):
            if i not in best or best[i][0] < e.score:
                best[i] = (e.score, e.method)
    return best
