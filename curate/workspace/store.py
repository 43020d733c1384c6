"""The core every part of the workspace stands on: the directory and its database, the connection (opened,
migrated, closed), write transactions with fair turns at the lock, and chunked bulk inserts."""

from __future__ import annotations

import os
import random
import sqlite3
import time
from pathlib import Path
from typing import Any, TypeVar

import orjson

from ..errors import WorkspaceBusy, WorkspaceError
from .schema import _MIGRATIONS, SCHEMA_VERSION

DEFAULT_DIR = ".curate"
DB_NAME = "curate.db"

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


def _new_id(cur: sqlite3.Cursor) -> int:
    """The id SQLite gave the row just inserted (None only if nothing was inserted: a bug, not bad data)."""
    if cur.lastrowid is None:
        raise WorkspaceError("internal error: an insert returned no row id")
    return cur.lastrowid


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY).decode()


_S = TypeVar("_S", bound="Store")


class Store:
    """The connection and its transactions; `Workspace` adds the typed reads and writes of each concern."""

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
        self._group = 0.0  # seconds consecutive transactions may share one commit (see group_commits)
        self._group_began: float | None = None
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
    def __enter__(self: _S) -> _S:
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

    def group_commits(self, seconds: float, cache_mb: int) -> None:
        """Let consecutive transactions share one commit, for up to `seconds` of holding the write lock, and
        give the page cache `cache_mb`: for a bulk writer (ingest's). Every commit writes each index page its
        transaction touched, and ids are random hashes, so a commit per 5,000-row batch wrote most of the
        (id, collection) index each time: cost per row grew with the collection (1.87x from 1M to 10M).
        A failed transaction rolls back the group; `commit_group` ends one (call it before closing)."""
        self._group = seconds
        self.conn.execute(f"PRAGMA cache_size=-{cache_mb * 1024}")

    def commit_group(self) -> None:
        if self._group_began is not None:
            self._end("COMMIT", self._group_began)

    def _end(self, statement: str, began: float) -> None:
        """COMMIT or ROLLBACK the open transaction (or group), noting how long it held the lock (LOCK_GAP)."""
        self._group_began = None
        self.conn.execute(statement)
        self._committed = time.monotonic()
        self._held = self._committed - began

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


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT: the write lock is taken at the start, trying every millisecond or so
    (see LOCK_GAP) for up to the workspace's `wait`; a wait that runs out is WorkspaceBusy."""

    def __init__(self, ws: Store):
        self.ws = ws

    def __enter__(self):
        ws = self.ws
        if ws._group_began is not None:  # inside a group of transactions that commit together
            return ws.conn
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
                    if ws._group:
                        ws._group_began = self._began
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
        ws = self.ws
        began = ws._group_began if ws._group_began is not None else self._began
        if not exc_type and ws._group_began is not None and time.monotonic() - began < ws._group:
            return  # the group stays open
        ws._end("ROLLBACK" if exc_type else "COMMIT", began)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _busy(directory: Path, wait: float) -> WorkspaceBusy:
    return WorkspaceBusy(f"the workspace {directory}/ is busy: another curate process held its write lock for "
                         f"over {wait:.0f} s; wait for it to finish (curate status shows what ran), then run this "
                         "again")
