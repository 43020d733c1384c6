"""Semantic duplicates with the real offline model, and the embedding cache."""

import json

import numpy as np
import pytest

import curate
from curate import Workspace
from curate.dedup import run as dedup
from curate.dedup.semantic import semantic_links
from curate.embed import Embedder, embed

from .conftest import require, write_jsonl

require("sentence_transformers", "embed")


@pytest.fixture(scope="module")
def embedder():
    return Embedder()


def test_onnx_int8_backend_agrees_with_the_reference_model(embedder):
    require("onnxruntime", "embed")
    sentences = ["How do I reset my password?", "What's the way to change my password if I forgot it?",
                 "Parcel PX123 is stuck in customs in Germany.", "My package is held at customs, what do I do?",
                 "Write a Python function that reverses a list.", "Which countries do you ship parcels to?"]
    texts = sentences + ["ok"]
    assert embedder.backend == "onnx-int8" and embedder.name.endswith("#onnx-int8")
    reference = Embedder(backend="torch")
    q, ref = embedder.encode(texts), reference.encode(texts)
    cos = (q * ref).sum(axis=1)
    # Measured against fp32: sentences 0.993-0.997 whatever else shares their batch (int8 activations are scaled
    # per batch) and with reduce_range or uint8 weights; per-tensor weights fall to 0.964, pooling over padding
    # to 0.887. A two-letter text is the worst case, 0.956-0.973 by batch alone, so it gets its own floor.
    assert cos[:-1].min() > 0.98 and cos[:-1].mean() > 0.985
    assert cos[-1] > 0.9
    # What dedup and coverage read: pairwise similarities move by at most 0.033 here (per-tensor: 0.073;
    # pooling over padding: 0.23).
    assert np.abs(q @ q.T - ref @ ref.T).max() < 0.05


def chat(q, a):
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def test_paraphrases_score_high_and_unrelated_low(embedder):
    e = embedder.encode(["How do I reset my password?", "What's the way to change my password if I forgot it?",
                         "Which countries do you ship parcels to?"])
    assert np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-4)
    assert e[0] @ e[1] > 0.7 > e[0] @ e[2]


