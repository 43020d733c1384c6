"""`curate quarantine --export FILE`: the rejected rows exactly as they were, to fix and ingest again.

FILE holds the raw rows one after another, each ending in a newline (bytes that were not UTF-8 included),
so fixing them in an editor and ingesting FILE reads them with the same reader; a JSON record written over
several lines (an element of a JSON array file) is put on one line, with its tokens unchanged, so that FILE
reads as JSON Lines. The rows must belong to one collection, the one FILE is ingested into again. The
reasons go beside it in FILE.reasons.jsonl, one line per row: the line the row starts on in FILE, where it
came from, its code, message and fix. Ingesting FILE into the same collection finds that file and resolves
each row it now accepts (it leaves `curate quarantine` and `status`; the table keeps it, marked resolved).

A CSV or TSV row needs its header: rows from one such file get that file's first line (read from the
file, which must still exist) above them; rows from several files of which one is CSV/TSV are refused,
and `--file PATH` exports one at a time.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from .errors import ROW_ERRORS, UsageError
from .workspace import QuarantinedRow, Workspace

_DELIMITED = (".csv", ".tsv", ".tab")


def _delimited(path: str) -> bool:
    name = path.split("#", 1)[0].lower().removesuffix(".gz").removesuffix(".gzip")
    return name.endswith(_DELIMITED)


def _header(ws: Workspace, path: str) -> bytes:
    source = Path(path) if Path(path).is_absolute() else ws.dir.absolute().parent / path
    try:
        with open(source, "rb") as fh:
            return fh.readline().rstrip(b"\r\n") + b"\n"
    except OSError as exc:
        raise UsageError(f"the quarantined rows come from {path}, a CSV/TSV file whose header they need, and it "
                         f"cannot be read now ({exc.strerror})") from exc


def export(ws: Workspace, target: str, collection: str | None = None, code: str | None = None,
           path: str | None = None) -> tuple[int, Path, str | None]:
    """Write the unresolved quarantined rows (of `collection`, with `code`, from `path`) to `target` and
    their reasons beside it; returns how many rows, the reasons file and the collection they belong to."""
    rows = list(ws.iter_quarantine(collection, code, path))
    collections = sorted({r.collection for r in rows})
    if len(collections) > 1:
        listed = ", ".join(collections[:4])
        raise UsageError(f"the quarantined rows belong to {len(collections)} collections ({listed}); "
                         "a fixed row leaves the quarantine only when ingested into its own collection: export one "
                         "at a time with {collection} NAME", params=("collection",))
    sources = {r.path for r in rows}
    if any(_delimited(s) for s in sources) and len(sources) > 1:
        listed = ", ".join(sorted(sources)[:4])
        raise UsageError(f"the quarantined rows come from {len(sources)} files, some CSV/TSV ({listed}); a CSV row "
                         "needs its own file's header: export one file at a time with {source} PATH",
                         params=("source",))
    out, reasons_path = Path(target), Path(target + ".reasons.jsonl")
    line = 1
    with open(out, "wb") as fh, open(reasons_path, "wb") as reasons:
        if rows and _delimited(rows[0].path):
            fh.write(_header(ws, rows[0].path))
            line += 1
        for r in rows:
            raw = _one_line(r.raw_data if isinstance(r.raw_data, bytes)
                            else r.raw_data.encode("utf-8", "surrogateescape"))
            fh.write(raw + b"\n")
            reasons.write(orjson.dumps(_reason(r, line)) + b"\n")
            line += raw.count(b"\n") + 1
    return len(rows), reasons_path, collections[0] if collections else None


def _one_line(raw: bytes) -> bytes:
    """A record of a JSON array file spans lines as written; in FILE, read again as JSON Lines, each line would
    be a broken record. Valid JSON holds line breaks only between its tokens (inside strings they are
    escaped), so joining its lines with spaces changes no key, number or string."""
    if b"\n" not in raw:
        return raw
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw  # not JSON (a CSV row with a quoted line break, a broken record): as it was
    return b" ".join(line.strip() for line in raw.splitlines())


def _reason(r: QuarantinedRow, line: int) -> dict:
    return {"line": line, "collection": r.collection, "source": {"path": r.path, "line": r.line, "index": r.index},
            "code": r.code, "message": r.message, "hint": ROW_ERRORS.get(r.code, "")}
