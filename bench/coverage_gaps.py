"""Coverage gaps found on two intent sets, per draw, and the speed of coverage at three sizes.

    python bench/coverage_gaps.py [--sets banking77 hwu64] [--draws 5] [--old COMMIT] [--scale 100000]
                                  [--scale-queries 1000000] [--no-cli]

1. Detection. For each set in ../shared/data (banking77: 77 intents, hwu64: 64), training = the train split
   and production = the test split, as a user would have them. Each draw picks 10 intents at random:
   - "removed": their examples are taken out of training;
   - "shrunk": they keep 10% of their examples (at least one).
   Both sides go through `ingest` and `curate.coverage.run` as a user's data would (embeddings are cached
   per set between draws; the analysis is what is timed). Per draw:
   - found: the share of the 10 intents most of whose production queries are in gaps;
   - precision: the share of queries in gaps that belong to the 10 (strict), and counting also intents
     whose training share is under half their production share in the data itself ("by labels": banking77's
     own train split has intents with a third of the average count, real gaps nobody planted).
   Mean and worst over the draws. --old COMMIT runs the same draws on the code at COMMIT (a git worktree),
   where a query is in a gap when its cluster is flagged, and prints both.
2. Speed: `curate coverage` through the CLI on 1,000 training prompts and 3,080 banking77 queries, with no
   embedding in the workspace (the model itself already exported), beside the code at --old when given; and
   --scale training prompts and as many queries (or --scale-queries) with embeddings cached (vectors: real embeddings plus noise),
   reporting the time of the analysis and of the HTML page.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SETS = {"banking77": "category", "hwu64": "intent"}
PLANTED = 10
SHRINK = 0.1


def _root_from_argv() -> Path:
    """--root DIR: import curate from DIR (how --old runs the same draws on older code)."""
    if "--root" in sys.argv:
        return Path(sys.argv[sys.argv.index("--root") + 1])
    return ROOT


sys.path.insert(0, str(_root_from_argv()))

import numpy as np  # noqa: E402

from curate.coverage import run as coverage  # noqa: E402
from curate.embed import Embedder, text_hash  # noqa: E402
from curate.ingest import ingest  # noqa: E402
from curate.workspace import Workspace  # noqa: E402


def rows(name: str, split: str) -> list[dict[str, str]]:
    with open(DATA / name / f"{split}.csv", encoding="utf-8", newline="") as fh:
        return [{"text": r["text"], "label": r[SETS[name]]} for r in csv.DictReader(fh)]


def write_jsonl(path: Path, records: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")


def plant(train: list[dict], variant: str, seed: int) -> tuple[set[str], list[dict]]:
    intents = sorted({r["label"] for r in train})
    rng = np.random.default_rng(seed)
    planted = {intents[i] for i in rng.permutation(len(intents))[:PLANTED]}
    kept, seen = [], collections.Counter()
    for r in train:
        if r["label"] in planted:
            seen[r["label"]] += 1
            if variant == "removed" or (rng.random() >= SHRINK and seen[r["label"]] > 1):
                continue
        kept.append(r)
    return planted, kept


def in_gaps(report) -> dict[int, bool]:
    """Production line -> in a gap. Older code has no gap list: a query is in a gap when its cluster is."""
    gaps = getattr(report, "gaps", None)
    if gaps is None:
        return {m["line"]: c["gap"] for c in report.clusters for m in c["members"]["queries"]}
    flagged = {m["line"] for g in gaps for m in g["members"]}
    lines = {m["line"] for c in report.clusters for m in c["members"]["queries"]}
    return {line: line in flagged for line in lines}


def detection(name: str, variant: str, seed: int, cache: Path) -> dict:
    train, test = rows(name, "train"), rows(name, "test")
    planted, kept = plant(train, variant, seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        write_jsonl(tmp_path / "train.jsonl", [{"prompt": r["text"], "completion": r["label"]} for r in kept])
        write_jsonl(tmp_path / "production.jsonl", [{"query": r["text"]} for r in test])
        with Workspace(tmp_path / "ws") as ws:
            ingest([tmp_path / "train.jsonl"], "train", workspace=ws)
            ingest([tmp_path / "production.jsonl"], "production", kind="queries", workspace=ws)
            _copy_cache(cache, ws)
            t = time.perf_counter()
            report = coverage("train", queries="production", workspace=ws)
            seconds = time.perf_counter() - t
            _save_cache(ws, cache)
    label = {i + 1: r["label"] for i, r in enumerate(test)}
    flags = in_gaps(report)
    by_intent = collections.defaultdict(list)
    for line, g in flags.items():
        by_intent[label[line]].append(g)
    flagged = [label[line] for line, g in flags.items() if g]
    train_n, test_n = collections.Counter(r["label"] for r in kept), collections.Counter(r["label"] for r in test)
    thin = {i for i in test_n if train_n[i] / len(kept) < 0.5 * test_n[i] / len(test)}
    return {"set": name, "variant": variant, "draw": seed,
            "found": float(np.mean([np.mean(by_intent[p]) > 0.5 for p in planted])),
            "precision": float(np.mean([c in planted for c in flagged])) if flagged else 0.0,
            "precision_by_labels": float(np.mean([c in planted | thin for c in flagged])) if flagged else 0.0,
            "queries_in_gaps": len(flagged), "gaps": report.summary["gaps"], "seconds": round(seconds, 2)}


def _copy_cache(cache: Path, ws: Workspace) -> None:
    if cache.exists():
        data = np.load(cache, allow_pickle=False)
        ws.store_embeddings(str(data["model"]), int(data["dim"]), list(zip(data["hashes"].tolist(),
                                                                             [v.tobytes() for v in data["vectors"]])))


def _save_cache(ws: Workspace, cache: Path) -> None:
    found = ws.conn.execute("SELECT model, text_hash, dim, vector FROM embeddings").fetchall()
    np.savez(cache, model=found[0][0], dim=found[0][2], hashes=np.array([r[1] for r in found]),
             vectors=np.stack([np.frombuffer(r[3], dtype=np.float16) for r in found]))


def all_draws(sets: list[str], draws: int, out: Path) -> list[dict]:
    results = []
    for name in sets:
        for variant in ("removed", "shrunk"):
            for seed in range(draws):
                results.append(detection(name, variant, seed, out / f"{name}_embeddings.npz"))
                print(f"  {name} {variant} draw {seed}: found {results[-1]['found']:.2f} precision "
                      f"{results[-1]['precision']:.2f}", file=sys.stderr, flush=True)
    return results


def _old_tree(commit: str, tmp: Path) -> Path:
    tree = tmp / "old"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit], check=True,
                   capture_output=True)
    return tree


def _old_draws(tree: Path, sets: list[str], draws: int, out: Path) -> list[dict]:
    result = out / "old_draws.json"
    subprocess.run([sys.executable, __file__, "--root", str(tree), "--json", str(result), "--scale", "0",
                    "--no-cli", "--draws", str(draws), "--sets", *sets], check=True)
    return json.loads(result.read_text())


def print_table(results: list[dict], old: list[dict] | None) -> None:
    print(f"\n{'set':<11}{'variant':<9}{'draw':>5}{'found':>8}{'precision':>11}{'by labels':>11}{'in gaps':>9}"
          f"{'gaps':>6}{'s':>7}" + (f"{'old found':>11}{'old prec':>10}" if old else ""))
    olds = {(r["set"], r["variant"], r["draw"]): r for r in old or []}
    for r in results:
        o = olds.get((r["set"], r["variant"], r["draw"]))
        print(f"{r['set']:<11}{r['variant']:<9}{r['draw']:>5}{r['found']:>8.2f}{r['precision']:>11.2f}"
              f"{r['precision_by_labels']:>11.2f}{r['queries_in_gaps']:>9}{r['gaps']:>6}{r['seconds']:>7.1f}"
              + (f"{o['found']:>11.2f}{o['precision']:>10.2f}" if o else ""))
    print(f"\n{'set':<11}{'variant':<9}{'found mean':>11}{'worst':>7}{'precision mean':>16}{'worst':>7}"
          f"{'by labels':>11}" + (f"{'old found':>11}{'worst':>7}{'old prec':>10}{'worst':>7}" if old else ""))
    groups = collections.defaultdict(list)
    for r in results:
        groups[(r["set"], r["variant"])].append(r)
    for key, rs in groups.items():
        os_ = [olds[(r["set"], r["variant"], r["draw"])] for r in rs if (r["set"], r["variant"], r["draw"]) in olds]
        line = (f"{key[0]:<11}{key[1]:<9}{_mean(rs, 'found'):>11.2f}{_worst(rs, 'found'):>7.2f}"
                f"{_mean(rs, 'precision'):>16.2f}{_worst(rs, 'precision'):>7.2f}{_mean(rs, 'precision_by_labels'):>11.2f}")
        if os_:
            line += (f"{_mean(os_, 'found'):>11.2f}{_worst(os_, 'found'):>7.2f}{_mean(os_, 'precision'):>10.2f}"
                     f"{_worst(os_, 'precision'):>7.2f}")
        print(line)
    print("target: found >= 0.90 at precision >= 0.70, removed and shrunk alike")


def _mean(rs: list[dict], key: str) -> float:
    return float(np.mean([r[key] for r in rs]))


def _worst(rs: list[dict], key: str) -> float:
    return float(np.min([r[key] for r in rs]))


def cli_seconds(root: Path, tmp: Path) -> float:
    """`curate ingest` x2 untimed, then `curate coverage --html` timed, on 1,000 + 3,080 texts, no embedding
    cached in the workspace."""
    train, test = rows("banking77", "train"), rows("banking77", "test")
    pick = np.random.default_rng(0).choice(len(train), 1000, replace=False)
    write_jsonl(tmp / "t.jsonl", [{"prompt": train[i]["text"], "completion": "x"} for i in pick])
    write_jsonl(tmp / "q.jsonl", [{"query": r["text"]} for r in test])
    ws = tmp / f"ws-{root.name}"
    curate = [sys.executable, "-c", "from curate.cli import main; main()", "-w", str(ws)]
    env = {**os.environ, "PYTHONPATH": str(root)}
    subprocess.run(curate + ["ingest", str(tmp / "t.jsonl"), "--as", "train"], env=env, check=True, capture_output=True)
    subprocess.run(curate + ["ingest", str(tmp / "q.jsonl"), "--as", "prod", "--kind", "queries"], env=env, check=True,
                   capture_output=True)
    t = time.perf_counter()
    subprocess.run(curate + ["coverage", "--train", "train", "--queries", "prod", "--html", str(tmp / "c.html")],
                   env=env, check=True, capture_output=True, cwd=root)
    return time.perf_counter() - t


def speed(n: int, out: Path, n_queries: int | None = None) -> None:
    from curate.coverage.html import write_html

    texts = [r["text"] for r in rows("banking77", "train") + rows("banking77", "test")]
    base = Embedder().encode(texts)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        m = n_queries or n
        pick_t, pick_q = rng.integers(0, len(texts), n), rng.integers(0, len(texts), m)
        t_texts = [f"{texts[i]} (#{j})" for j, i in enumerate(pick_t)]
        q_texts = [f"{texts[i]} [q{j}]" for j, i in enumerate(pick_q)]
        write_jsonl(tmp_path / "train.jsonl", [{"prompt": t, "completion": "ok"} for t in t_texts])
        write_jsonl(tmp_path / "production.jsonl", [{"query": q} for q in q_texts])
        with Workspace(tmp_path / "ws") as ws:
            ingest([tmp_path / "train.jsonl"], "train", workspace=ws)
            ingest([tmp_path / "production.jsonl"], "production", kind="queries", workspace=ws)
            embedder = Embedder()
            for pick, side in ((pick_t, t_texts), (pick_q, q_texts)):
                vec = base[pick] + rng.normal(0, 0.02, (len(pick), base.shape[1])).astype(np.float32)
                vec /= np.linalg.norm(vec, axis=1, keepdims=True)
                ws.store_embeddings(embedder.name, vec.shape[1], [(text_hash(t), v.astype(np.float16).tobytes())
                                                                  for t, v in zip(side, vec)])
            t = time.perf_counter()
            report = coverage("train", queries="production", workspace=ws)
            analysed = time.perf_counter() - t
            html = out / "coverage_scale.html"
            write_html(report, html)
            seconds = time.perf_counter() - t
    print(f"speed: {n:,} training examples + {m:,} queries, embeddings cached: {seconds:.1f} s "
          f"(analysis {analysed:.1f} s; target <= 60 s), {report.summary['clusters']} clusters, "
          f"{report.summary['gaps']} gaps, HTML {html.stat().st_size / 1e6:.2f} MB; neighbour search: "
          f"{report.summary.get('neighbour_search')}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--old", help="also run the draws and the CLI timing on the code at this commit")
    ap.add_argument("--scale", type=int, default=100_000, help="training examples and queries for the cached "
                    "speed run (0 skips it)")
    ap.add_argument("--scale-queries", type=int, help="queries for the cached speed run (default: --scale)")
    ap.add_argument("--no-cli", action="store_true", help="skip the 1K + 3K CLI timing")
    ap.add_argument("--root", help=argparse.SUPPRESS)
    ap.add_argument("--json", help="write the per-draw results to this file")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CURATE_CACHE", str(out / "cache"))
    results = all_draws(args.sets, args.draws, out) if args.draws else []
    if args.json:
        Path(args.json).write_text(json.dumps(results))
    with tempfile.TemporaryDirectory() as tmp:
        tree = _old_tree(args.old, Path(tmp)) if args.old else None
        try:
            old = _old_draws(tree, args.sets, args.draws, out) if tree and args.draws else None
            if results:
                print_table(results, old)
            if not args.no_cli:
                cli_seconds(ROOT, Path(tmp))  # the first run exports the embedding model if it is not yet
                new = cli_seconds(ROOT, Path(tmp))
                line = f"\ncurate coverage --html, 1,000 + 3,080 texts, embeddings not cached: {new:.1f} s (target < 20 s)"
                if tree:
                    before = cli_seconds(tree, Path(tmp))
                    line += f"; at {args.old}: {before:.1f} s (ratio {new / before:.2f})"
                print(line)
        finally:
            if tree:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
    if args.scale:
        speed(args.scale, out, args.scale_queries)


if __name__ == "__main__":
    main()
