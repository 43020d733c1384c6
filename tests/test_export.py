"""Export: leakage-free group-aware splits, strata, determinism, round trips, exclusions, safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from curate.cli import main
from curate.dedup import run as dedup
from curate.errors import UsageError
from curate.export import FORMATS, export
from curate.export.split import assign, units
from curate.ingest import ingest
from curate.workspace import Workspace

from .conftest import require

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
SAMPLE_FILES = [SAMPLE / n for n in ("support_chat.jsonl", "support_faq.json", "tool_calls_sharegpt.json",
                                     "escalations.csv")]


@pytest.fixture()
def sample_ws(tmp_path):
    """sample_data ingested and deduplicated (exact + near), as `make demo` does."""
    ws = Workspace(tmp_path / "ws")
    ingest(SAMPLE_FILES, "support", workspace=ws)
    dedup("support", workspace=ws, methods=("exact", "near"))
    yield ws
    ws.close()


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def test_groups_and_conflicts_never_cross_splits(sample_ws, tmp_path):
    report = export("support", tmp_path / "out", workspace=sample_ws, leakage_check="near")
    m = report.manifest
    split_of = {eid: s for s, ids in m["splits"].items() for eid in ids}
    run = sample_ws.latest_run("support", "dedup")
    groups = sample_ws.run_groups(run.id)
    assert groups, "sample_data has duplicate groups"
    for members in groups.values():
        exported = [eid for eid, _, _ in members if eid in split_of]
        assert len(exported) <= 1, "one representative per group"
        assert len({split_of[e] for e in exported}) <= 1
    conflicts = [f for f in sample_ws.run_findings(run.id) if f.kind == "conflict"]
    for f in conflicts:
        a, b = f.example_id, f.evidence["other"]
        if a in split_of and b in split_of:
            assert split_of[a] == split_of[b]
    # Counts reconcile: every example is exported or excluded, with a reason.
    excluded = [json.loads(line) for line in (tmp_path / "out" / "excluded.jsonl").read_text().splitlines()]
    assert m["counts"]["exported"] + len(excluded) == m["counts"]["examples"] == sample_ws.count_examples("support")
    assert Counter(x["reason"] for x in excluded) == Counter(m["excluded_by_reason"])
    assert sum(m["counts"][s] for s in ("train", "val", "test")) == m["counts"]["exported"]
    assert m["excluded_by_reason"]["duplicate"] > 0
    assert all(x["source"]["path"] and x["detail"] for x in excluded)


def test_units_join_linked_examples_and_assign_keeps_them_together():
    ids = [f"e{i}" for i in range(10)]
    comps = units(ids, [("e1", "e5"), ("e5", "e9"), ("e2", "e3"), ("e3", "zz")])
    assert sorted(map(sorted, comps)) == sorted([["e1", "e5", "e9"], ["e2", "e3"], ["e0"], ["e4"], ["e6"], ["e7"],
                                                 ["e8"]])
    where = assign(comps, {}, (0.5, 0.25, 0.25), seed=3)
    assert where["e1"] == where["e5"] == where["e9"] and where["e2"] == where["e3"]


def test_strata_keep_their_share_within_one_example(tmp_path):
    rows = []
    for topic, n in (("billing", 137), ("shipping", 61), ("returns", 29), ("api", 11), ("other", 3)):
        rows += [{"instruction": f"{topic} question number {i}: how does {topic} work for order {i * 7}?",
                  "output": f"Answer {i} about {topic}.", "topic": topic} for i in range(n)]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with Workspace(tmp_path / "ws") as ws:
        ingest([path], "d", workspace=ws)
        m = export("d", tmp_path / "out", workspace=ws, split="70/15/15", stratify="metadata:topic", leakage_check="off").manifest
    sizes = Counter(r["topic"] for r in rows)
    for topic, counts in m["strata"].items():
        for split, ratio in m["split"].items():
            assert abs(counts[split] - ratio * sizes[topic]) <= 1, (topic, split, counts)
    for split, ratio in m["split"].items():
        assert abs(m["counts"][split] - ratio * len(rows)) <= 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_same_seed_same_bytes_and_round_trip(sample_ws, tmp_path, fmt):
    if fmt == "hf":
        require("datasets", "hf")
    a = export("support", tmp_path / "a", workspace=sample_ws, fmt=fmt, seed=7, leakage_check="near").manifest
    b = export("support", tmp_path / "b", workspace=sample_ws, fmt=fmt, seed=7, leakage_check="near").manifest
    assert a["files"] == b["files"], "same inputs and seed: identical bytes (sha256 of every file)"
    for rel in a["files"]:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (tmp_path / "b" / "manifest.json").read_bytes()
    other = export("support", tmp_path / "c", workspace=sample_ws, fmt=fmt, seed=8, leakage_check="near").manifest
    assert other["splits"] != a["splits"]

    # Back through curate's own loaders: the same conversations, and for lossless formats the same ids.
    files = {"openai": ["train.jsonl", "val.jsonl", "test.jsonl"], "alpaca": ["train.json", "val.json", "test.json"],
             "sharegpt": ["train.json", "val.json", "test.json"],
             "parquet": ["train.parquet", "val.parquet", "test.parquet"], "hf": ["."]}[fmt]
    exported = [eid for s in ("train", "val", "test") for eid in a["splits"][s]]
    with Workspace(tmp_path / "ws2") as ws2:
        report = ingest([tmp_path / "a" / f for f in files], "back", workspace=ws2)
        assert report.quarantined == 0 and report.accepted == len(exported)
        back = {e.id: e for e in ws2.iter_examples("back")}
    original = {eid: sample_ws.get_example("support", eid) for eid in exported}
    if fmt in ("parquet", "hf"):
        assert set(back) == set(exported)
    elif fmt == "openai":
        # Lossless, in OpenAI's form: a tool call without an id gets one (and its result names it), bare tool
        # schemas are wrapped as {type: "function", function: ...}; every other example keeps its id.
        untouched = {i for i, e in original.items() if not e.tools and not any(m.tool_calls for m in e.messages)}
        assert untouched and untouched <= set(back)
        changed = set(back) - set(exported)
        assert all(any(m.tool_calls and all(c.id for c in m.tool_calls) for m in back[i].messages) or back[i].tools
                   for i in changed)
    def conv(e):
        return [(m.role, m.content, tuple((c.name, c.arguments) for c in m.tool_calls)) for m in e.messages]

    assert sorted(map(conv, back.values())) == sorted(map(conv, original.values()))

    # ... and through `datasets`.
    datasets = require("datasets", "hf")
    if fmt == "hf":
        loaded = datasets.load_from_disk(str(tmp_path / "a"))
    else:
        kind = "parquet" if fmt == "parquet" else "json"
        loaded = datasets.load_dataset(kind, data_files={s: str(tmp_path / "a" / f) for s, f in
                                                         zip(("train", "validation", "test"), files)
                                                         if (tmp_path / "a" / f).stat().st_size > 2})
    assert sum(len(d) for d in loaded.values()) == len(exported)


def test_review_policy_edits_and_contamination(sample_ws, tmp_path):
    m = export("support", tmp_path / "base", workspace=sample_ws, leakage_check="off").manifest
    train = m["splits"]["train"]
    first, second, third = train[:3]
    original = sample_ws.get_example("support", first)
    edited = [msg.to_dict() for msg in original.messages]
    edited[-1]["content"] = "An edited, better answer."
    sample_ws.record_decision("support", first, "ann", "accept", revision=edited)
    sample_ws.record_decision("support", second, "ann", "accept")
    sample_ws.record_decision("support", third, "ann", "reject", reason="wrong answer")
    undone = sample_ws.record_decision("support", train[3], "ann", "reject")
    sample_ws.retract_decision(undone, "ann")

    m = export("support", tmp_path / "acc", workspace=sample_ws, policy="accepted", leakage_check="off").manifest
    assert sorted(i for s in m["splits"].values() for i in s) == sorted([first, second])
    lines = [json.loads(line) for s in ("train", "val", "test")
             for line in (tmp_path / "acc" / f"{s}.jsonl").read_text().splitlines()]
    assert "An edited, better answer." in [r["messages"][-1]["content"] for r in lines]
    assert m["reviewed"] == {"accepted": 2, "edited": 1}

    m = export("support", tmp_path / "nr", workspace=sample_ws, leakage_check="off").manifest
    exported = {i for s in m["splits"].values() for i in s}
    assert third not in exported and train[3] in exported, "a retracted rejection no longer counts"
    excluded = {json.loads(x)["id"]: json.loads(x)
                for x in (tmp_path / "nr" / "excluded.jsonl").read_text().splitlines()}
    assert excluded[third]["reason"] == "rejected" and "wrong answer" in excluded[third]["detail"]

    # An eval set holding one of the training prompts: that example leaves.
    target = sample_ws.get_example("support", second)
    evalset = tmp_path / "eval.jsonl"
    evalset.write_text(json.dumps({"query": target.prompt}) + "\n")
    ingest([evalset], "eval", kind="queries", workspace=sample_ws)
    m = export("support", tmp_path / "clean", workspace=sample_ws, exclude_near="eval", leakage_check="off").manifest
    assert second not in {i for s in m["splits"].values() for i in s}
    assert m["excluded_by_reason"].get("contaminates:eval", 0) >= 1


def test_refuses_to_overwrite_and_replaces_only_its_own(sample_ws, tmp_path):
    out = tmp_path / "out"
    export("support", out, workspace=sample_ws, leakage_check="off")
    with pytest.raises(UsageError, match="pass force=True to replace it"):
        export("support", out, workspace=sample_ws, leakage_check="off")
    export("support", out, workspace=sample_ws, leakage_check="off", force=True, seed=5)
    assert manifest(out)["seed"] == 5
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(UsageError, match="not a curate export"):
        export("support", foreign, workspace=sample_ws, force=True)
    assert (foreign / "holiday.jpg").exists()
    with pytest.raises(UsageError, match="workspace"):
        export("support", tmp_path, workspace=sample_ws, force=True)
    export("support", tmp_path / "ws" / "export", workspace=sample_ws, leakage_check="off")  # inside it is fine
    with pytest.raises(UsageError, match="^split '80/20': give three shares"):
        export("support", tmp_path / "x", workspace=sample_ws, split="80/20")


_SLOW_EXPORT = """
import sys, time
from curate.export import writers, export
from curate.workspace import Workspace

