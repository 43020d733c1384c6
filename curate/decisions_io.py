"""Decisions in and out of a workspace as JSON Lines, so they move between teammates, tools and workspaces.

One decision a line: `{"id", "verdict": "accept"|"reject", "reviewer", "reason"}`; an export adds `at` (when it
was made) and `edited`, and with `with_edits` the edited conversation (`revision`), which import records too.
An import is all or nothing: every line is checked first, and one bad line (with its file:line and what to
do) imports none, so a corrected file can simply be imported again. A line that repeats a reviewer's decision
in force on the example is counted as unchanged, not appended again: importing the same file twice is
harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from .errors import UsageError
from .record import Message
from .secrets import redact
from .workspace import Decision, Workspace

VERDICTS = ("accept", "reject")
ROLES = ("system", "user", "assistant", "tool")
_SHOWN_ERRORS = 10


@dataclass
class ImportReport:
    collection: str
    path: str
    lines: int = 0
    recorded: int = 0
    unchanged: int = 0
    by_reviewer: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"collection": self.collection, "path": self.path, "lines": self.lines, "recorded": self.recorded,
                "unchanged": self.unchanged, "by_reviewer": dict(sorted(self.by_reviewer.items()))}


def write(ws: Workspace, collection: str, out: IO[bytes], with_edits: bool = False) -> int:
    """The decisions in force on `collection`, oldest first, one a line; returns how many. Reasons are
    masked (they may quote the example); edited conversations go out only `with_edits`, as written."""
    n = 0
    for d in ws.decisions_in_force(collection):
        row: dict[str, Any] = {"id": d.example_id, "verdict": d.verdict, "reviewer": d.reviewer,
                               "reason": redact(d.reason) if d.reason else d.reason, "at": round(d.at, 3),
                               "edited": d.revision is not None}
        if with_edits and d.revision is not None:
            row["revision"] = d.revision
        out.write(orjson.dumps(row) + b"\n")
        n += 1
    return n


@dataclass(frozen=True)
class _Row:
    example_id: str
    verdict: str
    reviewer: str
    reason: str | None
    revision: list[dict] | None


def read(ws: Workspace, collection: str, path: str | Path, reviewer: str | None = None) -> ImportReport:
    """Record the decisions of a JSON Lines file on `collection`; `reviewer` names the reviewer of lines
    that do not. Raises UsageError, recording nothing, when any line is wrong."""
    known = set(ws.example_ids(collection))
    rows, errors = [], []
    report = ImportReport(collection, str(path))
    try:
        lines = Path(path).read_bytes().splitlines()
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from exc
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        report.lines += 1
        try:
            rows.append(_parse(line, known, reviewer))
        except ValueError as exc:
            errors.append(f"{path}:{no}: {exc}")
    if errors:
        more = f"\n... and {len(errors) - _SHOWN_ERRORS:,} more" if len(errors) > _SHOWN_ERRORS else ""
        raise UsageError(f"{len(errors):,} of {report.lines:,} lines cannot be imported, so none was (fix them and "
                         "import the file again):\n" + "\n".join(errors[:_SHOWN_ERRORS]) + more, params=("reviewer",))
    in_force = {(d.example_id, d.reviewer): d for d in ws.decisions_in_force(collection)}
    new = [r for r in rows if not _same(in_force.get((r.example_id, r.reviewer)), r)]
    ws.record_decisions(collection, [(r.example_id, r.reviewer, r.verdict, r.reason, r.revision) for r in new])
    report.recorded, report.unchanged = len(new), len(rows) - len(new)
    for r in new:
        report.by_reviewer[r.reviewer] = report.by_reviewer.get(r.reviewer, 0) + 1
    return report


def _same(d: Decision | None, r: _Row) -> bool:
    return d is not None and (d.verdict, d.reason, d.revision) == (r.verdict, r.reason, r.revision)


def _parse(line: bytes, known: set[str], reviewer: str | None) -> _Row:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc}); write one object a line") from None
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object; write {\"id\", \"verdict\", \"reviewer\", \"reason\"}")
    eid, verdict, who = obj.get("id"), obj.get("verdict"), obj.get("reviewer", reviewer)
    if not isinstance(eid, str) or eid not in known:
        raise ValueError(f"id {eid!r} is not an example of this collection (ids are as `curate decisions "
                         "--export` and `curate show` give them)")
    if verdict not in VERDICTS:
        raise ValueError(f"verdict {verdict!r}: use accept or reject")
    if not isinstance(who, str) or not who.strip():
        raise ValueError("no reviewer: add \"reviewer\" to the line, or name one for the whole file with {reviewer}")
    reason = obj.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise ValueError("reason must be a string or null")
    return _Row(eid, verdict, who.strip(), reason, _revision(obj.get("revision")))


def _revision(value: Any) -> list[dict] | None:
    """An edited conversation as the workspace stores it, checked the way ingest checks a conversation."""
    if value is None:
        return None
    ok = isinstance(value, list) and value and all(
        isinstance(m, dict) and m.get("role") in ROLES and isinstance(m.get("content"), str) for m in value)
    if not ok:
        raise ValueError("revision must be a non-empty list of messages, each with a role (system, user, assistant, "
                         "tool) and a string content")
    try:
        return [Message.from_dict(m).to_dict() for m in value]
    except (TypeError, KeyError, ValueError) as exc:
        raise ValueError(f"revision holds a message curate cannot read ({exc})") from None
