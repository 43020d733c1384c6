"""Ingest benchmark: curate vs `datasets.load_dataset("json")` on the same 1M-record Alpaca JSONL file.

    python bench/ingest.py [--records 1000000] [--keep]

Builds the file deterministically (seeded; about 1% exact repeats and 0.1% broken rows, like real
dumps), then runs each tool in its own subprocess so peak RSS is measured per tool. Prints records/s,
wall time, peak RSS and the ratio to datasets. Targets (issue 2): 1M records in <= 30 s, RSS <= 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import measure  # bench/measure.py: time and peak RSS of a command's process tree

WORDS = ("the a to of and in is for on with that how what why can you my account order refund "
         "delivery card payment password reset login app error update plan billing invoice price "
         "ship track return cancel change address email phone support help please thanks issue "
         "explain write summarise list describe compare translate function python code example").split()


def build(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        last = None
        for i in range(n):
            if last is not None and rng.random() < 0.01:
                fh.write(last)  # an exact repeat, as real dumps have
                continue
            if rng.random() < 0.001:
                fh.write('{"instruction": "broken row", "output": \n')
                continue
            instr = " ".join(rng.choices(WORDS, k=rng.randint(6, 20))).capitalize() + "?"
            inp = " ".join(rng.choices(WORDS, k=rng.randint(0, 12)))
            out = ". ".join(" ".join(rng.choices(WORDS, k=rng.randint(8, 16))).capitalize()
                            for _ in range(rng.randint(1, 4))) + "."
            last = json.dumps({"instruction": instr, "input": inp, "output": out, "id": i}) + "\n"
            fh.write(last)


def _child(cmd: list[str]) -> tuple[float, float, str]:
    """Run cmd, return (seconds, peak RSS of its process tree in MB, stdout)."""
    r = measure.run(cmd)
    if r.returncode != 0:
        sys.exit(f"{cmd[:4]} failed:\n{r.stderr[-2000:]}")
    return r.seconds, r.peak_mb, r.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the generated file and workspace")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="curate-bench-"))
    data = tmp / "alpaca_1m.jsonl"
    t0 = time.perf_counter()
    build(data, args.records)
    print(f"built {args.records:,} records, {data.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t0:.1f}s")

    ds_code = ("import datasets,sys; datasets.disable_progress_bars(); "
               f"d=datasets.load_dataset('json', data_files=sys.argv[1], split='train', cache_dir={str(tmp / 'hf')!r}); "
               "print(len(d))")
    # datasets refuses the whole file at the first broken row, so it reads a copy without them.
    clean = tmp / "clean.jsonl"
    with open(data) as src, open(clean, "w") as dst:
        dst.writelines(line for line in src if not line.startswith('{"instruction": "broken row"'))
    ds_s, ds_rss, ds_out = _child([sys.executable, "-c", ds_code, str(clean)])
    cur_s, cur_rss, cur_out = _child([sys.executable, "-m", "curate.cli", "-w", str(tmp / "ws"), "ingest",
                                      str(data), "--as", "bench", "--json"])
    report = json.loads(cur_out)
    assert report["read"] == report["accepted"] + report["repeats"] + report["quarantined"], "counts must reconcile"
    print(f"curate: read {report['read']:,} = accepted {report['accepted']:,} + repeats {report['repeats']:,} "
          f"+ quarantined {report['quarantined']:,};  datasets rows: {ds_out.strip()}")
    print()
    print(f"{'tool':<28}{'seconds':>10}{'records/s':>14}{'peak RSS MB':>14}")
    print(f"{'datasets.load_dataset(json)':<28}{ds_s:>10.1f}{args.records / ds_s:>14,.0f}{ds_rss:>14,.0f}")
    print(f"{'curate ingest':<28}{cur_s:>10.1f}{args.records / cur_s:>14,.0f}{cur_rss:>14,.0f}")
    print(f"\ncurate/datasets speed ratio: {ds_s / cur_s:.2f}x  "
          f"(curate also validates, hashes, quarantines and writes SQLite)")
    ok_time, ok_rss = cur_s <= 30 * args.records / 1_000_000, cur_rss <= 1536
    print(f"target <= 30 s per 1M: {'PASS' if ok_time else 'FAIL'};  target RSS <= 1.5 GB: {'PASS' if ok_rss else 'FAIL'}")
    if args.keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    main()
