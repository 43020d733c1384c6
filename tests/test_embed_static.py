"""The static embedder (`--embedder static`): distilled once from the offline MiniLM, cached, kept apart from
the full model's vectors, and good enough on real data where curate offers it (semantic dedup, coverage)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

import curate
from curate import Workspace
from curate.cli import main
from curate.coverage import run as coverage
from curate.dedup import run as dedup
from curate.dedup import semantic_threshold_for
from curate.embed import Embedder, embed, model_cache_dir
from curate.errors import MissingDependency

from .conftest import require, write_jsonl
from .test_coverage import _assert_customs_is_the_gap, gap_workspace  # noqa: F401 (a fixture)

require("model2vec", "embed")
require("skeletoken", "embed")


@pytest.fixture(scope="module")
def static() -> Embedder:
    encoder = Embedder(backend="static")
    encoder.encode(["distil once for the module"])
    return encoder


def _msrp(shared_data, n: int) -> tuple[list[str], list[str], np.ndarray]:
    a, b, y = [], [], []
    with open(shared_data / "msrp" / "msr-para-test.tsv", encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)
        for row in list(reader)[:n]:
            y.append(int(row[0]))
            a.append(row[3])
            b.append(row[4])
    return a, b, np.array(y)


def test_distilled_once_and_cached_apart_from_the_full_model(static, tmp_path):
    cached = [p for p in model_cache_dir().iterdir() if p.name.endswith(".static256")]
    assert len(cached) == 1 and (cached[0] / "model.safetensors").exists()
    again = Embedder(backend="static")
    v = again.encode(["How do I reset my password?", "Where is my parcel?"])
    assert v.shape == (2, 256) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert [p for p in model_cache_dir().iterdir() if p.name.endswith(".static256")] == cached, "not distilled twice"
    assert static.name.endswith("#static") and static.name != Embedder().name
    with Workspace(tmp_path / "ws") as ws:
        embed(["a cat"], ws, static)
        embed(["a cat"], ws, Embedder())
        keys = ws.conn.execute("SELECT model, dim FROM embeddings ORDER BY dim").fetchall()
    assert [k[1] for k in keys] == [256, 384], "each embedder has its own cached vector"


def test_static_ranks_msrp_paraphrases(static, shared_data):
    """Measured by bench/embedders.py on all 1,725 test pairs: ROC AUC 0.75 (MiniLM 0.74)."""
    from sklearn.metrics import roc_auc_score

    a, b, y = _msrp(shared_data, 600)
    v = static.encode(a + b)
    cos = (v[:len(a)] * v[len(a):]).sum(axis=1)
    assert roc_auc_score(y, cos) > 0.68


def _dedup_msrp(ws: Workspace, embedder: str) -> tuple[float, int]:
    """Precision of the semantic links against MSRP's labels (linked sentences that are a labelled
    paraphrase pair), and how many links there are."""
    report = dedup("msrp", workspace=ws, methods=("semantic",), key="prompt", embedder=embedder)
    assert report.params["embedding_backend"] == ("static" if embedder == "static" else Embedder().backend)
    assert report.params["semantic_threshold"] == semantic_threshold_for(embedder)
    linked = []
    for g in report.groups:
        lines = sorted(m["source"]["line"] for m in g["members"])
        linked += [(p, q) for p in lines for q in lines if p < q]
    return float(np.mean([(p - 1) // 2 == (q - 1) // 2 and _LABELS[(p - 1) // 2] == 1 for p, q in linked])), \
        len(linked)


_LABELS: list[int] = []


def test_semantic_dedup_with_the_static_embedder(static, shared_data, tmp_path):
    """MSRP sentence pairs as separate prompts (lines 2i+1, 2i+2): the static embedder's semantic links at
    its default threshold are as precise as the full model's and as many (bench/embedders.py on all 1,725
    test pairs: P 0.887 / R 0.425 against the full model's 0.879 / 0.291)."""
    a, b, y = _msrp(shared_data, 400)
    _LABELS[:] = y.tolist()
    records = [{"prompt": t, "completion": "ok"} for pair in zip(a, b) for t in pair]
    with Workspace(tmp_path / "ws") as ws:
        curate.ingest([write_jsonl(tmp_path / "msrp.jsonl", records)], "msrp", workspace=ws)
        static_p, static_n = _dedup_msrp(ws, "static")
        full_p, full_n = _dedup_msrp(ws, "full")
    assert static_n >= 20 and static_n >= 0.8 * full_n
    # Within a group, links between sentences of different pairs count as wrong: 0.57 vs 0.50 when written.
    assert static_p >= full_p - 0.05 and static_p >= 0.45


def test_coverage_with_the_static_embedder_finds_the_missing_topic(static, gap_workspace):  # noqa: F811
    report = coverage("train", queries="prod", workspace=gap_workspace, embedder="static")
    assert report.params["embedding_backend"] == "static"
    _assert_customs_is_the_gap(report.to_dict())


def test_cli_embedder_flag_and_a_clear_error_without_model2vec(gap_workspace, monkeypatch):  # noqa: F811
    gap_workspace.close()
    runner = CliRunner()
    ws = str(gap_workspace.dir)
    result = runner.invoke(main, ["-w", ws, "coverage", "--train", "train", "--queries", "prod", "--embedder",
                                  "static", "--json", "-"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["params"]["embedding_backend"] == "static"
    bad = runner.invoke(main, ["-w", ws, "coverage", "--train", "train", "--embedder", "tiny"])
    assert bad.exit_code == 2 and "'tiny' is not one of 'full', 'static'" in bad.output

    def missing(*_, **__):
        raise MissingDependency("model2vec", "embed", "The static embedder")

    monkeypatch.setattr("curate.embed_static.StaticEncoder.__init__", missing)
    result = runner.invoke(main, ["-w", ws, "dedup", "--methods", "semantic", "--embedder", "static",
                                  "--collection", "train"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "pip install 'ftcurate[embed]'" in result.output


def test_the_model_travels_to_workers_as_files(static, tmp_path, monkeypatch):
    """What a worker on another machine gets: the head's model files, written once into its temporary
    directory, encoding exactly as the head does, with nothing distilled into its own (empty) cache."""
    from curate.embed import _worker_embedder
    from curate.embed_files import folder, read, written

    texts = ["How do I reset my password?", "my parcel is stuck in customs", "ok"]
    files = read(static.model_files())
    assert "model.safetensors" in files.files and files.size > 1_000_000
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setenv("CURATE_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr("tempfile.tempdir", None)  # re-read TMPDIR
    (tmp_path / "tmp").mkdir()
    worker = _worker_embedder(static.model, static.backend, static.batch_size, files)
    assert np.array_equal(worker.encode(texts), static.encode(texts))
    place = tmp_path / "tmp" / "curate-models" / files.digest
    assert place.is_dir() and not (tmp_path / "empty-cache").exists()
    assert written(files) == {name: place / name for name in files.files}  # once per machine: found again
    # a model folder's hidden files and other runtimes' weights stay home
    model = tmp_path / "model"
    for name in ("config.json", "1_Pooling/config.json", ".git/HEAD", "onnx/model.onnx"):
        (model / name).parent.mkdir(parents=True, exist_ok=True)
        (model / name).write_text(name)
    assert sorted(folder(model)) == ["1_Pooling/config.json", "config.json"]
    assert read(folder(model)).digest != read({"config.json": model / "config.json"}).digest
