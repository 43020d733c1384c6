"""Hostile input: every row of the table in the issue, built here, through the CLI.

Each test asserts the exit code, the message a user sees, and that read = accepted + repeats + quarantined
(nothing lost), with good rows on both sides of the bad one.
"""

from __future__ import annotations

import gzip
import json
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curate import Workspace
from curate.cli import main
from curate.readers import limits

GOOD = [{"instruction": f"Question {i}?", "output": f"Answer {i}."} for i in range(6)]


def run(ws, *args):
    result = CliRunner().invoke(main, ["-w", str(ws), "ingest", "--json", *map(str, args)])
    assert "Traceback" not in result.output, result.output
    return result


def report_of(result) -> dict:
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["read"] == data["accepted"] + data["repeats"] + data["quarantined"] + data["unchanged"]
    return data


def lines(*rows) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


def examples(ws, collection="c"):
    with Workspace(ws) as w:
        return {e.source.line: e for e in w.iter_examples(collection)}


def deep(n: int) -> str:
    return "[" * n + "]" * n


@pytest.mark.parametrize("shape", ["jsonl", "json_array", "json_object_of_lists"])
def test_deep_nesting_is_one_quarantined_row(tmp_path, shape):
    bad = '{"instruction": "deep", "output": "x", "meta": ' + deep(3000) + "}"
    if shape == "jsonl":
        path = tmp_path / "d.jsonl"
        path.write_text(lines(*GOOD[:3], bad, *GOOD[3:]))
    else:
        body = ",\n".join([json.dumps(g) for g in GOOD[:3]] + [bad] + [json.dumps(g) for g in GOOD[3:]])
        path = tmp_path / "d.json"
        path.write_text(f"[\n{body}\n]" if shape == "json_array" else '{"train": [\n' + body + "\n]}")
    data = report_of(run(tmp_path / "ws", path, "--as", "c"))
    assert (data["accepted"], data["quarantined"]) == (6, 1)
    assert data["error_codes"] == {"nested_too_deep": 1}
    assert "nested" in data["errors"][0]["message"]


def test_moderate_nesting_under_the_limit_is_kept_and_over_it_is_not(tmp_path):
    ok = {"instruction": "a", "output": "b", "meta": json.loads(deep(150))}
    too = '{"instruction": "c", "output": "d", "meta": ' + deep(limits_depth() + 5) + "}"
    path = tmp_path / "d.jsonl"
    path.write_text(lines(ok, too))
    data = report_of(run(tmp_path / "ws", path, "--as", "c"))
    assert (data["accepted"], data["error_codes"]) == (1, {"nested_too_deep": 1})


def limits_depth() -> int:
    from curate.readers.jsonvalue import MAX_DEPTH

    return MAX_DEPTH


def test_integer_of_5000_digits_is_kept_as_text(tmp_path):
    big = "9" * 5000
    path = tmp_path / "d.jsonl"
    path.write_text(lines(*GOOD[:2], '{"instruction": "big", "output": "x", "n": ' + big + "}", *GOOD[2:]))
    data = report_of(run(tmp_path / "ws", path, "--as", "c"))
    assert (data["accepted"], data["quarantined"], data["warning_codes"]) == (7, 0, {"number_as_text": 1})
    kept = examples(tmp_path / "ws")[3]
    assert kept.metadata["n"] == big and kept.warnings[0].code == "number_as_text"


@pytest.mark.parametrize("suffix", ["jsonl", "json"])
def test_metadata_is_kept_as_written(tmp_path, suffix):
    row = ('{"instruction": "meta", "output": "x", "a": 1e400, "b": NaN, "c": -Infinity, '
           '"d": 1180591620717411303424, "e": 18446744073709551615, "f": 1.5, "g": 1, "g": 2}')
    path = tmp_path / f"d.{suffix}"
    path.write_text(lines(GOOD[0], row) if suffix == "jsonl" else f"[{json.dumps(GOOD[0])},\n{row}]")
    data = report_of(run(tmp_path / "ws", path, "--as", "c"))
    assert data["accepted"] == 2
    kept = next(e for e in examples(tmp_path / "ws").values() if e.metadata)
    m = kept.metadata
    assert (m["a"], m["b"], m["c"], m["d"]) == ("1e400", "NaN", "-Infinity", "1180591620717411303424")
    assert (m["e"], m["f"], m["g"]) == (18446744073709551615, 1.5, 2), "what JSON holds stays a number"
    assert m["curate:source_row"].endswith('"g": 1, "g": 2}'), "the row as written, for the lost value"
    codes = [w.code for w in kept.warnings]
    assert codes.count("number_as_text") == 4 and "duplicate_key" in codes


