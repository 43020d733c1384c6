"""The Ray engine gives what the local engine gives: the same duplicate groups, conflicts, check findings,
scores and embeddings on real data, with partitions made small so every step is cut into several tasks.
A local Ray instance (2 CPUs) serves the module; one test joins a cluster started with `ray start`, the
multi-node recipe's commands on one machine."""

from __future__ import annotations

import gzip
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import curate
from curate.checks import run as run_checks
from curate.cli import main
from curate.dedup import run as run_dedup
from curate.engine import Engine, RayEngine, engine_for
from curate.errors import InputFileError, UsageError

from .conftest import SHARED, require

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_engine_errors_are_one_clear_line(ws_dir, monkeypatch):
    """First in the module: before its Ray instance starts, so the address is really tried."""
    port = _free_port()  # nothing listens there
    r = CliRunner().invoke(main, ["-w", str(ws_dir), "--engine", "ray", "--ray-address", f"127.0.0.1:{port}",
                                  "check"])
    assert r.exit_code != 0 and f"nothing answers at 127.0.0.1:{port}" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["-w", str(ws_dir), "--ray-address", "127.0.0.1:1", "check"])
    assert r.exit_code != 0 and "--ray-address needs --engine ray" in r.output
    with pytest.raises(UsageError, match="unknown engine 'spark'"):
        engine_for("spark")
    assert list(Engine().map(lambda part, k: part * k, [1, 2, 3], 10)) == [10, 20, 30]
    curate.ingest(["sample_data/support_faq.json"], "faq", workspace=ws_dir)
    from curate import engine

    class NoWorkers:  # a head started with --num-cpus 0, and no worker machine joined
        def cluster_resources(self):
            return {"memory": 1e9}

    monkeypatch.setattr(engine, "_WAIT_FOR_WORKERS", 0.1)
    with pytest.raises(UsageError, match="no CPUs to run on: start a worker .* `ray start --address 10.0.0.1:6379`"):
        engine._cpus(NoWorkers(), "10.0.0.1:6379")
    r = CliRunner().invoke(main, ["-w", str(ws_dir), "--engine", "ray", "status"])  # nothing of it to spread
    assert r.exit_code == 0 and "note: --engine ray changes nothing for `status`, which runs here" in r.output


@pytest.fixture(scope="module")
def ray_engine():
    ray = require("ray", "ray")
    engine = RayEngine()
    yield engine
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Alpaca GPT-4 and Code Alpaca (with their own near copies and conflicts) plus curate's support chats."""
    if not SHARED.is_dir():
        pytest.skip(f"real data not found at {SHARED} (a fresh checkout has no ../shared)")
    shared_data = SHARED
    ws = tmp_path_factory.mktemp("ray") / "ws"
    curate.ingest([shared_data / "alpaca_gpt4_en_demo" / "alpaca_en_demo.json",
                   shared_data / "code_alpaca_2k" / "code_alpaca_2k.json",
                   Path(__file__).resolve().parents[1] / "sample_data" / "support_chat.jsonl"], "mix", workspace=ws)
    return ws


@pytest.fixture
def small_partitions(monkeypatch):
    """Partitions of a few hundred examples: several tasks per step even on this small corpus."""
    from curate import embed
    from curate.checks import runner
    from curate.dedup import partitioned, semantic

    monkeypatch.setattr(partitioned, "PARTITION", 700)
    monkeypatch.setattr(runner, "ENGINE_PARTITION", 500)
    monkeypatch.setattr(semantic, "PARTITION", 300)  # several ranges of lists, scanned on the workers
    monkeypatch.setattr(semantic, "BRUTE_FORCE_MAX", 500)  # the inverted lists
    monkeypatch.setattr(embed, "_PARTITION_BATCHES", 1)


def _rows(ws: Path) -> list[list]:
    with curate.Workspace(ws) as w:
        return [w.conn.execute(f"SELECT {columns} FROM {table} ORDER BY rowid").fetchall() for table, columns in (
            ("examples", "id, messages, tools, metadata, warnings, path, line, idx, format"),
            ("repeats", "*"), ("quarantine", "path, line, idx, code, message, raw"))]


