"""Semantic dedup's neighbour search: curate's inverted lists against exact blocked search, faiss's IVF range
search over the same lists, and HNSW graphs (usearch, curate's path until stop 29; faiss).

    python bench/ann.py [--sizes 20000 100000 1000000] [--threshold 0.9] [--methods ...]
                        [--graph-max 100000]

Real vectors: every distinct sentence of ../shared/data (MSRP, banking77, HWU64, STS 2016, alpaca seed
tasks and demos, code alpaca: instructions and short outputs), embedded with curate's static embedder
(the distilled model2vec model, `Embedder(backend="static")`). A corpus of size n is those vectors plus
noisy copies of them: a share of planted near-copies (noise small enough that the copy's cosine to its
source is well above the threshold: known duplicate pairs, groups of 2-6), and background copies noisy
enough (cosine about 0.75 to their source) that they are new points near real ones, not duplicates.

At 20K and 100K recall is against every pair exact blocked search finds (cosine >= threshold); at 1M,
where all against all is too slow here, against the planted pairs. Times are end to end: index, search,
exact cosines of the pairs. The HNSW graphs are built on one thread (for the same pairs run to run) and
are skipped past `--graph-max` (usearch had not finished 1M after 15 minutes). Single process, 2 cores.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
CACHE = Path("/tmp/curate-bench-ann")


def sentences() -> list[str]:
    out: list[str] = []

    def tsv(path: Path, cols: tuple[int, ...], header: bool = True) -> None:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            if header:
                next(reader, None)
            for row in reader:
                out.extend(row[c] for c in cols if c < len(row))

    for split in ("train", "val", "test"):
        tsv(SHARED / "msrp" / f"msr-para-{split}.tsv", (3, 4))
    for name in ("question-question", "answer-answer"):
        tsv(SHARED / "sts2016_qq_aa" / f"{name}.test.tsv", (1, 2), header=False)
    for name in ("banking77", "hwu64"):
        for split in ("train", "test"):
            with open(SHARED / name / f"{split}.csv", encoding="utf-8", newline="") as fh:
                out.extend(row[0] for row in csv.reader(fh))
    for path in (SHARED / "alpaca_gpt4_en_demo" / "alpaca_en_demo.json", SHARED / "code_alpaca_2k" / "code_alpaca_2k.json"):
        for row in json.loads(path.read_text(encoding="utf-8")):
            out.append(row["instruction"])
            if len(row.get("output", "")) < 300:
                out.append(row["output"])
    with open(SHARED / "alpaca" / "seed_tasks.jsonl", encoding="utf-8") as fh:
        for line in fh:
            out.append(json.loads(line)["instruction"])
    return sorted({s.strip() for s in out if len(s.strip()) > 3})


def real_vectors() -> np.ndarray:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / "static.npy"
    if path.exists():
        return np.load(path)
    from curate.embed import Embedder

    texts = sentences()
    t = time.perf_counter()
    emb = Embedder(backend="static").encode(texts)
    print(f"embedded {len(texts):,} sentences in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    np.save(path, emb)
    return emb


def noisy(rng: np.random.Generator, v: np.ndarray, scale: float) -> np.ndarray:
    out = v + rng.normal(scale=scale, size=v.shape).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def corpus(n: int, seed: int = 0, planted_share: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """n unit vectors (shuffled) and the planted duplicate pairs (indices into them, lower first)."""
    rng = np.random.default_rng(seed)
    real = real_vectors()
    d = real.shape[1]
    planted_docs = int(n * planted_share)
    base = n - planted_docs
    if base <= len(real):
        pool = real[rng.choice(len(real), base, replace=False)]
    else:  # background: noisy copies of real vectors, cosine about 0.75 to their source
        extra = noisy(rng, real[rng.integers(0, len(real), base - len(real))], 0.9 / np.sqrt(d))
        pool = np.concatenate([real, extra])
    # planted groups: a source from the pool and 1-5 near-copies (cosine about 0.97-0.99 to it)
    sizes, total = [], 0
    while total < planted_docs:
        s = int(min(rng.integers(1, 6), planted_docs - total))
        sizes.append(s)
        total += s
    src = rng.choice(base, len(sizes), replace=False)
    owner = np.repeat(src, sizes)
    copies = noisy(rng, pool[owner], rng.uniform(0.1, 0.2) / np.sqrt(d))
    emb = np.concatenate([pool, copies]).astype(np.float32)
    ids = np.concatenate([np.arange(base), owner])  # the source each planted copy belongs to
    copy_idx = base + np.arange(planted_docs)
    perm = rng.permutation(n)
    inv = np.empty(n, dtype=np.int64)
    inv[perm] = np.arange(n)
    emb = emb[perm]
    pairs = []
    starts = np.concatenate([[0], np.cumsum(sizes)])
    for g, s in enumerate(src):  # every pair within a planted group (source and its copies)
        members = np.concatenate([[s], copy_idx[starts[g]:starts[g + 1]]])
        m = inv[members]
        i, j = np.triu_indices(len(m), 1)
        pairs.append(np.stack([np.minimum(m[i], m[j]), np.maximum(m[i], m[j])], axis=1))
    del ids
    return emb, np.concatenate(pairs)


def exact_pairs(emb: np.ndarray, threshold: float) -> np.ndarray:
    from curate.dedup.semantic import all_pairs

    return all_pairs(emb, threshold)[0]


def curate_pairs(emb: np.ndarray, threshold: float) -> np.ndarray:
    """curate's inverted lists (curate/dedup/ivf.py): every pair the scan finds, not only the forest dedup keeps."""
    from curate.dedup import ivf

    lists = ivf.build(emb, threshold)
    print(f"  curate: {len(lists):,} lists, {lists.probes} probes (sample recall {lists.sample_recall:.4f})", file=sys.stderr)
    return ivf.scan((0, len(lists)), lists, emb, threshold, every_pair=True)[0]


