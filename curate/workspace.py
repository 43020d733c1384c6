"""The workspace: one SQLite database (WAL) that is the single source of truth. Nothing else writes SQL.

Layout: a directory (default `.curate/`, or `--workspace DIR`, or `$CURATE_WORKSPACE`) holding
`curate.db`. The schema carries a version (PRAGMA user_version) and migrates forward on open.
"""

from __future__ import annotations

import base64
import os
import random
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import orjson

from .errors import UsageError, WorkspaceBusy, WorkspaceError
from .findings import Finding
from .record import Example, Issue, Message, Source

DEFAULT_DIR = ".curate"
DB_NAME = "curate.db"

_MIGRATIONS: list[str] = [
    # 1: collections, ingest runs, examples, repeats, quarantine
    """
    CREATE TABLE collections (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('examples', 'queries')),
        created_at REAL NOT NULL
    );
    CREATE TABLE ingests (
        id INTEGER PRIMARY KEY,
        collection_id INTEGER NOT NULL REFERENCES collections(id),
        started_at REAL NOT NULL,
        finished_at REAL,
        paths TEXT NOT NULL,
        options TEXT NOT NULL,
        counts TEXT
    );
    CREATE TABLE examples (
        seq INTEGER PRIMARY KEY,
        collection_id INTEGER NOT NULL REFERENCES collections(id),
        id TEXT NOT NULL,
        messages TEXT NOT NULL,
        tools TEXT,
        metadata TEXT NOT NULL,
        warnings TEXT,
        path TEXT NOT NULL,
        line INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        format TEXT NOT NULL,
        ingest_id INTEGER NOT NULL REFERENCES ingests(id),
        UNIQUE (id, collection_id)
    );
    CREATE TABLE repeats (
        collection_id INTEGER NOT NULL REFERENCES collections(id),
        example_id TEXT NOT NULL,
        path TEXT NOT NULL,
        line INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        format TEXT NOT NULL,
        metadata TEXT NOT NULL,
        ingest_id INTEGER NOT NULL REFERENCES ingests(id),
        UNIQUE (collection_id, example_id, path, line, idx)
    );
    CREATE TABLE quarantine (
        seq INTEGER PRIMARY KEY,
        collection_id INTEGER NOT NULL REFERENCES collections(id),
        path TEXT NOT NULL,
        line INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        raw NOT NULL,  -- TEXT, or BLOB for rows that are not valid UTF-8
        raw_hash TEXT NOT NULL,
        ingest_id INTEGER NOT NULL REFERENCES ingests(id),
        UNIQUE (collection_id, path, line, raw_hash)
    );
    """,
    # 2: analysis runs, their findings, and duplicate groups
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        collection_id INTEGER NOT NULL REFERENCES collections(id),
        kind TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        params TEXT NOT NULL,
        summary TEXT
    );
    CREATE INDEX runs_by_collection ON runs(collection_id, kind, id);
    CREATE TABLE findings (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        example_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL CHECK (severity IN ('error', 'warning', 'info')),
        score REAL NOT NULL CHECK (score >= 0 AND score <= 1),
        message TEXT NOT NULL,
        evidence TEXT
    );
    CREATE INDEX findings_by_run ON findings(run_id, example_id);
    CREATE INDEX findings_by_example ON findings(example_id);
    CREATE TABLE dup_members (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        group_no INTEGER NOT NULL,
        example_id TEXT NOT NULL,
        is_representative INTEGER NOT NULL,
        method TEXT NOT NULL,
        PRIMARY KEY (run_id, group_no, example_id)
    );
    CREATE INDEX dup_members_by_example ON dup_members(example_id);
    """,
    # 3: the embedding cache shared by semantic dedup and coverage: nothing is embedded twice
    """
    CREATE TABLE embeddings (
        model TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        dim INTEGER NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (model, text_hash)
    ) WITHOUT ROWID;
    """,
    # 4: coverage clusters, read by review (the cluster an example sits in) and export (stratified splits)
    """
    CREATE TABLE cluster_members (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        example_id TEXT NOT NULL,
        side TEXT NOT NULL CHECK (side IN ('train', 'query')),
        cluster INTEGER NOT NULL,
        PRIMARY KEY (run_id, side, example_id)
    ) WITHOUT ROWID;
    CREATE INDEX cluster_members_by_example ON cluster_members(example_id);
    """,
    # 5: reviewers' decisions, an append-only log: the latest live decision per (example, reviewer) counts;
    # an undo appends a 'retract' row naming the decision it takes back
    """
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        collection_id INTEGER NOT NULL REFERENCES collections(id),
        example_id TEXT NOT NULL,
        reviewer TEXT NOT NULL,
        verdict TEXT NOT NULL CHECK (verdict IN ('accept', 'reject', 'retract')),
        reason TEXT,
        revision TEXT,
        retracts INTEGER REFERENCES decisions(id),
        at REAL NOT NULL
    );
    CREATE INDEX decisions_by_example ON decisions(collection_id, example_id, reviewer, id);
    CREATE INDEX decisions_by_retracted ON decisions(retracts) WHERE retracts IS NOT NULL;
    """,
    # 6: provenance: the state of each collection a run read (so later steps can tell a stale result), and
    # quarantined rows a later ingest of the fixed row resolved
    """
    ALTER TABLE runs ADD COLUMN state TEXT;
    ALTER TABLE quarantine ADD COLUMN resolved_by INTEGER REFERENCES ingests(id);
    CREATE INDEX examples_by_collection ON examples(collection_id, seq);
    """,
]
SCHEMA_VERSION = len(_MIGRATIONS)


@dataclass(frozen=True)
class Decision:
    id: int
    example_id: str
    reviewer: str
    verdict: str  # accept | reject
    reason: str | None
    revision: list[dict] | None  # the edited conversation, when the reviewer edited it
    at: float


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    kind: str
    examples: int
    quarantined: int
    repeats: int


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
        from .errors import ROW_ERRORS
        from .secrets import redact

        d = {"collection": self.collection, "path": self.path, "line": self.line, "index": self.index,
             "code": self.code, "message": redact(self.message) if masked else self.message,
             "hint": ROW_ERRORS.get(self.code, ""), "raw": redact(self.raw) if masked else self.raw}
        if isinstance(self.raw_data, bytes) and not masked:
            d["raw_base64"] = base64.b64encode(self.raw_data).decode()
        return d


WRITE_WAIT = 30.0  # seconds a write waits for the lock
CHUNK_ROWS = 10_000  # rows per transaction in bulk writes: 50-70 ms of SQLite's time
# Fair turns at the write lock. SQLite's own busy handler sleeps up to 100 ms between tries, so a writer
# committing chunk after chunk takes the lock again before a waiting one wakes (a reviewer waited 2.2 s
# behind 70 ms chunks). So a waiting writer tries every millisecond or so, and a connection that just held
# the lock for a while (a 70 ms chunk, an ingest batch) leaves up to LOCK_GAP before it takes it again;
# after a short transaction the gap is as short (a twentieth of the hold), so small writes cost nothing.
_POLL = 0.001
LOCK_GAP = 0.003


def resolve_dir(path: str | os.PathLike | None) -> Path:
    return Path(path or os.environ.get("CURATE_WORKSPACE") or DEFAULT_DIR)


@contextmanager
def opened(workspace: "Workspace | str | os.PathLike | None", create: bool = False) -> Iterator["Workspace"]:
    """The workspace itself, or one opened from a directory and closed afterwards: every library entry point
    takes either."""
    if isinstance(workspace, Workspace):
        yield workspace
        return
    ws = Workspace(workspace, create=create)
    try:
        yield ws
    finally:
        ws.close()


def _new_id(cur: sqlite3.Cursor) -> int:
    """The id SQLite gave the row just inserted (None only if nothing was inserted: a bug, not bad data)."""
    if cur.lastrowid is None:
        raise WorkspaceError("internal error: an insert returned no row id")
    return cur.lastrowid


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY).decode()


class Workspace:
    """Typed access to the workspace database. Use as a context manager, or call `close()`."""

    def __init__(self, path: str | os.PathLike | None = None, *, create: bool = True, wait: float = WRITE_WAIT):
        """`wait`: how long a write waits for another process's write lock before WorkspaceBusy (SQLite retries
        with backoff meanwhile). Long writes here commit in chunks well under a second, so waits stay short."""
        self.dir = resolve_dir(path)
        db = self.dir / DB_NAME
        if not db.exists():
            if not create:
                raise WorkspaceError(
                    f"no workspace at {self.dir}/ (run 'curate ingest' first, or pass --workspace DIR)")
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise WorkspaceError(f"cannot create workspace {self.dir}/: {exc.strerror}") from exc
        self.wait = wait
        self._committed = self._held = 0.0  # when this connection last ended a write transaction, and how
        # long that one held the lock (see LOCK_GAP)
        deadline = time.monotonic() + wait
        while True:
            try:
                self.conn = self._open(db)
                return
            except sqlite3.OperationalError as exc:
                # Processes creating one new database at once can each hold the lock the other needs (its
                # journal mode is set under an exclusive lock): SQLite then answers busy at once, and a
                # retry is all it takes.
                if not _is_busy(exc):
                    raise WorkspaceError(f"{db}: not a usable curate workspace ({exc})") from exc
                if time.monotonic() >= deadline:
                    raise _busy(self.dir, wait) from exc
                time.sleep(_POLL * (1 + 10 * random.random()))
            except sqlite3.DatabaseError as exc:
                raise WorkspaceError(f"{db}: not a usable curate workspace ({exc})") from exc

    def _open(self, db: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(db, timeout=self.wait, isolation_level=None, check_same_thread=False)
        try:
            # Large pages and rare checkpoints: measured 2.3x faster bulk ingest than SQLite's defaults
            # (1M rows: 24 s -> 10 s). page_size only takes effect on a new database.
            conn.execute("PRAGMA page_size=65536")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA wal_autocheckpoint=2000")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            # Ids are random hashes, so index inserts touch pages all over the tree: keep them cached.
            conn.execute("PRAGMA cache_size=-262144")
            self.conn = conn
            self._migrate()
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise WorkspaceError(
                f"{self.dir}/ was written by a newer curate (schema {version} > {SCHEMA_VERSION}); upgrade curate")
        while version < SCHEMA_VERSION:
            # One transaction per step, re-checked under the write lock: a crash mid-migration leaves the
            # previous version intact, and two processes opening a new workspace migrate it once.
            with self.transaction():
                version = self.conn.execute("PRAGMA user_version").fetchone()[0]
                if version < SCHEMA_VERSION:
                    for statement in _MIGRATIONS[version].split(";"):
                        if statement.strip():
                            self.conn.execute(statement)
                    version += 1
                    self.conn.execute(f"PRAGMA user_version={version}")

    def transaction(self):
        return _Transaction(self)

    def _insert_chunks(self, sql: str, rows: list[tuple]) -> int:
        """executemany in transactions of CHUNK_ROWS rows (~0.1 s each), so another writer waits that long at
        most; the rows are serialised before any lock is taken. Returns the rows inserted."""
        inserted = 0
        for start in range(0, len(rows), CHUNK_ROWS):
            with self.transaction():
                inserted += max(0, self.conn.executemany(sql, rows[start:start + CHUNK_ROWS]).rowcount)
        return inserted

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    # -- collections -----------------------------------------------------------------------------
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

    def unfinished_ingests(self, collection: str) -> list[tuple[float, list[str]]]:
        """(started_at, paths) of each ingest into `collection` that has not finished: running now, or killed
        (what it wrote is kept; running it again finishes it)."""
        return [(r[0], orjson.loads(r[1])) for r in self.conn.execute(
            "SELECT started_at, paths FROM ingests WHERE collection_id=? AND finished_at IS NULL ORDER BY id",
            (self.collection_id(collection),))]

    # -- ingest ----------------------------------------------------------------------------------
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

    def has_quarantine(self, collection_id: int, path: str) -> bool:
        """Whether rows of this file are quarantined and unresolved (then an ingest of it looks for fixes)."""
        # its parts: 'a.json#train', 'dir#test' (and 'dir[test]', as workspaces before schema 6 named splits)
        parts = [(path + mark, path + mark + "\U0010ffff") for mark in "#["]
        return self.conn.execute(
            "SELECT 1 FROM quarantine WHERE collection_id=? AND resolved_by IS NULL AND (path=? OR (path > ? AND "
            "path < ?) OR (path > ? AND path < ?)) LIMIT 1",
            (collection_id, path, *parts[0], *parts[1])).fetchone() is not None

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


    # -- analysis runs ---------------------------------------------------------------------------
    def collection_state(self, name: str) -> dict[str, int]:
        """What a run reads of a collection, to tell later whether its result is stale: the collection's id
        (a dropped and re-made collection gets a new one), its examples, the last one's sequence number (any
        ingest that adds raises it) and the reviewers' edits (answers no check has read)."""
        cid = self.collection_id(name)
        examples, last = self.conn.execute("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM examples "
                                           "WHERE collection_id=?", (cid,)).fetchone()
        edits = self.conn.execute("SELECT COUNT(*) FROM decisions WHERE collection_id=? AND revision IS NOT NULL",
                                  (cid,)).fetchone()[0]
        return {"collection_id": cid, "examples": examples, "last_seq": last, "edits": edits}

    def start_run(self, collection: str, kind: str, params: dict[str, Any], reads: Sequence[str] = ()) -> int:
        """A new run of `kind` on `collection`, recording the state of it and of the other collections it
        `reads` (dedup --against, coverage --queries) as they are when the run starts."""
        cid = self.collection_id(collection)
        state = {name: self.collection_state(name) for name in dict.fromkeys([collection, *reads])}
        with self.transaction():
            cur = self.conn.execute("INSERT INTO runs(collection_id, kind, started_at, params, state) "
                                    "VALUES (?,?,?,?,?)", (cid, kind, time.time(), _dumps(params), _dumps(state)))
        return _new_id(cur)

    def finish_run(self, run_id: int, summary: dict[str, Any], findings: list[Finding],
                   groups: Sequence[tuple[int, str, str, list[str]]] = ()) -> None:
        """Store a run's findings and duplicate groups (group_no, method, representative, member ids),
        then its summary. A run is read only once finished (finished_at is set last, on its own), so it is
        visible complete or not at all, while its rows go in short transactions that never hold the write
        lock long (900K findings in one transaction held it for 30 s)."""
        finding_rows = [(run_id, f.example_id, f.kind, f.severity, min(1.0, max(0.0, float(f.score))), f.message,
                         _dumps(f.evidence) if f.evidence is not None else None) for f in findings]
        member_rows = [(run_id, no, eid, int(eid == rep), method) for no, method, rep, members in groups
                       for eid in members]
        self._insert_chunks("INSERT INTO findings(run_id, example_id, kind, severity, score, message, evidence) "
                            "VALUES (?,?,?,?,?,?,?)", finding_rows)
        self._insert_chunks("INSERT OR IGNORE INTO dup_members(run_id, group_no, example_id, is_representative, "
                            "method) VALUES (?,?,?,?,?)", member_rows)
        with self.transaction():
            self.conn.execute("UPDATE runs SET finished_at=?, summary=? WHERE id=?",
                              (time.time(), _dumps(summary), run_id))

    def latest_run(self, collection: str, kind: str) -> RunInfo | None:
        cid = self.collection_id(collection)
        row = self.conn.execute(
            "SELECT id, kind, started_at, finished_at, params, summary, state FROM runs WHERE collection_id=? "
            "AND kind=? AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1", (cid, kind)).fetchone()
        if row is None:
            return None
        return RunInfo(row[0], collection, row[1], row[2], row[3], orjson.loads(row[4]),
                       orjson.loads(row[5]) if row[5] else None, orjson.loads(row[6]) if row[6] else None)

    def run_findings(self, run_id: int) -> list[Finding]:
        return [Finding(r[0], r[1], r[2], r[3], r[4], orjson.loads(r[5]) if r[5] else None)
                for r in self.conn.execute("SELECT example_id, kind, severity, score, message, evidence "
                                           "FROM findings WHERE run_id=? ORDER BY rowid", (run_id,))]

    def store_clusters(self, run_id: int, rows: list[tuple[str, str, int]]) -> None:
        """Cluster membership of a coverage run: (example id, 'train' or 'query', cluster number)."""
        self._insert_chunks("INSERT OR REPLACE INTO cluster_members(run_id, example_id, side, cluster) "
                            "VALUES (?,?,?,?)", [(run_id, eid, side, c) for eid, side, c in rows])

    def run_clusters(self, run_id: int, side: str = "train") -> dict[str, int]:
        """example id -> cluster number, for one side of a coverage run."""
        return dict(self.conn.execute("SELECT example_id, cluster FROM cluster_members WHERE run_id=? AND side=?",
                                      (run_id, side)).fetchall())

    def run_groups(self, run_id: int) -> dict[int, list[tuple[str, bool, str]]]:
        """group_no -> [(example_id, is_representative, method)] for a dedup run."""
        groups: dict[int, list[tuple[str, bool, str]]] = {}
        for no, eid, rep, method in self.conn.execute(
                "SELECT group_no, example_id, is_representative, method FROM dup_members WHERE run_id=? "
                "ORDER BY group_no, is_representative DESC", (run_id,)):
            groups.setdefault(no, []).append((eid, bool(rep), method))
        return groups

    def findings_for(self, example_id: str) -> list[tuple[str, Finding]]:
        """Findings about one example from the latest finished run of each kind, with the run kind."""
        rows = self.conn.execute(
            "SELECT r.kind, f.example_id, f.kind, f.severity, f.score, f.message, f.evidence FROM findings f "
            "JOIN runs r ON r.id=f.run_id WHERE f.example_id=? AND r.id = (SELECT MAX(r2.id) FROM runs r2 "
            "WHERE r2.collection_id=r.collection_id AND r2.kind=r.kind AND r2.finished_at IS NOT NULL)",
            (example_id,)).fetchall()
        return [(r[0], Finding(r[1], r[2], r[3], r[4], r[5], orjson.loads(r[6]) if r[6] else None)) for r in rows]

    def iter_repeats(self, collection: str) -> Iterator[tuple[str, Source]]:
        """Every recorded exact repeat: (example id, where it occurred again)."""
        cid = self.collection_id(collection)
        for eid, path, line, idx, fmt in self.conn.execute(
                "SELECT example_id, path, line, idx, format FROM repeats WHERE collection_id=? "
                "ORDER BY rowid", (cid,)):
            yield eid, Source(path, line, idx, fmt)

    # -- review decisions ------------------------------------------------------------------------
    def record_decision(self, collection: str, example_id: str, reviewer: str, verdict: str,
                        reason: str | None = None, revision: list[dict] | None = None) -> int:
        """Append one decision; `revision` is the edited conversation (messages as dicts), the original kept."""
        if verdict not in ("accept", "reject"):
            raise ValueError(f"verdict must be accept or reject, not {verdict!r}")
        cid = self.collection_id(collection)
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO decisions(collection_id, example_id, reviewer, verdict, reason, revision, at) "
                "VALUES (?,?,?,?,?,?,?)", (cid, example_id, reviewer, verdict, reason,
                                           _dumps(revision) if revision is not None else None, time.time()))
        return _new_id(cur)

    def retract_decision(self, decision_id: int, reviewer: str) -> int:
        """Take back one decision (undo); the log keeps both rows."""
        with self.transaction():
            row = self.conn.execute("SELECT collection_id, example_id FROM decisions WHERE id=? AND reviewer=? "
                                    "AND verdict != 'retract'", (decision_id, reviewer)).fetchone()
            if row is None:
                raise ValueError(f"no decision {decision_id} by {reviewer!r} to retract")
            cur = self.conn.execute(
                "INSERT INTO decisions(collection_id, example_id, reviewer, verdict, retracts, at) "
                "VALUES (?,?,?,?,?,?)", (row[0], row[1], reviewer, "retract", decision_id, time.time()))
        return _new_id(cur)

    def decisions_in_force(self, collection: str, example_id: str | None = None) -> list[Decision]:
        """The latest decision per (example, reviewer) that was not retracted, oldest first."""
        cid = self.collection_id(collection)
        rows = self.conn.execute(
            "SELECT id, example_id, reviewer, verdict, reason, revision, at FROM decisions d WHERE collection_id=? "
            "AND (? IS NULL OR example_id=?) AND verdict != 'retract' "
            "AND NOT EXISTS (SELECT 1 FROM decisions r WHERE r.retracts = d.id) ORDER BY id",
            (cid, example_id, example_id)).fetchall()
        latest: dict[tuple[str, str], Decision] = {}
        for r in rows:
            latest[(r[1], r[2])] = Decision(r[0], r[1], r[2], r[3], r[4],
                                            orjson.loads(r[5]) if r[5] is not None else None, r[6])
        return sorted(latest.values(), key=lambda d: d.id)

    def max_decision_id(self, collection: str) -> int:
        cid = self.collection_id(collection)
        return self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM decisions WHERE collection_id=?",
                                 (cid,)).fetchone()[0]

    # -- embedding cache -------------------------------------------------------------------------
    def cached_embeddings(self, model: str, text_hashes: list[str]) -> dict[str, bytes]:
        """text hash -> stored vector bytes (float16), for the hashes already embedded with `model`."""
        found: dict[str, bytes] = {}
        for i in range(0, len(text_hashes), 900):
            chunk = text_hashes[i:i + 900]
            marks = ",".join("?" * len(chunk))
            found.update(self.conn.execute(
                f"SELECT text_hash, vector FROM embeddings WHERE model=? AND text_hash IN ({marks})",
                (model, *chunk)).fetchall())
        return found

    def store_embeddings(self, model: str, dim: int, rows: list[tuple[str, bytes]]) -> None:
        self._insert_chunks("INSERT OR IGNORE INTO embeddings(model, text_hash, dim, vector) VALUES (?,?,?,?)",
                            [(model, h, dim, v) for h, v in rows])

    # -- reading ---------------------------------------------------------------------------------
    _EXAMPLE_COLS = "id, messages, tools, metadata, warnings, path, line, idx, format"

    @staticmethod
    def _example(row: tuple) -> Example:
        eid, messages, tools, metadata, warnings, path, line, idx, fmt = row
        return Example(
            id=eid,
            messages=tuple(Message.from_dict(m) for m in orjson.loads(messages)),
            source=Source(path, line, idx, fmt),
            metadata=orjson.loads(metadata),
            tools=tuple(orjson.loads(tools)) if tools else (),
            warnings=tuple(Issue(**w) for w in orjson.loads(warnings)) if warnings else (),
        )

    def iter_examples(self, collection: str, batch: int = 2000, after: int = 0,
                      until: int | None = None, every: int = 1) -> Iterator[Example]:
        """Examples in ingest order, streamed; `after`/`until` bound the storage sequence (see `seq_bounds`);
        `every` > 1 yields an even sample, one example in `every`."""
        cid = self.collection_id(collection)
        last = after
        stop = until if until is not None else 2**62
        while True:
            rows = self.conn.execute(
                f"SELECT seq, {self._EXAMPLE_COLS} FROM examples WHERE collection_id=? AND seq>? AND seq<=? "
                "AND seq % ? = 0 ORDER BY seq LIMIT ?", (cid, last, stop, every, batch)).fetchall()
            if not rows:
                return
            for row in rows:
                yield self._example(row[1:])
            last = rows[-1][0]

    def get_example(self, collection: str, example_id: str) -> Example:
        cid = self.collection_id(collection)
        row = self.conn.execute(f"SELECT {self._EXAMPLE_COLS} FROM examples WHERE id=? AND collection_id=?",
                                (example_id, cid)).fetchone()
        if row is None:
            raise UsageError(f"no example {example_id} in collection {collection!r}")
        return self._example(row)

    def seq_bounds(self, collection: str, parts: int) -> list[tuple[int, int]]:
        """(after, until) sequence ranges splitting a collection into `parts` near-equal slices."""
        cid = self.collection_id(collection)
        seqs = [r[0] for r in self.conn.execute(
            "SELECT seq FROM examples WHERE collection_id=? ORDER BY seq", (cid,))]
        if not seqs:
            return []
        cuts = [seqs[(len(seqs) * k) // parts] for k in range(1, parts)]
        edges = [seqs[0] - 1, *[c - 1 for c in cuts], seqs[-1]]
        return [(lo, hi) for lo, hi in zip(edges, edges[1:]) if hi > lo]

    def example_ids(self, collection: str) -> list[str]:
        """Every example id of a collection, in ingest order."""
        cid = self.collection_id(collection)
        return [r[0] for r in self.conn.execute("SELECT id FROM examples WHERE collection_id=? ORDER BY seq", (cid,))]

    def search_examples(self, collection: str, text: str) -> list[str]:
        """Ids of examples whose conversation contains `text` (case-insensitive for ASCII), in ingest order."""
        cid = self.collection_id(collection)
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM examples WHERE collection_id=? AND messages LIKE ? ESCAPE '\\' ORDER BY seq",
            (cid, pattern))]

    def count_examples(self, collection: str) -> int:
        cid = self.collection_id(collection)
        return self.conn.execute("SELECT COUNT(*) FROM examples WHERE collection_id=?", (cid,)).fetchone()[0]

    def find_examples(self, id_prefix: str) -> list[tuple[str, Example]]:
        """Examples whose id starts with `id_prefix`, with their collection name (at most 20)."""
        if not id_prefix or any(c not in "0123456789abcdef" for c in id_prefix.lower()):
            raise UsageError(f"{id_prefix!r} is not an example id (ids are hexadecimal, e.g. 3f9a2c...)")
        rows = self.conn.execute(
            f"SELECT c.name, {', '.join('e.' + c.strip() for c in self._EXAMPLE_COLS.split(','))} "
            "FROM examples e JOIN collections c ON c.id=e.collection_id WHERE e.id >= ? AND e.id < ? LIMIT 20",
            (id_prefix.lower(), id_prefix.lower() + "g")).fetchall()
        return [(r[0], self._example(r[1:])) for r in rows]

    def find_by_source(self, path: str, line: int) -> list[tuple[str, Example]]:
        """Examples stored from this file and line, or repeated there, with their collection name."""
        cols = ", ".join("e." + c.strip() for c in self._EXAMPLE_COLS.split(","))
        rows = self.conn.execute(
            f"SELECT c.name, {cols} FROM examples e JOIN collections c ON c.id=e.collection_id "
            f"WHERE e.path=? AND e.line=? UNION SELECT c.name, {cols} FROM repeats r "
            "JOIN examples e ON e.id=r.example_id AND e.collection_id=r.collection_id "
            "JOIN collections c ON c.id=r.collection_id WHERE r.path=? AND r.line=? LIMIT 20",
            (path, line, path, line)).fetchall()
        return [(r[0], self._example(r[1:])) for r in rows]

    def repeats_of(self, collection: str, example_id: str) -> list[Source]:
        cid = self.collection_id(collection)
        return [Source(*r) for r in self.conn.execute(
            "SELECT path, line, idx, format FROM repeats WHERE collection_id=? AND example_id=? "
            "ORDER BY path, line", (cid, example_id))]

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


