"""File readers: turn any supported input into a stream of `RawRow`s, each with its file and line.

Supported: JSONL, JSON (array, or object holding lists), CSV, TSV, Parquet, plain text
(one query per line), gzip of the text formats, and Hugging Face `datasets` directories.
The container is chosen by extension and confirmed by sniffing the first bytes, so a
`.json` file that really holds JSON Lines still reads correctly.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from ..errors import InputFileError, UsageError
from .base import ProgressFn, RawRow
from .columnar import count_hf_rows, count_parquet_rows, read_hf_dataset, read_parquet
from .delimited import read_delimited
from .json_doc import read_json
from .jsonl import read_jsonl
from .limits import Limits
from .stream import Inflating, Recoding, cr_only, sniff_encoding
from .text import read_text_lines

__all__ = ["InputFile", "RawRow", "open_input", "CONTAINERS", "Limits"]

CONTAINERS = ("jsonl", "json", "csv", "tsv", "parquet", "text", "hf")
_BY_SUFFIX = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
    ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet", ".txt": "text",
}


@dataclass
class InputFile:
    """A resolved input: what container it is and how big, for the progress bar."""

    path: Path
    display: str
    container: str
    gzipped: bool
    total: int  # bytes on disk, or rows for parquet / hf
    unit: str
    limits: Limits = field(default_factory=Limits)
    codec: str | None = None  # read as this and converted to UTF-8 (UTF-16/32); None: UTF-8
    cr: bool = False  # lines end in CR alone, read as LF
    notes: list[str] = field(default_factory=list)  # what was detected about the file, for the report
    columns: list[str] | None = None  # CSV/TSV column names given by the user
    header_row: bool = True  # CSV/TSV: the first row names the columns
    part: str | None = None  # a Hugging Face dataset directory: read this split only

    def rows(self, progress: ProgressFn | None = None,
             is_record: Callable[[dict], bool] | None = None) -> Iterator[RawRow]:
        if self.container == "parquet":
            yield from read_parquet(self.path, self.display, progress)
            return
        if self.container == "hf":
            yield from read_hf_dataset(self.path, self.display, progress, self.part)
            return
        try:
            yield from self._text_rows(progress, is_record)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise InputFileError(f"{self.display}: the file is damaged or cut short ({exc}); the rows before the "
                                 "damage were read, the rest could not be: re-create or re-download it") from exc

    def _text_rows(self, progress, is_record) -> Iterator[RawRow]:
        limit = self.limits.record_bytes
        with self._open() as (stream, tell):
            if self.container == "jsonl":
                yield from read_jsonl(stream, self.display, limit, progress, tell)
            elif self.container == "json":
                yield from read_json(stream, self.display, limit, _wrap(progress, tell), is_record)
            elif self.container in ("csv", "tsv"):
                delimiter = "\t" if self.container == "tsv" else ","
                yield from read_delimited(stream, self.display, delimiter, limit, _wrap(progress, tell),
                                          self.columns, self.header_row)
            else:
                yield from read_text_lines(stream, self.display, limit, _wrap(progress, tell))

    def _open(self):
        return _Opened(self)


def _wrap(progress: ProgressFn | None, tell):
    if progress is None or tell is None:
        return progress
    return lambda _consumed: progress(tell())


class _Opened:
    """Opens plain or gzip files, converted to UTF-8 with LF line ends where they are not; `tell` reports
    the bytes read from disk (compressed ones for gzip), which is what the bar counts."""

    def __init__(self, inp: InputFile):
        self._inp = inp

    def __enter__(self) -> tuple[BinaryIO, Callable[[], int] | None]:
        inp = self._inp
        try:
            self._raw = open(inp.path, "rb", buffering=1 << 20)
        except OSError as exc:
            raise InputFileError(f"{inp.display}: cannot open ({exc.strerror})") from exc
        stream: BinaryIO = self._raw
        tell = None
        if inp.gzipped:
            inflating = Inflating(gzip.GzipFile(fileobj=self._raw, mode="rb"), self._raw.tell, inp.limits,
                                  inp.display)
            # A small buffer, so the rows before a damaged stretch of the file still get through.
            stream, tell = io.BufferedReader(inflating, buffer_size=1 << 16), self._raw.tell
        if inp.codec or inp.cr:
            stream = io.BufferedReader(Recoding(stream, inp.codec, inp.cr, inp.display), buffer_size=1 << 16)
            tell = tell or self._raw.tell
        return stream, tell

    def __exit__(self, *exc) -> None:
        self._raw.close()


def _looks_like_hf(path: Path) -> bool:
    markers = ("dataset_dict.json", "state.json", "dataset_info.json", "README.md")
    if any((path / m).exists() for m in markers):
        return True
    return any(p.suffix in _BY_SUFFIX for p in path.rglob("*") if p.is_file())


def _sniff(head: bytes) -> str | None:
    """Tell JSON from JSON Lines by content: most lines being whole `{...}` objects means JSON Lines.

    Textual on purpose, so a few broken lines do not turn a JSON Lines file into one giant bad document.
    """
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        return "json"
    if not text.startswith(b"{"):
        return None
    lines = [ln.strip().lstrip(b"\xef\xbb\xbf") for ln in text.split(b"\n")[:-1] if ln.strip()][:50]
    if not lines:
        return "json"  # a single line, maybe cut by the sniff window: the JSON reader handles both cases
    whole = sum(1 for ln in lines if ln.startswith(b"{") and ln.endswith(b"}"))
    return "jsonl" if whole * 2 >= len(lines) else "json"


def source_path(path: str, base: Path | None) -> str:
    """How an input file is named in the workspace and its reports: relative to `base` (the folder that holds
    the workspace) when it lies inside it, else absolute, with symlinks and '..' resolved. So './d.jsonl',
    'd.jsonl' and its absolute path are one file, and re-ingesting it by any spelling is idempotent.
    """
    if base is None:
        return path
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(resolved)


def open_input(path_str: str, container: str | None = None, limits: Limits | None = None,
               base: Path | None = None, columns: list[str] | None = None, header_row: bool = True) -> InputFile:
    """Resolve a path the user gave into an `InputFile`; raises InputFileError with what to do. With `base`,
    the file is named relative to it (see `source_path`). DIR#SPLIT reads one split of a dataset directory;
    `columns` and `header_row` are for CSV/TSV (see `read_delimited`)."""
    limits = limits or Limits()
    path, part = Path(path_str), None
    if not path.exists() and "#" in path_str and Path(path_str.rsplit("#", 1)[0]).is_dir():
        path_str, part = path_str.rsplit("#", 1)
        path = Path(path_str)
    if not path.exists():
        raise InputFileError(f"{path_str}: no such file or directory")
    if not header_row and not columns:
        raise UsageError("{header_row} needs {columns} to name the columns (e.g. {columns} text,label)",
                         params={"header_row": "header_row=False", "columns": "columns"})
    path_str = source_path(path_str, base)
    if path.is_dir():
        if container not in (None, "hf") or not _looks_like_hf(path):
            raise InputFileError(
                f"{path_str}: is a directory but not a Hugging Face dataset "
                "(no dataset_dict.json / state.json / data files); pass the files inside it instead")
        splits = count_hf_rows(path)
        if part is not None and part not in splits:
            raise InputFileError(f"{path_str}#{part}: the dataset has no split {part!r} (it has "
                                 f"{', '.join(map(str, splits))})")
        chosen = {part: splits[part]} if part is not None else splits
        named = ", ".join(f"{path_str}#{s} ({n:,} rows)" for s, n in chosen.items() if s is not None)
        notes = [f"a Hugging Face dataset; its splits are read as parts of one collection: {named}" +
                 (" (to keep them apart, ingest DIR#SPLIT into separate collections)" if len(chosen) > 1 else "")
                 ] if named else []
        return InputFile(path, path_str, "hf", False, sum(chosen.values()), "rows", limits, notes=notes, part=part)
    suffixes = [s.lower() for s in path.suffixes]
    gzipped = bool(suffixes) and suffixes[-1] in (".gz", ".gzip")
    inner = suffixes[-2] if gzipped and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    kind = container or _BY_SUFFIX.get(inner)
    if kind == "parquet":
        return InputFile(path, path_str, "parquet", False, count_parquet_rows(path, path_str), "rows", limits)
    try:
        with open(path, "rb") as raw:
            # Unbuffered gzip for the sniff: it decompresses only the 64 KB asked for, so damage further
            # into the file is reported while reading, with the rows before it kept.
            head = (gzip.GzipFile(fileobj=raw) if gzipped else raw).read(1 << 16)
    except gzip.BadGzipFile as exc:
        raise InputFileError(f"{path_str}: named .gz but not gzip data ({exc}); if it is not compressed, "
                             "rename it without .gz") from exc
    except (EOFError, zlib.error) as exc:
        raise InputFileError(f"{path_str}: the gzip data is damaged or cut short near its start ({exc}); no row "
                             "could be read: re-create or re-download it") from exc
    except OSError as exc:
        raise InputFileError(f"{path_str}: cannot read ({exc})") from exc
    codec, encoding_note = sniff_encoding(head)
    if codec:
        head = head.decode(codec, errors="ignore").encode("utf-8")
    cr = cr_only(head)
    if cr:
        head = head.replace(b"\r", b"\n")
    notes = [f"read as {encoding_note}"] if encoding_note else []
    notes += ["lines end in CR alone (classic Mac OS): read as line breaks"] if cr else []
    if container is None and kind in (None, "json", "jsonl"):
        sniffed = _sniff(head)
        # Trust a .jsonl name unless the content is plainly an array; sniff .json and unknown names.
        if kind != "jsonl" or head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
            kind = sniffed or kind
    if kind is None:
        raise InputFileError(
            f"{path_str}: unknown file type '{inner or '(no extension)'}'; supported: "
            ".jsonl .json .csv .tsv .parquet .txt (optionally .gz) and dataset directories")
    return InputFile(path, path_str, kind, gzipped, path.stat().st_size, "bytes", limits, codec, cr, notes,
                     columns, header_row)
