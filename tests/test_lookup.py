"""The library functions behind the CLI's commands, called directly: names resolved (lookup), the workspace's
status, the verdict policy kept for export (agreement), the decisions in force as rows (decisions)."""

import pytest

from curate.agreement import policy_of, report, set_policy
from curate.decisions import decision_rows
from curate.errors import UsageError
from curate.ingest import ingest
from curate.lookup import default_collection, details, find, stored_path
from curate.status import status
from curate.workspace import Workspace

from .conftest import write_jsonl

RECORDS = [{"instruction": "Reset my password", "output": "Open settings, then Security.", "ticket": 17},
           {"instruction": "Reset my password", "output": "Open settings, then Security.", "ticket": 17},
           {"instruction": "Cancel my order", "output": "Orders, then Cancel."}]


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = write_jsonl(tmp_path / "d.jsonl", RECORDS)
    with Workspace(tmp_path / "ws") as w:
        ingest([data], "support", workspace=w)
        yield w


def test_find_by_id_prefix_and_by_place(ws, tmp_path):
    eid = next(ws.iter_examples("support")).id
    found = find(ws, eid[:8])
    assert not found.by_place and not found.ambiguous and [e.id for _, e in found.matches] == [eid]
    by_place = find(ws, "./d.jsonl:2")  # any spelling of the file; line 2 repeats line 1
    assert by_place.by_place and [e.id for _, e in by_place.matches] == [eid]
    assert stored_path(ws, str(tmp_path / "d.jsonl") + "#train") == "d.jsonl#train"
    with pytest.raises(UsageError, match="no example was read from d.jsonl line 9"):
        find(ws, "d.jsonl:9")
    with pytest.raises(UsageError, match="no example with id 'fff'"):
        find(ws, "fff")
    shown = details(ws, found)[0].to_dict()
    assert shown["collection"] == "support" and shown["metadata"] == {"ticket": 17}
    assert [r["line"] for r in shown["repeats"]] == [2]


def test_default_collection_names_the_parameter_to_use(ws, tmp_path):
    assert default_collection(ws, None) == "support"
    with Workspace(tmp_path / "ws2") as empty:
        with pytest.raises(UsageError, match=r"^name the collection with train \(none ingested yet\)$"):
            default_collection(empty, None, param="train")


def test_status_counts_and_next_step(ws):
    st = status(ws).to_dict()["collections"]["support"]
    assert (st["examples"], st["repeats"], st["latest"]["dedup"]) == (2, 1, None)
    assert st["next"].startswith("curate dedup")


def test_policy_is_kept_for_export_and_reported(ws):
    eid = next(ws.iter_examples("support")).id
    ws.record_decision("support", eid, "ann", "accept")
    assert policy_of(ws, "support") == "latest"
    set_policy(ws, "support", "unanimous")
    assert policy_of(ws, "support") == "unanimous"
    assert ws.latest_run("support", "agreement").summary == {"policy": "unanimous", "reviewers": ["ann"]}
    assert report(ws, "support", "majority")["policy"] == "majority" and report(ws, "support")["policy"] == "majority"
    with pytest.raises(UsageError, match="unknown verdict policy"):
        set_policy(ws, "support", "loudest")
    rows = decision_rows(ws, "support")
    assert [(r["example_id"], r["verdict"], r["source"], r["edited"]) for r in rows] == [
        (eid, "accept", {"path": "d.jsonl", "line": 1, "index": 0}, False)]
