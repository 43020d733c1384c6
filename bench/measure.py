"""Run a command in its own subprocess and measure it: wall time and the peak RSS of its process tree.

Shared by the benchmarks that time the CLI (bench/ingest.py, bench/scale.py). The peak is the larger of
two readings, both sampled every 0.1 s from /proc: the sum of the RSS of the command and all its
descendants (a forked writer and its parser count together), and the largest VmHWM (the kernel's own
peak since exec) of any one process of the tree, which catches spikes shorter than a sample. Not
`wait4`'s ru_maxrss: after a vfork and exec it can report the parent's size (the benchmark's own), which
made every step of one table read 1,935 MB.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measured:
    seconds: float
    peak_mb: float
    returncode: int  # -9: killed at the timeout
    stdout: str
    stderr: str
    peak_at: float = 0.0  # seconds into the run when the summed RSS was largest
    peak_stage: str = ""  # the last line the command had written to stderr then (its progress)
    timeline: list[tuple[float, float]] = field(default_factory=list)  # (seconds, summed RSS MB), every 10 s


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


def tree_rss(roots: list[int]) -> tuple[int, int]:
    """Bytes resident now in the processes `roots` and all their descendants, and the largest peak (VmHWM) of
    any one of them since its exec."""
    children, total, largest, todo = _children(), 0, 0, list(roots)
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * PAGE
            with open(f"/proc/{pid}/status", "rb") as fh:
                hwm = next((line for line in fh if line.startswith(b"VmHWM:")), b"VmHWM: 0 kB")
            largest = max(largest, int(hwm.split()[1]) * 1024)
        except (OSError, ValueError):
            pass
    return total, largest


def run(cmd: list[str], env: dict[str, str] | None = None, timeout: float | None = None,
        also: list[int] = ()) -> Measured:
    """Run cmd to the end (or kill its process group at `timeout` seconds) and measure it. The RSS of the
    process trees under `also` (a Ray cluster the command drives) is added to every sample."""
    out, err = _scratch("out"), _scratch("err")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, start_new_session=True)
    peak, status, summed_peak, at, stage, timeline = 0, None, 0, 0.0, "", []
    while status is None:
        summed, largest = tree_rss([proc.pid, *also])
        peak = max(peak, summed, largest)
        now = time.perf_counter() - t0
        if summed > summed_peak:
            summed_peak, at, stage = summed, now, _last_line(err)
        if not timeline or now - timeline[-1][0] >= 10:
            timeline.append((round(now, 1), round(summed / 2**20, 1)))
        pid, code = os.waitpid(proc.pid, os.WNOHANG)
        if pid:
            status = os.waitstatus_to_exitcode(code)
            continue
        if timeout is not None and time.perf_counter() - t0 > timeout:
            os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.1)
    seconds = time.perf_counter() - t0
    proc.returncode = status  # reaped here, so Popen must not wait for it again
    return Measured(seconds, peak / 2**20, status, _read(out), _read(err), round(at, 1), stage, timeline)


def _last_line(fh) -> str:
    """The last line written so far to a file the child writes (progress lines end in \\r or \\n)."""
    size = os.fstat(fh.fileno()).st_size
    tail = os.pread(fh.fileno(), 4096, max(0, size - 4096)).decode("utf-8", "replace")
    lines = [x.strip() for x in tail.replace("\r", "\n").split("\n") if x.strip()]
    return lines[-1] if lines else ""


def _scratch(name: str):
    return tempfile.TemporaryFile(mode="w+", prefix=f"bench-{name}-")


def _read(fh) -> str:
    fh.seek(0)
    text = fh.read()
    fh.close()
    return text