def test_ingest_converts_on_the_workers_with_the_same_rows(ray_engine, small_partitions, tmp_path, monkeypatch,
                                                           shared_data):
    """Real files plus a damaged one: the same examples, repeats and quarantined rows in the same order, and a
    file that breaks part-way keeps the rows before the break on both engines."""
    monkeypatch.setattr(sys.modules["curate.ingest"], "ENGINE_PARTITION", 300)
    damaged = tmp_path / "damaged.jsonl"
    records = json.loads((shared_data / "code_alpaca_2k" / "code_alpaca_2k.json").read_text())[:900]
    lines = [json.dumps(r) for r in records]
    lines[5] = '{"messages": [{"role": "user", "content": "hi"'  # cut short
    lines[400] = '{"messages": [{"role": "robot", "content": "beep"}]}'  # not a conversation
    lines[650] = '{"instruction": "a lone \\ud800 surrogate", "output": "x"}'
    damaged.write_text("\n".join(lines + lines[:50]) + "\n")  # the last 50 again: repeats
    files = [shared_data / "alpaca_gpt4_en_demo" / "alpaca_en_demo.json", damaged,
             Path(__file__).resolve().parents[1] / "sample_data" / "escalations.csv"]
    a = curate.ingest(files, "mix", workspace=tmp_path / "local")
    b = curate.ingest(files, "mix", workspace=tmp_path / "ray", engine=ray_engine)
    assert a.quarantined >= 3 and a.repeats >= 50 and a.accepted > 1000
    assert "engine" not in a.to_dict() and b.to_dict()["engine"]["name"] == "ray"  # the summary says where
    same = {"workspace": "", "seconds": 0, "engine": None}
    assert (a.to_dict() | same) == (b.to_dict() | same)
    assert _rows(tmp_path / "local") == _rows(tmp_path / "ray")
    cut = tmp_path / "cut.jsonl.gz"  # a download that stopped: the file ends mid-stream
    cut.write_bytes(gzip.compress(("\n".join(lines * 3) + "\n").encode())[:-2000])
    before = len(_rows(tmp_path / "local")[0])
    for ws in ("local", "ray"):
        with pytest.raises(InputFileError, match="rows were read and kept"):
            curate.ingest([cut], "cut", workspace=tmp_path / ws, engine=ray_engine if ws == "ray" else None)
    kept = _rows(tmp_path / "local")
    assert kept == _rows(tmp_path / "ray") and len(kept[0]) > before  # distinct rows of the first copy, at least


def _same(a, b) -> None:
    assert a.groups == b.groups and a.conflicts == b.conflicts and a.findings == b.findings
    assert a.summary["groups"] == b.summary["groups"] and a.summary["duplicates"] == b.summary["duplicates"]


def test_exact_and_near_dedup_give_the_same_groups(corpus, ray_engine, small_partitions):
    local = run_dedup("mix", workspace=corpus, methods=("exact", "near"))
    on_ray = run_dedup("mix", workspace=corpus, methods=("exact", "near"), engine=ray_engine)
    assert local.summary["groups_by_method"].get("near", 0) >= 5 and len(local.conflicts) >= 1  # something to agree on
    _same(local, on_ray)
    assert on_ray.summary["engine"]["name"] == "ray" and "engine" not in local.summary


def test_semantic_dedup_gives_the_same_groups_and_vectors(corpus, ray_engine, small_partitions):
    from curate.embed import _encode_on, embedder_for

    local = run_dedup("mix", workspace=corpus, methods=("exact", "semantic"), embedder="static")
    on_ray = run_dedup("mix", workspace=corpus, methods=("exact", "semantic"), embedder="static", engine=ray_engine)
    assert local.summary["groups_by_method"].get("semantic", 0) >= 5
    _same(local, on_ray)
    # The second run read the cache: encode afresh on the workers, partition by partition, and compare.
    texts = [f"how do I reset my password, take {i}" for i in range(300)] + ["a", "b" * 400]
    static = embedder_for(None, "static")
    assert np.array_equal(static.encode(texts), _encode_on(ray_engine, static, texts, None))


def test_checks_give_the_same_findings_and_scores(corpus, ray_engine, small_partitions, tmp_path):
    custom = tmp_path / "ray_checks.py"  # a user's file: the workers cannot import it, so it goes by value
    custom.write_text('''
from curate.checks import Check, Flag, register

@register
class MentionsPython(Check):
    name = "mentions_python"
    description = "answers that mention Python"

    def check(self, example, ctx):
        if "python" in example.response.lower():
            yield Flag("info", 0.2, "mentions Python")
''')
    local = run_checks("mix", workspace=corpus, custom=[str(custom)], prune_bottom=0.05)
    on_ray = run_checks("mix", workspace=corpus, custom=[str(custom)], prune_bottom=0.05, engine=ray_engine)
    assert local.summary["by_check"]["mentions_python"]["info"] >= 10 and len(local.findings) >= 50
    assert local.findings == on_ray.findings and local.scores == on_ray.scores
    assert local.summary["proposed_rejections"] == on_ray.summary["proposed_rejections"]


