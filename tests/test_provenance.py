"""Every step knows what the steps before it did: runs record what they read, later steps say when it is stale."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from curate.cli import main
from curate.workspace import Workspace

from .conftest import write_jsonl

FIRST = [{"instruction": f"How do I reset password number {i}?", "output": f"Open settings and choose reset {i}."}
         for i in range(30)]
MORE = [{"instruction": "Eat a banana!", "output": "Eat a banana! " * 200}] + \
       [{"instruction": f"Where is parcel {i}?", "output": f"Parcel {i} is on its way."} for i in range(11)]


def cli(ws, *args):
    return CliRunner().invoke(main, ["-w", str(ws), *map(str, args)])


def test_ingest_dedup_check_ingest_more_export_names_the_stale_runs(tmp_path):
    ws = tmp_path / "ws"
    assert cli(ws, "ingest", write_jsonl(tmp_path / "a.jsonl", FIRST), "--as", "s").exit_code == 0
    assert cli(ws, "dedup", "-c", "s").exit_code == 0 and cli(ws, "check", "-c", "s").exit_code == 0
    status = json.loads(cli(ws, "status", "--json").stdout)["collections"]["s"]
    assert {k: v["status"] for k, v in status["steps"].items()} == {"dedup": "fresh", "check": "fresh",
                                                                   "coverage": "never"}
    assert cli(ws, "ingest", write_jsonl(tmp_path / "b.jsonl", MORE), "--as", "s").exit_code == 0

    status = json.loads(cli(ws, "status", "--json").stdout)["collections"]["s"]
    assert status["steps"]["dedup"] == {"run": 1, "status": "stale", "reasons": ["12 examples ingested into 's' since"]}
    assert status["steps"]["check"]["status"] == "stale" and status["next"] == "curate dedup -c s"
    human = cli(ws, "status").output
    assert re.search(r"\d\* ", human) and "* 's': dedup is stale (12 examples ingested into 's' since)" in human
    assert all("…" not in line for line in human.splitlines()[:3]), human  # no header cut to fit 80 columns
    assert "next: curate dedup -c s" in human

    strict = cli(ws, "export", tmp_path / "out", "-c", "s", "--strict")
    assert strict.exit_code == 1 and not (tmp_path / "out").exists()
    assert "the dedup run 1 on 's' is stale: 12 examples ingested" in strict.stderr
    assert "the check run 2 on 's' is stale" in strict.stderr and "curate check -c s" in strict.stderr

    loose = cli(ws, "export", tmp_path / "out", "-c", "s")
    assert loose.exit_code == 0 and loose.stderr.count("warning: the") == 2
    assert "acted on: dedup run 1 (stale), check run 2 (stale)" in loose.stdout
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["inputs"]["dedup"]["status"] == "stale" and manifest["inputs"]["check"]["run"] == 2

    assert cli(ws, "dedup", "-c", "s").exit_code == 0 and cli(ws, "check", "-c", "s").exit_code == 0
    fresh = cli(ws, "export", tmp_path / "out2", "-c", "s", "--strict")
    assert fresh.exit_code == 0 and "warning" not in fresh.stderr
    assert "acted on: dedup run 3, check run 4\n" in fresh.stdout
    manifest = json.loads((tmp_path / "out2" / "manifest.json").read_text())
    assert {k: v["status"] for k, v in manifest["inputs"].items()} == {"dedup": "fresh", "check": "fresh"}
    assert "Eat a banana" not in (tmp_path / "out2" / "val.jsonl").read_text() + \
        (tmp_path / "out2" / "test.jsonl").read_text(), "the fresh check's error keeps the 8,000-token answer out"


def test_a_reviewers_edit_makes_the_check_stale_not_the_dedup(tmp_path):
    ws = tmp_path / "ws"
    cli(ws, "ingest", write_jsonl(tmp_path / "a.jsonl", FIRST), "--as", "s")
    cli(ws, "dedup", "-c", "s")
    cli(ws, "check", "-c", "s")
    with Workspace(ws) as w:
        e = next(w.iter_examples("s"))
        revision = [m.to_dict() for m in e.messages]
        revision[-1]["content"] = "Edited."
        w.record_decision("s", e.id, "ann", "accept", "edited", revision)
        w.record_decision("s", e.id, "bob", "reject")
    steps = json.loads(cli(ws, "status", "--json").stdout)["collections"]["s"]["steps"]
    assert steps["dedup"]["status"] == "fresh"
    assert steps["check"]["reasons"] == ["1 reviewer edit since, which no check has read"]


def test_review_and_coverage_refuse_stale_inputs_when_strict(tmp_path):
    ws = tmp_path / "ws"
    cli(ws, "ingest", write_jsonl(tmp_path / "a.jsonl", FIRST), "--as", "s")
    cli(ws, "ingest", write_jsonl(tmp_path / "q.jsonl", [{"query": f"reset password {i}"} for i in range(5)]),
        "--as", "q", "--kind", "queries")
    review = cli(ws, "review", "-c", "s", "--strict")
    assert review.exit_code == 1 and "no dedup run on 's'" in review.stderr and "no check run" in review.stderr
    no_terminal = cli(ws, "review", "-c", "s")
    assert no_terminal.exit_code == 2 and "needs a terminal" in no_terminal.stderr  # not a hang
    coverage = cli(ws, "coverage", "--train", "s", "--queries", "q", "--strict")
    assert coverage.exit_code == 1 and "duplicate training examples count once per copy" in coverage.stderr
    loose = cli(ws, "coverage", "--train", "s", "--queries", "q", "--json", "-")
    assert loose.exit_code == 0 and "warning: no dedup run on 's'" in loose.stderr
    json.loads(loose.stdout)  # the warning is on stderr: stdout stays one JSON document


def test_dedup_against_a_collection_goes_stale_when_that_one_grows(tmp_path):
    ws = tmp_path / "ws"
    cli(ws, "ingest", write_jsonl(tmp_path / "a.jsonl", FIRST), "--as", "s")
    cli(ws, "ingest", write_jsonl(tmp_path / "e.jsonl", FIRST[:3]), "--as", "evalset")
    cli(ws, "dedup", "-c", "s", "--against", "evalset")
    cli(ws, "ingest", write_jsonl(tmp_path / "e2.jsonl", MORE[:2]), "--as", "evalset")
    steps = json.loads(cli(ws, "status", "--json").stdout)["collections"]["s"]["steps"]
    assert steps["dedup"]["reasons"] == ["2 examples ingested into 'evalset' since"]


def test_show_puts_findings_then_decisions_then_the_edited_turns(tmp_path):
    ws = tmp_path / "ws"
    rows = [{"instruction": "Tell me about Python", "output": "Python is a language that"}] + FIRST[:5]
    cli(ws, "ingest", write_jsonl(tmp_path / "a.jsonl", rows), "--as", "s")
    cli(ws, "check", "-c", "s")
    with Workspace(ws) as w:
        e = next(x for x in w.iter_examples("s") if x.source.line == 1)
        revision = [m.to_dict() for m in e.messages]
        revision[-1]["content"] = "Python is a programming language."
        w.record_decision("s", e.id, "ann", "accept", "edited", revision)
    out = cli(ws, "show", f"{tmp_path / 'a.jsonl'}:1").output
    finding, decision = out.index("truncation"), out.index("accepted by ann")
    turns = out.index("Python is a programming language.")
    assert finding < decision < turns and "was: Python is a language that" in out
    data = json.loads(cli(ws, "show", e.id, "--json").stdout)[0]
    assert data["decisions"][0]["revision"][-1]["content"] == "Python is a programming language."


def test_show_a_line_that_holds_several_examples_lists_them(tmp_path, shared_data):
    ws = tmp_path / "ws"
    tree = shared_data / "oasst_en100" / "en_100_tree.jsonl"
    assert cli(ws, "ingest", tree, "--as", "o").exit_code == 0
    with Workspace(ws) as w:
        line = next(w.iter_examples("o")).source.line
        on_line = [e.id for e in w.iter_examples("o") if e.source.line == line]
    assert len(on_line) > 1
    result = cli(ws, "show", f"{tree}:{line}")
    out = " ".join(result.output.split())  # the path comes first: how the line wraps depends on its length
    assert result.exit_code == 0 and f"holds {len(on_line)} examples" in out
    assert all(i in out for i in on_line) and "curate show ID" in out
    assert len(json.loads(cli(ws, "show", f"{tree}:{line}", "--json").stdout)) == len(on_line)


def test_quarantine_export_is_verbatim_and_a_fixed_row_leaves_the_quarantine(tmp_path):
    ws = tmp_path / "ws"
    bad = ['{"instruction": "Fix me", "output": "x"', '{"instruction": "Caf\xe9", "output": "y"}']
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"instruction": "ok", "output": "fine"}\n' + bad[0].encode() + b"\n" + bad[1].encode("latin-1")
                     + b"\n")
    assert cli(ws, "ingest", path, "--as", "s").exit_code == 0
    assert json.loads(cli(ws, "status", "--json").stdout)["collections"]["s"]["quarantined"] == 2
    shown = " ".join(cli(ws, "show", f"{path}:2").output.split())
    assert "line 2 was quarantined in 's' (invalid_json:" in shown and "curate quarantine --file" in shown
    fix = tmp_path / "fix.jsonl"
    assert cli(ws, "quarantine", "--export", fix).exit_code == 0
    assert fix.read_bytes() == bad[0].encode() + b"\n" + bad[1].encode("latin-1") + b"\n", "the rows as they were"
    reasons = [json.loads(x) for x in (tmp_path / "fix.jsonl.reasons.jsonl").read_text().splitlines()]
    assert [(r["line"], r["source"]["line"], r["code"]) for r in reasons] == [(1, 2, "invalid_json"),
                                                                              (2, 3, "encoding_error")]
    fix.write_bytes(b'{"instruction": "Fix me", "output": "x"}\n' + bad[1].encode("latin-1") + b"\n")  # one fixed
    again = json.loads(cli(ws, "ingest", fix, "--as", "s", "--json").stdout)
    assert (again["accepted"], again["resolved"]) == (1, 1)
    left = json.loads(cli(ws, "quarantine", "--json").stdout)
    assert [(r["path"], r["line"]) for r in left] == [("d.jsonl", 3)]
    assert json.loads(cli(ws, "status", "--json").stdout)["collections"]["s"]["quarantined"] == 1
    path.write_bytes(b'{"instruction": "ok", "output": "fine"}\n{"instruction": "Fix me", "output": "x"}\n'
                     b'{"instruction": "Cafe", "output": "y"}\n')  # fixed in place
    fixed = json.loads(cli(ws, "ingest", path, "--as", "s", "--json").stdout)
    assert fixed["resolved"] == 1 and json.loads(cli(ws, "quarantine", "--json").stdout) == []


def test_rows_of_a_json_array_export_one_per_line_and_ingest_again(tmp_path):
    """A JSON array file's records span lines as written: exported as they were, FILE read as JSON Lines gave
    a broken record per line. Each is put on one line, tokens unchanged (1.50 stays 1.50)."""
    ws = tmp_path / "ws"
    rows = [{"instruction": "a", "output": "b"}, {"instruction": "c", "output": ""},
            {"instruction": "f", "extra": {"n": 1.50, "s": "two\nlines"}}]
    (tmp_path / "a.json").write_text(json.dumps(rows, indent=2).replace("1.5", "1.50"))
    (tmp_path / "b.jsonl").write_text("{bad\n")
    cli(ws, "ingest", tmp_path / "a.json", "--as", "mix")
    cli(ws, "ingest", tmp_path / "b.jsonl", "--as", "other")
    fix = tmp_path / "rej.jsonl"
    mixed = cli(ws, "quarantine", "--export", fix)
    assert mixed.exit_code == 2 and "2 collections (mix, other)" in mixed.output and "--collection NAME" in mixed.output
    done = cli(ws, "quarantine", "-c", "mix", "--export", fix)
    assert done.exit_code == 0 and "curate ingest" in done.output and "--as mix" in " ".join(done.output.split())
    lines = fix.read_text().splitlines()
    assert lines == ['{ "instruction": "c", "output": "" }',
                     '{ "instruction": "f", "extra": { "n": 1.50, "s": "two\\nlines" } }']
    fix.write_text(lines[0].replace('""', '"d"') + "\n" + lines[1].replace('"f",', '"f", "output": "g",') + "\n")
    again = json.loads(cli(ws, "ingest", fix, "--as", "mix", "--json").stdout)
    assert (again["accepted"], again["resolved"], again["quarantined"]) == (2, 2, 0)


def test_csv_rows_export_with_their_header(tmp_path):
    ws = tmp_path / "ws"
    (tmp_path / "d.csv").write_text("instruction,output\nQ1,A1\nQ2,A2,extra\n")
    cli(ws, "ingest", tmp_path / "d.csv", "--as", "s")
    assert cli(ws, "quarantine", "--export", tmp_path / "fix.csv").exit_code == 0
    assert (tmp_path / "fix.csv").read_text() == "instruction,output\nQ2,A2,extra\n"
    (tmp_path / "fix.csv").write_text("instruction,output\nQ2,A2\n")
    assert json.loads(cli(ws, "ingest", tmp_path / "fix.csv", "--as", "s", "--json").stdout)["resolved"] == 1
    (tmp_path / "e.jsonl").write_text("{bad\n")
    cli(ws, "ingest", tmp_path / "e.jsonl", tmp_path / "d.csv", "--as", "t")
    (tmp_path / "d.csv").write_text("instruction,output\nQ1,A1\nQ3,A3,extra\n")
    cli(ws, "ingest", tmp_path / "d.csv", "--as", "t")
    mixed = cli(ws, "quarantine", "-c", "t", "--export", tmp_path / "mixed.csv")
    assert mixed.exit_code == 2 and "--file PATH" in mixed.output


def test_drop_asks_first_and_removes_everything_derived(tmp_path):
    ws = tmp_path / "ws"
    cli(ws, "ingest", write_jsonl(tmp_path / "a.jsonl", FIRST + ["{bad"]), "--as", "s")
    cli(ws, "ingest", write_jsonl(tmp_path / "b.jsonl", FIRST[:3]), "--as", "keep")
    cli(ws, "dedup", "-c", "s")
    cli(ws, "check", "-c", "s")
    with Workspace(ws) as w:
        w.record_decision("s", next(w.iter_examples("s")).id, "ann", "reject")
    refused = cli(ws, "drop", "s")
    assert refused.exit_code == 2 and "pass --yes" in refused.output and "30 examples" in refused.output
    assert cli(ws, "drop", "s", "--yes").exit_code == 0
    with Workspace(ws) as w:
        assert w.collection_names() == ["keep"]
        kept = w.collection_id("keep")
        for table in ("examples", "quarantine", "runs", "decisions", "ingests", "repeats"):
            assert w.conn.execute(f"SELECT COUNT(*) FROM {table} WHERE collection_id != ?", (kept,)).fetchone() == (0,)
        for table in ("findings", "dup_members"):
            assert w.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,), table
    assert cli(ws, "drop", "nope", "--yes").exit_code == 2


def test_a_csv_without_a_header_is_named_not_misread(tmp_path):
    ws = tmp_path / "ws"
    (tmp_path / "q.csv").write_text("How do I reset my PIN?,card\nWhere is my parcel?,delivery\n")
    refused = cli(ws, "ingest", tmp_path / "q.csv", "--as", "q", "--kind", "queries")
    assert refused.exit_code == 2 and "first row looks like data" in refused.output
    assert "--no-header --columns text,label" in refused.output
    read = cli(ws, "ingest", tmp_path / "q.csv", "--as", "q", "--kind", "queries", "--no-header", "--columns",
               "text,label", "--json")
    assert read.exit_code == 0 and json.loads(read.stdout)["accepted"] == 2
    (tmp_path / "r.csv").write_text("a,b\nWhat is 2+2?,4\n")
    renamed = cli(ws, "ingest", tmp_path / "r.csv", "--as", "r", "--columns", "instruction,output", "--json")
    assert json.loads(renamed.stdout)["accepted"] == 1
    assert cli(ws, "ingest", tmp_path / "r.csv", "--as", "r", "--no-header").exit_code == 2  # no --columns


def test_a_file_that_yields_no_example_exits_1(tmp_path):
    ws = tmp_path / "ws"
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "bad.jsonl").write_text('{"question": "x"}\n{"question": "y"}\n')
    good = write_jsonl(tmp_path / "good.jsonl", FIRST[:2])
    result = cli(ws, "ingest", good, tmp_path / "empty.jsonl", tmp_path / "bad.jsonl", "--as", "s")
    assert result.exit_code == 1
    assert "empty.jsonl yielded no example: it is empty" in result.stderr
    assert "bad.jsonl yielded no example: all 2 of its records were quarantined" in result.stderr
    assert cli(ws, "ingest", good, "--as", "s").exit_code == 0, "a re-ingest adds nothing, and is no error"


def test_a_dataset_directory_is_read_by_splits_named_as_parts(tmp_path):
    from .conftest import require

    datasets = require("datasets", "hf")
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list(FIRST[:8]),
                               "test": datasets.Dataset.from_list(FIRST[8:10])})
    dd.save_to_disk(str(tmp_path / "hf"))
    ws = tmp_path / "ws"
    data = json.loads(cli(ws, "ingest", tmp_path / "hf", "--as", "all", "--json").stdout)
    assert data["files"][0]["parts"] == {"hf#train": 8, "hf#test": 2}
    assert "splits are read as parts of one collection" in data["files"][0]["notes"][0]
    human = cli(tmp_path / "ws2", "ingest", tmp_path / "hf", "--as", "all").output
    assert "hf#train (8 rows)" in human and "DIR#SPLIT" in human
    only = json.loads(cli(ws, "ingest", f"{tmp_path / 'hf'}#test", "--as", "test", "--json").stdout)
    assert only["accepted"] == 2 and only["files"][0]["parts"] == {"hf#test": 2}
    assert "no split 'dev'" in cli(ws, "ingest", f"{tmp_path / 'hf'}#dev", "--as", "x").output


def test_numbers_are_honest(tmp_path):
    ws = tmp_path / "ws"
    rows = [{"instruction": f"Explain topic {i} in detail please", "output": f"Topic {i} is"} for i in range(6)]
    rows += [{"instruction": f"What is {i} plus {i}?", "output": f"It is {2 * i}."} for i in range(90)]
    base = "please explain how the refund process works for orders shipped abroad to a customer in {} today"
    rows += [{"instruction": base.format(w), "output": "Refunds for orders abroad take five to ten working days."}
             for w in ("Germany", "France", "Spain", "Italy")]
    cli(ws, "ingest", write_jsonl(tmp_path / "a.jsonl", rows), "--as", "s")
    pruned = " ".join(cli(ws, "check", "-c", "s", "--prune-bottom", "10%").output.split())
    assert "--prune-bottom 10%: 10 requested, 6 proposed for rejection; only 6 examples have a warning" in pruned
    summary = json.loads(cli(ws, "check", "-c", "s", "--prune-bottom", "10%", "--json").stdout)["summary"]
    assert summary["prune"] == {"share": 0.1, "requested": 10, "proposed": 6, "flagged": 6}
    split = cli(ws, "export", tmp_path / "out", "-c", "s", "--split", "70/20/20")
    assert split.exit_code == 2 and "sum to 110" in split.output and "64/18/18" in split.output
    preview = json.loads(cli(ws, "dedup", "-c", "s", "--preview", "--json").stdout)["preview"]["near"]
    smp = preview["samples_near_threshold"][0]
    assert {op for op, _ in smp["diff"]} >= {"=", "-", "+"}
    shown = cli(ws, "dedup", "-c", "s", "--preview").output  # not a terminal: no colour, so marks
    assert "threshold preview (near; 100 distinct texts, exact copies not counted)" in " ".join(shown.split())
    assert re.search(r"abroad to a customer in \[-(Germany|France|Spain|Italy)-\]\{\+(Germany|France|Spain|Italy)\+\}",
                     shown), shown
    cli(ws, "dedup", "-c", "s")
    assert cli(ws, "export", tmp_path / "out", "-c", "s").exit_code == 0
    card = (tmp_path / "out" / "README.md").read_text()
    assert "a.jsonl" in card and str(tmp_path) not in card


def test_a_dedup_run_with_other_settings_says_what_it_replaces(tmp_path):
    """A --preview with the default methods, or any run with other settings, becomes the run review, status and
    export use: it says so on stderr (--json stays clean), and a run with the same settings says nothing."""
    ws = tmp_path / "ws"
    cli(ws, "ingest", write_jsonl(tmp_path / "a.jsonl", FIRST), "--as", "s")
    assert "replaces" not in cli(ws, "dedup", "-c", "s").stderr
    other = cli(ws, "dedup", "-c", "s", "--key", "prompt", "--near-threshold", "0.8", "--json")
    json.loads(other.stdout)
    said = " ".join(other.stderr.split())
    assert "note: this dedup run replaces run 1 as the one review, status and export use" in said, said
    assert "key conversation -> prompt; near_threshold 0.7 -> 0.8" in said
    assert "replaces" not in cli(ws, "dedup", "-c", "s", "--key", "prompt", "--near-threshold", "0.8").stderr
