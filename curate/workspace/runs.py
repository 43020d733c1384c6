"""Analysis runs (dedup, checks, coverage): their provenance, findings, duplicate groups and clusters."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import orjson

from ..findings import Finding
from .catalog import Catalog
from .store import _dumps, _new_id


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


class Runs(Catalog):
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
