"""Review that learns: how many verdicts until the model's verdicts on the rest are 95% right, by the order
the reviewer goes in, and the model's ROC AUC after 100, 300 and 1,000 verdicts.

    python bench/review_learning.py [--examples 1500] [--seeds 3] [--step 20]

Base: real answers from ../shared/data (Alpaca GPT-4 and Code Alpaca, 30+ words). A third get a planted
defect (cut mid-answer, replaced by a refusal, a sentence looped, a placeholder left in); the truth is
"accept the untouched, reject the planted". The set is ingested and checked as a user would, then a
simulated reviewer decides `--step` examples at a time in the order one strategy proposes, and after each
step the model `curate predict` fits (calibrated logistic regression on the cached embedding plus the
findings' scores) predicts the rest:
- random: a random order (the peer: what reviewing without guidance gives);
- flagged: the examples with the worst findings first (`curate review`'s default order), then random;
- uncertain: a random first step, then the undecided examples the model is least sure of (`--order
  uncertain`).
Reported per strategy: decisions needed before the model's verdicts on every undecided example are 95%
correct (median over seeds), and AUC after 100, 300 and 1,000 decisions.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

from curate.checks import run as run_checks  # noqa: E402
from curate.ingest import ingest  # noqa: E402
from curate.learning import _features, fit  # noqa: E402
from curate.workspace import Workspace  # noqa: E402

REFUSALS = ["I'm sorry, but I can't help with that.", "As an AI language model, I cannot provide that.",
            "I cannot assist with this request.", "I must decline to answer this."]
TARGET = 0.95


def planted(n: int, seed: int = 0) -> tuple[list[dict], set[int]]:
    rows = []
    for rel in ("alpaca_gpt4_en_demo/alpaca_en_demo.json", "code_alpaca_2k/code_alpaca_2k.json"):
        rows += [r for r in json.loads((SHARED / rel).read_text()) if len(r["output"].split()) >= 30]
    rng = random.Random(seed)
    rng.shuffle(rows)
    out, bad = [], set()
    for i, r in enumerate(rows[:n]):
        answer, kind = r["output"], i % 12
        if kind < 4:  # a third planted, four kinds
            words = answer.split(" ")
            answer = [" ".join(words[:rng.randint(8, len(words) // 2)]).rstrip(" ."),
                      rng.choice(REFUSALS),
                      answer + (" " + answer.split(". ")[0] + ".") * 12,
                      answer.replace(answer.split(" ")[0], "[Your Name]", 1) + "\n\nBest regards,\n[Your Name]"][kind]
            bad.add(i)
        out.append({"instruction": r["instruction"], "input": r["input"], "output": answer, "row": i})
    return out, bad


def simulate(x, truth, quality, strategy: str, step: int, seed: int) -> dict:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    n = len(truth)
    order = list(rng.permutation(n))
    if strategy == "flagged":
        order = sorted(order, key=lambda i: quality[i])  # stable: flagged (quality < 1) first, then random
    decided: list[int] = []
    needed, auc = None, {}
    while len(decided) < n - step:
        if strategy == "uncertain" and len(decided) >= step and len(set(truth[decided])) == 2:
            rest = np.setdiff1d(np.arange(n), decided)
            p = fit(x[decided], truth[decided])[0].predict_proba(x[rest])[:, 1]
            decided += rest[np.argsort(np.abs(p - 0.5))[:step]].tolist()
        else:
            taken = set(decided)
            decided += [i for i in order if i not in taken][:step]
        y = truth[decided]
        if min(y.sum(), len(y) - y.sum()) < 3:
            continue
        rest = np.setdiff1d(np.arange(n), decided)
        p = fit(x[decided], y)[0].predict_proba(x[rest])[:, 1]
        if needed is None and np.mean((p >= 0.5) == truth[rest]) >= TARGET:
            needed = len(decided)
        for mark in (100, 300, 1000):
            if mark not in auc and len(decided) >= mark and len(set(truth[rest])) == 2:
                auc[mark] = roc_auc_score(truth[rest], p)
        if needed is not None and len(auc) == 3:
            break
    return {"needed": needed, "auc": auc}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=1500)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--step", type=int, default=20)
    args = ap.parse_args()
    rows, bad = planted(args.examples)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        ingest([path], "d", workspace=Path(tmp) / "ws")
        run_checks("d", workspace=Path(tmp) / "ws")
        with Workspace(Path(tmp) / "ws") as ws:
            examples = list(ws.iter_examples("d"))
            x, _kinds = _features(ws, "d", examples, None, None)
            run = ws.latest_run("d", "check")
            below = (run.summary or {}).get("quality_below_1", {}) if run else {}
    truth = np.array([e.metadata["row"] not in bad for e in examples], dtype=int)
    quality = [below.get(e.id, 1.0) for e in examples]
    print(f"{len(examples):,} examples, {len(examples) - truth.sum():,} planted defects; features "
          f"{x.shape[1]} ({time.perf_counter() - started:.0f} s to ingest, check and embed)\n")
    print(f"| order | decisions to {TARGET:.0%} right on the rest (per seed) | median | AUC @100 | AUC @300 | "
          "AUC @1000 |")
    print("|---|---|---:|---:|---:|---:|")
    medians = {}
    for strategy in ("random", "flagged", "uncertain"):
        runs = [simulate(x, truth, quality, strategy, args.step, seed) for seed in range(args.seeds)]
        needed = [r["needed"] for r in runs]
        known = [v for v in needed if v is not None]
        medians[strategy] = statistics.median(known) if len(known) == len(needed) else None
        aucs = [statistics.mean(r["auc"][m] for r in runs if m in r["auc"]) if any(m in r["auc"] for r in runs)
                else float("nan") for m in (100, 300, 1000)]
        print(f"| {strategy} | {', '.join(str(v) if v else 'never' for v in needed)} | {medians[strategy]} | "
              + " | ".join(f"{a:.3f}" for a in aucs) + " |")
    if medians.get("uncertain") and medians.get("random"):
        print(f"\nuncertain needs {medians['uncertain'] / medians['random']:.2f}x the decisions of random "
              f"(target: at most 0.5x)")


if __name__ == "__main__":
    main()
