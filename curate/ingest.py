"""Ingest: stream files into a collection, every row ending as an example, a repeat or a quarantined row.

The counts always reconcile: read = accepted + repeats + quarantined + unchanged, where `read`
counts records (a row that expands into several conversations, such as an OASST tree, counts once
per conversation) and `rows` counts the rows of the files. Each count is what the database gained:
`unchanged` are records it already held at the same place (a re-ingest, or an interrupted ingest
run again), so re-ingesting a file by any spelling of its path adds nothing and says so.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from collections import Counter, deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import orjson

from .engine import Engine
from .errors import ROW_ERRORS, InputFileError, RowRejected, UsageError
from .formats import FORMATS, KINDS, apply_mapping, convert_record, is_record, mapping_hint
from .gcpause import gc_paused
from .readers import CONTAINERS, InputFile, Limits, RawRow, open_input
from .readers.base import ProgressFn
from .record import Example, Source
from .secrets import redact
from .workspace import Workspace, encode_example, opened, resolve_dir

BATCH = 5000
BIG_INPUT_BYTES = 32 << 20  # above this, a second process writes to SQLite while this one parses
MAX_ERRORS_KEPT = 10_000  # in the report; the quarantine itself keeps every row


@dataclass(frozen=True)
class RowError:
    path: str
    line: int
    index: int
    code: str
    message: str

    @property
    def hint(self) -> str:
        return ROW_ERRORS.get(self.code, "")

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "index": self.index, "code": self.code,
                "message": redact(self.message), "hint": self.hint}


@dataclass
class FileReport:
    path: str
    container: str
    rows: int = 0
    read: int = 0
    accepted: int = 0
    repeats: int = 0
    quarantined: int = 0
    unchanged: int = 0  # read before at the same place: a re-ingest, or an interrupted ingest run again
    resolved: int = 0  # quarantined rows this file now reads fixed (in place, or from quarantine --export)
    formats: Counter = field(default_factory=Counter)
    error_codes: Counter = field(default_factory=Counter)
    warning_codes: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)  # what was detected about the file (UTF-16, CR line ends)
    parts: Counter = field(default_factory=Counter)  # rows per part: FILE#KEY of a JSON object, DIR#SPLIT

    @property
    def good(self) -> int:
        """Records read that became examples (new, repeats or already held)."""
        return self.read - sum(self.error_codes.values())

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "container": self.container, "rows": self.rows, "read": self.read,
                "accepted": self.accepted, "repeats": self.repeats, "quarantined": self.quarantined,
                "unchanged": self.unchanged, "resolved": self.resolved, "formats": dict(self.formats),
                "error_codes": dict(self.error_codes),
                "warning_codes": dict(self.warning_codes), "notes": self.notes, "parts": dict(self.parts)}


@dataclass
class IngestReport:
    collection: str
    kind: str
    workspace: str
    files: list[FileReport] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    seconds: float = 0.0
    engine: dict[str, Any] | None = None  # the distributed engine the rows were converted on, if any

    def _sum(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)

    rows = property(lambda self: self._sum("rows"))
    read = property(lambda self: self._sum("read"))
    accepted = property(lambda self: self._sum("accepted"))
    repeats = property(lambda self: self._sum("repeats"))
    quarantined = property(lambda self: self._sum("quarantined"))
    unchanged = property(lambda self: self._sum("unchanged"))
    resolved = property(lambda self: self._sum("resolved"))

    @property
    def error_codes(self) -> Counter:
        return sum((f.error_codes for f in self.files), Counter())

    @property
    def bad_rows(self) -> int:
        """Rows read this time that are quarantined (new to the quarantine or already in it)."""
        return sum(self.error_codes.values())

    @property
    def warning_codes(self) -> Counter:
        return sum((f.warning_codes for f in self.files), Counter())

    def to_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection, "kind": self.kind, "workspace": self.workspace,
            "rows": self.rows, "read": self.read, "accepted": self.accepted, "quarantined": self.quarantined,
            "repeats": self.repeats, "unchanged": self.unchanged, "resolved": self.resolved,
            "errors": [e.to_dict() for e in self.errors],
            "errors_truncated": max(0, self.bad_rows - len(self.errors)),
            "error_codes": dict(self.error_codes), "warning_codes": dict(self.warning_codes),
            "files": [f.to_dict() for f in self.files], "seconds": round(self.seconds, 3),
            **({"engine": self.engine} if self.engine else {}),
        }


def default_collection_name(path: str) -> str:
    name = Path(path.rstrip("/")).name
    for _ in range(2):
        stem, dot, ext = name.rpartition(".")
        if dot and stem and ext.lower() in ("gz", "gzip", "json", "jsonl", "ndjson", "csv", "tsv", "parquet", "txt"):
            name = stem
    return name or "default"


class _InlineWriter:
    """Writes each batch as it comes: right for small inputs, where a second process costs more than it saves."""

    def __init__(self, ws: Workspace):
        self._ws = ws

    def submit(self, rows: list[tuple], repeats: list[tuple], bad: list[tuple], fixed: list[tuple]) -> Future:
        future: Future = Future()
        future.set_result(self._ws.write_rows(rows, repeats, bad, fixed))
        return future

    def close(self) -> None:
        pass


_WRITER_WS: Workspace | None = None


_GROUP_SECONDS = 0.5  # the writer commits about this often (a reviewer waits at most about that, plus a batch)
_WRITER_CACHE_MB = 1024  # the (id, collection) index of 10M examples, about 400 MB, stays cached


def _open_writer(ws_dir: str) -> None:
    global _WRITER_WS
    _die_with_parent()
    _WRITER_WS = Workspace(ws_dir)
    _WRITER_WS.group_commits(_GROUP_SECONDS, _WRITER_CACHE_MB)


def _commit_in_child() -> None:
    if _WRITER_WS is not None:
        _WRITER_WS.commit_group()


def _die_with_parent() -> None:
    """Ask Linux to end this process when its parent dies, even by kill -9 (which the pool cannot see):
    a writer left behind would hold the workspace open forever. Elsewhere, nothing to do."""
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _write_in_child(rows: list[tuple], repeats: list[tuple], bad: list[tuple],
                    fixed: list[tuple]) -> tuple[int, int, int, int]:
    if _WRITER_WS is None:
        raise RuntimeError("the writer process was not initialised")  # _open_writer runs first, always
    return _WRITER_WS.write_rows(rows, repeats, bad, fixed)


class _ProcessWriter:
    """Writes batches in a second process, so SQLite's work overlaps parsing on another core.

    (A thread does not help: the parser holds the GIL, and the writer waits for it after every row.)
    Forked, not spawned: spawning re-imports the caller's __main__, which breaks unguarded scripts.
    The child touches nothing but its own SQLite connection.
    """

    available = "fork" in multiprocessing.get_all_start_methods()

    def __init__(self, ws: Workspace):
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                                         initializer=_open_writer, initargs=(str(ws.dir),))

    def submit(self, rows: list[tuple], repeats: list[tuple], bad: list[tuple], fixed: list[tuple]) -> Future:
        return self._pool.submit(_write_in_child, rows, repeats, bad, fixed)

    def close(self) -> None:
        try:
            self._pool.submit(_commit_in_child).result()
        finally:
            self._pool.shutdown(wait=True)


class _Batcher:
    """Collects converted examples and bad rows and hands them to the writer in batches, one
    transaction each. At most a few batches are in flight, which bounds memory."""

    def __init__(self, ws: Workspace, collection_id: int, ingest_id: int, report: IngestReport, big: bool):
        self.cid, self.ingest_id, self.report = collection_id, ingest_id, report
        self.rows: list[tuple] = []
        self.bad: list[tuple] = []
        self.fixed: list[tuple] = []  # (ingest_id, collection_id, path, line) of quarantined rows now read fixed
        self.fixes: _Fixes | None = None  # set per file, see _fix_finder
        self._writer = _ProcessWriter(ws) if big and _ProcessWriter.available else _InlineWriter(ws)
        self._in_flight: deque = deque()

    def add_bad(self, row: RawRow, code: str, message: str, file: FileReport) -> None:
        if self.fixes is not None and row.line in self.fixes.exported:  # still broken: quarantined already,
            file.read += 1  # at the place it was read first
            file.error_codes[code] += 1
            file.unchanged += 1
            return
        raw = row.stored_raw()
        digest = hashlib.blake2b(raw if isinstance(raw, bytes) else raw.encode(), digest_size=10).hexdigest()
        message = message.encode("utf-8", "replace").decode()  # field names may hold lone surrogates
        self.bad.append((self.cid, row.path, row.line, row.index, code, message, raw, digest, self.ingest_id))
        file.read += 1
        file.error_codes[code] += 1
        if len(self.report.errors) < MAX_ERRORS_KEPT:
            self.report.errors.append(RowError(row.path, row.line, row.index, code, message))
        if len(self.bad) >= BATCH:
            self.flush(file)

    def add(self, row: tuple, warnings: tuple, file: FileReport) -> None:
        """Queue one example, already encoded with `encode_example`."""
        self.rows.append(row)
        if self.fixes is not None:
            self.fixed += [(self.ingest_id, self.cid, path, line) for path, line in self.fixes.places(row[6], row[7])]
        file.read += 1
        for w in warnings:
            file.warning_codes[w.code] += 1
        if len(self.rows) >= BATCH:
            self.flush(file)

    def flush(self, file: FileReport) -> None:
        seen: set[str] = set()
        rows: list[tuple] = []
        in_batch: list[tuple] = []
        for row in self.rows:
            if row[1] in seen:
                in_batch.append(row)
            else:
                seen.add(row[1])
                rows.append(row)
        sent = len(rows) + len(in_batch) + len(self.bad)
        self._in_flight.append((self._writer.submit(rows, in_batch, self.bad, self.fixed), file, sent))
        self.rows, self.bad, self.fixed = [], [], []
        while len(self._in_flight) > 3:
            self._settle()

    def _settle(self) -> None:
        future, file, sent = self._in_flight.popleft()
        examples, repeats, quarantined, resolved = future.result()
        file.accepted += examples
        file.repeats += repeats
        file.quarantined += quarantined
        file.unchanged += sent - examples - repeats - quarantined
        file.resolved += resolved

    def drain(self) -> None:
        while self._in_flight:
            self._settle()

    def close(self) -> None:
        try:
            self.drain()
        finally:
            self._writer.close()


@dataclass
class _Fixes:
    """Which quarantined rows the rows of one file may resolve: rows at their own place (the file is ingested
    again after a fix in place), and, for a file `curate quarantine --export` wrote, the place its reasons
    file names for each line."""

    same_place: bool
    exported: dict[int, list[tuple[str, int]]]

    def places(self, path: str, line: int) -> list[tuple[str, int]]:
        return ([(path, line)] if self.same_place else []) + self.exported.get(line, [])


def _fix_finder(ws: Workspace, cid: int, collection: str, inp: InputFile) -> _Fixes | None:
    """The `_Fixes` of one input file; None when there is nothing to resolve (most ingests)."""
    same_place = ws.has_quarantine(cid, inp.display)
    sidecar: dict[int, list[tuple[str, int]]] = {}
    reasons = inp.path.with_name(inp.path.name + ".reasons.jsonl")
    if reasons.is_file():
        try:
            for line in reasons.read_text(encoding="utf-8").splitlines():
                entry = orjson.loads(line)
                if entry.get("collection") == collection:
                    sidecar.setdefault(int(entry["line"]), []).append((entry["source"]["path"],
                                                                       int(entry["source"]["line"])))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputFileError(f"{reasons}: not a reasons file curate wrote ({exc}); move it away to ingest "
                                 f"{inp.display} without it") from exc
    return _Fixes(same_place, sidecar) if same_place or sidecar else None


def _ingest_file(inp: InputFile, batcher: _Batcher, file: FileReport, kind: str, fmt: str | None,
                 mapping: dict[str, str], progress: ProgressFn | None, engine: Engine) -> None:
    try:
        _read_rows(inp, batcher, file, kind, fmt, mapping, progress, engine)
    except InputFileError as exc:
        batcher.flush(file)  # keep what was read before the damage
        batcher.drain()
        raise InputFileError(exc.template + f" ({file.rows:,} rows were read and kept)", params=exc.params) from exc
    except BaseException:  # a bug, or an interrupt: what was read is still kept, then it propagates
        batcher.flush(file)
        batcher.drain()
        raise
    batcher.flush(file)
    batcher.drain()


def _read_rows(inp: InputFile, batcher: _Batcher, file: FileReport, kind: str, fmt: str | None,
               mapping: dict[str, str], progress: ProgressFn | None, engine: Engine) -> None:
    spec = (kind, fmt, mapping, batcher.cid, batcher.ingest_id)
    rows = _counted(inp.rows(progress, is_record), file)
    converted = _converted_on(engine, rows, spec) if engine.distributed else \
        ((row, _unread(row) or convert_row(_fields(row), *spec)) for row in rows)
    for row, result in converted:
        if result[0] == "bad":
            batcher.add_bad(row, result[1], result[2], file)
        else:
            file.formats[result[1]] += len(result[2])
            for encoded_row, warnings in result[2]:
                batcher.add(encoded_row, warnings, file)


def _counted(rows: Iterator[RawRow], file: FileReport) -> Iterator[RawRow]:
    for row in rows:
        file.rows += 1
        if row.path != file.path:
            file.parts[row.path] += 1
        yield row


def _unread(row: RawRow) -> tuple | None:
    """("bad", code, message) for a row the reader could not parse."""
    return ("bad", *row.error) if row.error else None


def _fields(row: RawRow) -> tuple:
    """What converting a row needs: not its verbatim text, which only the quarantine keeps."""
    return row.path, row.line, row.index, row.value, row.notes


def convert_row(fields: tuple, kind: str, fmt: str | None, mapping: dict[str, str], cid: int,
                ingest_id: int) -> tuple:
    """One parsed row as ("ok", format, [(encoded example, warnings), ...]) or ("bad", code, message): a pure
    function of the row, so it gives the same on any engine."""
    path, line, index, value, notes = fields
    record = apply_mapping(value, mapping) if isinstance(value, dict) else value
    try:
        name, converted = convert_record(record, kind, fmt)
        source = Source(path, line, index, name)
        examples = [Example.create(c.messages, source, c.metadata, c.tools, [*c.warnings, *notes])
                    for c in converted]
        return "ok", name, [(encode_example(cid, ingest_id, e), e.warnings) for e in examples]
    except RowRejected as rej:
        return "bad", rej.code, rej.message + (mapping_hint(mapping, value) if rej.code == "unknown_format" else "")
    except orjson.JSONEncodeError:
        return "bad", "encoding_error", "the text holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape)"


ENGINE_PARTITION = 20_000  # rows per task on a distributed engine


def _convert_part(fields: list[tuple | None], spec: tuple) -> list[tuple | None]:
    return [None if f is None else convert_row(f, *spec) for f in fields]


def _converted_on(engine: Engine, rows: Iterator[RawRow], spec: tuple) -> Iterator[tuple[RawRow, tuple]]:
    """(row, converted) in file order, converted by partitions on the engine while this process reads on. A
    file damaged part-way stops the reading, not the rows read before it: they are converted and kept first."""
    sent: deque[list[RawRow]] = deque()
    damage: list[InputFileError] = []

    def parts() -> Iterator[list[tuple | None]]:
        batch: list[RawRow] = []
        try:
            for row in rows:
                batch.append(row)
                if len(batch) >= ENGINE_PARTITION:
                    sent.append(batch)
                    yield [None if r.error else _fields(r) for r in batch]
                    batch = []
        except InputFileError as exc:
            damage.append(exc)
        if batch:
            sent.append(batch)
            yield [None if r.error else _fields(r) for r in batch]

    for results in engine.map(_convert_part, parts(), spec):
        for row, result in zip(sent.popleft(), results):
            yield row, _unread(row) or result
    if damage:
        raise damage[0]


def ingest(
    paths: Iterable[str | os.PathLike],
    collection: str | None = None,
    *,
    kind: str = "examples",
    format: str | None = None,
    mapping: dict[str, str] | None = None,
    container: str | None = None,
    workspace: Workspace | str | os.PathLike | None = None,
    progress: Callable[[InputFile], ProgressFn | None] | None = None,
    limits: Limits | None = None,
    columns: list[str] | None = None,
    header_row: bool = True,
    engine: Engine | None = None,
) -> IngestReport:
    """Ingest files into a collection; returns the counts and the first errors.

    `format` forces one input format (else each record is detected); `mapping` renames
    source fields first (``{"question": "instruction"}``); `container` forces the file type; `limits`
    bounds what one record or one compressed file may take (see readers/limits.py); `columns` names
    CSV/TSV columns, and without `header_row` their first row is data. On a distributed `engine`, rows are
    converted (detected, validated, hashed) by its workers; reading and the workspace stay here.
    Raises InputFileError / UsageError / WorkspaceError for problems with the call itself;
    bad rows never raise, they are quarantined.
    """
    files = [str(p) for p in paths]
    if not files:
        raise UsageError("no input files given")
    if kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    if format is not None and format not in FORMATS:
        raise UsageError(f"unknown format {format!r}; choose from {', '.join(FORMATS)}")
    if container is not None and container not in CONTAINERS:
        raise UsageError(f"unknown file type {container!r}; choose from {', '.join(CONTAINERS)}")
    ws_dir = workspace.dir if isinstance(workspace, Workspace) else resolve_dir(workspace)
    # Fail fast, before anything is written; files are named relative to the folder holding the workspace.
    inputs = [open_input(p, container, limits, ws_dir.absolute().parent, columns, header_row) for p in files]
    with opened(workspace, create=True) as ws:
        name = collection or default_collection_name(files[0])
        new = name not in ws.collection_names()
        cid = ws.ensure_collection(name, kind)
        options = {"kind": kind, "format": format, "mapping": mapping or {}, "container": container}
        ingest_id = ws.start_ingest(cid, [i.display for i in inputs], options)
        try:
            return _ingest_into(ws, name, kind, cid, ingest_id, inputs, format, mapping, progress, engine)
        finally:
            if new:  # an empty file, or one that failed before a row: no collection of nothing in status
                ws.drop_if_barren(cid, ingest_id)


def _ingest_into(ws: Workspace, name: str, kind: str, cid: int, ingest_id: int, inputs: list[InputFile],
                 format: str | None, mapping: dict[str, str] | None, progress, engine: Engine | None) -> IngestReport:
    """Read every input into the collection, through the batching writer; the report of what went where."""
    report = IngestReport(name, kind, str(ws.dir), engine=engine.describe() if engine and engine.distributed
                          else None)
    big = sum(i.total if i.unit == "bytes" else i.total * 300 for i in inputs) > BIG_INPUT_BYTES
    batcher = _Batcher(ws, cid, ingest_id, report, big)
    started = time.perf_counter()
    with gc_paused():
        try:
            for inp in inputs:
                file = FileReport(inp.display, inp.container, notes=list(inp.notes))
                batcher.fixes = _fix_finder(ws, cid, name, inp)
                report.files.append(file)
                _ingest_file(inp, batcher, file, kind, format, mapping or {},
                             progress(inp) if progress else None, engine or Engine())
        finally:
            batcher.close()
    report.seconds = time.perf_counter() - started
    ws.finish_ingest(ingest_id, {k: v for k, v in report.to_dict().items() if k not in ("errors", "files")})
    return report
