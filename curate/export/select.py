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

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from ..decisions import MODEL_PREFIX, final_verdicts
from ..dedup.text import key_text
from ..dedup.tokens import WordIds, WordSpill, word_ids
from ..record import Example, Message, Source
from ..workspace import Decision, Workspace

POLICIES = ("not-rejected", "accepted")
MISSING = object()  # a metadata field an example does not have (None is a value it can have)
_CHUNK = 50_000  # conversations hashed at a time


@dataclass(slots=True)
class Kept:
    """A kept example as export holds it until it writes it: what the splits and the card need. The example
    itself is read again from the workspace when written, so ten million of them fit in memory."""

    id: str
    pos: int  # its row in `Selection.words`
    source: Source
    turns: int
    fields: tuple[Any, ...]  # the values of `select(fields=...)` in its metadata, MISSING where absent
    unfit: str | None = None  # why the export format cannot hold it, if it cannot


@dataclass
class Selection:
    kept: list[Kept] = field(default_factory=list)
    revised: dict[str, tuple[Message, ...]] = field(default_factory=dict)  # reviewers' edits of kept examples
    words: WordIds | None = None  # with `select(spill=DIR)`: the conversation words of each Kept.pos, mapped
    accepted: set[str] = field(default_factory=set)  # kept examples a reviewer accepted
    edited: set[str] = field(default_factory=set)
    excluded: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # pairs that must share a split
    groups: list[list[str]] = field(default_factory=list)  # duplicate groups, all members
    runs: dict[str, int | None] = field(default_factory=dict)
    model_decisions: int = 0  # decisions in force that a model made (reviewer "model:...")


def excluded(eid: str, source: Source, reason: str, detail: str) -> dict[str, Any]:
    """An excluded example as excluded.jsonl and the report list it."""
    return {"id": eid, "source": source.location(), "reason": reason, "detail": detail}


def select(ws: Workspace, collection: str, policy: str, verdict_policy: str = "latest",
           contaminated: Callable[[list[str], list[str]], dict[str, str]] | None = None,
           progress: Callable[[int, int], None] | None = None, model_verdicts: bool = True,
           unfit: Callable[[Example], str | None] | None = None, fields: tuple[str, ...] = (),
           spill: Path | None = None) -> Selection:
    """What export keeps, and every other example with its reason: reviewers' verdicts first, then
    contamination (`contaminated(ids, prompts)`), error findings and prune proposals (unless a reviewer
    accepted the example), then one survivor per duplicate group. One streamed pass over the examples; with
    `spill`, a directory, the survivors' conversation words are kept there for the leakage check."""
    sel = Selection()
    decisions = ws.decisions_in_force(collection)
    by_model = [d for d in decisions if d.reviewer.startswith(MODEL_PREFIX)]
    sel.model_decisions = len(by_model)
    if not model_verdicts:  # `curate predict --accept-above/--reject-below` verdicts, left out on request
        decisions = [d for d in decisions if not d.reviewer.startswith(MODEL_PREFIX)]
    verdicts = final_verdicts(decisions, verdict_policy)
    errors, proposed = _findings(ws, collection, sel)
    representative = _groups(ws, sel)
    contaminates = _contaminates(ws, collection, contaminated) if contaminated else {}
    survivors: dict[str, Kept] = {}
    total = ws.count_examples(collection)
    words = WordSpill(spill / "conversations.u64") if spill else None
    texts: list[str] = []
    for n, e in enumerate(ws.iter_examples(collection), 1):
        kept = _judge(e, sel, verdicts.get(e.id), policy, contaminates, errors, proposed)
        if kept is not None:
            survivors[e.id] = _light(kept, len(survivors), fields, unfit)
            if words:
                texts.append(key_text(kept, "conversation"))
        if words and len(texts) == _CHUNK:
            words.add(word_ids(texts))
            texts = []
        if progress and n % 20000 == 0:
            progress(n, total)
    if words:
        words.add(word_ids(texts))
        sel.words = words.words()
    dropped = _one_per_group(sel, representative, survivors)
    for eid, k in survivors.items():  # in ingest order
        if eid in dropped:
            sel.excluded.append(excluded(eid, k.source, "duplicate", f"duplicate of {dropped[eid]}, which is kept"))
        else:
            sel.kept.append(k)
    sel.excluded.sort(key=lambda x: (x["source"]["path"], x["source"]["line"], x["source"]["index"]))
    return sel


def _contaminates(ws: Workspace, collection: str,
                  contaminated: Callable[[list[str], list[str]], dict[str, str]]) -> dict[str, str]:
    ids, prompts = [], []
    for e in ws.iter_examples(collection):
        ids.append(e.id)
        prompts.append(e.prompt)
    return contaminated(ids, prompts)


def _light(e: Example, pos: int, fields: tuple[str, ...], unfit: Callable[[Example], str | None] | None) -> Kept:
    # Interned: each row read from the workspace brings its own copy of the same few paths and formats.
    source = Source(sys.intern(e.source.path), e.source.line, e.source.index, sys.intern(e.source.format))
    return Kept(e.id, pos, source, len(e.messages), tuple(e.metadata.get(f, MISSING) for f in fields),
                unfit(e) if unfit else None)


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
        sel.excluded.append(excluded(e.id, e.source, "rejected", f"{verdict.reviewer}: {verdict.reason or 'rejected'}"))
    elif policy == "accepted" and not accepted:
        sel.excluded.append(excluded(e.id, e.source, "not_accepted", "no reviewer accepted it (policy: accepted)"))
    elif e.id in contaminates:
        sel.excluded.append(excluded(e.id, e.source, contaminates[e.id].split(" ", 1)[0], contaminates[e.id]))
    elif e.id in errors and not accepted:
        sel.excluded.append(excluded(e.id, e.source, "error:" + errors[e.id].split(":", 1)[0], errors[e.id]))
    elif e.id in proposed and not accepted:
        sel.excluded.append(excluded(e.id, e.source, "proposed_rejection", proposed[e.id]))
    else:
        if accepted and verdict is not None:
            sel.accepted.add(e.id)
            if verdict.revision is not None:
                e = replace(e, messages=tuple(Message.from_dict(m) for m in verdict.revision))
                sel.edited.add(e.id)
                sel.revised[e.id] = e.messages
        return e
    return None


def _one_per_group(sel: Selection, representative: list[str | None],
                   survivors: dict[str, Kept]) -> dict[str, str]:
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
