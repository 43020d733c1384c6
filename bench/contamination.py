"""Contamination's semantic search (`dedup --against`): each training row's best eval row at cosine >=
a threshold, through curate's inverted lists (curate/dedup/ivf_cross.py) against all against all (curate's
blocked BLAS products) and faiss's exact inner-product search (IndexFlatIP, k = 1, the library peer).

    python bench/contamination.py [--rows 200000 1000000] [--queries 20000] [--threshold 0.9]

Rows: bench/ann.py's corpus (real sentence vectors of ../shared/data from curate's static embedder, plus
noisy copies: background points and planted near-copies). Queries: near-copies of random rows (a fifth of
them: the contamination to find, cosine about 0.97-0.99 to their row) and background points near real
vectors (cosine about 0.75: no match at 0.9). Recall is of the rows all against all matches; "same best"
is the share of them given the same eval row. Single process, 2 cores, one run per cell.
"""

from __future__ import annotations

import argparse
import sys
import time

import ann
import numpy as np

from curate.dedup import ivf_cross


def queries(rows: np.ndarray, m: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    d = rows.shape[1]
    planted = m // 5
    copies = ann.noisy(rng, rows[rng.choice(len(rows), planted, replace=False)], 0.15 / np.sqrt(d))
    background = ann.noisy(rng, rows[rng.integers(0, len(rows), m - planted)], 0.9 / np.sqrt(d))
    return np.concatenate([copies, background])[rng.permutation(m)].astype(np.float32)


def faiss_best(rows: np.ndarray, qs: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    import faiss

    index = faiss.IndexFlatIP(qs.shape[1])
    index.add(qs)
    score, best = index.search(rows, 1)
    hit = np.flatnonzero(score[:, 0] >= threshold)
    return hit, best[hit, 0]


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=20_000)
    ap.add_argument("--threshold", type=float, default=0.9)
    ap.add_argument("--no-faiss", action="store_true")
    args = ap.parse_args()
    print("| rows | eval rows | method | seconds | matched rows | recall | same best | time vs lists |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.rows:
        rows, _ = ann.corpus(n)
        qs = queries(rows, args.queries, seed=1)
        stats: dict = {}
        (r, q, _), lists_s = timed(ivf_cross.best_matches, rows, qs, args.threshold, 0, stats)
        (er, eq, _), exact_s = timed(ivf_cross.exhaustive, rows, qs, args.threshold)
        truth = dict(zip(er.tolist(), eq.tolist()))
        cells = [("curate lists", r, q, lists_s), ("all against all (curate BLAS)", er, eq, exact_s)]
        if not args.no_faiss:
            (fr, fq), faiss_s = timed(faiss_best, rows, qs, args.threshold)
            cells.append(("faiss IndexFlatIP k=1", fr, fq, faiss_s))
        for name, mr, mq, s in cells:
            got = dict(zip(mr.tolist(), mq.tolist()))
            hit = got.keys() & truth.keys()
            print(f"| {n:,} | {len(qs):,} | {name} | {s:.1f} | {len(got):,} | {len(hit) / max(len(truth), 1):.4f} "
                  f"| {sum(got[i] == truth[i] for i in hit) / max(len(truth), 1):.4f} | {s / lists_s:.1f}x |",
                  flush=True)
        print(f"  lists: {stats}", file=sys.stderr)


if __name__ == "__main__":
    main()
