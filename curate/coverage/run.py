"""`coverage()`: which production topics the training set misses, and how many examples to collect for each.

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
from typing import Any, Callable

import numpy as np

from ..dedup.text import normalise
from ..errors import UsageError
from ..record import Source
from ..secrets import redact_value
from ..workspace import Workspace
from .cluster import cluster
from .density import UNDER_COVERED, query_coverage
from .labels import cluster_terms, label

Progress = Callable[[str, int, int | None], None]

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
class CoverageReport:
    train: str
    queries: str | None
    run_id: int
    params: dict[str, Any]
    clusters: list[dict[str, Any]]
    uncovered_queries: list[dict[str, Any]]
    summary: dict[str, Any]
    map: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"train": self.train, "queries": self.queries, "run_id": self.run_id, "params": self.params,
                "clusters": self.clusters, "uncovered_queries": self.uncovered_queries, "summary": self.summary}


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


def coverage(train: str, queries: str | None = None, workspace: Workspace | None = None, *, k: int | None = None,
             target_size: int | None = None, uncovered_similarity: float = DEFAULT_UNCOVERED_SIMILARITY,
             model: str | None = None, seed: int = 0, progress: Progress | None = None) -> CoverageReport:
    from ..embed import Embedder, embed

    ws = workspace or Workspace()
    if k is not None and k < 1:
        raise UsageError("{k} must be at least 1", params=("k",))
    if target_size is not None and target_size < 1:
        raise UsageError("{target_size} must be at least 1", params=("target_size",))
    embedder = Embedder(model)
    params = {"queries": queries, "clusters": k, "target_size": target_size, "seed": seed,
              "uncovered_similarity": uncovered_similarity, "model": embedder.model,
              "embedding_backend": embedder.backend}
    t_side = _load(ws, train, progress, "load train")
    if not t_side.texts:
        raise UsageError(f"collection {train!r} has no example with a user turn to place; ingest training data first")
    q_side = _load(ws, queries, progress, "load queries") if queries else _Side()
    if queries and not q_side.texts:
        raise UsageError(f"collection {queries!r} has no query text")
    run_id = ws.start_run(train, "coverage", params, reads=[queries] if queries else [])

    texts = t_side.texts + q_side.texts
    vectors = embed(texts, ws, embedder, (lambda d, t: progress("embed", d, t)) if progress else None)
    tv, qv = vectors[:len(t_side.texts)], vectors[len(t_side.texts):]
    if progress:
        progress("cluster", 0, None)
    clustering = cluster(tv, qv, k, seed)
    lt, lq, k_used = clustering.labels_train, clustering.labels_query, clustering.k
    if progress:
        progress("neighbours", 0, None)
    cov = query_coverage(tv, qv, lt, lq, clustering.centroids)
    if progress:
        progress("label", 0, None)
    terms = cluster_terms(texts, np.concatenate([lt, lq]), k_used, seed=seed)

    n_t, n_q = len(tv), len(qv)
    size = target_size or n_t
    count_t = np.bincount(lt, minlength=k_used)
    count_q = np.bincount(lq, minlength=k_used)
    under = np.bincount(lq, weights=cov.under_covered, minlength=k_used) if n_q else np.zeros(k_used)
    median_t = float(np.median(count_t))
    clusters = []
    for c in range(k_used):
        members_t = np.flatnonzero(lt == c)
        members_q = np.flatnonzero(lq == c)
        t_share = count_t[c] / n_t
        d: dict[str, Any] = {"id": c, "terms": terms[c], "n_train": int(count_t[c]), "n_queries": int(count_q[c]),
                             "train_share": round(float(t_share), 5)}
        if n_q:
            q_share = count_q[c] / n_q
            under_fraction = under[c] / count_q[c] if count_q[c] else 0.0
            deficit = max(0.0, 1 - t_share / q_share) if q_share else 0.0
            flagged = bool(count_q[c] >= MIN_QUERIES and (deficit >= DEFICIT_FLAG or under_fraction >= LOCAL_FLAG))
            need = math.ceil(q_share * size - count_t[c] - 1e-9)
            if under_fraction >= LOCAL_FLAG:
                need = max(need, math.ceil(q_share * under_fraction * size - 1e-9))
            # Show under-covered queries first in a flagged cluster: they are the ones to write examples for.
            pool = members_q[cov.under_covered[members_q]] if flagged and under[c] else members_q
            shown = _central(pool, qv, clustering.centroids[c], _EXAMPLES, q_side.texts)
            d.update(query_share=round(float(q_share), 5), share_gap=round(float(q_share - t_share), 5),
                     gap=flagged, gap_score=round(float(max(deficit, under_fraction)), 4),
                     under_covered_queries=int(under[c]), suggested_new_examples=max(0, int(need)),
                     example_queries=[q_side.texts[i] for i in shown],
                     example_pairs=[{"query": q_side.texts[i], "query_source": _source(q_side.sources[i]),
                                     "nearest_train": t_side.texts[cov.nearest[i]],
                                     "nearest_train_id": t_side.ids[cov.nearest[i]],
                                     "similarity": round(float(cov.nearest_similarity[i]), 4)} for i in shown])
        else:
            even = 1 / k_used
            thin = bool(t_share < even / 2)
            d.update(query_share=None, share_gap=None, gap=thin,
                     gap_score=round(float(max(0.0, 1 - t_share / even)), 4), under_covered_queries=0,
                     suggested_new_examples=max(0, math.ceil(median_t * size / n_t - count_t[c])) if thin else 0,
                     example_queries=[], example_pairs=[])
        central_t = _central(members_t, tv, clustering.centroids[c], _EXAMPLES, t_side.texts)
        fallback = q_side.texts[_central(members_q, qv, clustering.centroids[c], 1)[0]] if len(members_q) and \
            not len(central_t) else (t_side.texts[central_t[0]] if len(central_t) else "")
        d["label"] = label(terms[c], fallback)
        d["example_train"] = [t_side.texts[i] for i in central_t]
        d["members"] = {"queries": [dict(id=q_side.ids[i], **_source(q_side.sources[i])) for i in members_q],
                        "train": [dict(id=t_side.ids[i], **_source(t_side.sources[i])) for i in members_t]}
        clusters.append(d)
    # Most impact first: the examples to collect, then how large the gap is.
    order = sorted(range(k_used), key=lambda c: (not clusters[c]["gap"], -clusters[c]["suggested_new_examples"],
                                                 -clusters[c]["gap_score"], c))
    clusters = [clusters[c] for c in order]

    uncovered = []
    if n_q:
        rank = {c: r for r, c in enumerate(order)}
        low = np.flatnonzero(cov.nearest_similarity < uncovered_similarity)
        for i in sorted(low.tolist(), key=lambda i: (rank[int(lq[i])], float(cov.nearest_similarity[i]))):
            j = int(cov.nearest[i])
            uncovered.append({"source": _source(q_side.sources[i]), "id": q_side.ids[i], "text": q_side.texts[i],
                              "cluster": int(lq[i]), "nearest_similarity": round(float(cov.nearest_similarity[i]), 4),
                              "nearest_train": {"id": t_side.ids[j], "source": _source(t_side.sources[j]),
                                                "text": t_side.texts[j]}})
    if progress:
        progress("map", 0, None)
    point_map = _map(tv, qv, lt, lq, seed)
    point_map["text"] = [t_side.texts[i][:160] for i in point_map["train"]] + \
        [q_side.texts[i][:160] for i in point_map["query"]]

    gap_clusters = [c for c in clusters if c["gap"]]
    summary = {"train_examples": n_t, "queries": n_q, "skipped_without_prompt": t_side.skipped + q_side.skipped,
               "clusters": k_used, "clusters_chosen_by": "given" if k else "silhouette",
               "silhouette": {str(key): round(v, 4) for key, v in clustering.silhouette.items()},
               "gaps": len(gap_clusters),
               "suggested_new_examples": int(sum(c["suggested_new_examples"] for c in gap_clusters)),
               "queries_in_gaps": int(sum(c["n_queries"] for c in gap_clusters)),
               "under_covered_queries": int(cov.under_covered.sum()) if n_q else 0,
               "uncovered_queries": len(uncovered), "size": size,
               "cluster_labels": [{"id": c["id"], "label": c["label"], "gap": c["gap"]} for c in clusters]}
    ws.store_clusters(run_id, [(t_side.ids[i], "train", int(lt[i])) for i in range(n_t)] +
                      [(q_side.ids[i], "query", int(lq[i])) for i in range(n_q)])
    ws.finish_run(run_id, summary, [])
    # Everything the report shows of the data (labels, example queries and prompts, the map's hover text)
    # is rendered into HTML, Markdown and JSON meant to be shared: with its secrets masked.
    return CoverageReport(train, queries, run_id, params, redact_value(clusters), redact_value(uncovered),
                          redact_value(summary), redact_value(point_map))
