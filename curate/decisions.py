"""Final verdicts from several reviewers' decisions, by a policy; used by export (and agreement). And the
decisions in force as rows, for `curate decisions`.

- latest: the most recent decision of any reviewer counts;
- majority: more accepts than rejects accepts, more rejects rejects, a tie is undecided;
- unanimous: every reviewer who decided agrees, else undecided.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import UsageError
from .workspace import Decision

if TYPE_CHECKING:
    from .workspace import Workspace

POLICIES = ("latest", "majority", "unanimous")
MODEL_PREFIX = "model:"  # the reviewer name of a decision a model made (curate predict), never a person's


def final_verdicts(decisions: list[Decision], policy: str = "latest") -> dict[str, Decision | None]:
    """example id -> the decision that carries the verdict (its revision is the one to use), or None if undecided.

    >>> d = lambda i, e, r, v: Decision(i, e, r, v, None, None, float(i))
    >>> log = [d(1, "x", "ann", "accept"), d(2, "x", "bob", "reject"), d(3, "y", "ann", "accept")]
    >>> {k: v and v.verdict for k, v in final_verdicts(log).items()}
    {'x': 'reject', 'y': 'accept'}
    >>> {k: v and v.verdict for k, v in final_verdicts(log, "majority").items()}
    {'x': None, 'y': 'accept'}
    """
    if policy not in POLICIES:
        raise UsageError(f"unknown verdict policy {policy!r}; choose {', '.join(POLICIES)}")
    by_example: dict[str, list[Decision]] = {}
    for dec in sorted(decisions, key=lambda x: x.id):
        by_example.setdefault(dec.example_id, []).append(dec)
    out: dict[str, Decision | None] = {}
    for eid, decs in by_example.items():
        if policy == "latest":
            out[eid] = decs[-1]
            continue
        accepts = [x for x in decs if x.verdict == "accept"]
        rejects = [x for x in decs if x.verdict == "reject"]
        if policy == "majority":
            winner = accepts if len(accepts) > len(rejects) else rejects if len(rejects) > len(accepts) else None
        else:
            winner = accepts if not rejects else rejects if not accepts else None
        out[eid] = winner[-1] if winner else None
    return out


def decision_rows(ws: Workspace, collection: str) -> list[dict[str, Any]]:
    """The decisions in force on `collection`, oldest first, each with its example's source (`curate decisions`)."""
    rows = []
    for d in ws.decisions_in_force(collection):
        e = ws.get_example(collection, d.example_id)
        rows.append({"example_id": d.example_id, "source": e.source.location(), "reviewer": d.reviewer,
                     "verdict": d.verdict, "reason": d.reason, "edited": d.revision is not None, "at": d.at})
    return rows
