"""A dedup run over one collection: exact and near duplicates, groups with representatives,
conflicts (same prompt, materially different answers) and contamination against another collection.

Results are stored as one analysis run in the workspace: a finding per non-representative member,
per conflict side and per contaminated example, and the groups themselves (export keeps groups
inside one split). Every step is reported with its evidence, never applied silently.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import UsageError
from ..findings import Finding
from ..gcpause import gc_paused
from ..record import Source
from ..secrets import redact
from ..worddiff import clipped, word_diff
from ..workspace import Workspace, opened
from .groups import Edge, Group, build_groups
from .lsh import jaccard, near_duplicates
from .shingles import ShingleSets, shingle_ids
from .signatures import NUM_PERM
from .text import KEYS, key_text
from .tokens import WordIds, word_ids

METHODS = ("exact", "near", "semantic")
DEFAULT_METHODS = ("exact", "near")
DEFAULT_NEAR_THRESHOLD = 0.7
DEFAULT_SEMANTIC_THRESHOLD = 0.9
CONFLICT_MAX_RESPONSE_JACCARD = 0.5  # answers sharing less than half their shingles differ materially
PREVIEW_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)

Progress = Callable[[str, int, "int | None"], None]


@dataclass
class _Corpus:
    ids: list[str]
    sources: list[Source]
    quality: list[tuple]
    texts: list[str]  # the dedup key's raw text, kept for embeddings only
    words: WordIds = field(default_factory=lambda: word_ids([]))  # of the dedup key
    prompts: WordIds = field(default_factory=lambda: word_ids([]))
    responses: WordIds = field(default_factory=lambda: word_ids([]))

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class DedupReport:
    collection: str
    run_id: int
    params: dict[str, Any]
    groups: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    contamination: list[dict[str, Any]] = field(default_factory=list)
    preview: dict[str, Any] | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {"collection": self.collection, "run_id": self.run_id, "params": self.params, "groups": self.groups,
             "conflicts": self.conflicts, "contamination": self.contamination, "summary": self.summary}
        if self.preview is not None:
            d["preview"] = self.preview
        return d


def _exact_classes(docs: WordIds) -> tuple[np.ndarray, dict[int, list[int]]]:
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


def _load(ws: Workspace, collection: str, key: str, with_turns: bool, with_text: bool,
          progress: Progress | None) -> _Corpus:
    """One pass over the collection: ids, sources, the key's words, and prompt/response words if needed."""
    total = ws.count_examples(collection)
    c = _Corpus([], [], [], [])
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
    c.words = word_ids(c.texts)
    if not with_text:  # only embeddings need the raw text again; as words it is a fraction of the memory
        c.texts = []
    if with_turns:
        c.prompts = c.words if key == "prompt" else word_ids(prompts)
        c.responses = c.words if key == "response" else word_ids(responses)
    if progress:
        progress("load", total, total)
    return c


def _near_edges(docs: WordIds, class_of: np.ndarray, threshold: float, num_perm: int,
                progress: Progress | None) -> tuple[list[Edge], dict]:
    """Near links among one member per exact class, as edges between example indices."""
    reps = np.flatnonzero(class_of == np.arange(len(class_of)))
    if progress:
        progress("shingle", 0, None)
    sets = shingle_ids(docs.take(reps))
    if progress:
        progress("near", 0, None)
    res = near_duplicates(sets, threshold, num_perm=num_perm)
    edges = [Edge(int(reps[a]), int(reps[b]), float(s), "near") for (a, b), s in zip(res.pairs.tolist(), res.scores)]
    stats = {"candidates": res.candidates, "verified": int(len(res.pairs)), "bands": res.bands, "rows": res.rows}
    return edges, stats


