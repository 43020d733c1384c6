"""Which examples an export keeps, and why each other one is left out.

Rules, in order; an example is excluded for the first that applies (one reason each, so counts reconcile):
1. `rejected`: the final review verdict rejects it;
2. `not_accepted`: policy `accepted` and no reviewer accepted it;
3. `contaminates:NAME`: it duplicates an example of the `--exclude-near` collection (exact or near prompt);
4. `error:CHECK`: an error-level finding of the latest check or dedup run (e.g. contamination), unless a
   reviewer accepted the example;
5. `proposed_rejection`: `curate check --prune-bottom` proposed rejecting it and no reviewer accepted it;
6. `duplicate`: another member of its duplicate group is kept. The group keeps its representative when
   that one survives rules 1-5, else its first surviving member, reviewer-accepted ones first.
Reviewer edits replace the conversation (the revision of the decision that carries the verdict).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

from ..decisions import MODEL_PREFIX, final_verdicts
from ..record import Example, Message
from ..workspace import Decision, Workspace

POLICIES = ("not-rejected", "accepted")


@dataclass
class Selection:
    kept: list[Example] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)  # kept examples a reviewer accepted
    edited: set[str] = field(default_factory=set)
    excluded: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # pairs that must share a split
    groups: list[list[str]] = field(default_factory=list)  # duplicate groups, all members
    runs: dict[str, int | None] = field(default_factory=dict)
    model_decisions: int = 0  # decisions in force that a model made (reviewer "model:...")


def _excluded(e: Example, reason: str, detail: str) -> dict[str, Any]:
    return {"id": e.id, "source": e.source.location(), "reason": reason, "detail": detail}


def select(ws: Workspace, collection: str, policy: str, verdict_policy: str = "latest",
           contaminated: Callable[[list[Example]], dict[str, str]] | None = None,
           progress: Callable[[int, int], None] | None = None, model_verdicts: bool = True) -> Selection:
    """What export keeps, and every other example with its reason: reviewers' verdicts first, then
    contamination, error findings and prune proposals (unless a reviewer accepted the example), then one
    survivor per duplicate group."""
    sel = Selection()
    examples = []
    total = ws.count_examples(collection)
    for n, e in enumerate(ws.iter_examples(collection), 1):
        examples.append(e)
        if progress and n % 20000 == 0:
            progress(n, total)
    decisions = ws.decisions_in_force(collection)
    by_model = [d for d in decisions if d.reviewer.startswith(MODEL_PREFIX)]
    sel.model_decisions = len(by_model)
    if not model_verdicts:  # `curate predict --accept-above/--reject-below` verdicts, left out on request
        decisions = [d for d in decisions if not d.reviewer.startswith(MODEL_PREFIX)]
    verdicts = final_verdicts(decisions, verdict_policy)
    errors, proposed = _findings(ws, collection, sel)
    representative = _groups(ws, sel)
    contaminates = contaminated(examples) if contaminated else {}
    survivors: dict[str, Example] = {}
    for e in examples:
        kept = _judge(e, sel, verdicts.get(e.id), policy, contaminates, errors, proposed)
        if kept is not None:
            survivors[e.id] = kept
    dropped = _one_per_group(sel, representative, survivors)
    for e in examples:
        if e.id in dropped:
            sel.excluded.append(_excluded(e, "duplicate", f"duplicate of {dropped[e.id]}, which is kept"))
        elif e.id in survivors:
            sel.kept.append(survivors[e.id])
    sel.excluded.sort(key=lambda x: (x["source"]["path"], x["source"]["line"], x["source"]["index"]))
    return sel


def _findings(ws: Workspace, collection: str, sel: Selection) -> tuple[dict[str, str], dict[str, str]]:
    """From the latest check and dedup runs: each example's first error, the prune proposals, and the
    conflicting pairs (into `sel`, which must share a split)."""
    errors: dict[str, str] = {}
    proposed: dict[str, str] = {}
    for kind in ("check", "dedup"):
        run = ws.latest_run(collection, kind)
        sel.runs[kind] = run.id if run else None
        if run is None:
            continue
        for f in ws.run_findings(run.id):
            if f.severity == "error":
                errors.setdefault(f.example_id, f"{f.kind}: {f.message}")
            elif f.kind == "prune_proposal":
                proposed[f.example_id] = f.message
            elif f.kind == "conflict" and f.evidence and f.example_id < f.evidence["other"]:
                sel.conflicts.append((f.example_id, f.evidence["other"]))
    return errors, proposed


def _groups(ws: Workspace, sel: Selection) -> list[str | None]:
    """The latest dedup run's groups (into `sel`) and each one's representative."""
    representative: list[str | None] = []
    dedup_run = sel.runs.get("dedup")
    if dedup_run:
        for _, group in sorted(ws.run_groups(dedup_run).items()):
            sel.groups.append([eid for eid, _, _ in group])
            representative.append(next((eid for eid, is_rep, _ in group if is_rep), None))
    return representative


def _judge(e: Example, sel: Selection, verdict: Decision | None, policy: str, contaminates: dict[str, str],
           errors: dict[str, str], proposed: dict[str, str]) -> Example | None:
    """The example as it survives (a reviewer's edit applied), or None with its reason recorded in `sel`."""
    accepted = verdict is not None and verdict.verdict == "accept"
    if verdict is not None and verdict.verdict == "reject":
        sel.excluded.append(_excluded(e, "rejected", f"{verdict.reviewer}: {verdict.reason or 'rejected'}"))
    elif policy == "accepted" and not accepted:
        sel.excluded.append(_excluded(e, "not_accepted", "no reviewer accepted it (policy: accepted)"))
    elif e.id in contaminates:
        sel.excluded.append(_excluded(e, contaminates[e.id].split(" ", 1)[0], contaminates[e.id]))
    elif e.id in errors and not accepted:
        sel.excluded.append(_excluded(e, "error:" + errors[e.id].split(":", 1)[0], errors[e.id]))
    elif e.id in proposed and not accepted:
        sel.excluded.append(_excluded(e, "proposed_rejection", proposed[e.id]))
    else:
        if accepted and verdict is not None:
            sel.accepted.add(e.id)
            if verdict.revision is not None:
                e = replace(e, messages=tuple(Message.from_dict(m) for m in verdict.revision))
                sel.edited.add(e.id)
        return e
    return None


def _one_per_group(sel: Selection, representative: list[str | None],
                   survivors: dict[str, Example]) -> dict[str, str]:
    """Survivors that duplicate another survivor -> the one kept: the representative if it survived, else an
    accepted member."""
    dropped: dict[str, str] = {}
    for members, rep in zip(sel.groups, representative):
        alive = [m for m in members if m in survivors]
        if len(alive) < 2:
            continue
        keep = rep if rep in survivors else sorted(alive, key=lambda m: m not in sel.accepted)[0]
        for m in alive:
            if m != keep:
                dropped[m] = keep
    return dropped
