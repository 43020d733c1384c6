"""Reviewers' decisions: an append-only log; an undo appends a retraction."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import orjson

from .catalog import Catalog
from .store import _dumps, _new_id


@dataclass(frozen=True)
class Decision:
    id: int
    example_id: str
    reviewer: str
    verdict: str  # accept | reject
    reason: str | None
    revision: list[dict] | None  # the edited conversation, when the reviewer edited it
    at: float


class Decisions(Catalog):
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

    def record_decisions(self, collection: str,
                         rows: Sequence[tuple[str, str, str, str | None, list[dict] | None]]) -> None:
        """Append many decisions (example id, reviewer, verdict, reason, revision) in one transaction: an
        import is recorded whole or not at all."""
        cid = self.collection_id(collection)
        now = time.time()
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO decisions(collection_id, example_id, reviewer, verdict, reason, revision, at) "
                "VALUES (?,?,?,?,?,?,?)", [(cid, eid, who, verdict, reason, _dumps(rev) if rev is not None else None,
                                            now) for eid, who, verdict, reason, rev in rows])

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
