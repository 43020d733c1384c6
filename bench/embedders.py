"""The static embedder against the full model: quality and speed, each peer measured in the same run.

    python bench/embedders.py [--skip-torch]

Three encoders of all-MiniLM-L6-v2 (the offline default):
- static: `--embedder static`, a model2vec model curate distils once from it (the distillation is timed
  on its own, first, when it is not cached yet);
- full: `--embedder full`, curate's int8 ONNX Runtime export (what `curate dedup --methods semantic` and
  `curate coverage` use by default);
- sentence-transformers fp32 `encode` (the peer everyone knows).

Quality: MSRP paraphrase ROC AUC (test split), STS2016 Spearman on the scored question-question and
answer-answer pairs, 1-nearest-neighbour intent accuracy (banking77 and hwu64, train -> test), and semantic
dedup precision/recall on MSRP test at each embedder's default threshold. The static default is calibrated
on MSRP *train*: the lowest threshold whose precision there is at least the full model's at its default,
so the test figures are not tuned on. Speed: texts per second on MSRP test sentences and banking77 test
queries, after a warm-up.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

from semantic import msrp  # noqa: E402  (bench/semantic.py: one MSRP reader)

from curate.dedup import DEFAULT_SEMANTIC_THRESHOLD, semantic_threshold_for  # noqa: E402
from curate.embed import Embedder, _resolve  # noqa: E402


def sts() -> tuple[list[str], list[str], np.ndarray]:
    a, b, y = [], [], []
    for name in ("question-question", "answer-answer"):
        with open(SHARED / "sts2016_qq_aa" / f"{name}.test.tsv", encoding="utf-8", newline="") as fh:
            for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                if len(row) >= 3 and row[0].strip():
                    y.append(float(row[0]))
                    a.append(row[1])
                    b.append(row[2])
    return a, b, np.array(y)


def intents(name: str, split: str) -> tuple[list[str], np.ndarray]:
    column = {"banking77": "category", "hwu64": "intent"}[name]
    with open(SHARED / name / f"{split}.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"] for r in rows], np.array([r[column] for r in rows])


class SentenceTransformers:
    """The peer: sentence-transformers' own encode, fp32, default batch size."""

    def __init__(self) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(_resolve(None), device="cpu")

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)


def pair_cosines(encoder, a: list[str], b: list[str]) -> np.ndarray:
    v = encoder.encode(a + b)
    return (v[:len(a)] * v[len(a):]).sum(axis=1)


def rate(encoder, texts: list[str]) -> float:
    encoder.encode(texts[:64])  # warm-up: sessions, caches
    t = time.perf_counter()
    encoder.encode(texts)
    return len(texts) / (time.perf_counter() - t)


def nn_accuracy(encoder, name: str) -> float:
    train, y_train = intents(name, "train")
    test, y_test = intents(name, "test")
    vt, vq = encoder.encode(train), encoder.encode(test)
    return float((y_train[np.argmax(vq @ vt.T, axis=1)] == y_test).mean())


def precision_recall(cos: np.ndarray, y: np.ndarray, threshold: float) -> tuple[float, float]:
    hit = cos >= threshold
    return (float(y[hit].mean()) if hit.any() else 0.0), float(hit[y == 1].mean())


def calibrate(full_train: np.ndarray, static_train: np.ndarray, y: np.ndarray) -> float:
    """The lowest static threshold whose MSRP-train precision is at least the full model's at its default."""
    target, _ = precision_recall(full_train, y, DEFAULT_SEMANTIC_THRESHOLD)
    for thr in np.arange(0.50, 1.0, 0.005):
        if precision_recall(static_train, y, float(thr))[0] >= target:
            return round(float(thr), 3)
    return 1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-torch", action="store_true", help="leave out the sentence-transformers peer")
    table(ap.parse_args().skip_torch)


def table(skip_torch: bool = False) -> None:
    """Print the quality/speed table (bench/scale.py prints it too)."""
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    t = time.perf_counter()
    static = Embedder(backend="static")
    static.encode(["warm up"])
    print(f"static model ready (distilled now or loaded from the cache): {time.perf_counter() - t:.1f} s")
    encoders = {"static": static, "full (int8 ONNX)": Embedder(backend="onnx-int8")}
    if not skip_torch:
        encoders["sentence-transformers fp32"] = SentenceTransformers()
    ta, tb, ty = msrp("test")
    sa, sb, sy = sts()
    bank, _ = intents("banking77", "test")
    full_train = pair_cosines(encoders["full (int8 ONNX)"], *msrp("train")[:2])
    static_train = pair_cosines(static, *msrp("train")[:2])
    suggested = calibrate(full_train, static_train, msrp("train")[2])
    print(f"static threshold calibrated on MSRP train: {suggested} (shipped: {semantic_threshold_for('static')}; "
          f"full: {DEFAULT_SEMANTIC_THRESHOLD})\n")
    head = (f"{'encoder':28}{'MSRP texts/s':>13}{'banking77 /s':>13}{'MSRP AUC':>10}{'STS rho':>9}"
            f"{'b77 1-NN':>10}{'hwu64 1-NN':>11}{'dedup P / R @ thr':>22}")
    print(head)
    rates = {}
    for name, enc in encoders.items():
        rates[name] = rate(enc, ta + tb), rate(enc, bank)
        cos = pair_cosines(enc, ta, tb)
        thr = semantic_threshold_for("static") if name == "static" else DEFAULT_SEMANTIC_THRESHOLD
        p, r = precision_recall(cos, ty, thr)
        print(f"{name:28}{rates[name][0]:13,.0f}{rates[name][1]:13,.0f}{roc_auc_score(ty, cos):10.3f}"
              f"{spearmanr(pair_cosines(enc, sa, sb), sy).statistic:9.3f}{nn_accuracy(enc, 'banking77'):10.3f}"
              f"{nn_accuracy(enc, 'hwu64'):11.3f}{f'{p:.3f} / {r:.3f} @ {thr}':>22}", flush=True)
    full = rates["full (int8 ONNX)"]
    print(f"\nspeed ratio static / full: {rates['static'][0] / full[0]:.0f}x (MSRP), "
          f"{rates['static'][1] / full[1]:.0f}x (banking77)")
    if "sentence-transformers fp32" in rates:
        peer = rates["sentence-transformers fp32"]
        print(f"speed ratio full / sentence-transformers: {full[0] / peer[0]:.1f}x (MSRP), {full[1] / peer[1]:.1f}x "
              f"(banking77); static / sentence-transformers: {rates['static'][0] / peer[0]:.0f}x, "
              f"{rates['static'][1] / peer[1]:.0f}x")


if __name__ == "__main__":
    main()
