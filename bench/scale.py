"""Scaling benchmark (issue 23): the whole pipeline at 100K, 1M and 10M synthetic examples on one machine.

    python bench/scale.py [--sizes 100000,1000000] [--flavours distinct,redundant] [--engines local]
                          [--no-semantic] [--semantic-max 1000000] [--export-max N] [--ray-size 1000000]
                          [--no-embedders] [--steps ingest,semantic]

Data: OpenAI chat JSONL (`{"messages": [user, assistant]}`), seeded and streamed to disk, cached under
`--work` (default bench/out/scale/) by flavour, size and seed. Prompts and answers are sentences cut from
the real texts of ../shared/data (bench/dedup.py's corpus, 39,671 distinct sentences of 4-40 words), 2 for
a prompt and 1-3 for an answer, 30% of their words then replaced by random words of the same texts (so two
conversations that drew the same sentence share few word 3-grams).
- distinct: every conversation drawn afresh;
- redundant: a merged open mix, 10% fresh conversations and 90% copies of earlier ones, a third each
  byte-identical (ingest's repeats), format-only (case, punctuation, spacing: exact duplicates once
  normalised) and with 2-5% of the answer's words edited (near duplicates).

Each size and flavour runs in a fresh workspace, each step as its own subprocess of the curate CLI:
ingest, dedup exact+near, dedup semantic with the static embedder, check, export 80/10/10 with `--leakage
near` (its default, auto, also embeds the prompts with the full model up to 50,000 examples and skips that
above, so the step would not compare across sizes). A 1,000-example warm-up run goes first, not reported
(compiled kernels, model caches). Semantic dedup is skipped above `--semantic-max` (1M); `--steps` runs
a subset (ingest always: the others read its workspace), e.g. `--steps ingest,semantic --semantic-max
10000000` for semantic dedup at 10M without the hour of the other steps. Measured per
step: wall time, peak RSS of the step's process tree (bench/measure.py), workspace size on disk after it.
Prints a table per flavour with the cost per example at the largest size over the smallest (flat = 1.0).

`--engines local,ray` also starts a local Ray cluster of 2 worker CPUs (ports of its own, its own temp
dir, stopped by this script at the end whatever happens) and runs the same steps with
`curate --engine ray` at `--ray-size` on the distinct data, against the local engine at the same size in
the same run; the Ray rows' peak RSS includes the cluster's processes. Last, the static-vs-full-MiniLM
quality/speed table of bench/embedders.py (`--no-embedders` skips it). Everything goes to `--out` as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import measure  # noqa: E402  (bench/measure.py: time and peak RSS of a process tree)
from dedup import edit, real_texts, reformat  # noqa: E402  (bench/dedup.py: the real texts, the edits)

STEPS = ("ingest", "exact+near", "semantic", "check", "export")
COUNTED = ("accepted", "repeats", "quarantined", "groups", "duplicates", "conflicts", "findings")
RAY_ENV = {"RAY_AUTH_MODE": "token"}
FRESH = 0.1  # redundant flavour: share of rows that are new conversations
MIXED = 0.3  # share of a conversation's words replaced by random words of the corpus
GENERATOR = 2  # in the cached files' names: raise it when the generator changes
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
SPEAKERS = re.compile(r"\b(Human|Assistant):")


# ---- data ----

def sentence_pool() -> list[str]:
    """Distinct sentences of 4-40 words from the real texts."""
    seen, pool = set(), []
    for text in real_texts():
        for sentence in SENTENCE_END.split(SPEAKERS.sub(" ", text)):
            sentence = " ".join(sentence.split())
            if 4 <= len(sentence.split()) <= 40 and sentence.lower() not in seen:
                seen.add(sentence.lower())
                pool.append(sentence)
    return pool


def vocabulary(pool: list[str]) -> list[str]:
    return sorted({w for sentence in pool for w in sentence.split()})


def mix(sentences: list[str], vocab: list[str], rng: random.Random) -> str:
    """The sentences with about MIXED of their words replaced by random words of the corpus, so that two
    conversations that drew the same sentence still share few word 3-grams."""
    tokens = " ".join(sentences).split()
    m = round(len(tokens) * MIXED)
    for i, word in zip(rng.choices(range(len(tokens)), k=m), rng.choices(vocab, k=m)):
        tokens[i] = word
    return " ".join(tokens)


def conversation(pool: list[str], vocab: list[str], seed: int, k: int) -> tuple[str, str]:
    """Conversation number k of a seed: the same (prompt, answer) every time it is asked for."""
    rng = random.Random(seed << 40 | k)
    return mix(rng.choices(pool, k=2), vocab, rng), mix(rng.choices(pool, k=rng.randint(1, 3)), vocab, rng)


def distinct_rows(pool: list[str], seed: int, n: int):
    vocab = vocabulary(pool)
    for k in range(n):
        yield conversation(pool, vocab, seed, k)


def redundant_rows(pool: list[str], seed: int, n: int):
    rng, made, vocab = random.Random(seed), 0, vocabulary(pool)
    for _ in range(n):
        if made == 0 or rng.random() < FRESH:
            made += 1
            yield conversation(pool, vocab, seed, made - 1)
            continue
        prompt, answer = conversation(pool, vocab, seed, rng.randrange(made))
        kind = rng.randrange(3)
        if kind == 1:
            prompt, answer = reformat(prompt, rng), reformat(answer, rng)
        elif kind == 2:
            answer = edit(answer, rng, rng.choice([0.02, 0.03, 0.05]))
        yield prompt, answer


FLAVOURS = {"distinct": distinct_rows, "redundant": redundant_rows}


def dataset(work: Path, flavour: str, n: int, seed: int) -> tuple[Path, float]:
    """The cached file for flavour, n and seed, written first when missing; returns (path, seconds spent)."""
    path = work / "data" / f"{flavour}-{n}-seed{seed}-v{GENERATOR}.jsonl"
    if path.exists():
        return path, 0.0
    path.parent.mkdir(parents=True, exist_ok=True)
    t0, part = time.perf_counter(), path.with_suffix(".part")
    with open(part, "wb") as fh:
        for prompt, answer in FLAVOURS[flavour](sentence_pool(), seed, n):
            fh.write(orjson.dumps({"messages": [{"role": "user", "content": prompt},
                                                {"role": "assistant", "content": answer}]}) + b"\n")
    part.rename(path)
    return path, time.perf_counter() - t0


# ---- steps ----

def step_args(step: str, data: Path, out_dir: Path) -> list[str]:
    return {
        "ingest": ["ingest", str(data), "--as", "data", "--json"],
        "exact+near": ["dedup", "--collection", "data", "--methods", "exact,near", "--json"],
        "semantic": ["dedup", "--collection", "data", "--methods", "semantic", "--embedder", "static", "--json"],
        "check": ["check", "--collection", "data", "--json"],
        "export": ["export", str(out_dir), "--collection", "data", "--split", "80/10/10", "--leakage", "near",
                   "--json"],
    }[step]


def cli(workspace: Path, engine: dict, progress: bool = False) -> list[str]:
    flags = ["--engine", "ray", "--ray-address", engine["address"]] if engine["name"] == "ray" else []
    quiet = [] if progress else ["--no-progress"]
    return [sys.executable, "-m", "curate.cli", "-w", str(workspace), *quiet, *flags]


def child_env(engine: dict | None = None) -> dict[str, str]:
    """The CLI of this checkout, whatever is installed; with Ray, token authentication on, as the cluster
    has it (Ray 2.60 turns it on for a head when ~/.ray/auth_token exists, but not for a client)."""
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)}
    return {**env, **RAY_ENV} if engine and engine["name"] == "ray" else env


def disk_mb(path: Path) -> float:
    if not path.exists():
        return 0.0
    return sum(os.stat(os.path.join(d, f)).st_blocks * 512 for d, _, files in os.walk(path) for f in files) / 2**20


def summary(stdout: str) -> dict:
    """The top-level numbers of a --json report, lists by their length, and dedup's duplicates (its summary's:
    group members less each group's representative; repeats of one example are not duplicates)."""
    try:
        report = json.loads(stdout)
    except ValueError:
        return {}
    if not isinstance(report, dict):
        return {}
    out = {k: len(v) if isinstance(v, list) else v for k, v in report.items()
           if isinstance(v, (int, float, list)) and not isinstance(v, bool) and k != "run_id"}
    if isinstance(report.get("summary"), dict) and "duplicates" in report["summary"]:
        out["duplicates"] = report["summary"]["duplicates"]
    return out


