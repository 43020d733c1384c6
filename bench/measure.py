"""Run a command in its own subprocess and measure it: wall time and the peak RSS of its process tree.

Shared by the benchmarks that time the CLI (bench/ingest.py, bench/scale.py). The peak is the larger of
two readings: the sum of the RSS of the command and all its descendants, sampled every 0.1 s from /proc
(a forked writer and its parser count together), and the kernel's own peak for the largest single
process of the tree (`wait4`), which catches spikes shorter than a sample.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measured:
    seconds: float
    peak_mb: float
    returncode: int  # -9: killed at the timeout
    stdout: str
    stderr: str


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process /proc shows."""
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"{entry.path}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_rss(roots: list[int]) -> int:
    """Bytes resident in the processes `roots` and all their descendants."""
    children, total, todo = _children(), 0, list(roots)
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except OSError:
            pass
    return total


def run(cmd: list[str], env: dict[str, str] | None = None, timeout: float | None = None,
        also: list[int] = ()) -> Measured:
    """Run cmd to the end (or kill its process group at `timeout` seconds) and measure it. The RSS of the
    process trees under `also` (a Ray cluster the command drives) is added to every sample."""
    out, err = _scratch("out"), _scratch("err")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, start_new_session=True)
    peak, status, usage = 0, None, None
    while status is None:
        peak = max(peak, tree_rss([proc.pid, *also]))
        pid, code, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status, usage = os.waitstatus_to_exitcode(code), rusage
            continue
        if timeout is not None and time.perf_counter() - t0 > timeout:
            os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.1)
    seconds = time.perf_counter() - t0
    proc.returncode = status  # reaped here, so Popen must not wait for it again
    peak = max(peak, usage.ru_maxrss * 1024)
    return Measured(seconds, peak / 2**20, status, _read(out), _read(err))


def _scratch(name: str):
    return tempfile.TemporaryFile(mode="w+", prefix=f"bench-{name}-")


def _read(fh) -> str:
    fh.seek(0)
    text = fh.read()
    fh.close()
    return text
