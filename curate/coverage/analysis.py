"""Coverage `run()`: which production topics the training set misses, and how many examples to collect for each.

Per cluster (training prompts and production queries clustered together):
- shares: n_train / training size and n_queries / production size;
- gap_score in [0, 1]: the larger of the share deficit (1 - train_share / query_share) and the fraction of
  the cluster's queries that are locally under-covered (see density.py);
- gap (the flag): at least `MIN_QUERIES` queries and either the training share is under a third of the
  production share, or at least half of the queries are under-covered;
- suggested_new_examples at size S (the training set's size, or --target-size): enough to give the cluster
  its production share, ceil(query_share * S - n_train), and for a cluster flagged by its neighbourhoods,
  at least enough to give its under-covered part its share, ceil(query_share * under_fraction * S).
Without queries, the training set's own balance: a cluster is thin below half the average cluster share,
and the suggestion brings it to the median cluster size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dedup.text import normalise
from ..errors import UsageError
from ..findings import Progress, Report
from ..record import Source
from ..secrets import redact_value
from ..workspace import Workspace, opened
from .cluster import Clustering, cluster
from .density import UNDER_COVERED, QueryCoverage, query_coverage
from .labels import cluster_terms, label

if TYPE_CHECKING:
    from ..embed import Embedder

MIN_QUERIES = 3
DEFICIT_FLAG = 1 - UNDER_COVERED  # training share under a third of production share
LOCAL_FLAG = 0.5
DEFAULT_UNCOVERED_SIMILARITY = 0.6
_MAP_POINTS = 2500
_EXAMPLES = 3


@dataclass
class _Side:
    ids: list[str] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
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
                "gaps": self.gaps, "clusters": self.clusters, "uncovered_queries": self.uncovered_queries, "summary": self.summary}


def _load(ws: Workspace, collection: str, progress: Progress | None, stage: str) -> _Side:
    side = _Side()
    total = ws.count_examples(collection)
    for n, example in enumerate(ws.iter_examples(collection), 1):
        text = example.prompt.strip()
        if text:
            side.ids.append(example.id)
            side.sources.append(example.source)
            side.texts.append(text)
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


def run(collection: str, *, workspace: Workspace | str | None = None, progress: Progress | None = None,
        queries: str | None = None, k: int | None = None, target_size: int | None = None,
        uncovered_similarity: float = DEFAULT_UNCOVERED_SIMILARITY, model: str | None = None,
        seed: int = 0) -> CoverageReport:
    """Cluster `collection`'s prompts with the `queries` collection's texts and find the gaps; see the module
    doc. Without queries, the training set's own balance."""
    from ..embed import Embedder

    if k is not None and k < 1:
        raise UsageError("{k} must be at least 1", params=("k",))
    if target_size is not None and target_size < 1:
        raise UsageError("{target_size} must be at least 1", params=("target_size",))
    embedder = Embedder(model)
    params = {"queries": queries, "clusters": k, "target_size": target_size, "seed": seed,
              "uncovered_similarity": uncovered_similarity, "model": embedder.model,
              "embedding_backend": embedder.backend}
    with opened(workspace) as ws:
        t_side = _load(ws, collection, progress, "load train")
        if not t_side.texts:
            raise UsageError(f"collection {collection!r} has no example with a user turn to place; ingest training "
                             "data first")
        q_side = _load(ws, queries, progress, "load queries") if queries else _Side()
        if queries and not q_side.texts:
            raise UsageError(f"collection {queries!r} has no query text")
        run_id = ws.start_run(collection, "coverage", params, reads=[queries] if queries else [])
        placed = _place(ws, embedder, t_side, q_side, k, seed, progress)
        clusters = _clusters(placed, target_size or len(t_side.texts))
        uncovered = _uncovered(placed, clusters, uncovered_similarity)
        if progress:
            progress("map", 0, None)
        point_map = _map(placed.tv, placed.qv, placed.lt, placed.lq, seed)
        point_map["text"] = [t_side.texts[i][:160] for i in point_map["train"]] + \
            [q_side.texts[i][:160] for i in point_map["query"]]
        summary = _summary(placed, clusters, uncovered, k, target_size or len(t_side.texts))
        ws.store_clusters(run_id, [(t_side.ids[i], "train", int(c)) for i, c in enumerate(placed.lt)] +
                          [(q_side.ids[i], "query", int(c)) for i, c in enumerate(placed.lq)])
        ws.finish_run(run_id, summary, [])
    # Everything the report shows of the data (labels, example queries and prompts, the map's hover text)
    # is rendered into HTML, Markdown and JSON meant to be shared: with its secrets masked.
    return CoverageReport(collection, run_id, params, redact_value(summary), queries=queries,
                          clusters=redact_value(clusters), uncovered_queries=redact_value(uncovered),
                          map=redact_value(point_map))


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

    @property
    def lt(self) -> np.ndarray:
        return self.clustering.labels_train

    @property
    def lq(self) -> np.ndarray:
        return self.clustering.labels_query