def run_step(step: str, base: list[str], data: Path, run_dir: Path, engine: dict, timeout: float) -> dict:
    m = measure.run([*base, *step_args(step, data, run_dir / "export")], env=child_env(engine), timeout=timeout,
                    also=engine.get("pids", []))
    (run_dir / f"{step}.json").write_text(m.stdout)
    cell = {"status": "ok", "seconds": m.seconds, "peak_mb": m.peak_mb, "peak_at_s": m.peak_at,
            "peak_stage": m.peak_stage, "rss_timeline": m.timeline, "workspace_mb": disk_mb(run_dir / "ws"),
            "summary": summary(m.stdout)}
    if m.returncode:
        cell["status"] = "timeout" if m.returncode == -signal.SIGKILL else "failed"
        cell["stderr_tail"] = m.stderr[-2000:]
        print(f"    {step} {cell['status']} (exit {m.returncode}):\n{indent(m.stderr[-2000:])}", flush=True)
    return cell


def indent(text: str) -> str:
    return "\n".join("      " + line for line in text.strip().splitlines())


def skipped_steps(n: int, args) -> dict[str, str]:
    skip = {step: "skipped (not in --steps)" for step in STEPS if step not in args.steps}
    if args.no_semantic:
        skip["semantic"] = "skipped (--no-semantic)"
    elif n > args.semantic_max:
        skip["semantic"] = f"skipped (> --semantic-max {args.semantic_max:,})"
    if args.export_max is not None and n > args.export_max:
        skip["export"] = f"skipped (> --export-max {args.export_max:,})"
    return skip


