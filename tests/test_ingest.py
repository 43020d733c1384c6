"""Ingest end to end on crafted files: every container, every file-level error, idempotency, reconciliation."""

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import curate
from curate import InputFileError, UsageError, Workspace
from curate.readers import json_doc
from curate.status import status

from .conftest import require, write_jsonl

GOOD = {"instruction": "Add 2 and 2", "input": "", "output": "4", "source": "math"}


def reconcile(report):
    assert report.read == report.accepted + report.repeats + report.quarantined + report.unchanged
    return report


def test_jsonl_bad_rows_are_quarantined_with_file_and_line(tmp_path, ws_dir):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"instruction": "a", "output": "b"}\n'
                     b'{"instruction": "c", "output": \n'
                     b'\n'
                     b'[1, 2]\n'
                     b'{"instruction": "caf\xe9", "output": "x"}\n'
                     b'{"messages": [{"role": "user", "content": "q"}]}\n')
    r = reconcile(curate.ingest([path], "d", workspace=ws_dir))
    assert (r.rows, r.accepted, r.quarantined) == (5, 1, 4)
    assert [(e.line, e.code) for e in r.errors] == [
        (2, "invalid_json"), (4, "not_an_object"), (5, "encoding_error"), (6, "no_assistant_turn")]
    assert "column" in r.errors[0].message and r.errors[0].hint
    with Workspace(ws_dir) as ws:
        rows = list(ws.iter_quarantine("d"))
        assert rows[0].raw == '{"instruction": "c", "output":'
        assert rows[2].raw_data == b'{"instruction": "caf\xe9", "output": "x"}'  # the exact bytes
        assert rows[2].to_dict()["raw"] == '{"instruction": "caf\ufffd", "output": "x"}'
        assert "raw_base64" in rows[2].to_dict(masked=False) and "raw_base64" not in rows[0].to_dict(masked=False)


def test_lone_surrogates_and_concatenated_boms(tmp_path, ws_dir):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"instruction": "a", "output": "b"}\n'
                     b'\xef\xbb\xbf{"instruction": "c", "output": "d"}\n'
                     b'{"instruction": "\\ud800 half a pair", "output": "x"}\n')
    r = reconcile(curate.ingest([path], "d", workspace=ws_dir))
    assert (r.accepted, r.quarantined) == (2, 1)
    assert (r.errors[0].line, r.errors[0].code) == (3, "encoding_error")


def test_reingest_is_idempotent_and_repeats_are_recorded(tmp_path, ws_dir):
    path = write_jsonl(tmp_path / "d.jsonl", [GOOD, {"instruction": "b", "output": "c"}, GOOD, "{bad"])
    first = reconcile(curate.ingest([path], "d", workspace=ws_dir))
    assert (first.accepted, first.repeats, first.quarantined) == (2, 1, 1)
    second = reconcile(curate.ingest([path], "d", workspace=ws_dir))
    assert (second.accepted, second.repeats, second.quarantined, second.unchanged) == (0, 0, 0, 4)
    assert second.bad_rows == 1, "the bad row is still reported as bad"
    with Workspace(ws_dir) as ws:
        info = ws.collections()["d"]
        assert (info.examples, info.repeats, info.quarantined) == (2, 1, 1)
        first_id = next(ws.iter_examples("d")).id
        assert [s.line for s in ws.repeats_of("d", first_id)] == [3]


def test_metadata_round_trips_verbatim(tmp_path, ws_dir):
    meta = {"source": "math", "nested": {"a": [1, 2.5, None, True]}, "unicode": "日本語 ✓"}
    path = write_jsonl(tmp_path / "d.jsonl", [dict(GOOD, **meta)])
    curate.ingest([path], "d", workspace=ws_dir)
    with Workspace(ws_dir) as ws:
        [ex] = list(ws.iter_examples("d"))
    assert ex.metadata == meta
    assert ex.source.to_dict() == {"path": "d.jsonl", "line": 1, "index": 0, "format": "alpaca"}