def faiss_ivf_pairs(emb: np.ndarray, threshold: float) -> np.ndarray:
    """faiss IndexIVFFlat range search over the *same* lists and probes as curate (its centroids, its centred
    ranking), so the two differ only in how the lists are scanned. The centring rides on an extra dimension:
    [x, -1] . [c, mean.c] = x.c - mean.c, and [x, -1] . [y, -1] = x.y + 1."""
    import faiss

    from curate.dedup import ivf

    lists = ivf.build(emb, threshold)
    n, d = emb.shape
    mean = emb.mean(axis=0)
    centroids = lists.centroids
    x = np.hstack([emb, -np.ones((n, 1), dtype=np.float32)])
    quantizer = faiss.IndexFlatIP(d + 1)
    quantizer.add(np.hstack([centroids, (centroids @ mean)[:, None]]).astype(np.float32))
    index = faiss.IndexIVFFlat(quantizer, d + 1, len(centroids), faiss.METRIC_INNER_PRODUCT)
    index.is_trained = True
    index.add(x)
    index.nprobe = lists.probes
    lims, _, keys = index.range_search(x, threshold + 1)
    counts: np.ndarray = np.diff(np.asarray(lims, dtype=np.int64))
    a = np.repeat(np.arange(n), counts)
    b = keys.astype(np.int64)
    keep = a != b
    return np.unique(np.stack([np.minimum(a, b)[keep], np.maximum(a, b)[keep]], axis=1), axis=0)


def usearch_pairs(emb: np.ndarray, threshold: float) -> np.ndarray:
    """usearch HNSW, curate's path before the inverted lists (stop 29): i8 graph, connectivity 16, expansion
    64/64, built on one thread (a multi-thread graph depends on timing), 16 neighbours per document, documents
    whose 16th neighbour is still above the threshold searched again with 4x, exact re-score."""
    from usearch.index import Index

    n = len(emb)
    index = Index(ndim=emb.shape[1], metric="ip", dtype="i8", connectivity=16, expansion_add=64, expansion_search=64)
    index.add(np.arange(n, dtype=np.uint64), emb, threads=1)
    return _refined(lambda q, k: index.search(q, k).keys.astype(np.int64).reshape(len(q), -1), emb, threshold,
                    lambda k: setattr(index, "expansion_search", max(64, k)))


