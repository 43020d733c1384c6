"""Review app speed on a 1M-example workspace: time to the first screen, and key press to next example.

    python bench/review.py [--records 1000000] [--presses 300]

Setup (timed apart): the seeded 1M-record Alpaca file of bench/ingest.py, ingested, and `curate dedup`
(exact + near) so the flagged order has findings and groups to load. Then, headless through Textual's
pilot at 140x45:
- first screen: from opening (loading ids, findings, groups, verdicts) to the app mounted with the
  first example rendered; target <= 2 s;
- `j` (next example) and `a` (accept: a committed write, then the next example): the CPU time the
  process spends from the key press until the app is idle again (handling the key, the workspace
  read or write, layout and rendering of the next example), p50/p95/max; target p95 <= 50 ms. Wall
  time through the pilot is printed too but is not the latency a user sees: Textual's pilot polls for
  idleness in 20 ms sleeps, which adds 40-80 ms of waiting to every key.
The peer is the same app driven the same way over a 1,000-example workspace, to show what scale costs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import build  # noqa: E402
from curate.dedup import run as dedup  # noqa: E402
from curate.ingest import ingest  # noqa: E402
from curate.workspace import Workspace  # noqa: E402
from tui.app import ReviewApp  # noqa: E402
from tui.data import ReviewData  # noqa: E402


def measure(ws: Workspace, presses: int) -> dict:
    t0 = time.perf_counter()
    data = ReviewData(ws, "big", "bench")
    app = ReviewApp(data)
    out: dict = {}

    async def go():
        async with app.run_test(size=(140, 45)) as pilot:
            await pilot.pause()
            out["first_screen"] = time.perf_counter() - t0
            for key in ("j", "a"):
                cpu, wall = [], []
                for _ in range(presses if key == "j" else presses // 3):
                    t, c = time.perf_counter(), time.process_time()
                    await pilot.press(key)
                    await pilot.pause()
                    cpu.append((time.process_time() - c) * 1000)
                    wall.append((time.perf_counter() - t) * 1000)
                out[key], out[key + "_wall"] = np.array(cpu), np.array(wall)

    asyncio.run(go())
    return out


def report(name: str, r: dict) -> None:
    print(f"{name}: first screen {r['first_screen']:.2f} s", end="")
    for key, what in (("j", "next"), ("a", "accept+next")):
        t = r[key]
        print(f" | {what} CPU p50 {np.percentile(t, 50):.1f} ms p95 {np.percentile(t, 95):.1f} ms max "
              f"{t.max():.1f} ms (pilot wall p95 {np.percentile(r[key + '_wall'], 95):.0f} ms)", end="")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--presses", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        results = {}
        for n in (1000, args.records):
            data = tmp / f"d{n}.jsonl"
            build(data, n)
            with Workspace(tmp / f"ws{n}") as ws:
                t = time.perf_counter()
                ingest([data], "big", workspace=ws)
                dedup("big", workspace=ws, methods=("exact", "near"))
                print(f"setup {n:,}: ingest + dedup {time.perf_counter() - t:.1f} s", flush=True)
                results[n] = measure(ws, args.presses)
                report(f"{n:,} examples", results[n])
        big = results[args.records]
        p95 = max(np.percentile(big["j"], 95), np.percentile(big["a"], 95))
        print(f"\ntargets at {args.records:,}: first screen {big['first_screen']:.2f} s (<= 2 s: "
              f"{'PASS' if big['first_screen'] <= 2 else 'FAIL'}); key to next example p95 {p95:.1f} ms (<= 50 ms: "
              f"{'PASS' if p95 <= 50 else 'FAIL'}); first-screen ratio to 1,000 examples "
              f"{big['first_screen'] / results[1000]['first_screen']:.1f}x")


if __name__ == "__main__":
    main()
