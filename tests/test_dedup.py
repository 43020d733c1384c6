"""Dedup on crafted cases (each method, groups, representatives, conflicts, contamination) and real data."""

import json

import numpy as np
import pytest

import curate
from curate import UsageError, Workspace
from curate.dedup import run as dedup
from curate.dedup.groups import Edge, build_groups
from curate.dedup.lsh import jaccard, near_duplicates, optimal_bands
from curate.dedup.shingles import shingle
from curate.dedup.signatures import signatures
from curate.dedup.text import normalise

from .conftest import require, write_jsonl

LONG = ("Our refund policy allows customers to return any unopened item within thirty days of delivery "
        "for a full refund to the original payment method, and opened items within fourteen days for store credit.")


def chat(q, a):
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def test_normalise_folds_case_punctuation_whitespace_and_width():
    assert normalise("  Hello,\tWORLD!! ") == normalise("hello world") == "hello world"
    assert normalise("Ｆｕｌｌ-width") == "full width"


def test_minhash_finds_edited_copies_and_verifies_with_true_jaccard():
    words = LONG.split()
    edited = " ".join(w if i != 10 else "forty" for i, w in enumerate(words))
    texts = [LONG, edited, "A completely different sentence about shipping parcels abroad to Canada.", ""]
    sets = shingle(texts)
    res = near_duplicates(sets, 0.7)
    assert res.pairs.tolist() == [[0, 1]]
    true = jaccard(sets, np.array([[0, 1]]))[0]
    assert res.scores[0] == pytest.approx(true) and 0.7 <= true < 1


def test_signature_agreement_estimates_jaccard():
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(400)]
    base = list(rng.choice(vocab, 200))
    other = base[:150] + list(rng.choice(vocab, 50))
    sets = shingle([" ".join(base), " ".join(other)])
    sig = signatures(sets, num_perm=256)
    est = (sig[0] == sig[1]).mean()
    assert abs(est - jaccard(sets, np.array([[0, 1]]))[0]) < 0.08


def test_lsh_parameters_favour_recall_near_the_threshold():
    b, r = optimal_bands(0.7, 128)
    assert b * r <= 128
    assert 1 - (1 - 0.7 ** r) ** b >= 0.995  # a pair exactly at the threshold is almost surely a candidate
    assert optimal_bands(0.9, 128)[1] > r  # a stricter threshold affords longer bands


def test_groups_are_single_linkage_with_the_most_complete_answer_as_representative():
    edges = [Edge(0, 1, 0.9, "near"), Edge(1, 2, 1.0, "exact"), Edge(3, 4, 1.0, "exact")]
    quality = {0: (5,), 1: (50,), 2: (10,), 3: (1,), 4: (1,)}
    groups = build_groups(6, edges, quality.__getitem__)
    assert [(g.members, g.representative, g.method) for g in groups] == [([0, 1, 2], 1, "near"), ([3, 4], 3, "exact")]


@pytest.fixture
def support(tmp_path, ws_dir):
    words = LONG.split()
    edited = " ".join(w if i not in (5, 20) else w.upper() + "s" for i, w in enumerate(words))
    records = [
        chat("How do refunds work?", LONG),                    # 0
        chat("how do REFUNDS work", LONG + " "),                # 1 exact after normalisation
        chat("How do refunds work?!", edited),                  # 2 near
        chat("Can I change my address?", "Yes, in Settings > Addresses, until the parcel leaves the depot."),
        chat("Can I change my address?", "No. Addresses are fixed once you have paid for the label, sorry."),
        chat("Where is my parcel PX1?", "It is at the Leeds depot and due tomorrow."),
        chat("How do refunds work?", LONG),                     # ingest repeat of 0
    ]
    path = write_jsonl(tmp_path / "s.jsonl", records)
    curate.ingest([path], "support", workspace=ws_dir)
    evalset = write_jsonl(tmp_path / "e.jsonl", [chat("Where is my parcel PX1?", "Somewhere."),
                                                 chat("Totally unrelated eval question", "x")])
    curate.ingest([evalset], "eval", workspace=ws_dir)
    return ws_dir