def run_pipeline(flavour: str, n: int, engine: dict, args) -> dict:
    """Every step on a fresh workspace of n examples; a failed step is recorded and the next one runs."""
    data, gen_s = dataset(args.work, flavour, n, args.seed)
    run_dir = args.work / "runs" / f"{flavour}-{n}-{engine['name']}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    print(f"  {flavour} {n:,} ({engine['name']}): {data.stat().st_size / 2**20:,.0f} MB"
          + (f", generated in {gen_s:.1f} s" if gen_s else ", cached"), flush=True)
    steps, skip = {}, skipped_steps(n, args)
    for step in STEPS:
        if step in skip:
            steps[step] = {"status": skip[step]}
        elif engine.get("missing"):
            steps[step] = {"status": "engine missing"}
        else:
            steps[step] = run_step(step, cli(run_dir / "ws", engine, args.progress), data, run_dir, engine,
                                   args.step_timeout)
            if steps[step].get("peak_stage"):
                print(f"    {step}: peak at {steps[step]['peak_at_s']:.0f} s, during: {steps[step]['peak_stage']}",
                      flush=True)
    print(f"    {counts(steps)}", flush=True)
    if not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return {"flavour": flavour, "n": n, "engine": engine["name"], "file_mb": data.stat().st_size / 2**20,
            "generate_s": gen_s, "steps": steps}


def counts(steps: dict) -> str:
    """What the data turned out to hold: ingest's and dedup's own counts."""
    picked = {f"{step}.{k}": v for step in ("ingest", "exact+near", "semantic", "check") for k, v in
              steps[step].get("summary", {}).items() if k in COUNTED}
    return ", ".join(f"{k} {v:,}" for k, v in picked.items()) or "no counts"


# ---- tables ----

def cell_text(cell: dict, n: int) -> str:
    if cell["status"] != "ok":
        return f"  {cell['status'][:36]:<36}"
    return (f"{cell['seconds']:8.1f}{cell['seconds'] / n * 1e6:8.1f}{cell['peak_mb']:11,.0f}"
            f"{cell['workspace_mb']:11,.0f}")


