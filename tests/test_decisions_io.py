"""`curate decisions --export / --import`: decisions move between workspaces whole, edits included; a bad
file is refused with every bad line named, and records nothing."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from curate.cli import main
from curate.ingest import ingest
from curate.workspace import Workspace

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "support_chat.jsonl"


def _workspace(path: Path) -> list[str]:
    ingest([SAMPLE], "support", workspace=path)
    with Workspace(path) as ws:
        return ws.example_ids("support")


def _in_force(path: Path) -> list[tuple]:
    with Workspace(path, create=False) as ws:
        return sorted((d.example_id, d.reviewer, d.verdict, d.reason, json.dumps(d.revision))
                      for d in ws.decisions_in_force("support"))


def _cli(ws: Path, *args: str):
    return CliRunner().invoke(main, ["-w", str(ws), "decisions", "-c", "support", *args])


def test_decisions_round_trip_between_workspaces_with_edits(tmp_path):
    ids = _workspace(tmp_path / "a")
    _workspace(tmp_path / "b")
    with Workspace(tmp_path / "a") as ws:
        edited = [m.to_dict() for m in ws.get_example("support", ids[2]).messages]
        edited[-1]["content"] = "A corrected answer."
        ws.record_decision("support", ids[0], "ann", "accept")
        ws.record_decision("support", ids[1], "bob", "reject", "wrong refund window")
        ws.record_decision("support", ids[2], "ann", "accept", "fixed the answer", edited)
    out = tmp_path / "decisions.jsonl"
    result = _cli(tmp_path / "a", "--export", str(out), "--with-edits")
    assert result.exit_code == 0 and "wrote 3 decisions" in result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {k for line in lines for k in line} >= {"id", "verdict", "reviewer", "reason"}

    result = _cli(tmp_path / "b", "--import", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"collection": "support", "path": str(out), "lines": 3, "recorded": 3,
                                         "unchanged": 0, "by_reviewer": {"ann": 2, "bob": 1}}
    assert _in_force(tmp_path / "b") == _in_force(tmp_path / "a")
    again = json.loads(_cli(tmp_path / "b", "--import", str(out), "--json").stdout)
    assert (again["recorded"], again["unchanged"]) == (0, 3)  # importing twice appends nothing


def test_without_edits_the_export_holds_no_example_text_and_masks_reasons(tmp_path):
    ids = _workspace(tmp_path / "a")
    with Workspace(tmp_path / "a") as ws:
        messages = [m.to_dict() for m in ws.get_example("support", ids[0]).messages]
        ws.record_decision("support", ids[0], "ann", "reject", "leaks sk-proj-Ab3dEfGh1jKlMn0pQrStUvWx", messages)
    result = _cli(tmp_path / "a", "--export", "-")
    line = json.loads(result.stdout)
    assert line["edited"] is True and "revision" not in line
    assert "Ab3dEfGh1jKlMn0pQrStUvWx" not in result.stdout


def test_a_bad_file_names_every_bad_line_and_records_nothing(tmp_path):
    ids = _workspace(tmp_path / "b")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([
        json.dumps({"id": ids[0], "verdict": "accept", "reviewer": "ann", "reason": None}),
        '{"id": "oops", ',
        json.dumps({"id": "0" * 20, "verdict": "accept", "reviewer": "ann"}),
        json.dumps({"id": ids[1], "verdict": "maybe", "reviewer": "ann"}),
        json.dumps({"id": ids[1], "verdict": "reject"}),
        json.dumps({"id": ids[2], "verdict": "accept", "reviewer": "ann", "revision": [{"role": "user"}]}),
    ]) + "\n")
    result = _cli(tmp_path / "b", "--import", str(bad))
    text = " ".join(result.output.split())
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "5 of 6 lines cannot be imported, so none was" in text
    said = {int(part.split(":", 1)[0]): part for part in text.split("bad.jsonl:")[1:]}
    for line, what in ((2, "not JSON"), (3, "is not an example of this collection"), (4, "use accept or reject"),
                       (5, "name one for the whole file with --reviewer"), (6, "revision must be")):
        assert what in said[line], (line, said)
    assert 1 not in said
    assert _in_force(tmp_path / "b") == []


def test_reviewer_names_the_lines_without_one(tmp_path):
    ids = _workspace(tmp_path / "b")
    f = tmp_path / "from_tool.jsonl"
    f.write_text(json.dumps({"id": ids[0], "verdict": "reject", "reason": "off topic"}) + "\n")
    result = _cli(tmp_path / "b", "--import", str(f), "--reviewer", "labeler-7")
    assert result.exit_code == 0 and "recorded 1 decisions" in result.output
    assert _in_force(tmp_path / "b") == [(ids[0], "labeler-7", "reject", "off topic", "null")]
