"""Parquet files and Hugging Face `datasets` directories: rows are numbered from 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import orjson

from ..errors import InputFileError, MissingDependency
from .base import ProgressFn, RawRow


def _raw(row: dict[str, Any]) -> str:
    return orjson.dumps(row, default=str, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _parquet(path: Path, display: str):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise InputFileError(f"{display}: not a readable Parquet file ({exc}); if it was cut short in a copy or "
                             "download, copy it again") from exc


def count_parquet_rows(path: Path, display: str) -> int:
    return _parquet(path, display).metadata.num_rows


def read_parquet(path: Path, display: str, progress: ProgressFn | None = None) -> Iterator[RawRow]:
    pf = _parquet(path, display)
    index = 0
    batches = pf.iter_batches(batch_size=8192)
    while True:
        try:
            batch = next(batches, None)
        except Exception as exc:  # a damaged row group: pyarrow's OSError, ArrowInvalid, ...
            raise InputFileError(f"{display}: damaged after row {index:,} ({exc}); copy the file again") from exc
        if batch is None:
            return
        for row in batch.to_pylist():
            yield RawRow(display, index + 1, index, _raw(row), row)
            index += 1
        if progress is not None:
            progress(index)


def _load_hf(path: Path):
    try:
        import datasets
    except ImportError as exc:
        raise MissingDependency("datasets", "hf", "Reading a Hugging Face dataset directory") from exc
    datasets.disable_progress_bars()
    try:
        if (path / "dataset_dict.json").exists() or (path / "state.json").exists():
            loaded = datasets.load_from_disk(str(path))
        else:
            loaded = datasets.load_dataset(str(path))
    except Exception as exc:  # datasets raises many types; the message is what the user needs
        raise InputFileError(f"{path}: datasets could not load this directory ({exc})") from exc
    if isinstance(loaded, datasets.Dataset):
        return {None: loaded}
    return dict(loaded)


def count_hf_rows(path: Path) -> dict[str | None, int]:
    """Rows per split (one None key for a dataset saved without splits)."""
    return {split: len(ds) for split, ds in _load_hf(path).items()}


def read_hf_dataset(path: Path, display: str, progress: ProgressFn | None = None,
                    only: str | None = None) -> Iterator[RawRow]:
    """Rows of each split (or only the split `only`); a split's rows are named DIR#SPLIT, as the lists of
    a JSON object are (FILE#KEY)."""
    done = 0
    for split, ds in _load_hf(path).items():
        if only is not None and split != only:
            continue
        part = display if split is None else f"{display}#{split}"
        for start in range(0, len(ds), 8192):
            batch = ds[start:start + 8192]
            names = list(batch)
            for offset in range(len(batch[names[0]]) if names else 0):
                row = {k: batch[k][offset] for k in names}
                index = start + offset
                yield RawRow(part, index + 1, index, _raw(row), row)
            done += len(batch[names[0]]) if names else 0
            if progress is not None:
                progress(done)
