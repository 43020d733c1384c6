"""Export benchmark: 1M examples to group-aware, stratified train/val/test splits.

    python bench/export.py [--records 1000000] [--skip-leakage]

Builds a seeded 1M-record Alpaca JSONL with a skewed `category` field (20 values, the largest 30%) and
2% planted near-copies (one word changed), ingests it and runs `curate dedup` (exact + near) so there
are real duplicate groups; those steps are setup and timed apart. Then it times:
- curate export, stratified by metadata:category, group-aware, OpenAI JSONL, leakage check off
  (target: <= 60 s on 2 cores), and again with the near leakage check;
- the peer: `datasets` loading the same JSONL, two random `train_test_split`s (not group-aware, not
  stratified by a string field) and `to_json` of the three splits.
It verifies the result: no duplicate group in two splits, the largest deviation of a stratum from its
target share, and counts reconciling.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import WORDS  # noqa: E402
from curate.dedup import run as dedup  # noqa: E402
from curate.export import export  # noqa: E402
from curate.ingest import ingest  # noqa: E402
from curate.workspace import Workspace  # noqa: E402

CATEGORIES = [f"topic_{i:02d}" for i in range(20)]
WEIGHTS = [0.3 / (i + 1) ** 0.8 for i in range(20)]


def build(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    recent: list[dict] = []
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            if recent and rng.random() < 0.02:
                rec = dict(rng.choice(recent))
                words = rec["output"].split()
                words[rng.randrange(len(words))] = rng.choice(WORDS)
                rec["output"] = " ".join(words)
            else:
                rec = {"instruction": " ".join(rng.choices(WORDS, k=rng.randint(8, 20))).capitalize() + "?",
                       "input": "", "output": ". ".join(" ".join(rng.choices(WORDS, k=rng.randint(10, 16)))
                                                        for _ in range(rng.randint(2, 4))) + ".",
                       "category": rng.choices(CATEGORIES, WEIGHTS)[0]}
                recent = (recent + [rec])[-1000:]
            fh.write(json.dumps(rec) + "\n")


def peer(path: Path, out: Path) -> float:
    import datasets

    datasets.disable_progress_bars()
    t = time.perf_counter()
    ds = datasets.load_dataset("json", data_files=str(path), split="train")
    first = ds.train_test_split(test_size=0.2, seed=0)
    rest = first["test"].train_test_split(test_size=0.5, seed=0)
    for name, part in (("train", first["train"]), ("val", rest["train"]), ("test", rest["test"])):
        part.to_json(str(out / f"{name}.jsonl"))
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--skip-leakage", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "data.jsonl"
        t = time.perf_counter()
        build(data, args.records)
        print(f"built {args.records:,} records in {time.perf_counter() - t:.1f} s")
        with Workspace(tmp / "ws") as ws:
            t = time.perf_counter()
            ingest([data], "big", workspace=ws)
            print(f"setup: ingest {time.perf_counter() - t:.1f} s", flush=True)
            t = time.perf_counter()
            d = dedup("big", workspace=ws, methods=("exact", "near"))
            print(f"setup: dedup {time.perf_counter() - t:.1f} s, {d.summary['groups']:,} groups", flush=True)

            t = time.perf_counter()
            report = export("big", tmp / "out", workspace=ws, stratify="metadata:category", leakage_check="off")
            seconds = time.perf_counter() - t
            m = report.manifest
            split_of = {eid: s for s, ids in m["splits"].items() for eid in ids}
            crossing = sum(len({split_of[e] for e, _, _ in members if e in split_of}) > 1
                           for members in ws.run_groups(ws.latest_run("big", "dedup").id).values())
            sizes = {k: sum(v.values()) for k, v in m["strata"].items()}
            worst = max(abs(v[s] - m["split"][s] * sizes[k]) for k, v in m["strata"].items() for s in m["split"])
            print(f"\ncurate export: {m['counts']['exported']:,} exported + {m['counts']['excluded']:,} excluded "
                  f"= {m['counts']['examples']:,}; train/val/test {m['counts']['train']:,}/{m['counts']['val']:,}/"
                  f"{m['counts']['test']:,}; groups crossing splits: {crossing}; largest stratum deviation "
                  f"{worst:.2f} examples")
            print(f"curate export (group-aware, stratified, leakage check off): {seconds:.1f} s "
                  f"[target <= 60 s: {'PASS' if seconds <= 60 else 'FAIL'}]", flush=True)
            if not args.skip_leakage:
                t = time.perf_counter()
                r2 = export("big", tmp / "out2", workspace=ws, stratify="metadata:category", leakage_check="near")
                print(f"curate export with the near leakage check: {time.perf_counter() - t:.1f} s "
                      f"({r2.manifest['leakage']['near_pairs']:,} val/test examples at Jaccard >= 0.5)")
        (tmp / "peer").mkdir()
        p = peer(data, tmp / "peer")
        print(f"peer: datasets load_json + 2x train_test_split + to_json: {p:.1f} s "
              f"(random, not group-aware); curate/peer time ratio {seconds / p:.2f}")
        print("categories:", dict(Counter(json.loads(line)["category"] for line in open(data)).most_common(3)))


if __name__ == "__main__":
    main()