def test_links_connect_groups_once_and_scale_path_agrees(monkeypatch):
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(30, 16))
    emb = np.repeat(centers, 5, axis=0) + rng.normal(scale=0.01, size=(150, 16))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    pairs, cos = semantic_links(emb, 0.95)
    assert len(pairs) == 30 * 4 and (cos >= 0.95).all()  # a spanning tree per cluster of 5
    assert {tuple(sorted({i // 5 for i in p})) for p in pairs.tolist()} == {(c,) for c in range(30)}
    monkeypatch.setattr("curate.dedup.semantic.BRUTE_FORCE_MAX", 10)  # the scale path: inverted lists
    pairs2, _ = semantic_links(emb, 0.95)
    assert len(pairs2) == 120
    assert {tuple(sorted({i // 5 for i in p})) for p in pairs2.tolist()} == {(c,) for c in range(30)}


def test_embedding_cache_means_nothing_is_embedded_twice(ws_dir, tmp_path, embedder, monkeypatch):
    path = write_jsonl(tmp_path / "d.jsonl", [chat("hi", "hello")])
    curate.ingest([path], "d", workspace=ws_dir)
    calls = []
    real = Embedder.encode
    monkeypatch.setattr(Embedder, "encode", lambda self, texts, progress=None, cache_dir=None:
                        calls.append(len(texts)) or real(self, texts, progress, cache_dir))
    with Workspace(ws_dir) as ws:
        first = embed(["a cat", "a dog", "a cat"], ws, embedder)
        second = embed(["a dog", "a cat", "a bird"], ws, embedder)
    assert calls == [2, 1]
    assert np.allclose(first[0], second[1], atol=1e-3) and np.allclose(first[0], first[2])


def test_semantic_dedup_groups_paraphrased_prompts(ws_dir, tmp_path):
    records = [
        chat("How can I reset my password?", "Use 'Forgot password' on the sign-in page."),
        chat("How do I reset my password?", "Use 'Forgot password' on the sign-in page!"),
        chat("I forgot my password, how do I reset it?", "Use the 'Forgot password' link when you sign in."),
        chat("Do you ship to Canada?", "Yes, to every Canadian province, in 5-8 working days."),
    ]
    curate.ingest([write_jsonl(tmp_path / "d.jsonl", records)], "d", workspace=ws_dir)
    near = dedup("d", workspace=ws_dir, methods=("exact", "near"))
    sem = dedup("d", workspace=ws_dir, methods=("exact", "near", "semantic"), semantic_threshold=0.8)
    assert sem.summary["duplicates"] > near.summary["duplicates"]
    assert sem.summary["semantic"]["search"] == "all against all" and "semantic" not in near.summary
    [group] = sem.groups
    assert group["method"] == "semantic" and len(group["members"]) == 3
    assert sem.params["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert sem.params["embedding_backend"] in ("onnx-int8", "torch")
    minimum = {"semantic": 0.8, "near": 0.7, "exact": 1.0}
    assert all(e["score"] >= minimum[e["method"]] for e in group["evidence"])
    assert any(e["method"] == "semantic" for e in group["evidence"])


def test_semantic_contamination_and_preview(ws_dir, tmp_path):
    train = [chat("How can I reset my password?", "Use 'Forgot password'."),
             chat("Do you deliver on Sundays?", "No, Monday to Saturday only.")]
    evalset = [{"text": "I forgot my password, how do I reset it?"}]
    curate.ingest([write_jsonl(tmp_path / "t.jsonl", train)], "t", workspace=ws_dir)
    curate.ingest([write_jsonl(tmp_path / "e.jsonl", evalset)], "e", kind="queries", workspace=ws_dir)
    r = dedup("t", workspace=ws_dir, methods=("exact", "near", "semantic"), semantic_threshold=0.8,
              against="e", preview=True)
    assert [(c["source"]["line"], c["method"]) for c in r.contamination] == [(1, "semantic")]
    rows = r.preview["semantic"]["thresholds"]
    assert [row["threshold"] for row in rows] == [0.8, 0.85, 0.9, 0.95] and "near" in r.preview


def _real_sentences(root, limit: int) -> list[str]:
    import csv

    texts: list[str] = []
    for name in ("banking77", "hwu64"):
        with open(root / name / "test.csv", encoding="utf-8", newline="") as fh:
            texts.extend(row[0] for row in list(csv.reader(fh))[1:])
    return sorted(set(texts))[:limit]


def _pair_set(emb, threshold):
    from curate.dedup.semantic import all_pairs

    return {tuple(p) for p in all_pairs(emb, threshold)[0].tolist()}


def _planted(shared_data, seed: int = 0):
    """Real sentence embeddings (static), and 300 near-copies of random ones: known pairs."""
    emb = Embedder(backend="static").encode(_real_sentences(shared_data, 3000))
    rng = np.random.default_rng(seed)
    src = rng.choice(len(emb), 300, replace=False)
    copies = emb[src] + rng.normal(scale=0.01, size=(300, emb.shape[1])).astype(np.float32)
    return np.concatenate([emb, copies / np.linalg.norm(copies, axis=1, keepdims=True)]), src


@pytest.mark.parametrize("thr", [0.9, 0.85, 0.8])
def test_inverted_lists_find_the_exact_pairs_on_real_embeddings(shared_data, thr):
    from curate.dedup import ivf

    emb, src = _planted(shared_data)
    n = len(emb)
    exact = _pair_set(emb, thr)
    lists = ivf.build(emb, thr)
    pairs, cos = ivf.scan((0, len(lists)), lists, emb, thr, every_pair=True)
    found = {tuple(p) for p in pairs.tolist()}
    assert len(exact) > 500 and len(found & exact) >= 0.99 * len(exact)
    # the scan's products may round a pair at the threshold the other way than all against all's
    assert all(abs(float(emb[a] @ emb[b]) - thr) < 1e-5 for a, b in found - exact)
    assert np.allclose(cos, (emb[pairs[:, 0]] * emb[pairs[:, 1]]).sum(axis=1), atol=1e-5)  # exact scores
    assert {(int(s), n - 300 + i) for i, s in enumerate(src)} <= found
    # every document in exactly one list, probing its own and as many more as the threshold needs
    assert np.array_equal(np.sort(lists.members), np.arange(n))
    probes = lists.probes
    assert len(lists.probers) == probes * n and probes >= ivf.PROBES and (thr > 0.85 or probes > 2 * ivf.PROBES)
    assert lists.sample_recall >= ivf.RECALL


def test_low_thresholds_search_all_against_all_by_ranges_of_lists(shared_data, monkeypatch):
    """At 0.6 static vectors would need most of the lists probed: the lists then serve an exact all against
    all, still cut into ranges of lists for the workers, and the summary says so."""
    from curate.dedup import ivf
    from curate.dedup.lsh import union_pairs

    emb, _ = _planted(shared_data)
    n, thr = len(emb), 0.6
    exact = _pair_set(emb, thr)
    lists = ivf.build(emb, thr)
    assert lists.exhaustive and lists.probes > len(lists) / 4 and lists.work().sum() < n * n
    spans = lists.ranges(4)
    assert len(spans) == 4
    found = set()
    for span in spans:
        found |= {tuple(p) for p in ivf.scan(span, lists, emb, thr, every_pair=True)[0].tolist()}
    assert len(exact) > 10_000 and len(exact & found) >= len(exact) - 5  # exact, but for rounding at 0.6
    assert all(abs(float(emb[a] @ emb[b]) - thr) < 1e-5 for a, b in found ^ exact)
    monkeypatch.setattr("curate.dedup.semantic.BRUTE_FORCE_MAX", 500)
    monkeypatch.setattr("curate.dedup.semantic.PARTITION", 1_000)
    stats: dict = {}
    links, _ = semantic_links(emb, thr, stats=stats)
    assert stats == {"search": "all against all", "lists": len(lists), "probes": lists.probes}
    ours = union_pairs(np.arange(n), links[:, 0].copy(), links[:, 1].copy())
    pairs = np.array(sorted(exact))
    theirs = union_pairs(np.arange(n), pairs[:, 0].copy(), pairs[:, 1].copy())
    assert len(set(ours.tolist())) == len(set(theirs.tolist()))


def test_inverted_lists_give_the_groups_of_exact_search(shared_data, monkeypatch):
    from curate.dedup.lsh import union_pairs

    emb, src = _planted(shared_data, seed=1)
    n, thr = len(emb), 0.85
    exact = _pair_set(emb, thr)
    links_exact, _ = semantic_links(emb, thr)
    monkeypatch.setattr("curate.dedup.semantic.BRUTE_FORCE_MAX", 500)
    monkeypatch.setattr("curate.dedup.semantic.PARTITION", 1_000)  # several ranges of lists, merged in order
    stats: dict = {}
    links_ivf, cos_ivf = semantic_links(emb, thr, stats=stats)
    assert stats["search"] == "inverted lists" and stats["probes"] >= 4 and stats["sample_recall"] >= 0.99
    again, _ = semantic_links(emb, thr)
    assert np.array_equal(links_ivf, again) and (cos_ivf >= thr).all()

    def groups(links):
        return union_pairs(np.arange(n), links[:, 0].copy(), links[:, 1].copy())

    g_exact, g_ivf = groups(links_exact), groups(links_ivf)
    assert len(links_ivf) == n - len(set(g_ivf.tolist()))  # a forest: one link fewer than members per group
    assert (g_ivf[src] == g_ivf[n - 300 + np.arange(300)]).all()  # every planted copy joins its source
    same = np.mean([g_ivf[a] == g_ivf[b] for a, b in exact])
    assert same >= 0.99 and len(set(g_ivf.tolist())) >= len(set(g_exact.tolist()))


def test_inverted_lists_link_a_large_group_of_near_copies(monkeypatch):
    from curate.dedup import ivf

    rng = np.random.default_rng(1)
    centers = rng.normal(size=(40, 32))
    sizes = [200] + [5] * 39  # one group larger than a block of the scan, in pieces of 64 x 64
    emb = np.repeat(centers, sizes, axis=0) + rng.normal(scale=0.01, size=(sum(sizes), 32))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    monkeypatch.setattr("curate.dedup.semantic.BRUTE_FORCE_MAX", 100)
    monkeypatch.setattr(ivf, "_ROWS", 64)
    monkeypatch.setattr(ivf, "_COLS", 64)
    monkeypatch.setattr(ivf, "_FLUSH_PAIRS", 100)
    pairs, cos = semantic_links(emb, 0.95)
    assert len(pairs) == sum(sizes) - 40 and (cos >= 0.95).all()  # a spanning tree per group
    owner = np.repeat(np.arange(40), sizes)
    assert (owner[pairs[:, 0]] == owner[pairs[:, 1]]).all()


def test_probes_are_not_set_by_one_large_group_of_copies():
    """Calibration weighs every sampled document alike: 800 identical vectors (their 320K pairs each need one
    probe) must not lower the probes the other documents' pairs need."""
    from curate.dedup import ivf
    from curate.dedup.semantic import all_pairs

    def unit(x):
        x = np.asarray(x, np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    rng = np.random.default_rng(3)
    a = unit(rng.normal(size=(2500, 24)))
    base = unit(np.concatenate([a, a + 0.8 * unit(rng.normal(size=(2500, 24)))]))
    exact = {tuple(p) for p in all_pairs(base, 0.75)[0].tolist()}
    emb = np.concatenate([base, np.tile(unit(rng.normal(size=(1, 24))), (800, 1))])
    lists = ivf.build(emb, 0.75)
    found = {tuple(p) for p in ivf.scan((0, len(lists)), lists, emb, 0.75, every_pair=True)[0].tolist()}
    assert len(exact & found) >= 0.98 * len(exact) and lists.sample_recall >= ivf.RECALL


def test_a_damaged_embedding_cache_is_a_clear_error(ws_dir):
    from curate.embed import text_hash
    from curate.errors import WorkspaceError

    static = Embedder(backend="static")
    with Workspace(ws_dir) as ws:
        embed(["one text", "another"], ws, static)
        ws.store_embeddings(static.name, 3, [(text_hash("a third"), np.zeros(3, np.float16).tobytes())])
        with pytest.raises(WorkspaceError, match="different widths.*DELETE FROM embeddings"):
            embed(["one text", "a third"], ws, static)


def test_float16_rows_as_stored_give_the_links_of_their_float32_unit_rows(shared_data, monkeypatch):
    """Semantic dedup keeps the cache's float16 rows (10M are 5 GB, float32 10 GB) and converts blocks as it
    goes: the links and scores are those of the whole matrix converted at once, by lists and all against all."""
    from curate.vectors import unit

    emb, _ = _planted(shared_data, seed=2)
    half = emb.astype(np.float16)
    for limit in (20_000, 500):  # all against all, then inverted lists
        monkeypatch.setattr("curate.dedup.semantic.BRUTE_FORCE_MAX", limit)
        monkeypatch.setattr("curate.dedup.semantic.PARTITION", 1_000)
        stats: dict = {}
        links, cos = semantic_links(half, 0.85, stats=stats)
        links32, cos32 = semantic_links(unit(half), 0.85)
        assert len(links) > 300 and np.array_equal(links, links32) and np.array_equal(cos, cos32)
    assert stats["search"] == "inverted lists"


class Stopped(Exception):
    pass


def test_embeddings_are_stored_a_chunk_at_a_time_and_an_interrupted_run_keeps_them(ws_dir, tmp_path, monkeypatch):
    from curate import embed as embed_module

    path = write_jsonl(tmp_path / "d.jsonl", [chat("hi", "hello")])
    curate.ingest([path], "d", workspace=ws_dir)
    curate.ingest([path], "d", workspace=tmp_path / "whole")
    texts = ["a cat", "a dog", "a bird", "a cat", "a fish"]
    model = Embedder(backend="torch")  # fp32: a text's vector does not depend on what shares its batch
    with Workspace(tmp_path / "whole") as ws:
        whole = embed(texts, ws, model)
    monkeypatch.setattr(embed_module, "_CHUNK", 2)
    calls: list[list[str]] = []
    real = Embedder.encode
    raised: list[bool] = []

    def failing(self, todo, progress=None, cache_dir=None):
        calls.append(list(todo))
        if len(calls) == 2 and not raised:
            raised.append(True)
            raise Stopped  # stopped in the second chunk (KeyboardInterrupt would stop pytest itself)
        return real(self, todo, progress, cache_dir)

    monkeypatch.setattr(Embedder, "encode", failing)
    seen: list[tuple[int, int]] = []
    with Workspace(ws_dir) as ws, pytest.raises(Stopped):
        embed(texts, ws, model, lambda done, total: seen.append((done, total)))
    assert calls == [["a cat", "a dog"], ["a bird"]] and seen[-1] == (2, 5)
    calls.clear()
    with Workspace(ws_dir) as ws:
        again = embed(texts, ws, model)
    assert calls == [["a bird"], ["a fish"]]  # the first chunk was kept: the rerun encodes the rest
    assert again.shape == whole.shape and np.allclose(again, whole, atol=1e-3)
    assert np.array_equal(again[0], again[3])


@pytest.mark.parametrize("thr", [0.9, 0.8])
def test_matches_across_two_sides_through_lists_find_those_of_all_against_all(shared_data, monkeypatch, thr):
    """Contamination's search: each training row's best eval row, through lists over the rows."""
    from curate.dedup import ivf_cross
    from curate.vectors import unit

    emb, _ = _planted(shared_data, seed=3)
    rows, queries = emb[::2], emb[1::2]  # a planted copy and its source fall on either side half the time
    exact = dict(zip(*(a.tolist() for a in ivf_cross.exhaustive(rows, queries, thr)[:2])))
    monkeypatch.setattr(ivf_cross, "BRUTE_FORCE_PRODUCTS", 0)
    stats: dict = {}
    r, q, cos = ivf_cross.best_matches(rows.astype(np.float16), queries.astype(np.float16), thr, stats=stats)
    found = dict(zip(r.tolist(), q.tolist()))
    assert stats["search"] == "inverted lists" and stats["probes"] >= 4 and stats["sample_recall"] >= 0.99
    assert len(exact) > 100 and len(found.keys() & exact.keys()) >= 0.99 * len(exact)
    assert sum(found[i] == j for i, j in exact.items() if i in found) >= 0.99 * len(exact)  # the same best
    half_r, half_q = unit(rows.astype(np.float16)), unit(queries.astype(np.float16))
    assert np.allclose(cos, (half_r[r] * half_q[q]).sum(axis=1), atol=1e-5) and (cos >= thr - 1e-6).all()
    assert len(found) == len(r) and set(found) - set(exact) <= {i for i in found if abs(cos[r == i][0] - thr) < 1e-3}


def test_contamination_through_lists_names_the_examples_all_against_all_names(shared_data, tmp_path, monkeypatch):
    """`dedup --against` on real data (banking77 train against its test queries, static embedder): the lists'
    search flags >= 0.99 of the examples all against all flags, and the table says how it searched."""
    from click.testing import CliRunner

    from curate.cli import main
    from curate.dedup import ivf_cross

    ws = str(tmp_path / "ws")
    run = CliRunner()
    for args in (["ingest", str(shared_data / "banking77" / "train.csv"), "--as", "train", "--map",
                  "text=instruction", "--map", "category=output"],
                 ["ingest", str(shared_data / "banking77" / "test.csv"), "--as", "prod", "--kind", "queries"]):
        assert run.invoke(main, ["-w", ws, "--no-progress", *args]).exit_code == 0
    dedup_args = ["-w", ws, "--no-progress", "dedup", "--collection", "train", "--methods", "semantic",
                  "--embedder", "static", "--against", "prod", "--semantic-threshold", "0.85"]
    exact = json.loads(run.invoke(main, [*dedup_args, "--json"]).stdout)
    monkeypatch.setattr(ivf_cross, "BRUTE_FORCE_PRODUCTS", 0)
    listed = json.loads(run.invoke(main, [*dedup_args, "--json"]).stdout)
    want = {c["id"] for c in exact["contamination"] if c["method"] == "semantic"}
    got = {c["id"] for c in listed["contamination"] if c["method"] == "semantic"}
    assert len(want) > 100 and len(got & want) >= 0.99 * len(want) and len(got - want) <= 0.01 * len(want)
    assert exact["summary"]["contamination_search"] == {"search": "all against all"}
    assert listed["summary"]["contamination_search"]["search"] == "inverted lists"
    table = run.invoke(main, dedup_args).stdout
    assert "contamination search:" in table and "inverted lists of the collection" in table
