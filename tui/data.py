"""What the review app shows and records, kept apart from the widgets so it is testable and fast.

Only ids and a few small maps (findings, groups, clusters, this reviewer's verdicts) are loaded up front;
an example is read from the workspace when it is shown, so a 1M-example collection opens in about a
second. Every decision is committed to the workspace's append-only log before `decide` returns.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass

from curate.errors import UsageError
from curate.findings import Finding, rank
from curate.record import Example
from curate.workspace import Workspace

ORDERS = ("flagged", "random", "source", "uncertain")
STATUSES = ("unreviewed", "reviewed", "accepted", "rejected")
COMMON_REASONS = ("wrong or inaccurate answer", "incomplete or truncated answer", "duplicate",
                  "unsafe or policy-violating", "contains personal data", "off-topic for this dataset",
                  "poor formatting", "low quality writing")


@dataclass(frozen=True)
class Shown:
    """One example as the app renders it."""

    example: Example
    findings: list[tuple[str, Finding]]
    status: str | None  # this reviewer's verdict in force: accept | reject | None
    group: tuple[int, str, list[str], str] | None  # (group no, representative id, member ids, method)
    cluster: str | None
    revision: tuple[str, list[dict]] | None = None  # (reviewer, messages) of the edit in force, this reviewer's first


def parse_filter(expr: str | None) -> list[tuple[str, str]]:
    """'finding:pii severity:error' -> [('finding', 'pii'), ('severity', 'error')].

    >>> parse_filter("status:unreviewed  cluster:3")
    [('status', 'unreviewed'), ('cluster', '3')]
    """
    terms = []
    for token in (expr or "").split():
        key, sep, value = token.partition(":")
        if not sep or key not in ("finding", "severity", "cluster", "group", "status") or not value:
            raise UsageError(f"filter {token!r}: use finding:NAME, severity:error|warning|info, cluster:N, "
                             f"group:N or status:{'|'.join(STATUSES)} (several are combined with AND)")
        terms.append((key, value))
    return terms


class ReviewData:
    def __init__(self, ws: Workspace, collection: str, reviewer: str, order: str = "flagged",
                 filter_expr: str | None = None, sample: int | None = None, seed: int = 0):
        if order not in ORDERS:
            raise UsageError(f"{{order}} {order!r}: choose {', '.join(ORDERS)}", params=("order",))
        self.ws, self.collection, self.reviewer = ws, collection, reviewer
        all_ids = ws.example_ids(collection)
        self.total_examples = len(all_ids)
        self.flags: dict[str, list[tuple[str, str, float, str]]] = {}  # id -> [(severity, kind, score, message)]
        self.group_no: dict[str, int] = {}
        self.groups: dict[int, tuple[str, list[str], str]] = {}
        for kind in ("check", "dedup"):
            run = ws.latest_run(collection, kind)
            if run is None:
                continue
            for f in ws.run_findings(run.id):
                self.flags.setdefault(f.example_id, []).append((f.severity, f.kind, f.score, f.message))
            if kind == "dedup":
                for no, members in ws.run_groups(run.id).items():
                    rep = next((eid for eid, is_rep, _ in members if is_rep), members[0][0])
                    self.groups[no] = (rep, [eid for eid, _, _ in members], members[0][2])
                    for eid, _, _ in members:
                        self.group_no[eid] = no
        for items in self.flags.values():
            items.sort(key=lambda x: (-rank(x[0]), -x[2]))
        self.cluster_of: dict[str, int] = {}
        self.cluster_label: dict[int, str] = {}
        cov = ws.latest_run(collection, "coverage")
        if cov is not None:
            self.cluster_of = ws.run_clusters(cov.id)
            self.cluster_label = {c["id"]: c["label"] for c in (cov.summary or {}).get("cluster_labels", [])}
        self.verdict: dict[str, str] = {}
        self.any_verdict: dict[str, tuple[str, str]] = {}  # id -> (verdict, reviewer): anyone's latest
        for d in ws.decisions_in_force(collection):
            self.any_verdict[d.example_id] = (d.verdict, d.reviewer)
            if d.reviewer == reviewer:
                self.verdict[d.example_id] = d.verdict
        self.undo_stack: list[tuple[int, str]] = []  # (decision id, example id) made in this session
        self._cache: OrderedDict[str, Example] = OrderedDict()

        ids = all_ids
        if sample is not None:
            if sample < 1:
                raise UsageError("{sample} must be at least 1", params=("sample",))
            if sample < len(ids):
                keep = set(random.Random(seed).sample(ids, sample))
                ids = [eid for eid in ids if eid in keep]
        if order == "flagged":
            worst = {eid: (-rank(f[0][0]), -f[0][2]) for eid, f in self.flags.items()}
            flagged = sorted((eid for eid in ids if eid in worst), key=lambda e: worst[e])
            ids = flagged + [eid for eid in ids if eid not in worst]
        elif order == "random":
            random.Random(seed).shuffle(ids)
        elif order == "uncertain":
            ids = self._by_uncertainty(ids)
        self.ordered = ids
        self.filter_expr = ""
        self.ids = ids
        self.apply_filter(filter_expr)

    def _by_uncertainty(self, ids: list[str]) -> list[str]:
        """The undecided examples the model learned from the verdicts is least sure of first (active
        learning: each verdict there teaches it most); decided ones last."""
        from curate.learning import predict

        result = predict(self.collection, workspace=self.ws)
        place = {x["id"]: k for k, x in enumerate(result.predictions)}
        return sorted(ids, key=lambda eid: place.get(eid, len(place)))

    # -- the queue ---------------------------------------------------------------------------
    def apply_filter(self, expr: str | None) -> None:
        terms = parse_filter(expr)
        self.filter_expr = (expr or "").strip()
        self.ids = [eid for eid in self.ordered if all(self._matches(eid, k, v) for k, v in terms)]
        self.position = {eid: i for i, eid in enumerate(self.ids)}

    def _matches(self, eid: str, key: str, value: str) -> bool:
        if key == "finding":
            return any(kind == value for _, kind, _, _ in self.flags.get(eid, ()))
        if key == "severity":
            return any(sev == value for sev, _, _, _ in self.flags.get(eid, ()))
        if key == "cluster":
            return str(self.cluster_of.get(eid, "")) == value
        if key == "group":
            return str(self.group_no.get(eid, "")) == value
        status = self.verdict.get(eid)
        return {"unreviewed": status is None, "reviewed": status is not None,
                "accepted": status == "accept", "rejected": status == "reject"}.get(value, False)

    def first_unreviewed(self) -> int:
        return next((i for i, eid in enumerate(self.ids) if eid not in self.verdict), 0)

    def search(self, text: str, start: int, direction: int = 1) -> tuple[int | None, int, int]:
        """The next example after `start` (before it, with direction -1; wrapping) whose text contains `text`,
        case-insensitive: its index, which match it is (1-based, in list order) and how many there are."""
        found = set(self.ws.search_examples(self.collection, text))
        matches = [i for i, eid in enumerate(self.ids) if eid in found]
        n = len(self.ids)
        for step in range(1, n + 1):
            i = (start + direction * step) % n
            if self.ids[i] in found:
                return i, matches.index(i) + 1, len(matches)
        return None, 0, 0

    # -- one example ---------------------------------------------------------------------------
    def example(self, eid: str) -> Example:
        if eid in self._cache:
            self._cache.move_to_end(eid)
            return self._cache[eid]
        e = self.ws.get_example(self.collection, eid)
        self._cache[eid] = e
        if len(self._cache) > 256:
            self._cache.popitem(last=False)
        return e

    def shown(self, eid: str) -> Shown:
        group = None
        if eid in self.group_no:
            no = self.group_no[eid]
            rep, members, method = self.groups[no]
            group = (no, rep, members, method)
        cluster = None
        if eid in self.cluster_of:
            c = self.cluster_of[eid]
            cluster = f"{c}: {self.cluster_label.get(c, '')}"
        return Shown(self.example(eid), self.ws.findings_for(eid), self.verdict.get(eid), group, cluster,
                     self.revision(eid))

    def suggestion(self, eid: str) -> tuple[str, str, str] | None:
        """A verdict propagated from a duplicate: (verdict, reviewer, that member's id), for an example
        nobody has decided whose group has a decided member. Shown, never recorded."""
        if eid in self.any_verdict or eid not in self.group_no:
            return None
        for other in self.groups[self.group_no[eid]][1]:
            if other != eid and other in self.any_verdict:
                verdict, who = self.any_verdict[other]
                return verdict, who, other
        return None

    def revision(self, eid: str) -> tuple[str, list[dict]] | None:
        """The edited conversation in force on `eid`: this reviewer's, else the latest other reviewer's."""
        edits = [d for d in self.ws.decisions_in_force(self.collection, example_id=eid) if d.revision is not None]
        mine = [d for d in edits if d.reviewer == self.reviewer]
        chosen = (mine or edits)[-1] if edits else None
        return (chosen.reviewer, chosen.revision) if chosen and chosen.revision is not None else None

    def top_flag(self, eid: str) -> tuple[str, str] | None:
        f = self.flags.get(eid)
        return (f[0][0], f[0][1]) if f else None

    # -- decisions -----------------------------------------------------------------------------
    def decide(self, eid: str, verdict: str, reason: str | None = None, revision: list[dict] | None = None) -> int:
        """Record a decision; it is committed when this returns."""
        did = self.ws.record_decision(self.collection, eid, self.reviewer, verdict, reason, revision)
        self.verdict[eid] = verdict
        self.any_verdict[eid] = (verdict, self.reviewer)
        self.undo_stack.append((did, eid))
        return did

    def undo(self) -> str | None:
        """Retract this session's last decision; returns its example id (the verdict before it comes back)."""
        if not self.undo_stack:
            return None
        did, eid = self.undo_stack[-1]
        self.ws.retract_decision(did, self.reviewer)  # may raise WorkspaceBusy: then nothing has changed
        self.undo_stack.pop()
        self.verdict.pop(eid, None)
        for d in self.ws.decisions_in_force(self.collection, example_id=eid):
            if d.reviewer == self.reviewer:
                self.verdict[eid] = d.verdict
        return eid

    def counts(self) -> tuple[int, int, int]:
        accepted = sum(v == "accept" for v in self.verdict.values())
        return len(self.verdict), accepted, len(self.verdict) - accepted