real = writers.write_split
def slow(*a, **k):
    files = real(*a, **k)
    print("wrote", files[0], flush=True)
    time.sleep(30)
    return files
writers.write_split = slow
with Workspace(sys.argv[1]) as ws:
    export("support", sys.argv[2], workspace=ws, leakage_check="off")
"""


def test_killed_export_leaves_no_partial_output(sample_ws, tmp_path):
    sample_ws.close()
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_EXPORT, str(tmp_path / "ws"), str(out)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline()
    assert line.startswith("wrote"), line
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "nothing at the target"
    leftovers = list(tmp_path.glob(".out.curate-tmp-*"))
    assert leftovers and Path(line.split()[1]).exists(), "the partial files sit in the temporary directory only"
    with Workspace(tmp_path / "ws") as ws:
        export("support", out, workspace=ws, leakage_check="off")
    assert manifest(out)["counts"]["exported"] > 0
    assert not list(tmp_path.glob(".out.curate-tmp-*")), "a later export clears what the killed one left"


def test_cli_export(sample_ws, tmp_path):
    sample_ws.close()
    ws = str(tmp_path / "ws")
    runner = CliRunner()
    result = runner.invoke(main, ["-w", ws, "export", str(tmp_path / "o"), "--split", "70/20/10", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["counts"]["exported"] + data["counts"]["excluded"] == data["counts"]["examples"]
    assert "splits" not in data and data["leakage"]["near_threshold"] == 0.5
    result = runner.invoke(main, ["-w", ws, "export", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--force" in result.output and "Traceback" not in result.output
    result = runner.invoke(main, ["-w", ws, "export", str(tmp_path / "p"), "--stratify", "cluster"])
    assert result.exit_code == 2 and "curate coverage" in result.output
    result = runner.invoke(main, ["-w", ws, "export", str(tmp_path / "q"), "--policy", "accepted"])
    assert result.exit_code == 2 and "accepted yet" in result.output
    result = runner.invoke(main, ["-w", ws, "export", str(tmp_path / "r"), "--format", "alpaca"])
    assert result.exit_code == 0, result.output
    assert "format:alpaca" in result.output  # tool-use examples cannot be Alpaca, and say so


def test_overlap_with_production_is_kept_but_eval_contamination_is_dropped(tmp_path):
    topics = ["reset my password", "track a parcel", "change my address", "cancel an order", "get a refund",
              "update my card", "delete my account", "contact support", "download an invoice", "change my plan",
              "report a damaged item", "book a collection"]
    rows = [{"instruction": f"How do I {t}?", "output": f"To {t}, open the app and follow the steps."} for t in topics]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "prod.jsonl").write_text(json.dumps({"query": rows[0]["instruction"]}) + "\n")
    (tmp_path / "eval.jsonl").write_text(json.dumps(rows[1]) + "\n")
    with Workspace(tmp_path / "ws") as ws:
        ingest([data], "d", workspace=ws)
        ingest([tmp_path / "prod.jsonl"], "prod", kind="queries", workspace=ws)
        ingest([tmp_path / "eval.jsonl"], "eval", workspace=ws)
        dedup("d", workspace=ws, methods=("exact",), against="prod")
        m = export("d", tmp_path / "a", workspace=ws, leakage_check="off").manifest
        assert m["counts"]["exported"] == 12, "matching a production query is coverage, not a leak"
        dedup("d", workspace=ws, methods=("exact",), against="eval")
        m = export("d", tmp_path / "b", workspace=ws, leakage_check="off").manifest
        assert m["counts"]["exported"] == 11 and m["excluded_by_reason"] == {"error:contamination": 1}


@pytest.mark.integration
def test_paths_of_one_oasst_tree_stay_in_one_split(tmp_path, shared_data):
    """OASST paths share their opening turns: split apart, val/test would hold the training prompts."""
    data = shared_data / "oasst_en100/oasst_en100_paths.messages.jsonl"
    with Workspace(tmp_path / "ws") as ws:
        ingest([data], "o", workspace=ws)
        apart = export("o", tmp_path / "apart", workspace=ws, group_by="none", leakage_check="near").manifest
        together = export("o", tmp_path / "together", workspace=ws, leakage_check="near").manifest
        assert together["group_by"] == "metadata:message_tree_id" and apart["group_by"] == "none"
        where: dict[str, set] = {}
        for name, ids in together["splits"].items():
            for eid in ids:
                where.setdefault(ws.get_example("o", eid).metadata["message_tree_id"], set()).add(name)
        assert len(where) > 50 and all(len(splits) == 1 for splits in where.values())
        assert together["leakage"]["near_pairs"] < apart["leakage"]["near_pairs"] / 5
        assert "message_tree_id" in (tmp_path / "together" / "README.md").read_text()
    with pytest.raises(UsageError, match="^group_by 'tree': choose auto"):
        export("o", tmp_path / "bad", workspace=Workspace(tmp_path / "ws"), group_by="tree")