def test_dedup_groups_members_representative_and_findings(support):
    r = dedup("support", workspace=support)
    summary = r.summary
    assert (summary["examples"], summary["groups"], summary["duplicates"], summary["ingest_repeats"]) == (6, 1, 2, 1)
    [g] = r.groups
    assert g["method"] == "near"
    lines = sorted(m["source"]["line"] for m in g["members"])
    assert lines == [1, 2, 3, 7]  # the ingest repeat at line 7 is a member too
    with Workspace(support) as ws:
        run = ws.latest_run("support", "dedup")
        dup = [f for f in ws.run_findings(run.id) if f.kind == "duplicate"]
        rep = g["representative"]
        assert len(dup) == 2 and all(f.evidence["representative"] == rep for f in dup)
        assert rep not in {f.example_id for f in dup}
        assert sum(len(m) for m in ws.run_groups(run.id).values()) == 3


def test_conflicts_are_flagged_on_both_sides(support):
    r = dedup("support", workspace=support)
    assert len(r.conflicts) == 1
    c = r.conflicts[0]
    assert (c["source_a"]["line"], c["source_b"]["line"]) == (4, 5) and c["response_similarity"] < 0.5
    with Workspace(support) as ws:
        found = [f for f in ws.run_findings(r.run_id) if f.kind == "conflict"]
    assert {f.example_id for f in found} == {c["a"], c["b"]}


def test_contamination_against_another_collection(support):
    r = dedup("support", workspace=support, against="eval")
    assert [(c["source"]["line"], c["method"]) for c in r.contamination] == [(6, "exact")]
    with Workspace(support) as ws:
        found = [f for f in ws.run_findings(r.run_id) if f.kind == "contamination"]
    assert len(found) == 1 and found[0].severity == "error"


def test_exact_only_and_prompt_key(support):
    r = dedup("support", workspace=support, methods=("exact",))
    assert r.summary["groups_by_method"] == {"exact": 1} and r.summary["duplicates"] == 1
    r = dedup("support", workspace=support, methods=("exact",), key="prompt")
    assert r.summary["duplicates"] == 3  # 0,1,2 share a prompt; 3,4 too


def test_preview_counts_fall_as_the_threshold_rises(support):
    r = dedup("support", workspace=support, preview=True)
    rows = r.preview["near"]["thresholds"]
    assert [row["threshold"] for row in rows] == [0.5, 0.6, 0.7, 0.8, 0.9]
    pairs = [row["pairs"] for row in rows]
    assert pairs == sorted(pairs, reverse=True) and pairs[0] >= 1


def test_bad_arguments_are_usage_errors(support):
    for kwargs in ({"methods": ("fuzzy",)}, {"key": "title"}, {"near_threshold": 1.5}, {"against": "nope"}):
        with pytest.raises(UsageError):
            dedup("support", workspace=support, **kwargs)