def faiss_pairs(emb: np.ndarray, threshold: float) -> np.ndarray:
    """faiss HNSW (flat f32 vectors, inner product), with the same settings and search as usearch_pairs."""
    import faiss

    faiss.omp_set_num_threads(1)  # a one-thread build, as for usearch
    n, d = emb.shape
    index = faiss.IndexHNSWFlat(d, 16, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 64
    index.add(emb)
    faiss.omp_set_num_threads(2)
    return _refined(lambda q, k: index.search(q, k)[1], emb, threshold,
                    lambda k: setattr(index.hnsw, "efSearch", max(64, k)))


def _refined(search, emb: np.ndarray, threshold: float, widen) -> np.ndarray:
    """k nearest from `search`, exact cosines, and saturated documents searched again with 4x k."""
    n = len(emb)
    rows, k, out = np.arange(n), 16, []
    while len(rows):
        k = min(k, n)
        widen(k)
        keys = search(emb[rows], k)
        valid = (keys >= 0) & (keys < n)
        keys = np.where(valid, keys, rows[:, None])
        cos = np.concatenate([np.einsum("ij,ikj->ik", emb[rows[s:s + 4096]], emb[keys[s:s + 4096]])
                              for s in range(0, len(rows), 4096)])
        hit = valid & (keys != rows[:, None]) & (cos >= threshold)
        r, c = np.nonzero(hit)
        a, b = rows[r], keys[r, c]
        out.append(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1))
        if k >= min(n, 1024):
            break
        rows, k = rows[hit.sum(axis=1) >= k - 1], k * 4
    return np.unique(np.concatenate(out), axis=0)


METHODS = {"exact": exact_pairs, "curate": curate_pairs, "faiss-ivf": faiss_ivf_pairs, "usearch": usearch_pairs,
           "faiss-hnsw": faiss_pairs}


def groups(n: int, pairs: np.ndarray) -> np.ndarray:
    from curate.dedup.lsh import union_pairs

    return union_pairs(np.arange(n), pairs[:, 0].copy(), pairs[:, 1].copy())


def recall(found: np.ndarray, truth: np.ndarray, n: int) -> float:
    if not len(truth):
        return 1.0
    return float(np.isin(truth[:, 0] * n + truth[:, 1], found[:, 0] * n + found[:, 1]).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000, 1_000_000])
    ap.add_argument("--threshold", type=float, default=0.9)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--exact-max", type=int, default=100_000, help="largest n searched all against all")
    ap.add_argument("--graph-max", type=int, default=100_000, help="largest n for the HNSW peers")
    args = ap.parse_args()
    for n in args.sizes:
        emb, planted = corpus(n)
        print(f"\nn={n:,}: {len(planted):,} planted pairs, threshold {args.threshold}", flush=True)
        found, secs = {}, {}
        for m in args.methods:
            if (m == "exact" and n > args.exact_max) or (m in ("usearch", "faiss-hnsw") and n > args.graph_max):
                continue
            t = time.perf_counter()
            found[m] = METHODS[m](emb, args.threshold)
            secs[m] = time.perf_counter() - t
            print(f"  {m}: {secs[m]:.1f} s, {len(found[m]):,} pairs", file=sys.stderr, flush=True)
        truth = found.get("exact", planted)
        truth_name = "exact" if "exact" in found else "planted"
        true_groups = groups(n, truth)
        print(f"{'method':>11}{'seconds':>9}{'pairs':>11}{'recall':>9}{'planted':>9}{'same groups':>13}  ratio to peers (time)")
        for m in found:
            ratios = "  ".join(f"{m}/{p} {secs[m] / secs[p]:.2f}x" for p in found if p != m)
            same = float((groups(n, found[m])[truth[:, 0]] == groups(n, found[m])[truth[:, 1]]).mean()) if len(truth) else 1.0
            print(f"{m:>11}{secs[m]:>9.1f}{len(found[m]):>11,}{recall(found[m], truth, n):>9.4f}"
                  f"{recall(found[m], planted, n):>9.4f}{same:>13.4f}  {ratios}", flush=True)
        del true_groups
        print(f"(recall against {truth_name} pairs; 'same groups': share of true pairs whose two documents end in one group)")


if __name__ == "__main__":
    main()
