"""The workspace: one SQLite database (WAL) that is the single source of truth. Nothing else writes SQL.

Layout: a directory (default `.curate/`, or `--workspace DIR`, or `$CURATE_WORKSPACE`) holding
`curate.db`. The schema carries a version (PRAGMA user_version) and migrates forward on open.

One module per concern: `store` (the connection, transactions and the write lock, migrations), `schema`
(the migrations themselves), `catalog` (collections and ingest bookkeeping), `examples` (reading them),
`quarantine`, `runs` (runs, findings, duplicate groups, clusters), `decisions` and `embeddings` (the cache).
`Workspace` is assembled from their classes, mixins over one `Store`: every caller keeps calling
`ws.method(...)` on one object holding one connection, with no forwarding layer to keep in step, and each
concern's SQL reads alone in its file. The mixins share nothing but the connection (`Store`) and the
collection lookup (`Catalog.collection_id`); no two define the same name.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

from .catalog import Catalog, CollectionInfo, encode_example
from .decisions import Decision, Decisions
from .embeddings import Embeddings
from .examples import Examples
from .quarantine import Quarantine, QuarantinedRow
from .runs import RunInfo, Runs
from .schema import SCHEMA_VERSION
from .store import CHUNK_ROWS, DB_NAME, DEFAULT_DIR, LOCK_GAP, WRITE_WAIT, Store, resolve_dir

__all__ = ["CHUNK_ROWS", "DB_NAME", "DEFAULT_DIR", "LOCK_GAP", "SCHEMA_VERSION", "WRITE_WAIT", "Catalog",
           "CollectionInfo", "Decision", "QuarantinedRow", "RunInfo", "Store", "Workspace", "encode_example",
           "opened", "resolve_dir"]


class Workspace(Examples, Quarantine, Runs, Decisions, Embeddings):
    """Typed access to the workspace database. Use as a context manager, or call `close()`."""


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
