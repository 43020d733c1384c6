"""Coverage's neighbourhood search past exact size: recall of each query's neighbours against exact search.

    python bench/coverage_search.py [--sizes 100000 300000] [--sample 2000]

`curate coverage` needs, for every production query, its 10 nearest points (training prompts and other
queries) and its 10 nearest queries. Up to 4e8 similarities it compares all against all; past that each
query searches the inverted lists it probes, as many as a sample's exact neighbours need
(curate/coverage/neighbours.py). This measures what that misses, on bench/ann.py's corpus (real sentence
vectors of ../shared/data from the static embedder plus noisy copies): n training rows and n queries drawn
from it, the list search for all, exact search for a random sample of queries, compared on the sample:
- recall of the 10 nearest queries (the pooled neighbourhood), and of the 10 nearest points;
- the nearest training example: the same one, and the same similarity;
- the ratio the report shows (pooled training/production density): share within 1% of exact's.
"""

from __future__ import annotations

import argparse
import time

import ann
import numpy as np

from curate.coverage import density


def split(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    emb, _ = ann.corpus(2 * n, seed=seed)
    return emb[:n], emb[n:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000])
    ap.add_argument("--sample", type=int, default=2000)
    args = ap.parse_args()
    print("| training + queries | lists | probes | products vs exact | search s | exact s (sample, scaled) | "
          "10 nearest queries | 10 nearest points | same nearest example | ratio within 1% |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        train, queries = split(n)
        t = time.perf_counter()
        got = density.query_coverage(train, queries)
        search_s = time.perf_counter() - t
        how = got.search
        rng = np.random.default_rng(1)
        pick = np.sort(rng.choice(n, args.sample, replace=False))
        want = density._empty(n)
        t = time.perf_counter()
        density._measure(train, queries, want, pick)
        exact_s = (time.perf_counter() - t) * n / args.sample
        q_recall = np.mean([len(set(got.neighbours[i, 1:]) & set(want.neighbours[i, 1:])) / density.QUERY_NEIGHBOURS
                            for i in pick.tolist()])
        points = np.mean((np.minimum(got.n_train[pick], want.n_train[pick])
                          + np.minimum(got.n_query[pick], want.n_query[pick])) / density.NEIGHBOURS)
        same = np.mean(got.nearest[pick] == want.nearest[pick])
        # the ratio pools over the query's neighbours: exact needs those neighbours' counts too
        pooled = np.unique(want.neighbours[pick])
        density._measure(train, queries, want, pooled)
        ratio = density.density_ratio(want.n_train[want.neighbours[pick]].mean(axis=1),
                                      want.n_query[want.neighbours[pick]].mean(axis=1), n, n)
        close = np.mean(np.abs(got.ratio[pick] - ratio) <= 0.01 * np.maximum(ratio, 1e-9))
        lists = f"{how.lists:,} | {how.probes:,} | {how.exact_share:.2f}" if how else "all against all | | 1.00"
        print(f"| {n:,} + {n:,} | {lists} | {search_s:.1f} | {exact_s:.1f} | {q_recall:.4f} | "
              f"{points:.4f} | {same:.4f} | {close:.4f} |", flush=True)


if __name__ == "__main__":
    main()
