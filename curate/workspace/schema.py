"""The schema: one migration per version (PRAGMA user_version counts those applied). A workspace migrates
forward on open (`Store._migrate`), one transaction per step; a migration, once released, never changes."""

from __future__ import annotations

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