def encode_example(collection_id: int, ingest_id: int, e: Example) -> tuple:
    """An example as the row `write_rows` stores (picklable, so a writer process can take it)."""
    return (collection_id, e.id, _dumps([m.to_dict() for m in e.messages]),
            _dumps(list(e.tools)) if e.tools else None, _dumps(e.metadata),
            _dumps([w.to_dict() for w in e.warnings]) if e.warnings else None,
            e.source.path, e.source.line, e.source.index, e.source.format, ingest_id)


def _repeat_row(row: tuple) -> tuple:
    cid, eid, _msgs, _tools, metadata, _warn, path, line, idx, fmt, ingest_id = row
    return (cid, eid, path, line, idx, fmt, metadata, ingest_id, eid, cid, path, line, idx)


@dataclass(frozen=True)
class RunInfo:
    id: int
    collection: str
    kind: str
    started_at: float
    finished_at: float | None
    params: dict[str, Any]
    summary: dict[str, Any] | None
    state: dict[str, dict[str, int]] | None = None  # collection -> collection_state() when the run started


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT: the write lock is taken at the start, trying every millisecond or so
    (see LOCK_GAP) for up to the workspace's `wait`; a wait that runs out is WorkspaceBusy."""

    def __init__(self, ws: Workspace):
        self.ws = ws

    def __enter__(self):
        ws = self.ws
        gap = min(LOCK_GAP, ws._held / 20) - (time.monotonic() - ws._committed)
        if gap > 0:  # back to back after a long hold: leave a turn for anyone waiting
            time.sleep(gap)
        conn, deadline = ws.conn, time.monotonic() + ws.wait
        conn.execute("PRAGMA busy_timeout=0")  # this loop waits instead of SQLite's coarse handler
        try:
            while True:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    self._began = time.monotonic()
                    return conn
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc):
                        raise
                    if time.monotonic() >= deadline:
                        raise _busy(self.ws.dir, self.ws.wait) from exc
                    time.sleep(_POLL * (0.5 + random.random()))
        finally:
            conn.execute(f"PRAGMA busy_timeout={int(self.ws.wait * 1000)}")

    def __exit__(self, exc_type, *_):
        self.ws.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        self.ws._committed = time.monotonic()
        self.ws._held = self.ws._committed - self._began


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _busy(directory: Path, wait: float) -> WorkspaceBusy:
    return WorkspaceBusy(f"the workspace {directory}/ is busy: another curate process held its write lock for "
                         f"over {wait:.0f} s; wait for it to finish (curate status shows what ran), then run this "
                         "again")