def growth(runs: list[dict], step: str) -> str:
    """µs per example at the largest size over the smallest (both measured)."""
    small, large = runs[0], runs[-1]
    a, b = small["steps"][step], large["steps"][step]
    if len(runs) < 2 or a["status"] != "ok" or b["status"] != "ok":
        return ""
    return f"{(b['seconds'] / large['n']) / (a['seconds'] / small['n']):.2f}"


def print_scaling(flavour: str, runs: list[dict]) -> None:
    print(f"\n{flavour}: seconds, µs per example, peak RSS MB (process tree), workspace MB on disk after the step")
    sizes = [f"--- {r['n']:,} examples ---" for r in runs]
    print(f"{'step':<12}" + "".join(f"{s:^38}" for s in sizes) + f"{'cost/ex':>10}")
    print(f"{'':<12}" + f"{'s':>8}{'µs/ex':>8}{'RSS MB':>11}{'WS MB':>11}" * len(runs) + f"{'big/small':>10}")
    for step in STEPS:
        print(f"{step:<12}" + "".join(cell_text(r["steps"][step], r["n"]) for r in runs) + f"{growth(runs, step):>10}")
    total = [sum(c.get("seconds", 0) for c in r["steps"].values()) for r in runs]
    print(f"{'total s':<12}" + "".join(f"{t:8.1f}{t / r['n'] * 1e6:8.1f}{'':>22}" for t, r in zip(total, runs)))


def print_engines(local: dict, ray: dict) -> None:
    print(f"\nRay (local cluster, 2 worker CPUs) against the local engine, distinct, {local['n']:,} examples, "
          "same run (Ray's RSS includes the cluster's processes)")
    print(f"{'step':<12}{'local s':>9}{'ray s':>9}{'ray/local':>11}{'local RSS':>11}{'ray RSS':>10}")
    for step in STEPS:
        a, b = local["steps"][step], ray["steps"][step]
        if a["status"] != "ok" or b["status"] != "ok":
            print(f"{step:<12}{a['status'] if a['status'] != 'ok' else '':>9} {b['status']}")
            continue
        print(f"{step:<12}{a['seconds']:9.1f}{b['seconds']:9.1f}{b['seconds'] / a['seconds']:10.2f}x"
              f"{a['peak_mb']:11,.0f}{b['peak_mb']:10,.0f}")


# ---- Ray ----

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_command() -> list[str]:
    ray = Path(sys.executable).with_name("ray")
    return [str(ray)] if ray.exists() else [sys.executable, "-m", "ray.scripts.scripts"]


@contextmanager
def ray_cluster(work: Path):
    """A head node with 2 CPUs, in the foreground (`--block`) in a process group of its own, so stopping
    it stops this cluster only (`ray stop` would stop every Ray cluster of this user on the machine)."""
    port, temp = free_port(), work / "ray"
    ports = ["--node-ip-address", "127.0.0.1", "--port", str(port),
             "--dashboard-agent-listen-port", str(free_port()), "--metrics-export-port", str(free_port())]
    temp.mkdir(parents=True, exist_ok=True)
    with open(work / "ray-head.log", "w") as log:
        head = subprocess.Popen([*ray_command(), "start", "--head", "--block", "--num-cpus", "2",
                                 "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", str(temp),
                                 *ports], stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, **RAY_ENV})
    try:
        wait_started(work / "ray-head.log", head)
        yield f"127.0.0.1:{port}", head.pid
    finally:
        stop_group(head)


def wait_started(log: Path, head: subprocess.Popen, limit: float = 180) -> None:
    t0 = time.perf_counter()
    while "Ray runtime started" not in log.read_text():
        if head.poll() is not None or time.perf_counter() - t0 > limit:
            raise RuntimeError(f"ray start failed:\n{log.read_text()[-2000:]}")
        time.sleep(0.5)
    print(f"  Ray head up in {time.perf_counter() - t0:.1f} s (pid {head.pid})", flush=True)


