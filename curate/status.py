"""What a workspace holds, per collection: counts, each analysis's latest numbers and freshness, unfinished
ingests, and the next command to run (`curate status`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .provenance import STEPS, Freshness, freshness, next_command

if TYPE_CHECKING:
    from .workspace import CollectionInfo, RunInfo, Workspace


def run_digest(run: RunInfo | None) -> dict[str, Any] | None:
    """The few numbers of an analysis run that `status` shows."""
    if run is None or run.summary is None:
        return None
    s = run.summary
    if run.kind == "dedup":
        return {"run": run.id, "duplicates": s.get("duplicates"), "groups": s.get("groups"),
                "conflicts": s.get("conflicts"), "contaminated": s.get("contaminated")}
    if run.kind == "coverage":
        return {"run": run.id, "clusters": s.get("clusters"), "gaps": s.get("gaps"),
                "suggested_new_examples": s.get("suggested_new_examples"), "queries": run.params.get("queries")}
    return {"run": run.id, "flagged": s.get("flagged_examples"), "proposed_rejections": s.get("proposed_rejections"),
            "quality_mean": (s.get("quality") or {}).get("mean")}


@dataclass
class Status:
    workspace: str
    schema_version: int
    collections: dict[str, CollectionInfo]
    latest: dict[str, dict[str, dict[str, Any] | None]]  # collection -> step -> run_digest
    steps: dict[str, dict[str, Freshness]]
    upcoming: dict[str, str]  # collection -> the next command
    unfinished: dict[str, list[tuple[float, list[str]]]]  # collection -> (started at, paths) of cut-short ingests

    def to_dict(self) -> dict[str, Any]:
        return {"workspace": self.workspace, "schema_version": self.schema_version, "collections": {
            name: {"kind": c.kind, "examples": c.examples, "quarantined": c.quarantined, "repeats": c.repeats,
                   "latest": self.latest[name], "steps": {k: f.to_dict() for k, f in self.steps[name].items()},
                   "next": self.upcoming[name],
                   "unfinished_ingests": [{"started_at": t, "paths": p} for t, p in self.unfinished[name]]}
            for name, c in self.collections.items()}}


def status(ws: Workspace) -> Status:
    collections = ws.collections()
    latest = {name: {kind: run_digest(ws.latest_run(name, kind)) for kind in STEPS} for name in collections}
    steps = {name: {kind: freshness(ws, name, kind) for kind in STEPS} for name in collections}
    upcoming = {name: next_command(c, steps[name]) for name, c in collections.items()}
    unfinished = {name: ws.unfinished_ingests(name) for name in collections}
    return Status(str(ws.dir), ws.schema_version, collections, latest, steps, upcoming, unfinished)
