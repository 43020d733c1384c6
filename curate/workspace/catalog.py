"""Collections (create, list, count, drop) and the bookkeeping of ingests: their start and finish, and the
batches of encoded rows they commit."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import orjson

from ..errors import UsageError
from ..record import Example
from .store import Store, _dumps, _new_id


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    kind: str
    examples: int
    quarantined: int
    repeats: int


class Catalog(Store):
    """Collections and ingests; every other part names a collection through `collection_id`."""

    def collection_id(self, name: str) -> int:
        row = self.conn.execute("SELECT id FROM collections WHERE name=?", (name,)).fetchone()
        if row is None:
            known = ", ".join(self.collection_names()) or "none yet"
            raise UsageError(f"no collection named {name!r} (collections: {known})")
        return row[0]

    def collection_kind(self, name: str) -> str:
        row = self.conn.execute("SELECT kind FROM collections WHERE name=?", (name,)).fetchone()
        if row is None:
            self.collection_id(name)  # raises the helpful error
        return row[0]

    def collection_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM collections ORDER BY id")]

    def ensure_collection(self, name: str, kind: str) -> int:
        """The collection's id, created if missing; two processes creating it at once get the same one."""
        with self.transaction():
            self.conn.execute("INSERT OR IGNORE INTO collections(name, kind, created_at) VALUES (?,?,?)",
                              (name, kind, time.time()))
            cid, held = self.conn.execute("SELECT id, kind FROM collections WHERE name=?", (name,)).fetchone()
        if held != kind:
            raise UsageError(f"collection {name!r} holds {held}, not {kind}; choose another name with --as")
        return cid

    def collections(self) -> dict[str, CollectionInfo]:
        rows = self.conn.execute(
            """SELECT c.name, c.kind,
                      (SELECT COUNT(*) FROM examples e WHERE e.collection_id=c.id),
                      (SELECT COUNT(*) FROM quarantine q WHERE q.collection_id=c.id AND q.resolved_by IS NULL),
                      (SELECT COUNT(*) FROM repeats r WHERE r.collection_id=c.id)
               FROM collections c ORDER BY c.id""").fetchall()
        return {r[0]: CollectionInfo(*r) for r in rows}

    def drop_collection(self, name: str) -> dict[str, int]:
        """Remove a collection and everything derived from it (examples, repeats, quarantined rows, ingests,
        runs with their findings, groups and clusters, decisions); the shared embedding cache stays.
        Returns how many rows of each went."""
        cid = self.collection_id(name)
        runs = "(SELECT id FROM runs WHERE collection_id=?)"
        gone: dict[str, int] = {}
        with self.transaction():
            for table, where in (("findings", f"run_id IN {runs}"), ("dup_members", f"run_id IN {runs}"),
                                 ("cluster_members", f"run_id IN {runs}"), ("runs", "collection_id=?"),
                                 ("decisions", "collection_id=?"), ("repeats", "collection_id=?"),
                                 ("quarantine", "collection_id=?"), ("examples", "collection_id=?"),
                                 ("ingests", "collection_id=?"), ("collections", "id=?")):
                gone[table] = self.conn.execute(f"DELETE FROM {table} WHERE {where}", (cid,)).rowcount
        return gone

    def drop_if_barren(self, cid: int, ingest_id: int) -> bool:
        """Remove a collection that an ingest created and left holding nothing (no example, repeat or quarantined
        row), with that ingest's record; not while another ingest into it is under way."""
        with self.transaction():
            held = self.conn.execute(
                """SELECT EXISTS(SELECT 1 FROM examples WHERE collection_id=?1)
                          OR EXISTS(SELECT 1 FROM quarantine WHERE collection_id=?1)
                          OR EXISTS(SELECT 1 FROM repeats WHERE collection_id=?1)
                          OR EXISTS(SELECT 1 FROM ingests WHERE collection_id=?1 AND id != ?2)""",
                (cid, ingest_id)).fetchone()[0]
            if held:
                return False
            self.conn.execute("DELETE FROM ingests WHERE id=?", (ingest_id,))
            self.conn.execute("DELETE FROM collections WHERE id=?", (cid,))
        return True

    def unfinished_ingests(self, collection: str) -> list[tuple[float, list[str]]]:
        """(started_at, paths) of each ingest into `collection` that has not finished: running now, or killed
        (what it wrote is kept; running it again finishes it)."""
        return [(r[0], orjson.loads(r[1])) for r in self.conn.execute(
            "SELECT started_at, paths FROM ingests WHERE collection_id=? AND finished_at IS NULL ORDER BY id",
            (self.collection_id(collection),))]

    def start_ingest(self, collection_id: int, paths: list[str], options: dict[str, Any]) -> int:
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO ingests(collection_id, started_at, paths, options) VALUES (?,?,?,?)",
                (collection_id, time.time(), _dumps(paths), _dumps(options)))
        return _new_id(cur)

    def finish_ingest(self, ingest_id: int, counts: dict[str, Any]) -> None:
        """Mark an ingest finished, and with it any earlier, interrupted ingest of the same files into the
        same collection: running it again is how one finishes (ingest is idempotent)."""
        now = time.time()
        with self.transaction():
            self.conn.execute("UPDATE ingests SET finished_at=?, counts=? WHERE id=?", (now, _dumps(counts), ingest_id))
            self.conn.execute(
                "UPDATE ingests SET finished_at=?, counts=? WHERE finished_at IS NULL AND id < ? AND paths = "
                "(SELECT paths FROM ingests WHERE id=?) AND collection_id = (SELECT collection_id FROM ingests "
                "WHERE id=?)", (now, _dumps({"finished_by_ingest": ingest_id}), ingest_id, ingest_id, ingest_id))

    def write_rows(self, example_rows: list[tuple], repeat_rows: list[tuple],
                   quarantine_rows: list[tuple], fixed: Sequence[tuple] = ()) -> tuple[int, int, int, int]:
        """Commit one batch of encoded ingest rows atomically (see `encode_example`); returns what the
        database gained: (examples, repeat places, quarantined rows). The rest of the batch was there
        already: read before at the same place (a re-ingest, or an interrupted ingest run again).

        `example_rows` hold distinct ids (one whose id is stored becomes a repeat); `repeat_rows` are
        known repeats of them; `quarantine_rows` are (collection_id, path, line, index, code, message,
        raw, raw_hash, ingest_id); `fixed` are (ingest_id, collection_id, path, line) of quarantined rows
        this batch accepts fixed, which it resolves. The fourth count is how many quarantined rows left the
        quarantine: fixed, or replaced by a newer version of the row at their place, still broken."""
        with self.transaction():
            before = self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM examples").fetchone()[0]
            cur = self.conn.executemany(
                "INSERT OR IGNORE INTO examples(collection_id, id, messages, tools, metadata, warnings, path, line,"
                " idx, format, ingest_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)", example_rows)
            stored: list[int] = []
            if cur.rowcount < len(example_rows):
                # Rows this transaction inserted have seq > before (the write lock is ours); the rest existed.
                inserted = {r[0] for r in self.conn.execute("SELECT id FROM examples WHERE seq > ?", (before,))}
                stored = [i for i, row in enumerate(example_rows) if row[1] not in inserted]
            # A repeat that is the stored example's own first occurrence (a re-ingest) is not a new place.
            repeats = self.conn.executemany(
                "INSERT OR IGNORE INTO repeats SELECT ?,?,?,?,?,?,?,? WHERE NOT EXISTS (SELECT 1 FROM examples"
                " WHERE id=? AND collection_id=? AND path=? AND line=? AND idx=?)",
                [_repeat_row(example_rows[i]) for i in stored] + [_repeat_row(r) for r in repeat_rows]).rowcount
            # A row at a place that holds an older version of it, still broken: the new one replaces the old.
            superseded = self.conn.executemany(
                "UPDATE quarantine SET resolved_by=? WHERE collection_id=? AND path=? AND line=? AND raw_hash != ? "
                "AND resolved_by IS NULL", [(r[8], r[0], r[1], r[2], r[7]) for r in quarantine_rows]).rowcount
            quarantined = self.conn.executemany(
                "INSERT OR IGNORE INTO quarantine(collection_id, path, line, idx, code, message, raw, raw_hash,"
                " ingest_id) VALUES (?,?,?,?,?,?,?,?,?)", quarantine_rows).rowcount
            resolved = self.conn.executemany(
                "UPDATE quarantine SET resolved_by=? WHERE collection_id=? AND path=? AND line=? "
                "AND resolved_by IS NULL", fixed).rowcount if fixed else 0
        return (len(example_rows) - len(stored), max(0, repeats), max(0, quarantined),
                max(0, resolved) + max(0, superseded))


def encode_example(collection_id: int, ingest_id: int, e: Example) -> tuple:
    """An example as the row `write_rows` stores (picklable, so a writer process can take it)."""
    return (collection_id, e.id, _dumps([m.to_dict() for m in e.messages]),
            _dumps(list(e.tools)) if e.tools else None, _dumps(e.metadata),
            _dumps([w.to_dict() for w in e.warnings]) if e.warnings else None,
            e.source.path, e.source.line, e.source.index, e.source.format, ingest_id)


def _repeat_row(row: tuple) -> tuple:
    cid, eid, _msgs, _tools, metadata, _warn, path, line, idx, fmt, ingest_id = row
    return (cid, eid, path, line, idx, fmt, metadata, ingest_id, eid, cid, path, line, idx)