def test_truncated_parquet_is_one_clear_error(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(GOOD * 50), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    result = run(tmp_path / "ws", path, "--as", "c")
    assert result.exit_code == 2
    assert "not a readable Parquet file" in result.output and "copy it again" in result.output
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.fixture
def small_grace(monkeypatch):
    monkeypatch.setattr(limits, "RATIO_GRACE", 1 << 20)  # bombs of a few MB trip the ratio check


def test_gzip_bomb_without_newlines_stops_with_a_clear_error(tmp_path, small_grace):
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(lines(*GOOD).encode())
        fh.write(b'{"instruction": "' + b"A" * (20 << 20))  # 20 MB without a newline
    result = run(tmp_path / "ws", path, "--as", "c")
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert "compression bomb" in message and "--max-decompression-ratio" in message
    assert "6 rows were read and kept" in message
    assert len(examples(tmp_path / "ws")) == 6


def test_json_gzip_bomb_stops_with_a_clear_error(tmp_path, small_grace):
    path = tmp_path / "bomb.json.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b'{"data": "' + b" " * (20 << 20) + b'"}')
    result = run(tmp_path / "ws", path, "--as", "c")
    assert result.exit_code == 2 and "compression bomb" in result.stderr


def test_decompressed_total_has_its_own_limit(tmp_path):
    path = tmp_path / "d.jsonl.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(lines(*(GOOD * 2000)).encode())
    result = run(tmp_path / "ws", path, "--as", "c", "--max-decompressed-bytes", "64K")
    assert result.exit_code == 2 and "--max-decompressed-bytes" in result.stderr
    assert run(tmp_path / "ws2", path, "--as", "c").exit_code == 0


def test_record_over_the_limit_is_quarantined_with_its_head(tmp_path):
    long_row = json.dumps({"instruction": "long", "output": "x" * 5000})
    path = tmp_path / "d.jsonl"
    path.write_text(lines(GOOD[0], long_row, GOOD[1]))
    data = report_of(run(tmp_path / "ws", path, "--as", "c", "--max-record-bytes", "2K"))
    assert (data["accepted"], data["error_codes"]) == (2, {"record_too_large": 1})
    assert "--max-record-bytes" in data["errors"][0]["hint"]
    with Workspace(tmp_path / "ws") as w:
        row = next(w.iter_quarantine("c"))
    assert row.line == 2 and len(row.raw) == 2048


def test_json_array_element_over_the_limit_is_quarantined_and_the_rest_read(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps(GOOD[:3] + [{"instruction": "long", "output": "x" * 50_000}] + GOOD[3:]))
    data = report_of(run(tmp_path / "ws", path, "--as", "c", "--max-record-bytes", "8K"))
    assert (data["accepted"], data["error_codes"]) == (6, {"record_too_large": 1})


def test_unfinished_json_value_over_the_limit_is_one_clear_error(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps(GOOD[:3] + [{"instruction": "long", "output": "x" * 50_000}])[:40_000])
    result = run(tmp_path / "ws", path, "--as", "c", "--max-record-bytes", "8K")
    assert result.exit_code == 2 and "--max-record-bytes" in result.stderr and "3 rows were read" in result.stderr
    with Workspace(tmp_path / "ws") as w:
        assert w.count_examples("c") == 3


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "txt"])
def test_cr_only_line_endings_are_line_breaks(tmp_path, suffix):
    if suffix == "jsonl":
        body = "\r".join(json.dumps(g) for g in GOOD) + "\r"
    elif suffix == "csv":
        body = "instruction,output\r" + "\r".join(f"{g['instruction']},{g['output']}" for g in GOOD) + "\r"
    else:
        body = "\r".join(g["instruction"] for g in GOOD) + "\r"
    path = tmp_path / f"d.{suffix}"
    path.write_bytes(body.encode())
    kind = ["--kind", "queries"] if suffix == "txt" else []
    data = report_of(run(tmp_path / "ws", path, "--as", "c", *kind))
    assert (data["accepted"], data["quarantined"]) == (6, 0)
    assert any("CR alone" in n for n in data["files"][0]["notes"])
    assert sorted(examples(tmp_path / "ws")) == list(range(2 if suffix == "csv" else 1, 7 + (suffix == "csv")))


