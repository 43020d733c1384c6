"""Learning from reviewers' verdicts: p(accept) for every undecided example.

Features: the example's embedding (prompt and answer, cached like every embedding) and its findings (the
highest score of each finding kind in the latest check and dedup runs, and the example's quality score).
Model: scikit-learn's logistic regression, calibrated (sigmoid, cross-validated) so that 0.9 means nine in
ten; its accuracy is measured by cross-validation on the verdicts so far and stated beside every
prediction. Nothing leaves the machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .decisions import MODEL_PREFIX, final_verdicts
from .errors import MissingDependency, UsageError
from .findings import Progress
from .record import Example
from .workspace import Workspace, opened

MIN_VERDICTS = 20  # and at least 3 of each verdict: fewer cannot be cross-validated
_MIN_EACH = 3
_TEXT_CHARS = 2000  # the embedder reads 256 tokens; the rest of a long answer would only cost time


@dataclass
class Prediction:
    model: dict[str, Any]
    predictions: list[dict[str, Any]] = field(default_factory=list)  # {"id", "p_accept"}, most unsure first

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "predictions": self.predictions}


def predict(collection: str, *, workspace: Workspace | str | None = None, progress: Progress | None = None,
            model: str | None = None, verdict_policy: str = "latest") -> Prediction:
    """Fit on the verdicts in force (combined by `verdict_policy`) and predict every undecided example."""
    with opened(workspace) as ws:
        examples = list(ws.iter_examples(collection))
        verdicts = {eid: d.verdict for eid, d in final_verdicts(ws.decisions_in_force(collection),
                                                                 verdict_policy).items() if d is not None}
        _enough(verdicts)
        x, kinds = _features(ws, collection, examples, model, progress)
    ids = [e.id for e in examples]
    known = np.array([i for i, eid in enumerate(ids) if eid in verdicts])
    y = np.array([verdicts[ids[i]] == "accept" for i in known], dtype=int)
    fitted, folds = fit(x[known], y)
    accuracy = _cross_validated_accuracy(x[known], y, folds)
    unknown = np.array([i for i, eid in enumerate(ids) if eid not in verdicts], dtype=int)
    p = fitted.predict_proba(x[unknown])[:, 1] if len(unknown) else np.zeros(0)
    order = np.argsort(np.abs(p - 0.5), kind="stable")  # the most unsure first: what a reviewer should see
    info = {"name": "logistic+embedding+findings", "verdicts": len(known), "accepted": int(y.sum()),
            "rejected": int(len(y) - y.sum()), "cv_accuracy": round(float(accuracy.mean()), 4),
            "cv_folds": folds, "features": {"embedding": x.shape[1] - len(kinds) - 1,
                                                            "finding_kinds": kinds}, "verdict_policy": verdict_policy}
    return Prediction(info, [{"id": ids[unknown[i]], "p_accept": round(float(p[i]), 4)} for i in order])


MODEL_REVIEWER = MODEL_PREFIX + "logistic"


def record_confident(collection: str, result: Prediction, *, workspace: Workspace | str | None = None,
                     accept_above: float | None = None, reject_below: float | None = None) -> dict[str, int]:
    """Record the model's confident verdicts as decisions of reviewer `model:logistic`, each with its
    probability and the model's accuracy in the reason; a reviewer's later decision overrides them."""
    if accept_above is not None and not 0.5 < accept_above <= 1:
        raise UsageError(f"{{accept_above}} must be above 0.5 and at most 1, got {accept_above}",
                         params=("accept_above",))
    if reject_below is not None and not 0 <= reject_below < 0.5:
        raise UsageError(f"{{reject_below}} must be at least 0 and below 0.5, got {reject_below}",
                         params=("reject_below",))
    accuracy = result.model["cv_accuracy"]
    rows = []
    for x in result.predictions:
        p = x["p_accept"]
        verdict = "accept" if accept_above is not None and p >= accept_above else \
            "reject" if reject_below is not None and p <= reject_below else None
        if verdict:
            rows.append((x["id"], MODEL_REVIEWER, verdict,
                         f"model: p(accept) {p:.2f} (cross-validated accuracy {accuracy:.2f})", None))
    with opened(workspace) as ws:
        ws.record_decisions(collection, rows)
    accepted = sum(r[2] == "accept" for r in rows)
    return {"accepted": accepted, "rejected": len(rows) - accepted}


def fit(x: np.ndarray, y: np.ndarray) -> tuple[Any, int]:
    """The calibrated model `predict` uses (and bench/review_learning.py simulates), fitted on verdicts `y`
    (1: accept); returns it and the number of cross-validation folds the smaller verdict allows (<= 5)."""
    folds = min(5, int(min(y.sum(), len(y) - y.sum())))
    base, splits = _estimator(folds)
    from sklearn.calibration import CalibratedClassifierCV  # imported by _estimator's check first

    return CalibratedClassifierCV(base, method="sigmoid", cv=splits).fit(x, y), folds


def _cross_validated_accuracy(x: np.ndarray, y: np.ndarray, folds: int) -> np.ndarray:
    from sklearn.model_selection import cross_val_score

    base, splits = _estimator(folds)
    return cross_val_score(base, x, y, cv=splits, scoring="accuracy")


def _estimator(folds: int) -> tuple[Any, Any]:
    """The logistic regression and the seeded folds, both fits' (scikit-learn is imported when asked for)."""
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold
    except ImportError as exc:
        raise MissingDependency("scikit-learn", "embed", "Learning from verdicts") from exc
    return LogisticRegression(max_iter=2000, class_weight="balanced"), StratifiedKFold(folds, shuffle=True,
                                                                                       random_state=0)


def _enough(verdicts: dict[str, str]) -> None:
    accepts = sum(v == "accept" for v in verdicts.values())
    rejects = len(verdicts) - accepts
    if len(verdicts) < MIN_VERDICTS or min(accepts, rejects) < _MIN_EACH:
        raise UsageError(f"learning needs at least {MIN_VERDICTS} verdicts with {_MIN_EACH} of each kind; there are "
                         f"{accepts} accepts and {rejects} rejects so far: review more first")


def _features(ws: Workspace, collection: str, examples: list[Example], model: str | None,
              progress: Progress | None) -> tuple[np.ndarray, list[str]]:
    """One row per example: its embedding, then the top score of each finding kind, then its quality."""
    from .embed import Embedder, embed

    texts = [(e.prompt + "\n\n" + e.response)[:_TEXT_CHARS] for e in examples]
    vectors = embed(texts, ws, Embedder(model), (lambda d, t: progress("embed", d, t)) if progress else None)
    score: dict[tuple[str, str], float] = {}
    quality: dict[str, float] = {}
    for kind in ("check", "dedup"):
        run = ws.latest_run(collection, kind)
        if run is None:
            continue
        if kind == "check":
            quality = (run.summary or {}).get("quality_below_1", {})
        for f in ws.run_findings(run.id):
            key = (f.example_id, f.kind)
            score[key] = max(score.get(key, 0.0), f.score)
    kinds = sorted({k for _, k in score})
    flags = np.array([[score.get((e.id, k), 0.0) for k in kinds] + [quality.get(e.id, 1.0)] for e in examples],
                     dtype=np.float32).reshape(len(examples), len(kinds) + 1)
    return np.hstack([vectors, flags]), kinds
