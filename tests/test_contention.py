"""Contention: processes racing to create, a long writer beside a reviewer, a writer outliving its parent."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import curate
from curate.cli import main
from curate.errors import WorkspaceBusy
from curate.findings import Finding
from curate.workspace import Workspace

from .conftest import require, write_jsonl

ROOT = Path(__file__).resolve().parents[1]
GOOD = [{"instruction": f"Question {i}?", "output": f"Answer {i}."} for i in range(20)]


_START = None  # a barrier the racing processes meet at, so they start their ingests at once


def _ingest_into(args) -> tuple[int, int, int]:
    path, ws_dir = args
    _START.wait()  # type: ignore[union-attr]
    r = curate.ingest([path], "fresh", workspace=ws_dir)
    return r.accepted, r.repeats, r.unchanged


@pytest.mark.parametrize("workspace_exists", [True, False])
def test_first_ingests_racing_into_a_new_collection(tmp_path, workspace_exists):
    """Eight processes at once, ten times: one collection, every example once, no IntegrityError and no
    'database is locked' (before: UNIQUE collections.name in 6 of 30 tries)."""
    global _START
    path = write_jsonl(tmp_path / "d.jsonl", GOOD)
    ctx = multiprocessing.get_context("fork")
    for round_no in range(10):
        ws_dir = str(tmp_path / f"ws{round_no}")
        if workspace_exists:
            Workspace(ws_dir).close()
        _START = ctx.Barrier(8)
        with ctx.Pool(8) as pool:
            results = pool.map(_ingest_into, [(str(path), ws_dir)] * 8)
        assert sum(a for a, _, _ in results) == 20, results
        with Workspace(ws_dir) as ws:
            assert ws.collection_names() == ["fresh"]
            assert ws.collections()["fresh"].examples == 20


def _long_writer(ws_dir: str, n: int, started) -> None:
    with Workspace(ws_dir) as ws:
        run = ws.start_run("c", "check", {})
        started.set()
        findings = [Finding(f"id{i:07d}", "truncation", "warning", 0.5, "the answer stops mid-sentence",
                            {"at": i}) for i in range(n)]
        ws.finish_run(run, {"flagged": n}, findings)


def test_a_reviewer_never_waits_long_while_an_analysis_stores_its_findings(tmp_path):
    """300,000 findings stored while decisions are written every 20 ms: no decision waits over 2 s (one
    transaction for all of them held the write lock for 30 s on 900,000)."""
    ws_dir = str(tmp_path / "ws")
    curate.ingest([write_jsonl(tmp_path / "d.jsonl", GOOD)], "c", workspace=ws_dir)
    ctx = multiprocessing.get_context("fork")
    started = ctx.Event()
    writer = ctx.Process(target=_long_writer, args=(ws_dir, 300_000, started))
    writer.start()
    started.wait(30)
    waits = _decide_while(writer, ws_dir)
    writer.join()
    assert writer.exitcode == 0
    assert len(waits) >= 10, "the writer ran long enough to overlap the reviewer"
    assert max(waits) < 2.0, f"longest wait {max(waits):.2f} s over {len(waits)} decisions"
    with Workspace(ws_dir) as ws:
        assert ws.latest_run("c", "check").summary == {"flagged": 300_000}


def _decide_while(proc, ws_dir: str) -> list[float]:
    """A reviewer's decisions every 20 ms while `proc` runs: how long each waited for the write lock."""
    waits = []
    with Workspace(ws_dir, wait=10.0) as ws:
        ids = [e.id for e in ws.iter_examples("c")]
        while proc.is_alive():
            t0 = time.perf_counter()
            ws.record_decision("c", ids[len(waits) % len(ids)], "ann", "accept")
            waits.append(time.perf_counter() - t0)
            time.sleep(0.02)
    return waits


def test_a_busy_workspace_is_one_clear_error(tmp_path):
    ws_dir = tmp_path / "ws"
    curate.ingest([write_jsonl(tmp_path / "d.jsonl", GOOD)], "c", workspace=ws_dir)
    with Workspace(ws_dir) as holder, holder.transaction():
        with Workspace(ws_dir, wait=0.3) as other, pytest.raises(WorkspaceBusy, match="busy.*run this again"):
            other.record_decision("c", next(other.iter_examples("c")).id, "ann", "accept")