def _conflicts(prompts: WordIds, responses: WordIds, threshold: float,
               num_perm: int) -> list[tuple[int, int, float, float]]:
    """(a, b, prompt similarity, response Jaccard) for near-identical prompts with different answers."""
    class_of, classes = _exact_classes(prompts)
    pairs: list[tuple[int, int, float]] = []
    for members in classes.values():
        pairs += [(members[0], m, 1.0) for m in members[1:]]
    near, _ = _near_edges(prompts, class_of, threshold, num_perm, None)
    pairs += [(e.a, e.b, e.score) for e in near]
    if not pairs:
        return []
    resp_sets: ShingleSets = shingle_ids(responses)
    arr = np.array([(a, b) for a, b, _ in pairs], dtype=np.int64)
    resp_j = jaccard(resp_sets, arr)
    return [(a, b, ps, float(rj)) for (a, b, ps), rj in zip(pairs, resp_j)
            if rj < CONFLICT_MAX_RESPONSE_JACCARD and not responses.same(a, b)]


def cross_matches(corpus_prompts: WordIds, other_prompts: WordIds, threshold: float,
                  num_perm: int) -> dict[int, tuple[int, float, str]]:
    """index in this collection -> (index in the other, similarity, method), the best direct match each."""
    from .groups import UnionFind

    found: dict[int, tuple[int, float, str]] = {}
    other_exact: dict[int, list[int]] = {}
    for j, k in enumerate(other_prompts.keys().tolist()):
        other_exact.setdefault(k, []).append(j)
    both = corpus_prompts + other_prompts
    for i, k in enumerate(corpus_prompts.keys().tolist()):
        if corpus_prompts.offsets[i] == corpus_prompts.offsets[i + 1]:
            continue  # an empty prompt matches nothing
        match = next((j for j in other_exact.get(k, ()) if both.same(i, len(corpus_prompts) + j)), None)
        if match is not None:
            found[i] = (match, 1.0, "exact")
    n = len(corpus_prompts)
    sets = shingle_ids(both)
    res = near_duplicates(sets, threshold, num_perm=num_perm)
    # Links connect groups; a group holding documents of both collections is checked pair by pair.
    uf = UnionFind(len(sets))
    for a, b in res.pairs.tolist():
        uf.union(a, b)
    groups: dict[int, list[int]] = {}
    for a, b in res.pairs.tolist():
        for i in (a, b):
            groups.setdefault(uf.find(i), []).append(i)
    for members in groups.values():
        mine = sorted({i for i in members if i < n} - set(found))
        theirs = sorted({i for i in members if i >= n})[:20]
        if not mine or not theirs:
            continue
        pairs = np.array([(i, j) for i in mine for j in theirs], dtype=np.int64)
        for (i, j), s in zip(pairs.tolist(), jaccard(sets, pairs).tolist()):
            if s >= threshold and (i not in found or found[i][1] < s):
                found[i] = (j - n, s, "near")
    return found


PREVIEW_SAMPLE = 20_000


def _preview(docs: WordIds, class_of: np.ndarray, threshold: float, num_perm: int,
             ids: list[str], text: Callable[[str], str]) -> dict[str, Any]:
    """Pairs, groups and duplicates at each preview threshold, from every verified pair of a sample."""
    reps = np.flatnonzero(class_of == np.arange(len(class_of)))
    if len(reps) > PREVIEW_SAMPLE:
        reps = np.sort(np.random.default_rng(0).choice(reps, PREVIEW_SAMPLE, replace=False))
    sets = shingle_ids(docs.take(reps))
    res = near_duplicates(sets, min(PREVIEW_THRESHOLDS[0], threshold), num_perm=num_perm, all_pairs=True)
    edges = [Edge(int(reps[a]), int(reps[b]), float(s), "near") for (a, b), s in zip(res.pairs.tolist(), res.scores)]
    rows = _count_at(edges, len(class_of), PREVIEW_THRESHOLDS)
    samples = _samples(edges, threshold, ids, text)
    return {"near": {"sampled_documents": int(len(reps)), "thresholds": rows, "samples_near_threshold": samples}}