def test_cli_dedup_json_report(support, tmp_path):
    from click.testing import CliRunner

    from curate.cli import main

    report = tmp_path / "r.json"
    result = CliRunner().invoke(main, ["-w", str(support), "dedup", "-c", "support", "--json", "--report", str(report)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"groups", "conflicts", "summary"}
    g = data["groups"][0]
    assert set(g) >= {"id", "method", "representative", "members", "evidence"}
    assert set(g["members"][0]) >= {"id", "source"} and set(g["members"][0]["source"]) == {"path", "line", "index"}
    assert set(g["evidence"][0]) >= {"a", "b", "score"}
    assert json.loads(report.read_text())["summary"] == data["summary"]
    member = next(e["a"] for e in g["evidence"] if e["a"] != g["representative"])
    shown = json.loads(CliRunner().invoke(main, ["-w", str(support), "show", member, "--json"]).stdout)
    assert any(f["kind"] == "duplicate" and f["run"] == "dedup" for f in shown[0]["findings"])
    human = CliRunner().invoke(main, ["-w", str(support), "dedup", "-c", "support", "--preview"])
    assert human.exit_code == 0 and "threshold preview" in human.output


@pytest.mark.integration
def test_alpaca_gpt4_demo_has_14_exact_duplicate_records(shared_data, ws_dir):
    curate.ingest([shared_data / "alpaca_gpt4_en_demo/alpaca_en_demo.json"], "a", workspace=ws_dir)
    r = dedup("a", workspace=ws_dir)
    extra = sum(len(g["members"]) - 1 for g in r.groups if g["method"] == "exact")
    assert extra == 14 and r.summary["ingest_repeats"] == 14


@pytest.mark.integration
def test_fastchat_templates_collapse_into_few_near_groups(shared_data, ws_dir):
    curate.ingest([shared_data / "fastchat_dummy/dummy_conversation.json"], "f", workspace=ws_dir)
    r = dedup("f", workspace=ws_dir)
    assert r.summary["groups"] >= 10 and r.summary["duplicates"] > 250  # 500 templated conversations
    assert all(g["method"] == "near" for g in r.groups)
    for g in r.groups:
        assert all(e["score"] >= 0.7 for e in g["evidence"])


@pytest.mark.integration
def test_oasst_shared_prefixes_are_near_duplicates(shared_data, ws_dir):
    curate.ingest([shared_data / "oasst_en100/oasst_en100_paths.messages.jsonl"], "o", workspace=ws_dir)
    r = dedup("o", workspace=ws_dir)
    with Workspace(ws_dir) as ws:
        tree = {e.id: e.metadata["message_tree_id"] for e in ws.iter_examples("o")}
    same_tree = [len({tree[m["id"]] for m in g["members"]}) == 1 for g in r.groups]
    assert r.summary["groups"] >= 20 and sum(same_tree) / len(same_tree) > 0.9


def test_representative_prefers_the_better_quality_score_once_checks_ran(ws_dir, tmp_path):
    from curate.checks import run as run_checks

    clean = "Open Settings, choose Security, then Reset password and follow the e-mail link we send you."
    flawed = clean + " Contact jane.doe@parcelly-mail.com if it fails, or call +44 20 7946 0958 today please."
    path = write_jsonl(tmp_path / "d.jsonl", [chat("How do I reset my password?", flawed),
                                              chat("How do I reset my password?!", clean)])
    curate.ingest([path], "d", workspace=ws_dir)
    before = dedup("d", workspace=ws_dir, methods=("exact",), key="prompt")
    assert before.groups[0]["representative"] == before.groups[0]["members"][0]["id"]  # longest answer
    run_checks("d", workspace=ws_dir, only=["pii"])
    after = dedup("d", workspace=ws_dir, methods=("exact",), key="prompt")
    assert after.groups[0]["representative"] == after.groups[0]["members"][1]["id"]  # no PII wins


def test_compiled_kernels_match_the_numpy_paths_exactly():
    require("numba", "fast")
    from curate.dedup.lsh import _Verifier
    from curate.dedup.signatures import signatures_oph

    rng = np.random.default_rng(3)
    vocab = [f"w{i}" for i in range(300)]
    texts = [" ".join(rng.choice(vocab, rng.integers(0, 60))) for _ in range(400)] + ["", "one", "two words"]
    texts += ["a b c a b c a b c d", "a b c d a b c"]  # repeated shingles count once
    sets = shingle(texts)
    assert np.array_equal(signatures_oph(sets, 128, compiled=True), signatures_oph(sets, 128, compiled=False))
    pairs = rng.integers(0, len(texts), (2000, 2))
    assert np.allclose(_Verifier(sets, compiled=True)(pairs), _Verifier(sets, compiled=False)(pairs))
    from curate.dedup import kernels
    from curate.dedup.lsh import _bucket_pairs

    keys = rng.integers(0, 40, 3000).astype(np.uint64)  # many shared buckets, of every size
    valid = rng.random(3000) > 0.1
    hashed = {tuple(p) for p in kernels.star_chain_pairs(keys, valid).tolist()}
    assert hashed == {tuple(p) for part in _bucket_pairs(keys, valid, star_only=True) for p in part.tolist()}
    from curate.dedup.shingles import _word_hashes_chunk
    from curate.dedup.text import words

    word_lists = [words(t) for t in texts + ["Ünïcödé wörds, 中文 too", "a  b\tc"]]
    fast, slow = _word_hashes_chunk(word_lists, compiled=True), _word_hashes_chunk(word_lists, compiled=False)
    assert fast[1] == slow[1] and np.array_equal(fast[0], slow[0]) and len(fast[0]) == sum(map(len, word_lists))


TRICKY_TEXTS = ["Hello,  WORLD! Ｃａｆé", "snake_case, x2 -- ok?", "", "   ", "Ünïcödé wörds, 中文 too", "a  b\tc",
                "x\x00y z", "ﬁne Straße ΣΑΣ İstanbul", "emoji 😀 here_x2", "lone \ud800 surrogate", "don’t — stop…",
                "١٢٣ arabic digits", "tab\tnew\nline\r\nend", "ÀÉÎ" * 50, "a"]


@pytest.mark.parametrize("compiled", [True, False])
def test_word_ids_hash_exactly_the_normalised_words(compiled, monkeypatch, shared_data):
    """The compiled tokenizer reads raw text; it must give the words `words()` gives, hashed the same."""
    from curate.dedup import kernels
    from curate.dedup.text import words
    from curate.dedup.tokens import word_ids, word_ids_of_lists

    if compiled:
        require("numba", "fast")
    else:
        monkeypatch.setattr(kernels, "AVAILABLE", False)
    oasst = (shared_data / "oasst_en100/oasst_en100_paths.messages.jsonl").read_text().splitlines()
    texts = TRICKY_TEXTS + [t.upper() for t in TRICKY_TEXTS]
    texts += [m["content"] for line in oasst for m in json.loads(line)["messages"]]
    ids, expected = word_ids(texts), word_ids_of_lists([words(t) for t in texts])
    assert np.array_equal(ids.sizes(), [len(words(t)) for t in texts])
    assert np.array_equal(ids.values, expected.values)
    assert ids.same(0, len(TRICKY_TEXTS)) and not ids.same(0, 1)


def test_exact_classes_survive_a_key_collision(monkeypatch):
    """Keys are 64-bit; two different texts sharing one must still land in different classes."""
    from curate.dedup.corpus import exact_classes as _exact_classes
    from curate.dedup.tokens import WordIds, word_ids

    docs = word_ids(["same text", "other text", "Same, TEXT!", "other text", "third"])
    assert _exact_classes(docs)[0].tolist() == [0, 1, 0, 1, 4]
    monkeypatch.setattr(WordIds, "keys", lambda self: np.zeros(len(self), dtype=np.uint64))
    class_of, classes = _exact_classes(docs)
    assert class_of.tolist() == [0, 1, 0, 1, 4]
    assert sorted(classes.values()) == [[0, 2], [1, 3]]


def test_threaded_signatures_and_tokenizing_match_single_threaded():
    """Both split the documents across threads above a few thousand; the split must not show."""
    require("numba", "fast")
    from curate.dedup.signatures import signatures_oph
    from curate.dedup.tokens import word_ids

    rng = np.random.default_rng(5)
    vocab = [f"w{i}" for i in range(500)] + ["Ünï", "中文", "x_y"]
    texts = [" ".join(rng.choice(vocab, rng.integers(0, 30))) for _ in range(9000)]
    one, two = word_ids(texts, threads=1), word_ids(texts, threads=2)
    assert np.array_equal(one.values, two.values) and np.array_equal(one.offsets, two.offsets)
    sets = shingle(texts)
    assert np.array_equal(signatures_oph(sets, 128, threads=1), signatures_oph(sets, 128, threads=2))


def _without_timings(report):
    d = report.to_dict()
    d["summary"] = {k: v for k, v in d["summary"].items() if k not in ("seconds", "timings")}
    return {k: v for k, v in d.items() if k != "run_id"}


def test_bounded_memory_passes_give_the_same_report(shared_data, ws_dir, monkeypatch):
    """Dedup reads, hashes, shingles and keys in chunks and blocks (so 10M conversations fit one machine), with the
    turns' words spilled to disk: tiny chunks and blocks must give exactly the report of one pass over all."""
    from curate.dedup import corpus, shingles, tokens

    curate.ingest([shared_data / "oasst_en100/oasst_en100_paths.messages.jsonl",
                   shared_data / "alpaca_gpt4_en_demo/alpaca_en_demo.json"], "o", workspace=ws_dir)
    curate.ingest([shared_data / "oasst_en100/oasst_en100_paths.messages.jsonl"], "again", workspace=ws_dir)
    whole = dedup("o", workspace=ws_dir, against="again")
    assert whole.summary["groups"] >= 20 and whole.conflicts and whole.contamination
    monkeypatch.setattr(corpus, "CHUNK", 7)
    monkeypatch.setattr(shingles, "_BLOCK_DOCS", 5)
    monkeypatch.setattr(tokens, "_KEY_BLOCK_WORDS", 50)
    assert _without_timings(dedup("o", workspace=ws_dir, against="again")) == _without_timings(whole)
    assert not list(ws_dir.glob(".dedup-*"))  # the spilled words are gone with the run


def test_stored_key_text_is_key_text(shared_data, ws_dir):
    from curate.dedup.text import key_text, stored_key_text

    curate.ingest([shared_data / "oasst_en100/oasst_en100_paths.messages.jsonl", "sample_data/tool_calls_sharegpt.json",
                   "sample_data/support_chat.jsonl"], "o", workspace=ws_dir)
    with Workspace(ws_dir) as ws:
        for (eid, messages, source), ex in zip(ws.iter_raw("o"), ws.iter_examples("o"), strict=True):
            assert (eid, source) == (ex.id, ex.source)
            assert [stored_key_text(messages, k) for k in ("conversation", "prompt", "response")] == \
                [key_text(ex, "conversation"), ex.prompt, ex.response]


def test_shingles_of_a_selection_in_blocks(monkeypatch):
    from curate.dedup import shingles
    from curate.dedup.shingles import shingle_ids, shingles_of
    from curate.dedup.tokens import word_ids

    docs = word_ids(["", "one", "two words", "three little words", LONG, LONG.upper(), "a b c d e"] * 3)
    monkeypatch.setattr(shingles, "_BLOCK_DOCS", 4)
    for index in (None, np.arange(len(docs)), np.array([4, 0, 6, 2, 2, 20]), np.zeros(0, dtype=np.int64)):
        want = shingle_ids(docs if index is None else docs.take(index))
        got = shingles_of(docs, index)
        assert np.array_equal(got.values, want.values) and np.array_equal(got.offsets, want.offsets)


def test_a_killed_runs_spilled_words_are_removed_by_the_next_run(support):
    """At 10M examples a killed dedup leaves gigabytes of words in the workspace: the next run removes them,
    and leaves alone the scratch of a run still going."""
    import os
    import subprocess
    import sys

    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    stale, live = support / f".dedup-{done.pid}-x1", support / f".dedup-{os.getppid()}-x2"
    for d in (stale, live):
        d.mkdir()
        (d / "prompts.u64").write_bytes(b"\0" * 64)
    dedup("support", workspace=support)
    assert not stale.exists() and live.exists()


def test_a_full_disk_while_spilling_is_one_clear_error(support, monkeypatch):
    import errno

    from curate.dedup import corpus
    from curate.errors import WorkspaceError

    def full(self, docs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(corpus.WordSpill, "add", full)
    with pytest.raises(WorkspaceError, match="is full: dedup keeps words of every example there"):
        dedup("support", workspace=support)
    assert not list(support.glob(".dedup-*"))
