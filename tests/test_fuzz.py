"""Fuzzing ingest: 10,200 generated files (JSON Lines, JSON documents, CSV) built from the pieces that
break parsers (brackets, quotes, BOMs, NUL, CR, lone UTF-16 marks, invalid UTF-8, NaN, huge numbers,
deep nesting) mixed with well-formed records. Each must ingest without an exception other than one clear
file-level error, and the report must match what the database gained, row for row."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import curate
from curate import InputFileError, Workspace
from curate.workspace import CollectionInfo

PIECES = [b"{", b"}", b"[", b"]", b'"', b",", b":", b"\n", b"\r", b"\r\n", b"\\", b"\\u", b"\\ud800", b" ", b"\t",
          b"NaN", b"-Infinity", b"1e400", b"18446744073709551616", b"9" * 30, b"true", b"null", b"0", b"-1.5e3",
          b'"instruction"', b'"output"', b'"input"', b'"messages"', b'"role"', b'"content"', b'"user"',
          b'"assistant"', b'"conversations"', b'"from"', b'"value"', b'"human"', b'"gpt"', b'"prompt"',
          b'"completion"', b'"a"', b'"a"', b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00", b"\xe9", b"\xc3\xa9",
          b"\xf0\x9f\x98\x80", b"\xed\xa0\x80", b"\x1b[31m", b"[" * 300, b"]" * 300, b"instruction,output\n",
          b'"multi\nline"', b'""', b"a,b,c"]
RECORDS = [{"instruction": "What is 2+2?", "output": "4"},
           {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]},
           {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hey"}]},
           {"prompt": "Say yes", "completion": "yes"}, {"instruction": "x", "output": "y", "id": 2 ** 70}]

piece = st.one_of(st.sampled_from(PIECES), st.binary(max_size=6),
                  st.sampled_from(RECORDS).map(lambda r: json.dumps(r).encode()))
content = st.lists(piece, max_size=25).map(b"".join)
encoded = st.one_of(content, content.map(lambda b: b.decode("utf-8", "replace").encode("utf-16")))

EXAMPLES = int(os.environ.get("CURATE_FUZZ_EXAMPLES", "3400"))  # per file type: 10,200 in all


@pytest.fixture(scope="module")
def fuzz_ws():
    tmp = Path(tempfile.mkdtemp())
    ws = Workspace(tmp / "ws")
    yield tmp, ws
    ws.close()


def _ingest_and_reconcile(tmp: Path, ws: Workspace, data: bytes, suffix: str) -> None:
    path = tmp / f"fuzz{suffix}"
    path.write_bytes(data)
    collection = suffix.strip(".")
    before = ws.collections().get(collection)
    try:
        report = curate.ingest([path], collection, workspace=ws)
    except InputFileError as exc:  # one clear file-level line: a header that is not CSV, and the like
        assert str(exc) and "\n" not in str(exc)
        return
    # An ingest that keeps nothing leaves no collection behind: then every count is zero.
    after = ws.collections().get(collection) or CollectionInfo(collection, "examples", 0, 0, 0)
    assert report.read == report.accepted + report.repeats + report.quarantined + report.unchanged
    assert after.examples - (before.examples if before else 0) == report.accepted
    assert after.repeats - (before.repeats if before else 0) == report.repeats
    assert after.quarantined - (before.quarantined if before else 0) == report.quarantined - report.resolved


def _fuzz(suffix: str):
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(data=encoded)
    def test(fuzz_ws, data):
        _ingest_and_reconcile(*fuzz_ws, data, suffix)

    return test


test_fuzz_jsonl = _fuzz(".jsonl")
test_fuzz_json = _fuzz(".json")
test_fuzz_csv = _fuzz(".csv")