def test_coverage_embeds_on_the_workers_with_the_same_result(corpus, ray_engine, small_partitions, shared_data):
    curate.ingest([shared_data / "alpaca" / "seed_tasks.jsonl"], "queries", kind="queries", workspace=corpus)
    from curate.coverage import run as run_coverage

    local = run_coverage("mix", queries="queries", workspace=corpus, embedder="static", with_map=False)
    with curate.Workspace(corpus) as ws:  # drop the cached vectors, so the workers really embed
        ws.conn.execute("DELETE FROM embeddings")
        ws.conn.commit()
    on_ray = run_coverage("mix", queries="queries", workspace=corpus, embedder="static", with_map=False,
                          engine=ray_engine)
    assert local.gaps == on_ray.gaps and local.summary == on_ray.summary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_runs_on_a_cluster_of_two_nodes(corpus, tmp_path):
    """The README's multi-node recipe on one machine: `ray start --head` with no CPUs of its own, so every task
    runs on a second node joined with `ray start --address`; that node has its own temporary directory and
    model cache, as another machine would, so nothing reaches it but the work. The same curate commands with
    the head's address give what the local engine gives, and the embedding model travels to the node
    (nothing is distilled there)."""
    require("ray", "ray")
    ray_bin = shutil.which("ray", path=str(Path(sys.executable).parent))
    assert ray_bin, "the ray extra installs the `ray` command next to python"
    port = _free_port()
    # Token authentication, as Ray's default, with a token of this test's own for the head and its clients.
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(16))
    node_tmp, node_cache = tmp_path / "node-tmp", tmp_path / "node-cache"
    node_tmp.mkdir()
    node_env = dict(env, TMPDIR=str(node_tmp), CURATE_CACHE=str(node_cache))
    # --block, in sessions of their own: ending them ends this cluster only (`ray stop` would end every Ray
    # instance on the machine, this module's own included).
    common = ["--disable-usage-stats", "--block"]
    head = subprocess.Popen([ray_bin, "start", "--head", f"--port={port}", "--num-cpus=0",
                             "--include-dashboard=false"] + common, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    nodes = [head]
    try:
        _wait_for(port)
        nodes.append(subprocess.Popen([ray_bin, "start", f"--address=127.0.0.1:{port}", "--num-cpus=2"] + common,
                                      env=node_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True))
        runs = {}
        for engine in ("local", "ray"):
            ws = tmp_path / engine
            shutil.copytree(corpus, ws)
            with curate.Workspace(ws) as w:  # no cached vectors: the workers embed
                w.conn.execute("DELETE FROM embeddings")
                w.conn.commit()
            cmd = [sys.executable, "-m", "curate.cli", "-w", str(ws), "--no-progress"]
            if engine == "ray":
                cmd += ["--engine", "ray", "--ray-address", f"127.0.0.1:{port}"]
            runs[engine] = [_run_json(cmd + step, env) for step in (
                ["dedup", "-c", "mix", "--methods", "exact,near,semantic", "--embedder", "static", "--json"],
                ["check", "-c", "mix", "--json"])]
        (dedup_a, check_a), (dedup_b, check_b) = runs["local"], runs["ray"]
        assert dedup_b["summary"]["engine"] == {"name": "ray", "address": f"127.0.0.1:{port}", "cpus": 2}
        assert dedup_a["groups"] == dedup_b["groups"] and dedup_b["summary"]["groups_by_method"]["semantic"] > 0
        assert check_a["findings"] == check_b["findings"] and check_b["findings"]
        shipped = list((node_tmp / "curate-models").iterdir())
        assert len(shipped) == 1 and (shipped[0] / "model.safetensors").exists()
        assert not node_cache.exists()  # the node distilled nothing
    finally:
        for node in reversed(nodes):
            os.killpg(node.pid, signal.SIGTERM)
        for node in nodes:
            node.wait(timeout=120)


def _run_json(cmd: list[str], env: dict) -> dict:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"ray start --head did not listen on port {port} within 120 s")