SEMANTIC_PREVIEW_THRESHOLDS = (0.8, 0.85, 0.9, 0.95)


def _count_at(edges: list[Edge], n: int, thresholds) -> list[dict[str, Any]]:
    from .groups import UnionFind

    rows = []
    for t in thresholds:
        uf = UnionFind(n)
        pairs = [e for e in edges if e.score >= t]
        for e in pairs:
            uf.union(e.a, e.b)
        roots = {uf.find(e.a) for e in pairs}
        members = {i for e in pairs for i in (e.a, e.b)}
        rows.append({"threshold": t, "pairs": len(pairs), "groups": len(roots),
                     "duplicates": len(members) - len(roots)})
    return rows


def _samples(edges: list[Edge], threshold: float, ids: list[str], text: Callable[[str], str]) -> list[dict]:
    """The pairs to eyeball: spread over those within 0.05 of the threshold, or else the 8 nearest it."""
    near_thr = sorted((e for e in edges if abs(e.score - threshold) <= 0.05), key=lambda e: e.score)
    if not near_thr:
        near_thr = sorted(sorted(edges, key=lambda e: abs(e.score - threshold))[:8], key=lambda e: e.score)
    step = max(1, len(near_thr) // 8)
    out = []
    for e in near_thr[::step][:8]:
        a, b = redact(text(ids[e.a])), redact(text(ids[e.b]))
        # Where they differ, word by word: cut at the same length, the two sides often looked identical.
        out.append({"a": ids[e.a], "b": ids[e.b], "score": round(e.score, 3), "text_a": a[:300], "text_b": b[:300],
                    "diff": [list(s) for s in clipped(word_diff(a, b))]})
    return out


def _semantic_preview(emb: np.ndarray, reps: np.ndarray, threshold: float, n: int, ids: list[str],
                      text: Callable[[str], str]) -> dict[str, Any]:
    from .semantic import all_pairs

    if len(reps) > PREVIEW_SAMPLE:
        pick = np.sort(np.random.default_rng(0).choice(len(reps), PREVIEW_SAMPLE, replace=False))
        emb, reps = emb[pick], reps[pick]
    pairs, cos = all_pairs(emb, min(SEMANTIC_PREVIEW_THRESHOLDS[0], threshold))
    edges = [Edge(int(reps[a]), int(reps[b]), float(c), "semantic") for (a, b), c in zip(pairs.tolist(), cos)]
    return {"sampled_documents": int(len(reps)), "thresholds": _count_at(edges, n, SEMANTIC_PREVIEW_THRESHOLDS),
            "samples_near_threshold": _samples(edges, threshold, ids, text)}


def dedup(
    collection: str,
    *,
    workspace: Workspace | str | None = None,
    methods: tuple[str, ...] = DEFAULT_METHODS,
    key: str = "conversation",
    near_threshold: float = DEFAULT_NEAR_THRESHOLD,
    semantic_threshold: float = DEFAULT_SEMANTIC_THRESHOLD,
    model: str | None = None,
    against: str | None = None,
    preview: bool = False,
    num_perm: int = NUM_PERM,
    progress: Progress | None = None,
) -> DedupReport:
    """Find duplicate groups in a collection and store them as a dedup run; see the module doc."""
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
    with opened(workspace) as ws, gc_paused():
        return _run(ws, collection, methods, key, near_threshold, semantic_threshold, model, against, preview,
                    num_perm, progress)


def _run(ws: Workspace, collection: str, methods, key, near_threshold, semantic_threshold, model, against,
         preview, num_perm, progress) -> DedupReport:
    started = time.perf_counter()
    params = {"methods": list(methods), "key": key, "near_threshold": near_threshold, "against": against,
              "num_perm": num_perm, "shingle_words": 3, "representative": "check quality, then longest answer"}
    if "semantic" in methods:
        from ..embed import Embedder

        embedder = Embedder(model)
        params.update(semantic_threshold=semantic_threshold, model=embedder.model, embedding_backend=embedder.backend)
    kind = ws.collection_kind(collection)
    if against is not None:
        ws.collection_id(against)
    run_id = ws.start_run(collection, "dedup", params, reads=[against] if against else [])
    corpus = _load(ws, collection, key, kind == "examples" or against is not None, "semantic" in methods, progress)
    timings: dict[str, float] = {"load": time.perf_counter() - started}
    n = len(corpus)
    class_of, classes = _exact_classes(corpus.words)
    edges: list[Edge] = []
    if "exact" in methods:
        for same in classes.values():
            edges += [Edge(same[0], m, 1.0, "exact") for m in same[1:]]
    timings["exact"] = time.perf_counter() - started - sum(timings.values())
    near_stats: dict[str, Any] = {}
    if "near" in methods:
        near_edges, near_stats = _near_edges(corpus.words, class_of, near_threshold, num_perm, progress)
        edges += near_edges
        timings["near"] = time.perf_counter() - started - sum(timings.values())
    emb = sem_reps = None
    if "semantic" in methods:
        from ..embed import embed
        from .semantic import semantic_links

        reps = sem_reps = np.flatnonzero(class_of == np.arange(n))
        texts = [corpus.texts[i] for i in reps]
        emb = embed(texts, ws, embedder, (lambda done, total: progress("embed", done, total)) if progress else None)
        if progress:
            progress("semantic", 0, None)
        pairs, cos = semantic_links(emb, semantic_threshold)
        edges += [Edge(int(reps[a]), int(reps[b]), float(c), "semantic") for (a, b), c in zip(pairs.tolist(), cos)]
        timings["semantic"] = time.perf_counter() - started - sum(timings.values())
    if progress:
        progress("group", 0, None)
    groups = build_groups(n, edges, lambda i: corpus.quality[i])

    # Exact repeats recorded at ingest are members too: the same id at another file:line.
    repeats: dict[str, list[Source]] = {}
    for eid, src in ws.iter_repeats(collection):
        repeats.setdefault(eid, []).append(src)
    index_of = {eid: i for i, eid in enumerate(corpus.ids)} if repeats else {}
    grouped = {i for g in groups for i in g.members}
    for eid in repeats:
        i = index_of.get(eid)
        if i is not None and i not in grouped:
            groups.append(Group([i], i, "exact", []))

    report = DedupReport(collection, run_id, params)
    findings: list[Finding] = []
    stored_groups = []
    for no, g in enumerate(sorted(groups, key=lambda g: g.members[0]), 1):
        rep_id = corpus.ids[g.representative]
        listed: list[dict[str, Any]] = []
        for i in g.members:
            listed.append({"id": corpus.ids[i], "source": corpus.sources[i].location()})
            listed += [{"id": corpus.ids[i], "source": s.location(), "repeat": True}
                       for s in repeats.get(corpus.ids[i], [])]
        evidence = [{"a": corpus.ids[e.a], "b": corpus.ids[e.b], "score": round(e.score, 4), "method": e.method}
                    for e in g.edges]
        evidence += [{"a": corpus.ids[i], "b": corpus.ids[i], "score": 1.0, "method": "repeat"}
                     for i in g.members for _ in repeats.get(corpus.ids[i], [])]
        report.groups.append({"id": no, "method": g.method, "representative": rep_id, "members": listed,
                              "evidence": evidence})
        stored_groups.append((no, g.method, rep_id, [corpus.ids[i] for i in g.members]))
        best = _best_link(g)
        for i in g.members:
            if i == g.representative:
                continue
            score, method = best.get(i, (1.0, g.method))
            findings.append(Finding(corpus.ids[i], "duplicate", "warning", score,
                                    f"{method} duplicate in group {no}; representative {rep_id[:12]} is kept",
                                    {"group": no, "representative": rep_id, "method": method,
                                     "score": round(score, 4)}))

    if kind == "examples":
        if progress:
            progress("conflicts", 0, None)
        for a, b, ps, rj in _conflicts(corpus.prompts, corpus.responses, near_threshold, num_perm):
            report.conflicts.append({"a": corpus.ids[a], "b": corpus.ids[b], "prompt_similarity": round(ps, 4),
                                     "response_similarity": round(rj, 4), "source_a": corpus.sources[a].location(),
                                     "source_b": corpus.sources[b].location()})
            for me, them in ((a, b), (b, a)):
                findings.append(Finding(corpus.ids[me], "conflict", "warning", 1 - rj,
                                        f"same prompt as {corpus.ids[them][:12]} but a different answer "
                                        f"(answer overlap {rj:.0%})",
                                        {"other": corpus.ids[them], "prompt_similarity": round(ps, 4),
                                         "response_similarity": round(rj, 4)}))
        timings["conflicts"] = time.perf_counter() - started - sum(timings.values())

    if against is not None:
        if progress:
            progress("contamination", 0, None)
        other = list(ws.iter_examples(against))
        hits = cross_matches(corpus.prompts, word_ids([e.prompt for e in other]), near_threshold, num_perm)
        if "semantic" in methods:
            from ..embed import embed
            from .semantic import best_matches

            mine_emb = embed([ex.prompt for ex in ws.iter_examples(collection)], ws, embedder)
            other_emb = embed([ex.prompt for ex in other], ws, embedder)
            for i, (j, c) in best_matches(mine_emb, other_emb, semantic_threshold).items():
                hits.setdefault(i, (j, c, "semantic"))  # exact and near matches take precedence
        # Against an eval set (examples) a match is a leak: an error, which export drops. Against production
        # queries it is overlap worth seeing but not a fault (covering what users ask is the point): info.
        severity = "info" if ws.collection_kind(against) == "queries" else "error"
        for i, (j, s, method) in sorted(hits.items()):
            report.contamination.append({"id": corpus.ids[i], "source": corpus.sources[i].location(),
                                         "against": other[j].id, "against_source": other[j].source.location(),
                                         "score": round(s, 4),
                                         "method": method})
            findings.append(Finding(corpus.ids[i], "contamination", severity, s,
                                    f"{method} match of {against} example {other[j].id[:12]} (similarity {s:.2f})",
                                    {"against": against, "other": other[j].id, "method": method, "score": round(s, 4)}))
        timings["contamination"] = time.perf_counter() - started - sum(timings.values())

    def text(eid: str) -> str:
        return key_text(ws.get_example(collection, eid), key)

    if preview and "near" in methods:
        report.preview = _preview(corpus.words, class_of, near_threshold, num_perm, corpus.ids, text)
    if preview and emb is not None and sem_reps is not None:
        report.preview = dict(report.preview or {}, semantic=_semantic_preview(emb, sem_reps, semantic_threshold, n,
                                                                             corpus.ids, text))
    duplicates = sum(len(g.members) - 1 for g in groups)
    by_method: dict[str, int] = {}
    for g in groups:
        by_method[g.method] = by_method.get(g.method, 0) + 1
    report.summary = {
        "examples": n, "groups": len(groups), "groups_by_method": by_method, "duplicates": duplicates,
        "kept": n - duplicates, "ingest_repeats": sum(len(v) for v in repeats.values()),
        "conflicts": len(report.conflicts), "contaminated": len(report.contamination),
        "near": near_stats, "seconds": round(time.perf_counter() - started, 3),
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }
    ws.finish_run(run_id, report.summary, findings, stored_groups)
    return report


def _best_link(g: Group) -> dict[int, tuple[float, str]]:
    best: dict[int, tuple[float, str]] = {}
    for e in g.edges:
        for i in (e.a, e.b):
            if i not in best or best[i][0] < e.score:
                best[i] = (e.score, e.method)
    return best

