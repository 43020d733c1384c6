"""Coverage `run()`: which production topics the training set misses, and how many examples to collect for each.

The gaps are regions of under-covered queries (density.py, gaps.py), one entry per topic: its label (the
most central query), its under-covered queries, the training prompts nearest to it and how many examples to
collect at size S (the training set's size, or --target-size).

The topic clusters (training prompts and queries clustered together) give the overview: shares per topic,
and the strata export can keep. Per cluster:
- shares: n_train / training size and n_queries / production size;
- gap (the flag): at least `MIN_QUERIES` queries, at least half of them in gaps;
- gap_score in [0, 1]: the larger of the share deficit (1 - train_share / query_share) and that fraction;
- suggested_new_examples: enough to give the cluster its production share, ceil(query_share * S - n_train),
  and for a flagged cluster at least enough to give its part in gaps its share.
Without queries, the training set's own balance: a cluster is thin below half the average cluster share,
and the suggestion brings it to the median cluster size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dedup.text import normalise
from ..engine import Engine
from ..errors import UsageError
from ..findings import Progress, Report
from ..record import Source
from ..secrets import redact, redact_value
from ..workspace import Workspace, opened
from .cluster import Clustering, cluster
from .density import QueryCoverage, query_coverage
from .gaps import MIN_QUERIES, Gap, centre, find, to_collect, train_density
from .labels import cluster_terms, label

if TYPE_CHECKING:
    from ..embed import Embedder

IN_GAPS_FLAG = 0.5
DEFAULT_UNCOVERED_SIMILARITY = 0.6
_MAP_POINTS = 2500
_EXAMPLES = 3
_GAP_EXAMPLES = 5
_LABEL_CHARS = 80


@dataclass
class _Side:
    ids: list[str] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # masked: all the report shows or derives terms from
    raw: list[str] = field(default_factory=list)  # as written: what is embedded (the cache dedup shares)
    skipped: int = 0  # examples without a user turn: nothing to place


@dataclass
class CoverageReport(Report):
    queries: str | None = None
    clusters: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)  # regions of under-covered queries; see gaps.py
    uncovered_queries: list[dict[str, Any]] = field(default_factory=list)
    map: dict[str, Any] = field(default_factory=dict)  # a t-SNE sample for the HTML page, not in the JSON

    @property
    def train(self) -> str:
        return self.collection

    def to_dict(self) -> dict[str, Any]:
        # "train", not "collection": the JSON names both sides, and scripts read it.
        return {"train": self.collection, "queries": self.queries, "run_id": self.run_id, "params": self.params,
                "gaps": self.gaps, "clusters": self.clusters, "uncovered_queries": self.uncovered_queries,
                "summary": self.summary}


def _load(ws: Workspace, collection: str, progress: Progress | None, stage: str) -> _Side:
    side = _Side()
    total = ws.count_examples(collection)
    for n, example in enumerate(ws.iter_examples(collection), 1):
        text = example.prompt.strip()
        if text:
            side.ids.append(example.id)
            side.sources.append(example.source)
            side.raw.append(text)
            # Masked before anything is cut or counted: a label cut mid-key, or terms counted on the
            # words of a key or an address, escaped the report's final masking.
            side.texts.append(redact(text))
        else:
            side.skipped += 1
        if progress and n % 5000 == 0:
            progress(stage, n, total)
    if progress:
        progress(stage, total, total)
    return side


def _source(s: Source) -> dict[str, Any]:
    return {"path": s.path, "line": s.line, "index": s.index}


def _central(members: np.ndarray, vectors: np.ndarray, centroid: np.ndarray, n: int,
             texts: list[str] | None = None) -> np.ndarray:
    """The n members nearest the centroid; with texts, no two that read the same once normalised."""
    if not len(members):
        return members
    ranked = members[np.argsort(-(vectors[members] @ centroid), kind="stable")]
    if texts is None:
        return ranked[:n]
    chosen, seen = [], set()
    for i in ranked:
        key = normalise(texts[i])
        if key not in seen:
            seen.add(key)
            chosen.append(i)
            if len(chosen) == n:
                break
    return np.array(chosen, dtype=np.int64)


def _map(train: np.ndarray, queries: np.ndarray, lt: np.ndarray, lq: np.ndarray, seed: int) -> dict[str, Any]:
    """A 2-D t-SNE map of a sample: at most _MAP_POINTS points, split evenly between the sides."""
    rng = np.random.default_rng(seed)
    half = _MAP_POINTS // 2 if len(queries) else _MAP_POINTS
    take_q = np.sort(rng.choice(len(queries), min(len(queries), half), replace=False)) if len(queries) else \
        np.zeros(0, dtype=np.int64)
    take_t = np.sort(rng.choice(len(train), min(len(train), _MAP_POINTS - len(take_q)), replace=False))
    x = np.vstack([train[take_t], queries[take_q]]) if len(take_q) else train[take_t]
    if len(x) >= 8:
        from sklearn.manifold import TSNE

        xy = TSNE(2, init="pca", perplexity=min(30.0, (len(x) - 1) / 3), random_state=seed,
                  max_iter=500).fit_transform(x)
    else:
        xy = np.zeros((len(x), 2)) + np.arange(len(x))[:, None]
    xy = (xy - xy.min(axis=0)) / np.maximum(xy.max(axis=0) - xy.min(axis=0), 1e-9)
    return {"train": take_t.tolist(), "query": take_q.tolist(), "xy": np.round(xy, 4).tolist(),
            "cluster": np.concatenate([lt[take_t], lq[take_q]]).tolist()}


def _map_gaps(p: _Placed, entries: list[dict[str, Any]], shown_queries: list[int]) -> list[int]:
    """Per mapped query, the position of its gap in the report's order (-1: in none), so the map colours
    the same gaps the page lists."""
    rank = {e["id"]: r for r, e in enumerate(entries)}
    of_query = np.full(len(p.qv), -1, dtype=np.int64)
    for gap in p.gaps:
        of_query[gap.members] = rank[int(gap.members[0])]
    return of_query[np.asarray(shown_queries, dtype=np.int64)].tolist()


def run(collection: str, *, workspace: Workspace | str | None = None, progress: Progress | None = None,
        queries: str | None = None, k: int | None = None, target_size: int | None = None,
        uncovered_similarity: float = DEFAULT_UNCOVERED_SIMILARITY, model: str | None = None,
        seed: int = 0, with_map: bool = True, embedder: str = "full", engine: Engine | None = None) -> CoverageReport:
    """Find where `collection`'s prompts miss the `queries` collection's texts; see the module doc. Without
    queries, the training set's own balance. with_map=False skips the t-SNE map only the HTML page shows. On a
    distributed `engine` its workers compute the embeddings; clustering and neighbourhoods stay here."""
    from ..embed import embedder_for

    if k is not None and k < 1:
        raise UsageError("{k} must be at least 1", params=("k",))
    if target_size is not None and target_size < 1:
        raise UsageError("{target_size} must be at least 1", params=("target_size",))
    encoder = embedder_for(model, embedder)
    params = {"queries": queries, "clusters": k, "target_size": target_size, "seed": seed,
              "uncovered_similarity": uncovered_similarity, "model": encoder.model,
              "embedding_backend": encoder.backend}
    with opened(workspace) as ws:
        t_side = _load(ws, collection, progress, "load train")
        if not t_side.texts:
            raise UsageError(f"collection {collection!r} has no example with a user turn to place; ingest training "
                             "data first")
        q_side = _load(ws, queries, progress, "load queries") if queries else _Side()
        if queries and not q_side.texts:
            raise UsageError(f"collection {queries!r} has no query text")
        run_id = ws.start_run(collection, "coverage", params, reads=[queries] if queries else [])
        placed = _place(ws, encoder, t_side, q_side, k, seed, progress, engine)
        size = target_size or len(t_side.texts)
        gaps = _gap_entries(placed, size, seed)
        clusters = _clusters(placed, size)
        uncovered = _uncovered(placed, clusters, uncovered_similarity)
        point_map: dict[str, Any] = {}
        if with_map:
            if progress:
                progress("map", 0, None)
            point_map = _map(placed.tv, placed.qv, placed.lt, placed.lq, seed)
            point_map["text"] = [t_side.texts[i][:160] for i in point_map["train"]] + \
                [q_side.texts[i][:160] for i in point_map["query"]]
            point_map["gap"] = _map_gaps(placed, gaps, point_map["query"])
        summary = _summary(placed, gaps, clusters, uncovered, k, size)
        ws.store_clusters(run_id, [(t_side.ids[i], "train", int(c)) for i, c in enumerate(placed.lt)] +
                          [(q_side.ids[i], "query", int(c)) for i, c in enumerate(placed.lq)])
        ws.finish_run(run_id, summary, [])
    # Everything the report shows of the data (labels, example queries and prompts, the map's hover text)
    # is rendered into HTML, Markdown and JSON meant to be shared: with its secrets masked.
    return CoverageReport(collection, run_id, params, redact_value(summary), queries=queries,
                          gaps=redact_value(gaps), clusters=redact_value(clusters),
                          uncovered_queries=redact_value(uncovered), map=redact_value(point_map))


@dataclass
class _Placed:
    """Both sides embedded, clustered together, with each query's neighbourhood coverage and each cluster's
    terms."""

    t_side: _Side
    q_side: _Side
    tv: np.ndarray
    qv: np.ndarray
    clustering: Clustering
    cov: QueryCoverage
    terms: list[list[str]]
    gaps: list[Gap]
    in_gap: np.ndarray  # per query: in a gap

    @property
    def lt(self) -> np.ndarray:
        return self.clustering.labels_train

    @property
    def lq(self) -> np.ndarray:
        return self.clustering.labels_query


def _place(ws: Workspace, embedder: Embedder, t_side: _Side, q_side: _Side, k: int | None, seed: int,
           progress: Progress | None, engine: Engine | None) -> _Placed:
    from ..embed import embed

    texts = t_side.raw + q_side.raw
    if progress:  # now, not after the first batch: loading (or distilling) the model can take minutes
        progress("embed", 0, len(texts))
    vectors = embed(texts, ws, embedder, (lambda d, t: progress("embed", d, t)) if progress else None, engine)
    tv, qv = vectors[:len(t_side.texts)], vectors[len(t_side.texts):]
    if progress:
        progress("cluster", 0, None)
    clustering = cluster(tv, qv, k, seed)
    if progress:
        progress("neighbours", 0, None)
    cov = query_coverage(tv, qv, (lambda d, t: progress("neighbours", d, t)) if progress else None)
    gaps = find(cov, qv, len(tv), seed)
    in_gap = np.zeros(len(qv), dtype=bool)
    for g in gaps:
        in_gap[g.members] = True
    if progress:
        progress("label", 0, None)
    labels = np.concatenate([clustering.labels_train, clustering.labels_query])
    terms = cluster_terms(t_side.texts + q_side.texts, labels, clustering.k, seed=seed)
    return _Placed(t_side, q_side, tv, qv, clustering, cov, terms, gaps, in_gap)


def _gap_entries(p: _Placed, size: int, seed: int) -> list[dict[str, Any]]:
    """One entry per gap, most examples to collect first."""
    if not p.gaps:
        return []
    q = p.q_side
    background = len(p.gaps)  # every query outside the gaps: what the gaps' terms must stand out from
    by_gap = np.full(len(p.qv), background)
    for g, gap in enumerate(p.gaps):
        by_gap[gap.members] = g
    terms = cluster_terms(q.texts, by_gap, background + 1, seed=seed)
    entries = [_gap_entry(p, gap, terms[g], size, seed) for g, gap in enumerate(p.gaps)]
    entries.sort(key=lambda e: (-e["suggested_new_examples"], -e["queries"], e["id"]))
    return entries


def _gap_entry(p: _Placed, gap: Gap, terms: list[str], size: int, seed: int) -> dict[str, Any]:
    q, t, members = p.q_side, p.t_side, gap.members
    density = train_density(p.cov, members, len(p.tv), len(p.qv))
    shown = _central(members, p.qv, centre(p.qv[members]), _GAP_EXAMPLES, q.texts)
    # Among the training prompts nearest to some member: the nearest to the gap's centre is one of them
    # in all but odd geometries, and this stays cheap with thousands of gaps over 100K prompts.
    candidates = np.unique(p.cov.nearest[members])
    near = p.tv[candidates] @ centre(p.qv[members])
    order = np.argsort(-near, kind="stable")[:_EXAMPLES]
    return {"id": int(members[0]), "label": _short(q.texts[shown[0]]), "terms": terms, "queries": len(members),
            "query_share": round(len(members) / len(p.qv), 5), "train_density": round(density, 4),
            "suggested_new_examples": to_collect(len(members), len(p.qv), size, density),
            "example_queries": [q.texts[i] for i in shown],
            "nearest_train": [{"id": t.ids[candidates[i]], "text": t.texts[candidates[i]],
                               "similarity": round(float(near[i]), 4)} for i in order],
            "sub_topics": _sub_topics(p, gap, seed) if len(gap.regions) > 1 else [],
            "members": [dict(id=q.ids[i], **_source(q.sources[i])) for i in members]}


def _sub_topics(p: _Placed, gap: Gap, seed: int) -> list[dict[str, Any]]:
    q = p.q_side
    members = gap.members
    by_region = np.zeros(len(members), dtype=np.int64)
    for r, region in enumerate(gap.regions):
        by_region[np.searchsorted(members, region)] = r  # members is sorted
    terms = cluster_terms([q.texts[i] for i in members], by_region, len(gap.regions), seed=seed)
    out = []
    for r, region in enumerate(gap.regions):
        shown = _central(region, p.qv, centre(p.qv[region]), _EXAMPLES, q.texts)
        out.append({"label": _short(q.texts[shown[0]]), "terms": terms[r], "queries": len(region),
                    "example_queries": [q.texts[i] for i in shown]})
    return out


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _LABEL_CHARS else text[:_LABEL_CHARS - 1] + "…"


def _clusters(p: _Placed, size: int) -> list[dict[str, Any]]:
    """One entry per cluster, most impact first: the examples to collect, then how large the gap is."""
    k = p.clustering.k
    count_t = np.bincount(p.lt, minlength=k)
    count_q = np.bincount(p.lq, minlength=k)
    under = np.bincount(p.lq, weights=p.cov.under_covered, minlength=k) if len(p.qv) else np.zeros(k)
    in_gaps = np.bincount(p.lq, weights=p.in_gap, minlength=k) if len(p.qv) else np.zeros(k)
    median_t = float(np.median(count_t))
    clusters = []
    for c in range(k):
        t_share = count_t[c] / len(p.tv)
        d: dict[str, Any] = {"id": c, "terms": p.terms[c], "n_train": int(count_t[c]),
                             "n_queries": int(count_q[c]), "train_share": round(float(t_share), 5)}
        if len(p.qv):
            d.update(_gap_against_queries(p, c, count_t[c], count_q[c], under[c], in_gaps[c], size))
        else:
            even = 1 / k
            thin = bool(t_share < even / 2)
            d.update(query_share=None, share_gap=None, gap=thin,
                     gap_score=round(float(max(0.0, 1 - t_share / even)), 4), under_covered_queries=0,
                     suggested_new_examples=max(0, math.ceil(median_t * size / len(p.tv) - count_t[c])) if thin
                     else 0, example_queries=[], example_pairs=[])
        d.update(_cluster_examples(p, c))
        clusters.append(d)
    order = sorted(range(k), key=lambda c: (not clusters[c]["gap"], -clusters[c]["suggested_new_examples"],
                                            -clusters[c]["gap_score"], c))
    return [clusters[c] for c in order]


def _gap_against_queries(p: _Placed, c: int, n_t: int, n_q: int, under: float, in_gaps: float,
                         size: int) -> dict[str, Any]:
    t_share, q_share = n_t / len(p.tv), n_q / len(p.qv)
    gap_fraction = in_gaps / n_q if n_q else 0.0
    deficit = max(0.0, 1 - t_share / q_share) if q_share else 0.0
    flagged = bool(n_q >= MIN_QUERIES and gap_fraction >= IN_GAPS_FLAG)
    need = math.ceil(q_share * size - n_t - 1e-9)
    if flagged:
        need = max(need, math.ceil(q_share * gap_fraction * size - 1e-9))
    # Show the queries in gaps first in a flagged cluster: they are the ones to write examples for.
    members_q = np.flatnonzero(p.lq == c)
    pool = members_q[p.in_gap[members_q]] if flagged else members_q
    shown = _central(pool, p.qv, p.clustering.centroids[c], _EXAMPLES, p.q_side.texts)
    q, t = p.q_side, p.t_side
    return dict(query_share=round(float(q_share), 5), share_gap=round(float(q_share - t_share), 5),
                gap=flagged, gap_score=round(float(max(deficit, gap_fraction)), 4),
                under_covered_queries=int(under), suggested_new_examples=max(0, int(need)),
                example_queries=[q.texts[i] for i in shown],
                example_pairs=[{"query": q.texts[i], "query_source": _source(q.sources[i]),
                                "nearest_train": t.texts[p.cov.nearest[i]],
                                "nearest_train_id": t.ids[p.cov.nearest[i]],
                                "similarity": round(float(p.cov.nearest_similarity[i]), 4)} for i in shown])


def _cluster_examples(p: _Placed, c: int) -> dict[str, Any]:
    """The cluster's label, its most central training prompts, and its members."""
    t, q, centroid = p.t_side, p.q_side, p.clustering.centroids[c]
    members_t, members_q = np.flatnonzero(p.lt == c), np.flatnonzero(p.lq == c)
    central_t = _central(members_t, p.tv, centroid, _EXAMPLES, t.texts)
    fallback = q.texts[_central(members_q, p.qv, centroid, 1)[0]] if len(members_q) and not len(central_t) else \
        (t.texts[central_t[0]] if len(central_t) else "")
    return {"label": label(p.terms[c], fallback), "example_train": [t.texts[i] for i in central_t],
            "members": {"queries": [dict(id=q.ids[i], **_source(q.sources[i])) for i in members_q],
                        "train": [dict(id=t.ids[i], **_source(t.sources[i])) for i in members_t]}}


