"""Semantic duplicates with the real offline model, and the embedding cache."""

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
    monkeypatch.setattr("curate.dedup.semantic.BRUTE_FORCE_MAX", 10)  # the scale path: usearch where installed
    pairs2, _ = semantic_links(emb, 0.95)
    assert len(pairs2) == 120
    monkeypatch.setattr("curate.dedup.semantic._have_usearch", lambda: False)  # the k-means fallback
    pairs3, _ = semantic_links(emb, 0.95)
    assert len(pairs3) == 120


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


@pytest.mark.parametrize("shard", [250_000, 1_000])  # one HNSW graph, or four built in parallel
def test_ann_path_finds_the_exact_pairs_on_real_embeddings(shared_data, monkeypatch, shard):
    require("usearch", "embed")
    monkeypatch.setattr("curate.dedup.semantic.ANN_SHARD", shard)
    from curate.dedup.lsh import union_pairs
    from curate.dedup.semantic import ann_pairs

    emb = Embedder(backend="static").encode(_real_sentences(shared_data, 3000))
    rng = np.random.default_rng(0)
    src = rng.choice(len(emb), 300, replace=False)  # planted near-copies: known pairs
    copies = emb[src] + rng.normal(scale=0.01, size=(300, emb.shape[1])).astype(np.float32)
    emb = np.concatenate([emb, copies / np.linalg.norm(copies, axis=1, keepdims=True)])
    n, thr = len(emb), 0.85
    exact = _pair_set(emb, thr)
    pairs, cos = ann_pairs(emb, thr)
    found = {tuple(p) for p in pairs.tolist()}
    assert len(exact) > 500 and found <= exact and len(found & exact) >= 0.99 * len(exact)
    assert np.allclose(cos, (emb[pairs[:, 0]] * emb[pairs[:, 1]]).sum(axis=1), atol=1e-5)  # exact scores
    assert {(int(s), n - 300 + i) for i, s in enumerate(src)} <= {(min(p), max(p)) for p in found}
    # through semantic_links: the same groups as the exact path, and the same links run to run
    links_exact, _ = semantic_links(emb, thr)
    monkeypatch.setattr("curate.dedup.semantic.BRUTE_FORCE_MAX", 500)
    links_ann, cos_ann = semantic_links(emb, thr)
    again, _ = semantic_links(emb, thr)
    assert np.array_equal(links_ann, again) and (cos_ann >= thr).all()

    def groups(links):
        return union_pairs(np.arange(n), links[:, 0].copy(), links[:, 1].copy())

    g_exact, g_ann = groups(links_exact), groups(links_ann)
    assert (g_ann[src] == g_ann[n - 300 + np.arange(300)]).all()  # every planted copy joins its source
    same = np.mean([g_ann[a] == g_ann[b] for a, b in exact])
    assert same >= 0.99 and len(set(g_ann.tolist())) >= len(set(g_exact.tolist()))


def test_ann_path_links_a_large_group_of_near_copies(monkeypatch):
    require("usearch", "embed")
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(40, 32))
    sizes = [200] + [5] * 39  # one group bigger than ANN_K: documents are searched again with more neighbours
    emb = np.repeat(centers, sizes, axis=0) + rng.normal(scale=0.01, size=(sum(sizes), 32))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    monkeypatch.setattr("curate.dedup.semantic.BRUTE_FORCE_MAX", 100)
    pairs, cos = semantic_links(emb, 0.95)
    assert len(pairs) == sum(sizes) - 40 and (cos >= 0.95).all()  # a spanning tree per group
    owner = np.repeat(np.arange(40), sizes)
    assert (owner[pairs[:, 0]] == owner[pairs[:, 1]]).all()