def test_the_review_app_says_busy_and_saves_when_the_lock_frees(tmp_path):
    require("textual", "tui")
    import asyncio

    from tui.app import ReviewApp
    from tui.data import ReviewData

    ws_dir = tmp_path / "ws"
    curate.ingest([write_jsonl(tmp_path / "d.jsonl", GOOD)], "c", workspace=ws_dir)
    holder = Workspace(ws_dir)
    lock = holder.transaction()
    app = ReviewApp(ReviewData(Workspace(ws_dir, wait=0.2), "c", "ann", order="source"))
    first = app.data.ids[0]

    async def go():
        async with app.run_test(size=(120, 40)) as pilot:
            lock.__enter__()
            await pilot.press("a")
            await pilot.pause()
            assert "busy" in app.message and app.index == 0, "the cursor waits for the commit"
            assert app.data.verdict.get(first) is None
            lock.__exit__(None, None, None)
            for _ in range(40):
                await pilot.pause(0.1)
                if app._unsaved is None:
                    break
            assert app.data.verdict[first] == "accept" and app.index == 1

    asyncio.run(go())
    assert {d.example_id for d in holder.decisions_in_force("c")} == {first}
    holder.close()


def test_the_writer_process_dies_with_its_parent(tmp_path):
    """kill -9 of the ingest's main process takes its forked writer with it; what it committed is kept (at most
    the last half second of batches, one group, is lost), and running the ingest again finishes it."""
    psutil = require("psutil", "train")
    big = tmp_path / "big.jsonl"
    with open(big, "w") as fh:
        for i in range(400_000):
            fh.write(f'{{"instruction": "Question {i} about a long topic?", "output": "Answer {i}."}}\n')
    script = ("import sys, curate; m = sys.modules['curate.ingest']; m.BIG_INPUT_BYTES = 0; m.BATCH = 500;"
              "curate.ingest([sys.argv[1]], 'b', workspace=sys.argv[2])")
    proc = subprocess.Popen([sys.executable, "-c", script, str(big), str(tmp_path / "ws")], cwd=ROOT)
    try:
        children: list = []
        for _ in range(200):
            time.sleep(0.05)
            children = psutil.Process(proc.pid).children()
            if children:
                break
        assert children, "the ingest started its writer process"
        time.sleep(1.5)  # past the writer's first grouped commit (half a second of batches)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, "the writer outlived its parent"
    finally:
        if proc.poll() is None:
            proc.kill()
    with Workspace(tmp_path / "ws") as ws:
        assert ws.collections()["b"].examples > 0, "the batches written before the kill are kept"
    status = CliRunner().invoke(main, ["-w", str(tmp_path / "ws"), "status"])
    assert "has not finished" in status.output and "run it again" in status.output
    again = CliRunner().invoke(main, ["-w", str(tmp_path / "ws"), "ingest", str(big), "--as", "b", "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["accepted"] > 0
    with Workspace(tmp_path / "ws") as ws:
        assert ws.collections()["b"].examples == 400_000
        assert ws.unfinished_ingests("b") == [], "running it again finished the one that was killed"


def _big_ingest(path: str, ws_dir: str, started) -> None:
    started.set()
    curate.ingest([path], "big", workspace=ws_dir)


def test_a_reviewer_never_waits_long_while_a_big_ingest_groups_its_commits(tmp_path):
    """A 40 MB ingest (its writer process lets batches share a commit for up to half a second, so a commit
    no longer rewrites the id index every 5,000 rows) beside a reviewer: no decision waits over 2 s, and
    every row is there at the end, the last group committed."""
    rows = [{"instruction": f"Question {i} about item {i * 7919 % 100_003}?", "output": "An answer. " * 12}
            for i in range(220_000)]
    big = write_jsonl(tmp_path / "big.jsonl", rows)
    assert big.stat().st_size > 32 << 20  # past BIG_INPUT_BYTES: the writer process
    ws_dir = str(tmp_path / "ws")
    curate.ingest([write_jsonl(tmp_path / "d.jsonl", GOOD)], "c", workspace=ws_dir)
    ctx = multiprocessing.get_context("fork")
    started = ctx.Event()
    ingest = ctx.Process(target=_big_ingest, args=(str(big), ws_dir, started))
    ingest.start()
    started.wait(30)
    waits = _decide_while(ingest, ws_dir)
    ingest.join()
    assert ingest.exitcode == 0 and len(waits) >= 10
    assert max(waits) < 2.0, f"longest wait {max(waits):.2f} s over {len(waits)} decisions"
    with Workspace(ws_dir) as ws:
        assert ws.collections()["big"].examples == 220_000


def test_grouped_transactions_commit_together(tmp_path):
    with Workspace(tmp_path / "ws") as ws, Workspace(tmp_path / "ws") as reader:
        ws.group_commits(60.0, 64)
        for name in ("a", "b"):
            with ws.transaction():
                ws.conn.execute("INSERT INTO collections(name, kind, created_at) VALUES (?, 'examples', 0)", (name,))
        assert reader.collection_names() == []  # one open group, nothing committed yet
        ws.commit_group()
        assert reader.collection_names() == ["a", "b"]
        with pytest.raises(RuntimeError), ws.transaction():  # a failure rolls the whole group back
            ws.conn.execute("INSERT INTO collections(name, kind, created_at) VALUES ('c', 'examples', 0)")
            raise RuntimeError
        ws.commit_group()
        assert reader.collection_names() == ["a", "b"]
