"""The command line: JSON shapes the later steps rely on, one-line errors, --help everywhere."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from curate.cli import main

from .conftest import write_jsonl


@pytest.fixture
def run(ws_dir):
    runner = CliRunner()

    def _run(*args, code=0):
        result = runner.invoke(main, ["--workspace", str(ws_dir), *map(str, args)])
        assert result.exit_code == code, result.output + repr(result.exception)
        return result

    return _run


@pytest.fixture
def data(tmp_path):
    return write_jsonl(tmp_path / "support.jsonl", [
        {"messages": [{"role": "user", "content": "Reset my password"}, {"role": "assistant", "content": "Go to Settings."}],
         "ticket": 17},
        {"messages": [{"role": "user", "content": "Reset my password"}, {"role": "assistant", "content": "Go to Settings."}]},
        "{not json",
        {"messages": [{"role": "user", "content": "hi"}]},
    ])


def test_ingest_json_status_json_and_reconciliation(run, data):
    out = json.loads(run("ingest", data, "--as", "support", "--json").stdout)
    assert {k: out[k] for k in ("collection", "read", "accepted", "quarantined", "repeats")} == {
        "collection": "support", "read": 4, "accepted": 1, "quarantined": 2, "repeats": 1}
    assert [(e["path"], e["line"], e["code"]) for e in out["errors"]] == [
        (data.name, 3, "invalid_json"), (data.name, 4, "no_assistant_turn")]
    assert all(e["message"] for e in out["errors"])
    status = json.loads(run("status", "--json").stdout)
    never = {"run": None, "status": "never", "reasons": []}
    assert status["collections"] == {"support": {"kind": "examples", "examples": 1, "quarantined": 2, "repeats": 1,
                                                 "latest": {"dedup": None, "check": None, "coverage": None},
                                                 "steps": {"dedup": never, "check": never, "coverage": never},
                                                 "next": "curate dedup -c support", "unfinished_ingests": []}}
    run("dedup", "-c", "support")
    run("check", "-c", "support")
    support = json.loads(run("status", "--json").stdout)["collections"]["support"]
    assert support["latest"]["dedup"]["duplicates"] == 0 and support["latest"]["check"]["flagged"] == 0
    assert support["steps"]["dedup"]["status"] == support["steps"]["check"]["status"] == "fresh"
    assert support["next"].startswith("curate review -c support")


def test_human_output_has_a_summary_table(run, data):
    out = run("ingest", data, "--as", "support").output
    assert "accepted" in out and "invalid_json" in out and "read 4 = accepted 1 + repeats 1 + quarantined 2" in out
    assert "support" in run("status").output


def test_strict_exits_nonzero_but_keeps_everything(run, data):
    run("ingest", data, "--as", "s", "--strict", code=1)
    assert json.loads(run("status", "--json").stdout)["collections"]["s"]["examples"] == 1


def test_quarantine_listing_and_export(run, data, tmp_path):
    run("ingest", data, "--as", "support")
    rows = json.loads(run("quarantine", "--json").stdout)
    assert [r["code"] for r in rows] == ["invalid_json", "no_assistant_turn"]
    assert rows[0]["raw"] == "{not json" and rows[0]["hint"]
    out_file = tmp_path / "q.jsonl"
    run("quarantine", "--collection", "support", "--code", "invalid_json", "--export", out_file)
    assert out_file.read_text() == "{not json\n", "the row as it was"
    reasons = [json.loads(line) for line in (tmp_path / "q.jsonl.reasons.jsonl").read_text().splitlines()]
    assert [(r["source"]["line"], r["code"]) for r in reasons] == [(3, "invalid_json")]
    assert "invalid_json" in run("quarantine").output


def test_show(run, data, ws_dir):
    from curate import Workspace

    run("ingest", data, "--as", "support")
    with Workspace(ws_dir) as ws:
        eid = next(ws.iter_examples("support")).id
    shown = json.loads(run("show", eid[:8], "--json").stdout)
    assert shown[0]["id"] == eid and shown[0]["metadata"] == {"ticket": 17}
    assert [r["line"] for r in shown[0]["repeats"]] == [2]
    text = run("show", eid).output
    assert "Reset my password" in text and "also at" in text
    by_place = json.loads(run("show", f"{data}:2", "--json").stdout)  # line 2 is a repeat of line 1
    assert [e["id"] for e in by_place] == [eid]
    assert "line 3 was quarantined in 'support' (invalid_json:" in run("show", f"{data}:3", code=2).output
    assert "no example was read from" in run("show", f"{data}:9", code=2).output


@pytest.mark.parametrize("args,message", [
    (["ingest", "nope.jsonl"], "error: nope.jsonl: no such file or directory"),
    (["show", "zz"], "is not an example id"),
    (["show", "abc"], "no example with id"),
    (["quarantine", "--collection", "missing"], "no collection named 'missing'"),
    (["ingest", "x", "--map", "bad"], "expected SOURCE_FIELD=TARGET_FIELD"),
])
def test_user_errors_are_one_clear_line(run, data, args, message):
    run("ingest", data, "--as", "support")
    if args[0] == "ingest" and args[1] == "x":
        args = ["ingest", str(data)] + args[2:]
    result = run(*args, code=2)
    assert message in result.output and "Traceback" not in result.output


def test_status_without_workspace_says_what_to_do(tmp_path):
    result = CliRunner().invoke(main, ["--workspace", str(tmp_path / "none"), "status"])
    assert result.exit_code == 2 and "run 'curate ingest' first" in result.output


def test_every_command_has_help():
    runner = CliRunner()
    for name, command in main.commands.items():
        assert command.help, f"{name} has no help text"
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_help_starts_fast_without_heavy_imports():
    code = ("import sys, curate.cli; heavy = [m for m in ('torch', 'transformers', 'sentence_transformers', "
            "'textual', 'datasets', 'rich', 'pyarrow') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
