"""An embedding model as the files its encoder reads, sent from the head to the workers with the work.

A worker on another machine shares neither the head's paths (a `--model /data/my-model`, the head's
virtual environment) nor its model cache: left to itself it would distil or export the model again (minutes,
and on another CPU not bit for bit the same model), or fail on a path it lacks. So the head prepares the
model once, reads its files, and the engine sends them by reference to every worker, which writes them
once per machine into its temporary directory and encodes with exactly the head's bytes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

_SKIPPED_DIRS = ("onnx", "openvino")  # other runtimes' copies of the weights in hub repositories


@dataclass(frozen=True)
class ModelFiles:
    """Files by their name relative to the model's folder, and a digest of them all."""

    digest: str
    files: dict[str, bytes] = field(repr=False)

    @property
    def size(self) -> int:
        return sum(len(b) for b in self.files.values())


def read(paths: dict[str, Path]) -> ModelFiles:
    """The files at `paths` (relative name -> where it is here)."""
    h = hashlib.blake2b(digest_size=12)
    files = {}
    for name in sorted(paths):
        data = paths[name].read_bytes()
        h.update(name.encode() + b"\0" + len(data).to_bytes(8, "little") + data)
        files[name] = data
    return ModelFiles(h.hexdigest(), files)


def folder(root: Path) -> dict[str, Path]:
    """Every file a model folder holds, by relative name, but hidden ones and other runtimes' weights."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not any(p.startswith(".") for p in rel.parts) and rel.parts[0] not in _SKIPPED_DIRS:
            out[rel.as_posix()] = path
    return out


def written(model: ModelFiles) -> dict[str, Path]:
    """The model's files on this machine, written once into its temporary directory (atomically: workers
    on one machine race for it, and the loser's copy is dropped)."""
    target = Path(tempfile.gettempdir()) / "curate-models" / model.digest
    if not target.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{model.digest}-", dir=target.parent))
        for name, data in model.files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(data)
        try:
            os.replace(tmp, target)
        except OSError:  # another worker wrote it first
            shutil.rmtree(tmp, ignore_errors=True)
    return {name: target / name for name in model.files}