def _uncovered(p: _Placed, clusters: list[dict[str, Any]], below: float) -> list[dict[str, Any]]:
    """Queries whose nearest training prompt is less similar than `below`, in the clusters' order."""
    if not len(p.qv):
        return []
    rank = {c["id"]: r for r, c in enumerate(clusters)}
    sim, t, q = p.cov.nearest_similarity, p.t_side, p.q_side
    out = []
    for i in sorted(np.flatnonzero(sim < below).tolist(), key=lambda i: (rank[int(p.lq[i])], float(sim[i]))):
        j = int(p.cov.nearest[i])
        out.append({"source": _source(q.sources[i]), "id": q.ids[i], "text": q.texts[i], "cluster": int(p.lq[i]),
                    "nearest_similarity": round(float(sim[i]), 4),
                    "nearest_train": {"id": t.ids[j], "source": _source(t.sources[j]), "text": t.texts[j]}})
    return out


def _summary(p: _Placed, gaps: list[dict[str, Any]], clusters: list[dict[str, Any]], uncovered: list[dict[str, Any]],
             k: int | None, size: int) -> dict[str, Any]:
    if not len(p.qv):  # the training set's own balance: its thin clusters are what it lacks
        gaps = [{"suggested_new_examples": c["suggested_new_examples"], "queries": 0} for c in clusters if c["gap"]]
    return {"train_examples": len(p.tv), "queries": len(p.qv),
            "skipped_without_prompt": p.t_side.skipped + p.q_side.skipped,
            "clusters": p.clustering.k, "clusters_chosen_by": "given" if k else "silhouette",
            "silhouette": {str(key): round(v, 4) for key, v in p.clustering.silhouette.items()},
            "gaps": len(gaps), "suggested_new_examples": int(sum(g["suggested_new_examples"] for g in gaps)),
            "queries_in_gaps": int(sum(g["queries"] for g in gaps)),
            "gap_clusters": sum(bool(c["gap"]) for c in clusters),
            "under_covered_queries": int(p.cov.under_covered.sum()) if len(p.qv) else 0,
            "uncovered_queries": len(uncovered), "size": size,
            "neighbour_search": p.cov.how_searched() if len(p.qv) else None,
            "neighbour_recall": round(p.cov.search.sample_recall, 4) if p.cov.search else 1.0,
            "cluster_labels": [{"id": c["id"], "label": c["label"], "gap": c["gap"]} for c in clusters]}