def test_csv_unclosed_quote_quarantines_its_line_and_reads_the_rest(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('instruction,output\nQ1,A1\nQ2,"A2 never closed\nQ3,A3\nQ4,A4\n')
    data = report_of(run(tmp_path / "ws", path, "--as", "c"))
    assert (data["accepted"], data["quarantined"]) == (3, 1)
    error = data["errors"][0]
    assert (error["code"], error["line"]) == ("unclosed_quote", 3)
    assert "swallowing lines 4-5, which are read again" in error["message"]
    assert sorted(examples(tmp_path / "ws")) == [2, 4, 5]


def test_csv_stray_quote_is_a_bad_row_not_a_changed_one(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('instruction,output\nQ1,A1\nQ2,"A2" extra\nQ3,"multi\nline"\n')
    data = report_of(run(tmp_path / "ws", path, "--as", "c"))
    assert (data["accepted"], data["error_codes"]) == (2, {"invalid_csv": 1})
    assert examples(tmp_path / "ws")[4].messages[1].content == "multi\nline"


@pytest.mark.parametrize("encoding,bom", [("utf-16", True), ("utf-16-le", False), ("utf-16-be", False),
                                          ("utf-32", True)])
def test_utf16_and_utf32_files_are_read_and_named(tmp_path, encoding, bom):
    path = tmp_path / "d.csv"
    text = "instruction,output\n" + "".join(f"{g['instruction']},café {g['output']}\n" for g in GOOD)
    path.write_bytes(text.encode(encoding))
    data = report_of(run(tmp_path / "ws", path, "--as", "c"))
    assert (data["accepted"], data["quarantined"]) == (6, 0)
    note = data["files"][0]["notes"][0]
    assert encoding[:6].upper() in note.upper() and ("(byte-order mark)" in note) == bom
    assert examples(tmp_path / "ws")[2].messages[1].content == "café Answer 0."


def test_utf16_jsonl_reads_too(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(lines(*GOOD).encode("utf-16"))
    data = report_of(run(tmp_path / "ws", path, "--as", "c"))
    assert data["accepted"] == 6


def test_object_of_lists_with_one_broken_element_loses_only_that_element(tmp_path):
    elements = [json.dumps(g, indent=2) for g in GOOD]
    elements[2] = elements[2].replace('"output"', '"output" oops')
    path = tmp_path / "d.json"
    path.write_text('{"version": 2, "train": [\n' + ",\n".join(elements) + "\n], \"test\": [" +
                    json.dumps({"instruction": "T?", "output": "T."}) + "]}")
    data = report_of(run(tmp_path / "ws", path, "--as", "c"))
    assert (data["accepted"], data["quarantined"]) == (6, 1)
    assert data["errors"][0]["path"].endswith("#train")


@pytest.mark.parametrize("user,assistant", [("User", "ASSISTANT"), (" user", "Assistant ")])
def test_openai_roles_match_whatever_their_case(tmp_path, user, assistant):
    path = tmp_path / "d.jsonl"
    path.write_text(lines({"messages": [{"role": user, "content": "Hi"}, {"role": assistant, "content": "Hello"}]}))
    data = report_of(run(tmp_path / "ws", path, "--as", "c"))
    assert data["accepted"] == 1
    e = examples(tmp_path / "ws")[1]
    assert [m.role for m in e.messages] == ["user", "assistant"]
    assert e.metadata["turn_fields"] == {"0": {"role": user}, "1": {"role": assistant}}


def test_sharegpt_speaker_names_match_whatever_their_case(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(lines({"conversations": [{"from": "USER", "value": "Hi"}, {"from": "GPT", "value": "Hey"}]}))
    data = report_of(run(tmp_path / "ws", path, "--as", "c"))
    assert data["accepted"] == 1
    assert examples(tmp_path / "ws")[1].metadata["turn_fields"] == {"0": {"from": "USER"}}


SECRETS = ["hf_QpZkXbTrVwYmNc4sLdHg8JfRa2eKuWiOtE", "sk-ant-api03-Zr7Kq2Lm9Xv4Bn1Wc8Hd5Tg3Yp6Fs0Ja",
           "glpat-x7Kq2Lm9Xv4Bn1Wc8Hd5", "+1 (415) 867-5309"]


def test_secrets_never_leave_the_example(tmp_path):
    """Findings, JSON reports, HTML, Markdown, the dedup preview, show, quarantine and excluded.jsonl all mask;
    the pii check flags every one, so export leaves the examples out."""
    ws = tmp_path / "ws"
    train = [{"instruction": f"How do I log in to service {i}?", "output": f"Export HF_TOKEN={SECRETS[0]} and then"}
             for i in range(3)]
    train += [{"instruction": "Which key goes in the header?", "output": f"Send x-api-key: {SECRETS[1]} with"},
              {"instruction": "Who do I call?", "output": f"Call us on {SECRETS[3]} any day of the week."}]
    train += [{"instruction": f"What is {i} plus {i}?", "output": f"It is {2 * i}."} for i in range(20)]
    (tmp_path / "t.jsonl").write_text(lines(*train) + '{"instruction": "' + SECRETS[2] + '", "output": \n')
    (tmp_path / "q.jsonl").write_text(lines(*[{"query": f"my token {SECRETS[0]} fails, call {SECRETS[3]}"}] * 3,
                                            *[{"query": f"What is {i} plus one?"} for i in range(10)]))
    runner = CliRunner()

    def out(*args) -> str:
        result = runner.invoke(main, ["-w", str(ws), *map(str, args)])
        assert result.exit_code == 0, result.output
        return result.output

    texts = [out("ingest", tmp_path / "t.jsonl", "--as", "t"), out("ingest", tmp_path / "t.jsonl", "--as", "t", "--json"),
             out("ingest", tmp_path / "q.jsonl", "--as", "q", "--kind", "queries")]
    texts += [out("check", "-c", "t", "--json"), out("check", "-c", "t", "--report", tmp_path / "c.json")]
    texts += [out("dedup", "-c", "t", "--preview", "--json"), out("dedup", "-c", "t", "--preview")]
    texts += [out("coverage", "--train", "t", "--queries", "q", "--html", tmp_path / "c.html", "--markdown",
                  tmp_path / "c.md", "--json", tmp_path / "cov.json")]
    texts += [out("quarantine"), out("quarantine", "--json")]
    with Workspace(ws) as w:
        ids = [e.id for e in w.iter_examples("t") if any(s in e.response for s in SECRETS)]
    assert len(ids) == 5
    texts += [out("show", i) for i in ids] + [out("show", i, "--json") for i in ids]
    texts += [out("export", tmp_path / "exp", "-c", "t", "--split", "80/10/10")]
    texts += [(tmp_path / name).read_text() for name in ("c.json", "c.html", "c.md", "cov.json")]
    texts += [(tmp_path / "exp" / "excluded.jsonl").read_text()]
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, (secret, text[:2000])
    exported = "".join((tmp_path / "exp" / f"{s}.jsonl").read_text() for s in ("train", "val", "test"))
    # Keys and tokens are errors, which keep their examples out of the export; a phone number is a warning
    # (a business's own support line is common in training data), so a reviewer decides.
    assert not any(s in exported for s in SECRETS[:3]) and SECRETS[3] in exported
    assert runner.invoke(main, ["-w", str(ws), "quarantine", "--export", str(tmp_path / "fix.jsonl")]).exit_code == 0
    assert SECRETS[2] in (tmp_path / "fix.jsonl").read_text(), "the rows to fix are the user's own, verbatim"


def test_coverage_masks_before_it_cuts_labels_or_counts_terms(tmp_path):
    """A gap's label is cut at 60 characters, and its terms are counted words: cut or counted before the
    masking, a key showed its first 14 characters and an address its name and domain as terms."""
    key, mail = "sk-live-abcdefghijklmnopqrstuvwx1234", "jane.doe@acmecorp.io"
    (tmp_path / "t.jsonl").write_text(lines(*[{"instruction": f"What is {i} plus {i}?", "output": f"It is {2 * i}."}
                                               for i in range(30)]))
    queries = [{"query": f"the integration for warehouse {i} fails at login with key {key} please"} for i in range(20)]
    queries += [{"query": f"please email {mail} about the order {i} that never came"} for i in range(20)]
    (tmp_path / "q.jsonl").write_text(lines(*queries))
    ws, runner = str(tmp_path / "ws"), CliRunner()
    for args in (["ingest", str(tmp_path / "t.jsonl"), "--as", "t"],
                 ["ingest", str(tmp_path / "q.jsonl"), "--as", "q", "--kind", "queries"]):
        assert runner.invoke(main, ["-w", ws, *args]).exit_code == 0
    shown = runner.invoke(main, ["-w", ws, "coverage", "--train", "t", "--queries", "q", "--html",
                                 str(tmp_path / "c.html"), "--markdown", str(tmp_path / "c.md"), "--json",
                                 str(tmp_path / "c.json")])
    assert shown.exit_code == 0, shown.output
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["gaps"], "the queries are a gap of an arithmetic training set"
    texts = [shown.output] + [(tmp_path / name).read_text() for name in ("c.html", "c.md", "c.json")]
    for text in texts:
        for piece in (key[2:10], "acmecorp", "jane"):
            assert piece not in text.lower(), (piece, text[:2000])


def test_show_cuts_a_huge_turn_after_masking_it(tmp_path):
    """A 4 MB answer (ingest takes up to 64 MB a record) took rich minutes to lay out; show prints 20,000
    characters of each turn and says how much it left out, and a key across the cut is masked, not halved."""
    key = "sk-live-abcdefghijklmnopqrstuvwx1234"
    answer = "word " * 3995 + "x" * 9 + " " + key + " tail" + " more" * 800_000
    path = tmp_path / "d.jsonl"
    path.write_text(lines({"instruction": "Say a lot", "output": answer}))
    runner = CliRunner()
    assert runner.invoke(main, ["-w", str(tmp_path / "ws"), "ingest", str(path), "--as", "c"]).exit_code == 0
    started = time.perf_counter()
    result = runner.invoke(main, ["-w", str(tmp_path / "ws"), "show", f"{path}:1"])
    assert result.exit_code == 0 and time.perf_counter() - started < 20
    text = " ".join(result.output.split())
    assert f"{len(answer) - 20_000:,} more characters not shown (all of it: curate show ID --json)" in text
    assert key[2:10] not in result.output and "tail" not in result.output


def test_control_sequences_reach_no_terminal(tmp_path):
    evil = "\x1b]0;pwned\x07\x1b[31mred\x1b[0m \u202eevil"
    path = tmp_path / "d.jsonl"
    path.write_text(lines({"instruction": "Hi", "output": f"Hello {evil}"}, '{"instruction": "' + evil + '", '))
    result = CliRunner().invoke(main, ["-w", str(tmp_path / "ws"), "ingest", str(path), "--as", "c"])
    assert result.exit_code == 0
    with Workspace(tmp_path / "ws") as w:
        eid = next(w.iter_examples("c")).id
    for args in (["show", eid], ["quarantine"]):
        shown = CliRunner().invoke(main, ["-w", str(tmp_path / "ws"), *args]).output
        assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
        assert "<U+001B>" in shown