def _place(ws: Workspace, embedder: Embedder, t_side: _Side, q_side: _Side, k: int | None, seed: int,
           progress: Progress | None) -> _Placed:
    from ..embed import embed

    texts = t_side.texts + q_side.texts
    vectors = embed(texts, ws, embedder, (lambda d, t: progress("embed", d, t)) if progress else None)
    tv, qv = vectors[:len(t_side.texts)], vectors[len(t_side.texts):]
    if progress:
        progress("cluster", 0, None)
    clustering = cluster(tv, qv, k, seed)
    if progress:
        progress("neighbours", 0, None)
    cov = query_coverage(tv, qv, clustering.labels_train, clustering.labels_query, clustering.centroids)
    if progress:
        progress("label", 0, None)
    terms = cluster_terms(texts, np.concatenate([clustering.labels_train, clustering.labels_query]), clustering.k,
                          seed=seed)
    return _Placed(t_side, q_side, tv, qv, clustering, cov, terms)


def _clusters(p: _Placed, size: int) -> list[dict[str, Any]]:
    """One entry per cluster, most impact first: the examples to collect, then how large the gap is."""
    k = p.clustering.k
    count_t = np.bincount(p.lt, minlength=k)
    count_q = np.bincount(p.lq, minlength=k)
    under = np.bincount(p.lq, weights=p.cov.under_covered, minlength=k) if len(p.qv) else np.zeros(k)
    median_t = float(np.median(count_t))
    clusters = []
    for c in range(k):
        t_share = count_t[c] / len(p.tv)
        d: dict[str, Any] = {"id": c, "terms": p.terms[c], "n_train": int(count_t[c]),
                             "n_queries": int(count_q[c]), "train_share": round(float(t_share), 5)}
        if len(p.qv):
            d.update(_gap_against_queries(p, c, count_t[c], count_q[c], under[c], size))
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


def _gap_against_queries(p: _Placed, c: int, n_t: int, n_q: int, under: float, size: int) -> dict[str, Any]:
    t_share, q_share = n_t / len(p.tv), n_q / len(p.qv)
    under_fraction = under / n_q if n_q else 0.0
    deficit = max(0.0, 1 - t_share / q_share) if q_share else 0.0
    flagged = bool(n_q >= MIN_QUERIES and (deficit >= DEFICIT_FLAG or under_fraction >= LOCAL_FLAG))
    need = math.ceil(q_share * size - n_t - 1e-9)
    if under_fraction >= LOCAL_FLAG:
        need = max(need, math.ceil(q_share * under_fraction * size - 1e-9))
    # Show under-covered queries first in a flagged cluster: they are the ones to write examples for.
    members_q = np.flatnonzero(p.lq == c)
    pool = members_q[p.cov.under_covered[members_q]] if flagged and under else members_q
    shown = _central(pool, p.qv, p.clustering.centroids[c], _EXAMPLES, p.q_side.texts)
    q, t = p.q_side, p.t_side
    return dict(query_share=round(float(q_share), 5), share_gap=round(float(q_share - t_share), 5),
                gap=flagged, gap_score=round(float(max(deficit, under_fraction)), 4),
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


def _summary(p: _Placed, clusters: list[dict[str, Any]], uncovered: list[dict[str, Any]], k: int | None,
             size: int) -> dict[str, Any]:
    gaps = [c for c in clusters if c["gap"]]
    return {"train_examples": len(p.tv), "queries": len(p.qv),
            "skipped_without_prompt": p.t_side.skipped + p.q_side.skipped,
            "clusters": p.clustering.k, "clusters_chosen_by": "given" if k else "silhouette",
            "silhouette": {str(key): round(v, 4) for key, v in p.clustering.silhouette.items()},
            "gaps": len(gaps), "suggested_new_examples": int(sum(c["suggested_new_examples"] for c in gaps)),
            "queries_in_gaps": int(sum(c["n_queries"] for c in gaps)),
            "under_covered_queries": int(p.cov.under_covered.sum()) if len(p.qv) else 0,
            "uncovered_queries": len(uncovered), "size": size,
            "cluster_labels": [{"id": c["id"], "label": c["label"], "gap": c["gap"]} for c in clusters]}
