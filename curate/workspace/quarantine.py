"""Quarantined rows: the rows an ingest could not accept, kept with the reason until a later ingest of the
fixed row resolves them."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Iterator

from .catalog import Catalog


@dataclass(frozen=True)
class QuarantinedRow:
    collection: str
    path: str
    line: int
    index: int
    code: str
    message: str
    raw_data: str | bytes  # bytes only when the row is not valid UTF-8

    @property
    def raw(self) -> str:
        """The row as text; bytes that are not UTF-8 show as U+FFFD (`raw_data` keeps them exactly)."""
        data = self.raw_data
        return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data

    def to_dict(self, masked: bool = True) -> dict[str, Any]:
        """The row as JSON. `masked` (for listings and reports): secrets in the row and message masked and
        no exact bytes; unmasked only for the file `quarantine --export` writes, the user's own rows to fix."""
        from ..errors import ROW_ERRORS
        from ..secrets import redact

        d = {"collection": self.collection, "path": self.path, "line": self.line, "index": self.index,
             "code": self.code, "message": redact(self.message) if masked else self.message,
             "hint": ROW_ERRORS.get(self.code, ""), "raw": redact(self.raw) if masked else self.raw}
        if isinstance(self.raw_data, bytes) and not masked:
            d["raw_base64"] = base64.b64encode(self.raw_data).decode()
        return d


class Quarantine(Catalog):
    def has_quarantine(self, collection_id: int, path: str) -> bool:
        """Whether rows of this file are quarantined and unresolved (then an ingest of it looks for fixes)."""
        # its parts: 'a.json#train', 'dir#test' (and 'dir[test]', as workspaces before schema 6 named splits)
        parts = [(path + mark, path + mark + "\U0010ffff") for mark in "#["]
        return self.conn.execute(
            "SELECT 1 FROM quarantine WHERE collection_id=? AND resolved_by IS NULL AND (path=? OR (path > ? AND "
            "path < ?) OR (path > ? AND path < ?)) LIMIT 1",
            (collection_id, path, *parts[0], *parts[1])).fetchone() is not None

    def iter_quarantine(self, collection: str | None = None, code: str | None = None,
                        path: str | None = None) -> Iterator[QuarantinedRow]:
        """Quarantined rows not yet resolved (a later ingest accepted the fixed row), in the order read."""
        sql = ("SELECT c.name, q.path, q.line, q.idx, q.code, q.message, q.raw FROM quarantine q "
               "JOIN collections c ON c.id=q.collection_id WHERE q.resolved_by IS NULL")
        args: list[Any] = []
        if path is not None:
            sql += " AND q.path=?"
            args.append(path)
        if collection is not None:
            sql += " AND q.collection_id=?"
            args.append(self.collection_id(collection))
        if code is not None:
            sql += " AND q.code=?"
            args.append(code)
        for row in self.conn.execute(sql + " ORDER BY q.seq", args):
            yield QuarantinedRow(*row)
