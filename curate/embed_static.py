"""A static embedding backend: a model2vec model distilled once, locally, from the chosen sentence-transformers
model, then cached beside the ONNX export (`~/.cache/curate/models`).

Distillation runs the model once over every token of its vocabulary (no text corpus, no download) and
keeps one PCA-reduced, Zipf-weighted vector per token; a text's embedding is then the mean of its tokens'
vectors, so encoding costs a tokenizer call and a table lookup. It is ~50-100x the throughput of the
transformer and less exact: bench/embedders.py measures both, and docs/DESIGN.md says where it is used.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from .embed_onnx import cached_model_path
from .errors import MissingDependency, UsageError

PCA_DIMS = 256  # model2vec's default; the distilled model's width
_BATCH = 4096


def _distill(model_dir: str, target: Path) -> None:
    try:
        from model2vec.distill import distill
    except ImportError as exc:
        raise MissingDependency("model2vec", "embed", "Distilling the static embedder (model2vec and skeletoken)") \
            from exc
    started = time.perf_counter()
    print(f"embedder: distilling a static model from {model_dir} (once, about 15 s on 2 cores; "
          f"cached in {target.parent})", file=sys.stderr, flush=True)
    import model2vec.distill.inference as inference
    from transformers.utils import logging as hf_logging

    bar, hf_bars = inference.tqdm, hf_logging.is_progress_bar_enabled()
    inference.tqdm = _Progress  # its bar writes a line per update without a terminal
    hf_logging.disable_progress_bar()  # "Loading weights" of a local model: a bar for a fraction of a second
    try:
        model = distill(model_name=model_dir, pca_dims=PCA_DIMS)
    except OSError as exc:
        raise UsageError(f"cannot distill a static embedder from {model_dir!r}: {exc}") from exc
    finally:
        inference.tqdm = bar
        if hf_bars:
            hf_logging.enable_progress_bar()
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    model.save_pretrained(str(tmp))
    try:
        os.replace(tmp, target)  # atomic: another process distilling the same model loses the race harmlessly
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"embedder: static model ready in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


class _Progress:
    """Stands in for model2vec's tqdm bar: a line on stderr every `_EVERY` seconds."""

    _EVERY = 10.0

    def __init__(self, total: int | None = None, **_):
        self.total, self.done, self.last = total, 0, time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.done += n
        if time.perf_counter() - self.last >= self._EVERY:
            self.last = time.perf_counter()
            print(f"embedder: distilling, {self.done:,}/{self.total or 0:,} vocabulary tokens", file=sys.stderr,
                  flush=True)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def distilled(model_dir: str, cache_dir: Path) -> Path:
    """The static model distilled from `model_dir`, distilling it into the cache first if it is not there."""
    target = cached_model_path(model_dir, cache_dir, f"static{PCA_DIMS}")
    if not (target / "model.safetensors").exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        _distill(model_dir, target)
    return target


class StaticEncoder:
    """Encodes with the distilled model saved in `model_dir`."""

    def __init__(self, model_dir: Path):
        try:
            from model2vec import StaticModel
        except ImportError as exc:
            raise MissingDependency("model2vec", "embed", "The static embedder") from exc
        self.model = StaticModel.from_pretrained(str(model_dir))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.asarray(self.model.encode(list(texts), show_progress_bar=False, batch_size=_BATCH),
                             dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
