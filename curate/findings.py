"""What every analysis produces: findings about examples, the report a run returns, and its progress callback.

The contract of an analysis (docs/DESIGN.md, "Adding an analysis"):

    run(collection, *, workspace, progress=None, **params) -> Report

It reads examples from the workspace, opens a run (`workspace.start_run`), and closes it with its summary and
its findings (`workspace.finish_run`); a finding is about one example and has a registered kind. Checks are
kinds too: each registered check is the kind of the findings it raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable

# stage, done, total (None: not known). Called from the analysis' thread; the CLI draws it on stderr.
Progress = Callable[[str, int, "int | None"], None]


class Severity(str, Enum):
    """How bad a finding is. `rank` orders findings for people; `weight` is how much a finding of full score
    lowers an example's quality score (0.6: one sure error leaves 0.4)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def weight(self) -> float:
        return _WEIGHT[self]


_RANK = {Severity.ERROR: 3, Severity.WARNING: 2, Severity.INFO: 1}
_WEIGHT = {Severity.ERROR: 0.6, Severity.WARNING: 0.3, Severity.INFO: 0.05}


def rank(severity: str) -> int:
    """The rank of a stored severity; 0 for one this version does not know (a newer workspace's)."""
    try:
        return Severity(severity).rank
    except ValueError:
        return 0


def weight(severity: str) -> float:
    try:
        return Severity(severity).weight
    except ValueError:
        return 0.5


@dataclass(frozen=True)
class Finding:
    """One result of an analysis about one example: what, how bad, how sure, why."""

    example_id: str
    kind: str
    severity: str
    score: float
    message: str
    evidence: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"example_id": self.example_id, "kind": self.kind, "severity": self.severity,
                "score": round(self.score, 4), "message": self.message, "evidence": self.evidence}


@dataclass(frozen=True)
class Kind:
    """A kind of finding that is not a quality check: its name (stored with each finding), its usual
    severity, and what it means. Calling it builds a finding of that kind."""

    name: str
    severity: Severity
    about: str

    def __call__(self, example_id: str, score: float, message: str, evidence: dict[str, Any] | None = None,
                 severity: Severity | None = None) -> Finding:
        return Finding(example_id, self.name, (severity or self.severity).value, score, message, evidence)


KINDS: dict[str, Kind] = {}


def kind(name: str, severity: Severity, about: str) -> Kind:
    if name in KINDS:
        raise ValueError(f"finding kind {name!r} registered twice")
    KINDS[name] = Kind(name, severity, about)
    return KINDS[name]


DUPLICATE = kind("duplicate", Severity.WARNING, "a duplicate group's member that is not its representative")
CONFLICT = kind("conflict", Severity.WARNING, "the same prompt as another example, with a materially different "
                                              "answer")
CONTAMINATION = kind("contamination", Severity.ERROR, "a match of another collection's example: an error against "
                                                      "an eval set, info against production queries")
PRUNE = kind("prune_proposal", Severity.WARNING, "among the lowest quality scores, proposed for rejection")


@dataclass
class Report:
    """What every analysis returns: the run it stored and what it found. Subclasses add their own parts
    (`_parts`); `to_dict` is the --json output."""

    collection: str
    run_id: int
    params: dict[str, Any]
    summary: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)

    def _parts(self) -> dict[str, Any]:
        return {"findings": self.findings}

    def to_dict(self) -> dict[str, Any]:
        return {"collection": self.collection, "run_id": self.run_id, "params": self.params, **self._parts(),
                "summary": self.summary}
