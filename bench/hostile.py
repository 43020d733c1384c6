"""Compression bombs: `curate ingest` on a .jsonl.gz and a .json.gz of a few MB that inflate to 2.5 GB.

    python bench/hostile.py [--gigabytes 2.5] [--peer]

Each bomb starts with a few good rows, then one value with no end (2.5 GB of one character, no newline).
curate is run in its own subprocess with its default limits; the bench prints its exit code, message,
wall time and peak RSS (target: under 500 MB, with a clear error). `--peer` also runs the naive reader the
project had before (`for line in gzip.open(...)`, then json.loads), in the same run, for the ratio.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOOD = b"".join(json.dumps({"instruction": f"Question {i}?", "output": f"Answer {i}."}).encode() + b"\n"
                for i in range(5))


def build(path: Path, gigabytes: float, json_document: bool) -> None:
    block = (b" " if json_document else b"A") * (16 << 20)
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write(b'{"data": "' if json_document else GOOD + b'{"instruction": "')
        for _ in range(int(gigabytes * 1024 / 16)):
            fh.write(block)


# A fresh process per measurement reports its own children's peak RSS (RUSAGE_CHILDREN keeps a maximum
# over every child a process ever had, so measuring from this process would mix the runs).
_MEASURE = ("import resource, subprocess, sys\n"
            "code = subprocess.run(sys.argv[1:]).returncode\n"
            "print('peak_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
            "sys.exit(code)\n")


def timed(cmd: list[str]) -> tuple[int, float, float, str]:
    """Exit code, seconds, peak RSS in MB, and the last line the command printed."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    lines = proc.stderr.strip().splitlines()
    peak = int(lines.pop().split()[1]) / 1024
    said = lines or proc.stdout.strip().splitlines()
    return proc.returncode, seconds, peak, said[-1] if said else ""


NAIVE = ("import gzip, json, sys\n"
         "for line in gzip.open(sys.argv[1]):\n"
         "    try: json.loads(line)\n"
         "    except ValueError: pass\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gigabytes", type=float, default=2.5)
    ap.add_argument("--peer", action="store_true", help="also run the naive line reader (needs ~2x the bomb in RAM)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    curate = str(Path(sys.executable).with_name("curate"))
    for name, as_document in (("bomb.jsonl.gz", False), ("bomb.json.gz", True)):
        path = tmp / name
        build(path, args.gigabytes, as_document)
        size = path.stat().st_size
        code, seconds, peak, message = timed([curate, "-w", str(tmp / f"ws-{name}"), "ingest", str(path), "--as", "b"])
        print(f"{name}: {size / 1e6:.1f} MB compressed, {args.gigabytes:.1f} GB inflated")
        print(f"  curate   exit {code} in {seconds:6.1f} s, peak RSS {peak:7.0f} MB: {message[:160]}")
        if args.peer and not as_document:
            code, seconds_p, peak_p, _ = timed([sys.executable, "-c", NAIVE, str(path)])
            print(f"  naive    exit {code} in {seconds_p:6.1f} s, peak RSS {peak_p:7.0f} MB "
                  f"(curate's peak is {peak / peak_p:.2f}x)")


if __name__ == "__main__":
    main()
