"""Whether an analysis still describes its collection: fresh, stale (and why), or never run.

Every run records the state of the collections it read when it started (`Workspace.collection_state`:
their examples and the reviewers' edits). A later ingest, an edit a check has not read, or a dropped
collection makes the run stale. `status` shows each step this way with the next command to run; `export`,
`review` and `coverage` warn about the runs they use (or refuse with --strict), and the export manifest
records which runs it used and whether they were fresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import StaleInputs
from .workspace import CollectionInfo, RunInfo, Workspace

STEPS = ("dedup", "check", "coverage")


@dataclass
class Freshness:
    kind: str
    status: str  # fresh, stale or never
    run_id: int | None = None
    reasons: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)  # the run's own

    @property
    def fresh(self) -> bool:
        return self.status == "fresh"

    def describe(self, collection: str) -> str:
        if self.status == "never":
            return f"no {self.kind} run on '{collection}'"
        if self.status == "stale":
            return f"the {self.kind} run {self.run_id} on '{collection}' is stale: {'; '.join(self.reasons)}"
        return f"the {self.kind} run {self.run_id} on '{collection}' is fresh"

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run_id, "status": self.status, "reasons": self.reasons}


def _changes(name: str, then: dict[str, int], now: dict[str, int] | None, kind: str) -> list[str]:
    if now is None:
        return [f"'{name}' was dropped"]
    if now["collection_id"] != then["collection_id"]:
        return [f"'{name}' was dropped and made again"]
    reasons = []
    if now["last_seq"] > then["last_seq"]:
        added = now["examples"] - then["examples"]
        reasons.append(f"{added:,} example{'s' if added != 1 else ''} ingested into '{name}' since" if added > 0
                       else f"'{name}' changed since")
    if kind == "check" and now["edits"] > then["edits"]:
        edits = now["edits"] - then["edits"]
        reasons.append(f"{edits:,} reviewer edit{'s' if edits != 1 else ''} since, which no check has read")
    return reasons


def freshness(ws: Workspace, collection: str, kind: str, run: RunInfo | None = None) -> Freshness:
    """The latest finished `kind` run on `collection` (or `run`), judged against the workspace now."""
    run = run or ws.latest_run(collection, kind)
    if run is None:
        return Freshness(kind, "never")
    if run.state is None:
        return Freshness(kind, "stale", run.id, ["it ran before curate recorded what each run read"], run.params)
    names = set(ws.collection_names())
    reasons = [r for name, then in run.state.items()
               for r in _changes(name, then, ws.collection_state(name) if name in names else None, kind)]
    return Freshness(kind, "stale" if reasons else "fresh", run.id, reasons, run.params)


def rerun(kind: str, collection: str, params: dict[str, Any] | None = None) -> str:
    """The command that runs `kind` on `collection` again (coverage with the queries it last used)."""
    if kind == "coverage":
        queries = (params or {}).get("queries")
        return f"curate coverage --train {collection}" + (f" --queries {queries}" if queries else "")
    return f"curate {kind} -c {collection}"


def next_command(info: CollectionInfo, steps: dict[str, Freshness]) -> str:
    """What to run next on a collection, given what it holds and its steps' freshness."""
    collection = info.name
    if not info.examples:  # nothing to analyse: its rejected rows to fix, or a first file
        if info.quarantined:
            return (f"curate quarantine -c {collection}   (fix the rows, then ingest them again: curate quarantine "
                    f"-c {collection} --export FILE)")
        return f"curate ingest FILE --as {collection}"
    if info.kind == "queries":
        return f"curate coverage --train TRAINING_COLLECTION --queries {collection}"
    for step in ("dedup", "check"):
        if not steps[step].fresh:
            return rerun(step, collection)
    if steps["coverage"].status == "stale":
        return rerun("coverage", collection, steps["coverage"].params)
    return f"curate review -c {collection}   (or: curate export OUT_DIR -c {collection})"


# What a step that uses each kind of run loses when that run is missing or stale.
LOSES = {"dedup": "duplicates it has not seen stay in", "check": "faults it has not seen stay in",
         "coverage": "clusters it has not seen are not used"}


def check_inputs(ws: Workspace, collection: str, kinds: tuple[str, ...], strict: bool,
                 loses: dict[str, str] | None = None) -> tuple[dict[str, Freshness], list[str]]:
    """The freshness of the runs a step uses, and a warning for each stale or missing one (saying what the
    step `loses` without it); with `strict`, StaleInputs naming them all instead."""
    found = {kind: freshness(ws, collection, kind) for kind in kinds}
    loses = {**LOSES, **(loses or {})}
    problems = [f"{f.describe(collection)}: {loses[k]} (run: {rerun(k, collection, f.params)})"
                for k, f in found.items() if not f.fresh]
    if strict and problems:
        raise StaleInputs("{strict}: " + "; ".join(problems), params={"strict": "strict=True"})
    return found, problems
