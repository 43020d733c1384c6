"""A reviewer beside a long analysis: decisions written every 50 ms while `curate dedup` runs on 1M examples.

    python bench/contention.py [--records 1000000] [--peer-src DIR]

Builds 1M templated records (~90% exact or near duplicates, so dedup stores ~900K findings), ingests them
once, then for each code tree (this one, and with --peer-src another checkout, e.g. the code before the
write lock was shared fairly) copies the workspace, starts `curate dedup` on the copy and, from a second
process of the same tree, records a decision every 50 ms until dedup ends. Prints how long each decision
waited for the write lock (max, p99, median) and any that failed; target: none over 2 s.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOPICS = ("billing", "delivery", "refund", "password", "account", "invoice", "shipping", "login", "card", "plan")

REVIEWER = r"""
import json, sys, time
from curate.workspace import Workspace
ws_dir, stop_file = sys.argv[1], sys.argv[2]
waits, failures = [], []
with Workspace(ws_dir) as ws:
    ids = [row[0] for row in ws.conn.execute("SELECT id FROM examples LIMIT 2000")]
    i = 0
    while True:
        started = time.perf_counter()
        try:
            ws.record_decision("bench", ids[i % len(ids)], "ann", "accept")
            waits.append(time.perf_counter() - started)
        except Exception as exc:
            failures.append(f"{type(exc).__name__}: {exc}"[:120])
        i += 1
        if open(stop_file).read().strip():
            break
        time.sleep(0.05)
print(json.dumps({"waits": waits, "failures": failures}))
"""


def build(path: Path, n: int, seed: int = 0) -> None:
    """~10 records per base question, each written differently (case, punctuation, a variant word, an id in
    metadata), so that ingest keeps them all as distinct examples and dedup finds ~90% of them duplicates."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            k = i // 10
            topic = TOPICS[k % len(TOPICS)]
            question = f"How do I fix my {topic} problem number {k} on the account"
            question = question.upper() if rng.random() < 0.3 else question.lower() if rng.random() < 0.5 else question
            question += rng.choice(["?", "??", "!", " ?", ""]) + " " * rng.randrange(3)
            fh.write(json.dumps({"instruction": question, "id": i,
                                 "output": f"For {topic} issue {k}: open settings, choose {topic}, then follow step "
                                           f"{k % 7 + 1} of the guide" + rng.choice([".", "!", " ."])}) + "\n")


def run_tree(src: Path, ws: Path) -> dict:
    stop = ws.parent / f"{ws.name}.stop"
    stop.write_text("")
    dedup = subprocess.Popen([sys.executable, "-m", "curate.cli", "-w", str(ws), "dedup", "-c", "bench", "--json"],
                             cwd=src, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    reviewer = subprocess.Popen([sys.executable, "-c", REVIEWER, str(ws), str(stop)], cwd=src,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = time.perf_counter()
    _, err = dedup.communicate()
    seconds = time.perf_counter() - started
    stop.write_text("stop")
    out, rerr = reviewer.communicate()
    if dedup.returncode != 0 or reviewer.returncode != 0:
        sys.exit(f"failed:\n{err[-1500:]}\n{rerr[-1500:]}")
    result = json.loads(out)
    result["dedup_seconds"] = seconds
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--peer-src", type=Path, help="another checkout to measure the same way, in the same run")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="curate-contention-"))
    data = tmp / "data.jsonl"
    build(data, args.records)
    trees = [("this tree", ROOT)] + ([("peer", args.peer_src)] if args.peer_src else [])
    print(f"{args.records:,} records; a decision every 50 ms while curate dedup runs\n")
    print(f"{'code':<12}{'dedup s':>9}{'decisions':>11}{'max wait s':>12}{'p99 s':>8}{'median s':>10}{'failed':>8}")
    for name, src in trees:
        ws = tmp / f"ws-{name.replace(' ', '-')}"
        # Each tree ingests its own copy: an older tree cannot open a workspace of a newer schema.
        subprocess.run([sys.executable, "-m", "curate.cli", "-w", str(ws), "ingest", str(data), "--as", "bench",
                        "--json"], cwd=src, check=True, stdout=subprocess.DEVNULL)
        r = run_tree(src, ws)
        waits = sorted(r["waits"]) or [float("nan")]
        p99 = waits[min(len(waits) - 1, int(0.99 * len(waits)))]
        print(f"{name:<12}{r['dedup_seconds']:>9.1f}{len(r['waits']):>11,}{waits[-1]:>12.2f}{p99:>8.3f}"
              f"{waits[len(waits) // 2]:>10.4f}{len(r['failures']):>8}")
        for failure in r["failures"][:3]:
            print(f"    {failure}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
