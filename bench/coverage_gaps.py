"""Coverage gaps found on banking77, and the speed of a 100K + 100K report with embeddings cached.

    python bench/coverage_gaps.py [--seeds 3] [--scale 100000]

(Not bench/coverage.py as issue 5 names it: a file called coverage.py in bench/ shadows the `coverage`
package for every script run from bench/, and numba imports that package, so the dedup benchmark broke.)

1. Detection (../shared/data/banking77): training = train-split texts of the intents kept, production =
   the whole test split (77 intents, 40 queries each). Variant "hidden": 10 random intents removed from
   training. Variant "hidden+shrunk": the same 10 removed and 10 others cut to 10% of their examples.
   Both go through `curate ingest` and `curate.coverage.coverage` exactly as a user's data would.
   - found: an intent is found when most of its test queries sit in clusters flagged as gaps;
   - precision: the share of queries in flagged clusters that belong to hidden (or shrunk) intents.
   banking77's own training split is not balanced: contactless_not_working has 35 examples and
   virtual_card_not_working 41 against a mean of 130 while production has 40 of each, so these two
   are real gaps the bench did not plant. Precision is reported strictly (planted only) and counting
   intents whose training share is under half their production share by the labels ("by labels").
2. Speed: --scale training examples and as many queries (banking77 texts with a serial suffix; vectors
   are their real embeddings plus small noise, written to the workspace's embedding cache first, so the
   run measures what `coverage` does once embeddings are cached: load, cluster, neighbours, labels, map,
   report, HTML).
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "banking77"

from curate.coverage import run as coverage  # noqa: E402
from curate.coverage.html import write_html  # noqa: E402
from curate.embed import Embedder, text_hash  # noqa: E402
from curate.ingest import ingest  # noqa: E402
from curate.workspace import Workspace  # noqa: E402


def rows(split: str) -> list[dict[str, str]]:
    with open(DATA / f"{split}.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_jsonl(path: Path, records: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")


def detection(seed: int, variant: str, train: list[dict], test: list[dict], cache: Path) -> dict:
    intents = sorted({r["category"] for r in train})
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(intents))
    hidden = {intents[i] for i in perm[:10]}
    shrunk = {intents[i] for i in perm[10:20]} if variant == "hidden+shrunk" else set()
    kept = [r for r in train if r["category"] not in hidden and (r["category"] not in shrunk or rng.random() < 0.1)]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_jsonl(tmp / "train.jsonl", [{"prompt": r["text"], "completion": f"Intent: {r['category']}"} for r in kept])
        write_jsonl(tmp / "production.jsonl", [{"query": r["text"]} for r in test])
        with Workspace(tmp / "ws") as ws:
            ingest([tmp / "train.jsonl"], "train", workspace=ws)
            ingest([tmp / "production.jsonl"], "production", kind="queries", workspace=ws)
            # The embedding cache is per workspace: seed this one from the bench's shared cache.
            _copy_cache(cache, ws)
            t = time.perf_counter()
            report = coverage("train", queries="production", workspace=ws)
            seconds = time.perf_counter() - t
            _save_cache(ws, cache)
    category = {i + 1: r["category"] for i, r in enumerate(test)}
    in_gap = {m["line"]: c["gap"] for c in report.clusters for m in c["members"]["queries"]}
    flagged_q = [category[line] for line, g in in_gap.items() if g]
    by_intent = collections.defaultdict(list)
    for line, g in in_gap.items():
        by_intent[category[line]].append(g)
    found = sum(np.mean(by_intent[h]) > 0.5 for h in hidden)
    found_shrunk = sum(np.mean(by_intent[h]) > 0.5 for h in shrunk)
    counts = collections.Counter(r["category"] for r in kept)
    thin = {i for i in intents if counts[i] / len(kept) < 0.5 * (1 / len(intents))}
    planted = hidden | shrunk
    return {"found": found, "found_shrunk": found_shrunk, "flagged_queries": len(flagged_q),
            "precision": np.mean([c in planted for c in flagged_q]) if flagged_q else 0.0,
            "precision_by_labels": np.mean([c in planted | thin for c in flagged_q]) if flagged_q else 0.0,
            "clusters": report.summary["clusters"], "gaps": report.summary["gaps"], "seconds": seconds,
            "uncovered_hidden": np.mean([category[u["source"]["line"]] in hidden for u in report.uncovered_queries])
            if report.uncovered_queries else 0.0, "uncovered": len(report.uncovered_queries)}


_CACHE_MODEL = None


def _copy_cache(cache: Path, ws: Workspace) -> None:
    if cache.exists():
        data = np.load(cache, allow_pickle=False)
        ws.store_embeddings(str(data["model"]), int(data["dim"]), list(zip(data["hashes"].tolist(),
                                                                             [v.tobytes() for v in data["vectors"]])))


def _save_cache(ws: Workspace, cache: Path) -> None:
    if cache.exists():
        return
    rows_ = ws.conn.execute("SELECT model, text_hash, dim, vector FROM embeddings").fetchall()
    np.savez(cache, model=rows_[0][0], dim=rows_[0][2], hashes=np.array([r[1] for r in rows_]),
             vectors=np.stack([np.frombuffer(r[3], dtype=np.float16) for r in rows_]))


def speed(n: int, train: list[dict], test: list[dict], out: Path) -> None:
    texts = [r["text"] for r in train + test]
    base = Embedder().encode(texts)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pick_t = rng.integers(0, len(texts), n)
        pick_q = rng.integers(0, len(texts), n)
        t_texts = [f"{texts[i]} (#{j})" for j, i in enumerate(pick_t)]
        q_texts = [f"{texts[i]} [q{j}]" for j, i in enumerate(pick_q)]
        write_jsonl(tmp / "train.jsonl", [{"prompt": t, "completion": "ok"} for t in t_texts])
        write_jsonl(tmp / "production.jsonl", [{"query": q} for q in q_texts])
        with Workspace(tmp / "ws") as ws:
            ingest([tmp / "train.jsonl"], "train", workspace=ws)
            ingest([tmp / "production.jsonl"], "production", kind="queries", workspace=ws)
            embedder = Embedder()
            for pick, side in ((pick_t, t_texts), (pick_q, q_texts)):
                vec = base[pick] + rng.normal(0, 0.02, (n, base.shape[1])).astype(np.float32)
                vec /= np.linalg.norm(vec, axis=1, keepdims=True)
                ws.store_embeddings(embedder.name, vec.shape[1], [(text_hash(t), v.astype(np.float16).tobytes())
                                                                  for t, v in zip(side, vec)])
            t = time.perf_counter()
            report = coverage("train", queries="production", workspace=ws)
            html = out / "coverage_scale.html"
            write_html(report, html)
            seconds = time.perf_counter() - t
    print(f"\nspeed: {n:,} training examples + {n:,} queries, embeddings cached: {seconds:.1f} s "
          f"(target <= 60 s), {report.summary['clusters']} clusters, HTML {html.stat().st_size / 1e6:.2f} MB "
          f"(target < 5 MB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--scale", type=int, default=100_000, help="training examples and queries for the speed run "
                    "(0 skips it)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CURATE_CACHE", str(out / "cache"))
    train, test = rows("train"), rows("test")
    cache = out / "banking77_embeddings.npz"
    print(f"{'variant':<15}{'seed':>5}{'found':>7}{'shrunk':>8}{'precision':>11}{'by labels':>11}{'flagged q':>11}"
          f"{'clusters':>10}{'gaps':>6}{'uncov':>7}{'uncov hidden':>14}{'s':>6}")
    totals = collections.defaultdict(list)
    for variant in ("hidden", "hidden+shrunk"):
        for seed in range(args.seeds):
            r = detection(seed, variant, train, test, cache)
            totals[variant].append(r)
            print(f"{variant:<15}{seed:>5}{r['found']:>5}/10{r['found_shrunk'] if variant != 'hidden' else '-':>8}"
                  f"{r['precision']:>11.3f}{r['precision_by_labels']:>11.3f}{r['flagged_queries']:>11}"
                  f"{r['clusters']:>10}{r['gaps']:>6}{r['uncovered']:>7}{r['uncovered_hidden']:>14.3f}"
                  f"{r['seconds']:>6.1f}")
    for variant, rs in totals.items():
        found = np.mean([r["found"] for r in rs]) / 10
        print(f"{variant}: hidden intents found {found:.0%} (target >= 90%), precision "
              f"{np.mean([r['precision'] for r in rs]):.3f} strict / "
              f"{np.mean([r['precision_by_labels'] for r in rs]):.3f} by labels (target >= 0.80)"
              + (f", shrunk intents found {np.mean([r['found_shrunk'] for r in rs]) / 10:.0%}"
                 if variant != "hidden" else ""))
    if args.scale:
        speed(args.scale, train, test, out)


if __name__ == "__main__":
    main()
