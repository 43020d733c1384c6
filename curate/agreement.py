"""Agreement between reviewers on the examples they both (or all) decided.

Two reviewers: Cohen's kappa on the examples both decided. More: Fleiss' kappa on the examples that
every reviewer decided (Fleiss needs the same number of raters per item), plus Cohen's kappa per pair.
Kappa is (observed agreement - chance agreement) / (1 - chance agreement); undefined (None) when chance
agreement is 1 (everyone gave one verdict to everything).

A collection's verdict policy (decisions.POLICIES: how several reviewers' decisions make the verdict export
uses) is kept in the workspace as a finished "agreement" run whose params hold it: workspaces in the wild
store it so. `set_policy` and `policy_of` are the only code that knows that.
"""

from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING, Any

from .decisions import POLICIES
from .errors import UsageError
from .workspace import Decision

if TYPE_CHECKING:
    from .workspace import Workspace

LABELS = ("accept", "reject")


def cohen_kappa(a: list[str], b: list[str]) -> float | None:
    """>>> cohen_kappa(["accept", "reject", "accept", "accept"], ["accept", "reject", "reject", "accept"])
    0.5
    """
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    chance = sum((a.count(lab) / n) * (b.count(lab) / n) for lab in LABELS)
    return None if chance == 1 else round((observed - chance) / (1 - chance), 4)


def fleiss_kappa(rows: list[list[str]]) -> float | None:
    """rows: one list of verdicts per example, the same number of raters each.

    >>> fleiss_kappa([["accept"] * 3, ["reject"] * 3, ["accept", "accept", "reject"]])
    0.55
    """
    if not rows or len(rows[0]) < 2:
        return None
    n, m = len(rows), len(rows[0])
    p_j = [sum(r.count(lab) for r in rows) / (n * m) for lab in LABELS]
    p_i = [(sum(r.count(lab) ** 2 for lab in LABELS) - m) / (m * (m - 1)) for r in rows]
    p_bar, p_e = sum(p_i) / n, sum(p * p for p in p_j)
    return None if p_e == 1 else round((p_bar - p_e) / (1 - p_e), 4)


def agreement(decisions: list[Decision]) -> dict[str, Any]:
    by_example: dict[str, dict[str, Decision]] = {}
    for d in decisions:
        by_example.setdefault(d.example_id, {})[d.reviewer] = d
    reviewers = sorted({d.reviewer for d in decisions})
    pairs = []
    for r1, r2 in combinations(reviewers, 2):
        both = [e for e, v in by_example.items() if r1 in v and r2 in v]
        a, b = [by_example[e][r1].verdict for e in both], [by_example[e][r2].verdict for e in both]
        pairs.append({"reviewers": [r1, r2], "overlap": len(both), "agreement": round(sum(x == y for x, y in
                      zip(a, b)) / len(both), 4) if both else None, "cohen_kappa": cohen_kappa(a, b)})
    everyone = [e for e, v in by_example.items() if len(v) == len(reviewers)] if len(reviewers) > 2 else []
    disagreements = [{"example_id": e, "verdicts": {r: {"verdict": d.verdict, "reason": d.reason}
                                                    for r, d in sorted(v.items())}}
                     for e, v in by_example.items() if len({d.verdict for d in v.values()}) > 1]
    return {"reviewers": reviewers, "examples_decided": len(by_example), "pairs": pairs,
            "fleiss_kappa": fleiss_kappa([[v[r].verdict for r in reviewers] for v in
                                          (by_example[e] for e in everyone)]) if everyone else None,
            "all_reviewers_overlap": len(everyone), "disagreements": disagreements}


DEFAULT_POLICY = "latest"


def set_policy(ws: Workspace, collection: str, policy: str) -> None:
    """Keep `policy` as the collection's verdict policy, with the reviewers who had decided when it was set."""
    if policy not in POLICIES:
        raise UsageError(f"unknown verdict policy {policy!r}; choose {', '.join(POLICIES)}")
    reviewers = sorted({d.reviewer for d in ws.decisions_in_force(collection)})
    run = ws.start_run(collection, "agreement", {"policy": policy})
    ws.finish_run(run, {"policy": policy, "reviewers": reviewers}, [])


def policy_of(ws: Workspace, collection: str) -> str:
    """The verdict policy last set on the collection, else the latest decision counts."""
    run = ws.latest_run(collection, "agreement")
    return run.params["policy"] if run else DEFAULT_POLICY


def report(ws: Workspace, collection: str, policy: str | None = None) -> dict[str, Any]:
    """`agreement` over the decisions in force, and the verdict policy in force (set to `policy` first, if given)."""
    result = agreement(ws.decisions_in_force(collection))
    if policy:
        set_policy(ws, collection, policy)
    result["policy"] = policy_of(ws, collection)
    return result
