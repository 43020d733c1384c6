"""Integration: every file in ../shared/data, with expected counts, formats and the known faults."""

import pytest

import curate
from curate import Workspace

pytestmark = pytest.mark.integration


def ingest(shared_data, ws_dir, rel, name, **kw):
    report = curate.ingest([shared_data / rel], name, workspace=ws_dir, **kw)
    assert report.read == report.accepted + report.repeats + report.quarantined + report.unchanged
    return report


@pytest.mark.parametrize("rel,fmt,rows,accepted,repeats,errors", [
    ("alpaca_gpt4_en_demo/alpaca_en_demo.json", "alpaca", 999, 985, 14, {}),
    ("code_alpaca_2k/code_alpaca_2k.json", "alpaca", 2017, 2015, 0, {"empty_content": 2}),
    ("alpaca/seed_tasks.jsonl", "alpaca", 175, 175, 0, {}),
    ("fastchat_dummy/dummy_conversation.json", "sharegpt", 500, 500, 0, {}),
    ("glaive_toolcall_demo/glaive_toolcall_en_demo.json", "sharegpt", 300, 265, 35, {}),
    ("oasst_en100/oasst_en100_paths.messages.jsonl", "openai", 564, 564, 0, {}),
    ("openai_toy_chat/toy_chat_fine_tuning.jsonl", "openai", 5, 4, 0, {"no_user_turn": 1}),
    ("hh_rlhf_harmless_test/harmless-base_test.chosen.messages.jsonl", "openai", 2312, 2300, 0,
     {"roles_not_alternating": 8, "empty_content": 4}),
    ("hh_rlhf_harmless_test/harmless-base_test.jsonl.gz", "hh_rlhf", 2312, 2300, 0,
     {"roles_not_alternating": 8, "empty_content": 4}),
])
def test_training_files(shared_data, ws_dir, rel, fmt, rows, accepted, repeats, errors):
    r = ingest(shared_data, ws_dir, rel, "c")
    assert (r.rows, r.accepted, r.repeats) == (rows, accepted, repeats)
    assert dict(r.error_codes) == errors
    assert set(r.files[0].formats) == {fmt}


def test_code_alpaca_empty_outputs_are_reported_where_they_are(shared_data, ws_dir):
    r = ingest(shared_data, ws_dir, "code_alpaca_2k/code_alpaca_2k.json", "c")
    assert [(e.index, e.code) for e in r.errors] == [(237, "empty_content"), (1859, "empty_content")]
    text = (shared_data / "code_alpaca_2k/code_alpaca_2k.json").read_text().splitlines()
    for e in r.errors:
        assert text[e.line - 1].strip() == "{", "the line must point at the start of the record"


def test_oasst_trees_expand_to_exactly_the_published_paths(shared_data, ws_dir):
    trees = ingest(shared_data, ws_dir, "oasst_en100/en_100_tree.jsonl", "trees")
    paths = ingest(shared_data, ws_dir, "oasst_en100/oasst_en100_paths.messages.jsonl", "paths")
    assert (trees.rows, trees.read, trees.accepted) == (100, 564, 564)
    with Workspace(ws_dir) as ws:
        assert {e.id for e in ws.iter_examples("trees")} == {e.id for e in ws.iter_examples("paths")}
        ex = next(ws.iter_examples("trees"))
        assert ex.metadata["message_tree_id"] and len(ex.metadata["turns"]) == len(ex.messages)
    assert paths.accepted == 564


def test_hh_transcripts_match_the_derived_messages_file(shared_data, ws_dir):
    ingest(shared_data, ws_dir, "hh_rlhf_harmless_test/harmless-base_test.jsonl.gz", "gz")
    ingest(shared_data, ws_dir, "hh_rlhf_harmless_test/harmless-base_test.chosen.messages.jsonl", "msgs")
    with Workspace(ws_dir) as ws:
        gz = list(ws.iter_examples("gz"))
        assert {e.id for e in gz} == {e.id for e in ws.iter_examples("msgs")}
        assert all(e.metadata["rejected"].lstrip().startswith("Human:") for e in gz)


def test_glaive_tool_turns_and_tools_preserved(shared_data, ws_dir):
    ingest(shared_data, ws_dir, "glaive_toolcall_demo/glaive_toolcall_en_demo.json", "g")
    with Workspace(ws_dir) as ws:
        examples = list(ws.iter_examples("g"))
    roles = [m.role for e in examples for m in e.messages]
    calls = [c for e in examples for m in e.messages for c in m.tool_calls]
    assert roles.count("tool") > 0 and len(calls) > 0
    assert all(e.tools for e in examples if any(m.tool_calls for m in e.messages))
    assert all(c.name for c in calls)


def test_banking77_as_production_queries(shared_data, ws_dir):
    r = ingest(shared_data, ws_dir, "banking77/test.csv", "prod", kind="queries")
    assert (r.rows, r.accepted + r.repeats, r.quarantined) == (3080, 3080, 0)
    with Workspace(ws_dir) as ws:
        q = next(ws.iter_examples("prod"))
    assert q.messages[0].role == "user" and "category" in q.metadata
    as_examples = ingest(shared_data, ws_dir, "banking77/train.csv", "wrong")
    assert as_examples.quarantined == 10003 and "--kind queries" in as_examples.errors[0].message


def test_msrp_tsv_with_quotes_and_mapping(shared_data, ws_dir):
    r = ingest(shared_data, ws_dir, "msrp/msr-para-train.tsv", "msrp", kind="queries",
               mapping={"#1 String": "text"})
    assert (r.rows, r.quarantined) == (3576, 0)
    with Workspace(ws_dir) as ws:
        assert any('"' in e.messages[0].content for e in ws.iter_examples("msrp"))


def test_headerless_sts_file_is_named_and_then_read_with_columns(shared_data, ws_dir):
    """Its first row once became the header, silently, and all 1,554 rows were quarantined as unknown_format."""
    from click.testing import CliRunner

    from curate.cli import main

    path = str(shared_data / "sts2016_qq_aa/question-question.test.tsv")
    refused = CliRunner().invoke(main, ["-w", str(ws_dir), "ingest", path, "--as", "sts", "--kind", "queries"])
    assert refused.exit_code == 2 and "looks like data, not column names" in refused.output
    assert "--no-header --columns" in refused.output
    read = CliRunner().invoke(main, ["-w", str(ws_dir), "ingest", path, "--as", "sts", "--kind", "queries",
                                     "--no-header", "--columns", "score,text,other", "--json"])
    r = __import__("json").loads(read.stdout)
    assert read.exit_code == 0 and r["rows"] == 1555 and r["quarantined"] == 0  # its first row is data too