def stop_group(head: subprocess.Popen) -> None:
    """SIGTERM to the cluster's process group (Ray drains for up to 30 s), then SIGKILL to whatever is left
    of its session: the group, and workers that made groups of their own."""
    try:
        os.killpg(head.pid, signal.SIGTERM)
        head.wait(timeout=40)
    except subprocess.TimeoutExpired:
        pass
    for _ in range(20):
        left = session_pids(head.pid)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not left:
            break
        time.sleep(0.5)
    head.wait()
    print("  Ray cluster stopped", flush=True)


def session_pids(sid: int) -> list[int]:
    """Live (not zombie) processes of session `sid`."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"{entry.path}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != b"Z":
            pids.append(int(entry.name))
    return pids


def engine_missing() -> bool:
    """True when this checkout's CLI has no --engine option yet."""
    probe = subprocess.run([sys.executable, "-m", "curate.cli", "--engine", "ray", "--help"], env=child_env(),
                           capture_output=True, text=True)
    return probe.returncode != 0 and "--engine" in probe.stderr


def ray_comparison(local_runs: list[dict], args) -> dict:
    n = args.ray_size
    local = next((r for r in local_runs if r["flavour"] == "distinct" and r["n"] == n), None)
    if local is None:
        local = run_pipeline("distinct", n, {"name": "local"}, args)
    missing = engine_missing()
    if missing:
        print("  the CLI has no --engine option yet: Ray cells marked 'engine missing'")
    with ray_cluster(args.work) as (address, pid):
        ray = run_pipeline("distinct", n, {"name": "ray", "address": address, "pids": [pid], "missing": missing},
                           args)
    print_engines(local, ray)
    return {"local": local, "ray": ray}


# ---- main ----

def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated example counts")
    ap.add_argument("--flavours", default="distinct,redundant")
    ap.add_argument("--engines", default="local", help="local, ray or local,ray")
    ap.add_argument("--ray-size", type=int, default=1_000_000, help="examples for the Ray-vs-local comparison")
    ap.add_argument("--steps", default=",".join(STEPS),
                    help="comma-separated steps to run (ingest always runs: the others read its workspace)")
    ap.add_argument("--no-semantic", action="store_true", help="leave out semantic dedup")
    ap.add_argument("--semantic-max", type=int, default=1_000_000, help="skip semantic dedup above this size")
    ap.add_argument("--export-max", type=int, default=None,
                    help="skip export above this size")
    ap.add_argument("--no-embedders", action="store_true", help="leave out bench/embedders.py's table")
    ap.add_argument("--step-timeout", type=float, default=3600, help="seconds before a step is stopped")
    ap.add_argument("--progress", action="store_true",
                    help="let the CLI write its progress to stderr, to name the stage of each step's peak memory")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "scale",
                    help="cached data and the workspaces")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "scale.json")
    ap.add_argument("--keep", action="store_true", help="keep each run's workspace and export")
    args = ap.parse_args()
    args.sizes = sorted(int(s) for s in args.sizes.split(","))
    args.flavours = args.flavours.split(",")
    args.engines = args.engines.split(",")
    steps = {"ingest", *args.steps.split(",")}
    unknown = set(args.flavours) - set(FLAVOURS) | set(args.engines) - {"local", "ray"} | steps - set(STEPS)
    if unknown:
        ap.error(f"unknown flavour, engine or step: {', '.join(sorted(unknown))}")
    args.steps = [step for step in STEPS if step in steps]  # a list: the results' JSON records it
    return args


def main() -> None:
    args = parse_args()
    results: dict = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                     "cpus": os.cpu_count(), "runs": []}
    print("warm-up, not reported: 1,000 examples through every step (compiled kernels, model caches)")
    run_pipeline("distinct", 1000, {"name": "local"}, args)
    if "local" in args.engines:
        for flavour in args.flavours:
            runs = [run_pipeline(flavour, n, {"name": "local"}, args) for n in args.sizes]
            results["runs"] += runs
            print_scaling(flavour, runs)
    if "ray" in args.engines:
        results["ray"] = ray_comparison(results["runs"], args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"\nwritten: {args.out}")
    if not args.no_embedders:
        import embedders  # bench/embedders.py; imported late: it loads the models

        print("\nstatic vs full MiniLM (bench/embedders.py), measured now:")
        embedders.table()


if __name__ == "__main__":
    main()
