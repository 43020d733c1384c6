"""Semantic duplicates with the real offline model, and the embedding cache."""

import numpy as np
import pytest

import curate
from curate import Workspace
from curate.dedup import dedup
from curate.dedup.semantic import semantic_links
from curate.embed import Embedder, embed

from .conftest import require, write_jsonl

require("sentence_transformers", "embed")


@pytest.fixture(scope="module")
def embedder():
    return Embedder()


def test_onnx_int8_backend_agrees_with_the_reference_model(embedder):
    texts = ["How do I reset my password?", "Parcel PX123 is stuck in customs in Germany.",
             "Write a Python function that reverses a list.", "ok"]
    assert embedder.backend == "onnx-int8" and embedder.name.endswith("#onnx-int8")
    reference = Embedder(backend="torch")
    cos = (embedder.encode(texts) * reference.encode(texts)).sum(axis=1)
    assert cos.min() > 0.95 and cos.mean() > 0.98  # int8 error is largest on tiny texts ('ok': 0.96)


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
    monkeypatch.setattr("curate.dedup.semantic.BRUTE_FORCE_MAX", 10)  # force the k-means partitions
    pairs2, _ = semantic_links(emb, 0.95)
    assert len(pairs2) == 120


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