def test_any_spelling_of_a_path_is_the_same_file(tmp_path, monkeypatch):
    """Files are named relative to the folder that holds the workspace (absolute outside it), so
    re-ingesting by a relative, absolute or '..' path adds nothing (it once added 385,000 phantom repeats)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    path = write_jsonl(tmp_path / "data" / "d.jsonl", [GOOD, {"instruction": "b", "output": "c"}, GOOD])
    first = reconcile(curate.ingest(["data/d.jsonl"], "d"))
    assert (first.accepted, first.repeats) == (2, 1)
    for spelling in (str(path), "./data/../data/d.jsonl", "data//d.jsonl"):
        again = reconcile(curate.ingest([spelling], "d"))
        assert (again.accepted, again.repeats, again.unchanged) == (0, 0, 3), spelling
    outside = write_jsonl(tmp_path.parent / f"{tmp_path.name}-outside.jsonl", [GOOD])
    reconcile(curate.ingest([str(outside)], "d"))
    with Workspace() as ws:
        assert ws.collections()["d"].repeats == 2
        assert {s.path for s in ws.repeats_of("d", next(ws.iter_examples("d")).id)} == {"data/d.jsonl", str(outside)}


def test_json_array_streams_with_line_numbers_and_resyncs_after_a_broken_element(tmp_path, ws_dir, monkeypatch):
    monkeypatch.setattr(json_doc, "CHUNK", 64)  # force elements across chunk boundaries
    text = ('[\n  {"instruction": "one", "output": "1"},\n'
            '  {"instruction": "two", "output": "2" "oops": 1},\n'
            '  {"instruction": "three",\n   "output": "3"},\n'
            '  {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n]\n')
    path = tmp_path / "d.json"
    path.write_text(text)
    r = reconcile(curate.ingest([path], "d", workspace=ws_dir))
    assert (r.rows, r.accepted, r.quarantined) == (4, 3, 1)
    assert (r.errors[0].line, r.errors[0].code) == (3, "invalid_json")
    with Workspace(ws_dir) as ws:
        assert [e.source.line for e in ws.iter_examples("d")] == [2, 4, 6]
        assert [e.source.index for e in ws.iter_examples("d")] == [0, 2, 3]


def test_json_object_holding_lists_and_json_lines_named_json(tmp_path, ws_dir):
    doc = {"version": 2, "train": [GOOD, {"instruction": "x", "output": "y"}], "test": [{"prompt": "p", "completion": "c"}]}
    a = tmp_path / "a.json"
    a.write_text(json.dumps(doc, indent=2))
    b = write_jsonl(tmp_path / "b.json", [GOOD, {"prompt": "p2", "completion": "c2"}])
    r = reconcile(curate.ingest([a, b], "d", workspace=ws_dir))
    assert (r.accepted, r.repeats) == (4, 1)
    assert [f.container for f in r.files] == ["json", "jsonl"]
    with Workspace(ws_dir) as ws:
        paths = sorted({e.source.path for e in ws.iter_examples("d")})
    assert paths == ["a.json#test", "a.json#train", "b.json"]


def test_json_edge_shapes_lose_nothing(tmp_path, ws_dir):
    # JSON Lines named .json whose first line is broken; concatenated values; data after an array.
    (tmp_path / "a.json").write_text('{"instruction": "x", "output": \n'
                                     '{"instruction": "y", "output": "1"}\n{"instruction": "z", "output": "2"}\n')
    (tmp_path / "b.json").write_text('{"prompt": "p", "completion": "c"} {"prompt": "q",\n "completion": "d"}')
    (tmp_path / "c.json").write_text('[{"prompt": "p", "completion": "c"}]\n[{"prompt": "r", "completion": "s"}]\noops')
    r = reconcile(curate.ingest([tmp_path / n for n in ("a.json", "b.json", "c.json")], "d", workspace=ws_dir))
    assert [(f.rows, f.accepted, f.quarantined) for f in r.files] == [(3, 2, 1), (2, 2, 0), (3, 1, 1)]
    assert [(e.path, e.line, e.code) for e in r.errors] == [
        ("a.json", 1, "invalid_json"), ("c.json", 3, "invalid_json")]
    assert r.repeats == 1  # c.json's first record repeats b.json's first


def test_csv_tsv_and_mapping(tmp_path, ws_dir):
    csv_path = tmp_path / "qa.csv"
    csv_path.write_text('question,answer,topic\n"What, exactly?","Multi\nline answer",billing\n'
                        'only-two-columns,x\nWhy?,Because,misc\n', encoding="utf-8")
    r = reconcile(curate.ingest([csv_path], "qa", mapping={"question": "instruction", "answer": "output"},
                                workspace=ws_dir))
    assert (r.accepted, r.quarantined) == (2, 1)
    assert (r.errors[0].line, r.errors[0].code) == (4, "wrong_column_count")
    tsv = tmp_path / "q.tsv"
    tsv.write_text('text\tintent\nsay "hi"\tgreet\n')
    r = reconcile(curate.ingest([tsv], "q", kind="queries", workspace=ws_dir))
    with Workspace(ws_dir) as ws:
        [q] = list(ws.iter_examples("q"))
        first = next(ws.iter_examples("qa"))
    assert q.messages[0].content == 'say "hi"' and q.metadata == {"intent": "greet"}
    assert first.messages[1].content == "Multi\nline answer" and first.metadata == {"topic": "billing"}
    assert first.source.line == 2


def test_parquet_gzip_and_text(tmp_path, ws_dir):
    pq.write_table(pa.Table.from_pylist([GOOD, {"instruction": "i", "output": ""}]), tmp_path / "d.parquet")
    with gzip.open(tmp_path / "d.jsonl.gz", "wt") as fh:
        fh.write(json.dumps({"prompt": "p", "completion": "c"}) + "\n")
    (tmp_path / "q.txt").write_text("where is my parcel\n\nreset password\n")
    r = reconcile(curate.ingest([tmp_path / "d.parquet", tmp_path / "d.jsonl.gz"], "d", workspace=ws_dir))
    assert (r.accepted, r.quarantined) == (2, 1) and r.errors[0].line == 2
    r = reconcile(curate.ingest([tmp_path / "q.txt"], "q", kind="queries", workspace=ws_dir))
    assert r.accepted == 2


def test_hugging_face_dataset_directory(tmp_path, ws_dir):
    datasets = require("datasets", "hf")
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list([GOOD]),
                               "test": datasets.Dataset.from_list([{"instruction": "t", "output": "u", "source": "s"}])})
    dd.save_to_disk(str(tmp_path / "hf"))
    r = reconcile(curate.ingest([tmp_path / "hf"], "d", workspace=ws_dir))
    assert r.accepted == 2
    with Workspace(ws_dir) as ws:
        assert sorted(e.source.path for e in ws.iter_examples("d")) == ["hf#test", "hf#train"]


def test_call_errors_are_named_and_write_nothing(tmp_path, ws_dir):
    with pytest.raises(InputFileError, match="no such file"):
        curate.ingest([tmp_path / "missing.jsonl"], "d", workspace=ws_dir)
    (tmp_path / "x.bin").write_bytes(b"\x00\x01")
    with pytest.raises(InputFileError, match="unknown file type"):
        curate.ingest([tmp_path / "x.bin"], "d", workspace=ws_dir)
    with pytest.raises(UsageError, match="unknown format"):
        curate.ingest([tmp_path / "x.bin"], "d", format="nope", workspace=ws_dir)
    assert not ws_dir.exists()
    path = write_jsonl(tmp_path / "d.jsonl", [GOOD])
    curate.ingest([path], "d", workspace=ws_dir)
    with pytest.raises(UsageError, match="holds examples, not queries"):
        curate.ingest([path], "d", kind="queries", workspace=ws_dir)


def test_large_input_uses_the_writer_process_and_still_reconciles(tmp_path, ws_dir, monkeypatch):
    ingest_module = __import__("sys").modules["curate.ingest"]
    monkeypatch.setattr(ingest_module, "BIG_INPUT_BYTES", 0)
    monkeypatch.setattr(ingest_module, "BATCH", 7)
    records = [{"instruction": f"q{i % 40}", "output": "a"} for i in range(100)] + ["{broken"] * 3
    path = write_jsonl(tmp_path / "d.jsonl", records)
    r = reconcile(curate.ingest([path], "d", workspace=ws_dir))
    assert (r.accepted, r.repeats, r.quarantined) == (40, 60, 3)
    with Workspace(ws_dir) as ws:
        assert [e.source.index for e in ws.iter_examples("d")] == list(range(40))


def test_every_shared_file_reads_without_crashing(shared_data, ws_dir):
    files = sorted(p for p in shared_data.rglob("*") if p.is_file() and p.suffix != ".md")
    assert len(files) >= 18
    for i, path in enumerate(files):
        try:
            r = reconcile(curate.ingest([path], f"c{i}", workspace=ws_dir))
        except InputFileError as exc:  # sts2016's TSVs have no header row: said so, then read with names
            assert "pass header_row=False columns" in str(exc), exc
            r = reconcile(curate.ingest([path], f"c{i}", workspace=ws_dir, header_row=False,
                                        columns=["score", "text", "other"]))
        # hwu64 ships an empty CSV from its source repository: no rows, and no crash.
        assert r.rows > 0 if path.stat().st_size else r.rows == 0, path


def test_damaged_gzip_keeps_the_rows_before_the_damage_and_says_so(tmp_path, ws_dir):
    import random

    rng = random.Random(0)
    with gzip.open(tmp_path / "big.jsonl.gz", "wt") as fh:  # random text, so the file compresses poorly
        for i in range(20000):
            fh.write(json.dumps({"prompt": f"p{i} {rng.random()}", "completion": "c"}) + "\n")
    data = (tmp_path / "big.jsonl.gz").read_bytes()
    (tmp_path / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match="damaged or cut short.*rows were read and kept"):
        curate.ingest([tmp_path / "cut.jsonl.gz"], "d", workspace=ws_dir)
    with Workspace(ws_dir) as ws:
        kept = ws.count_examples("d")
    assert 5000 < kept < 20000


def test_a_gz_name_on_plain_text_says_to_rename_it(tmp_path, ws_dir):
    path = tmp_path / "plain.jsonl.gz"
    path.write_text(json.dumps({"prompt": "p", "completion": "c"}) + "\n")
    with pytest.raises(InputFileError, match=r"plain\.jsonl\.gz: named \.gz but not gzip data.*rename it"):
        curate.ingest([path], "d", workspace=ws_dir)


def test_an_ingest_that_keeps_nothing_leaves_no_collection(tmp_path, ws_dir):
    """An empty file, or one that fails before its first row, made a collection of nothing that then sat in
    status and in every list of collections; one whose rows were all quarantined keeps its collection (the
    fixed rows are ingested into it again)."""
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "bad.jsonl").write_text("{bad\n")
    (tmp_path / "good.jsonl").write_text(json.dumps({"prompt": "p", "completion": "c"}) + "\n")
    curate.ingest([tmp_path / "empty.jsonl"], "e", workspace=ws_dir)
    curate.ingest([tmp_path / "bad.jsonl"], "q", workspace=ws_dir)
    curate.ingest([tmp_path / "good.jsonl"], "g", workspace=ws_dir)
    curate.ingest([tmp_path / "empty.jsonl"], "g", workspace=ws_dir)  # held before: stays
    plain = tmp_path / "plain.jsonl.gz"
    plain.write_text("not gzip\n")
    with pytest.raises(InputFileError):
        curate.ingest([plain], "z", workspace=ws_dir)
    with Workspace(ws_dir) as ws:
        assert ws.collection_names() == ["q", "g"]
        assert ws.unfinished_ingests("g") == []
        assert status(ws).upcoming["q"].startswith("curate quarantine -c q")  # not dedup: it has no example


def test_gzip_damaged_at_its_start_says_what_to_do(tmp_path, ws_dir):
    data = gzip.compress(b'{"prompt": "p", "completion": "c"}\n' * 100)
    (tmp_path / "cut.jsonl.gz").write_bytes(data[:30])
    with pytest.raises(InputFileError, match=r"cut\.jsonl\.gz: the gzip data is damaged or cut short near its start "
                                             r"\(.*\); no row could be read: re-create or re-download it"):
        curate.ingest([tmp_path / "cut.jsonl.gz"], "d", workspace=ws_dir)
