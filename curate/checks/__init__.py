"""Quality checks: flag what a careful reviewer would reject, with a score per example.

Each check is one module registered by name (see `base.py`); `run_checks` runs the chosen ones over a
collection, each independently (a check that crashes is reported, and the others go on), stores the
findings as a `check` run, combines them into a quality score per example, and can propose rejecting
the lowest-scoring share (`prune_bottom`) as findings a reviewer can overturn. Nothing is deleted.

Custom checks: a Python file passed with `checks=["my_checks.py"]` (`--checks` on the command line), or
a package exposing one under the `curate.checks` entry-point group. See README "Custom checks".
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import multiprocessing
import os
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import UsageError
from ..findings import Finding, weight
from ..gcpause import gc_paused
from ..secrets import redact, redact_value
from ..workspace import Workspace, opened
from . import (  # noqa: F401  (importing registers them)
    empty_answer,
    encoding,
    ingest_warnings,
    json_format,
    language,
    pii,
    placeholders,
    refusal,
    repetition,
    short_answer,
    system_prompt,
    token_length,
    truncation,
)
from .base import REGISTRY, Check, Context, Flag, register

__all__ = ["run_checks", "CheckReport", "Check", "Flag", "Context", "register", "REGISTRY", "quality_score"]


def quality_score(flags: list[Flag]) -> float:
    """1 for a clean example, towards 0 as findings pile up: the product of (1 - weight x score)."""
    q = 1.0
    for f in flags:
        q *= 1 - weight(f.severity) * max(0.0, min(1.0, f.score))
    return q


def load_custom(paths: list[str]) -> list[str]:
    """Import user check files and installed `curate.checks` entry points; returns the names they added."""
    before = set(REGISTRY)
    for ep in importlib.metadata.entry_points(group="curate.checks"):
        ep.load()
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise UsageError(f"{{custom}} {p}: no such file", params=("custom",))
        spec = importlib.util.spec_from_file_location(f"curate_user_checks_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise UsageError(f"{{custom}} {p}: not a Python module (use a .py file)", params=("custom",))
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # the user's code: report it as one clear line
            raise UsageError(f"{{custom}} {p}: {type(exc).__name__}: {exc}", params=("custom",)) from exc
    return sorted(set(REGISTRY) - before)


@dataclass
class CheckReport:
    collection: str
    run_id: int
    params: dict[str, Any]
    findings: list[dict[str, Any]] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"collection": self.collection, "run_id": self.run_id, "params": self.params,
                "findings": self.findings, "summary": self.summary}


def run_checks(
    collection: str,
    *,
    workspace: Workspace | str | None = None,
    only: list[str] | None = None,
    max_length: int | None = None,
    tokenizer: str | None = None,
    custom: list[str] | None = None,
    prune_bottom: float | None = None,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> CheckReport:
    """Run quality checks over a collection and store their findings; see the module doc."""
    added = load_custom(custom or [])
    names = list(only) if only else sorted(REGISTRY)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise UsageError(f"unknown check(s) {', '.join(unknown)}; available: {', '.join(sorted(REGISTRY))}")
    if prune_bottom is not None and not 0 < prune_bottom < 1:
        raise UsageError(f"{{prune_bottom}} must be a share between 0 and 1 (e.g. 10%), got {prune_bottom}",
                         params=("prune_bottom",))
    if max_length is not None and max_length < 1:
        raise UsageError(f"{{max_length}} must be positive, got {max_length}", params=("max_length",))
    with opened(workspace) as ws, gc_paused():
        return _run(ws, collection, names, max_length, tokenizer, prune_bottom, added, progress)


def _run(ws, collection, names, max_length, tokenizer, prune_bottom, added, progress) -> CheckReport:
    started = time.perf_counter()
    ctx = Context(max_length=max_length)
    params: dict[str, Any] = {"checks": names, "max_length": max_length, "prune_bottom": prune_bottom,
                              "custom": added}
    if "token_length" in names and max_length:
        from .tokenizer import load

        params["tokenizer"], ctx.tokenizer = load(tokenizer)
    total = ws.count_examples(collection)
    run_id = ws.start_run(collection, "check", params)
    checks: dict[str, Check] = {n: REGISTRY[n]() for n in names}
    failed: dict[str, str] = {}
    seconds = dict.fromkeys(names, 0.0)
    observed = _first_pass(ws, collection, total, checks, ctx, failed, seconds)
    report = CheckReport(collection, run_id, params)
    findings: list[Finding] = []
    flags_of: dict[str, list[Flag]] = {}
    workers = PARALLEL_WORKERS if total >= PARALLEL_MIN and "fork" in multiprocessing.get_all_start_methods() else 1
    ranges = ws.seq_bounds(collection, workers * 4)
    global _STATE
    _STATE = (str(ws.dir), collection, checks, ctx, dict(failed))
    try:
        if workers > 1:  # forked: the checks, custom ones included, and the context are inherited, not pickled
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                parts = pool.map(_check_range, ranges)
                results = list(_with_progress(parts, progress, total))
        else:
            results = list(_with_progress(map(_check_range, ranges), progress, total))
    finally:
        _STATE = None
    for ids, rows, part_seconds, part_failed in results:
        for name, secs in part_seconds.items():
            seconds[name] += secs
        for name, why in part_failed.items():
            failed.setdefault(name, why)
        report.scores.update(dict.fromkeys(ids, 1.0))
        for eid, source, name, severity, score, message, evidence in rows:
            # A finding quotes the example ("...stops at 'sk-proj-...'"): it is shown outside the review screen.
            message, evidence = redact(message), redact_value(evidence)
            flag = Flag(severity, score, message, evidence)
            flags_of.setdefault(eid, []).append(flag)
            findings.append(Finding(eid, name, severity, score, message, evidence))
            report.findings.append({"example_id": eid, "source": source, "check": name, "severity": severity,
                                    "score": round(score, 4), "message": message, "evidence": evidence})
    for eid, flags in flags_of.items():
        report.scores[eid] = quality_score(flags)
    prune = _prune(report, prune_bottom, flags_of, findings) if prune_bottom else None
    report.summary = _summary(report, names, total, failed, seconds, prune["proposed"] if prune else 0,
                              time.perf_counter() - started)
    if prune:
        report.summary["prune"] = prune
    if 0 < observed < total:
        report.summary["set_statistics_from"] = observed  # the even sample majorities were measured on
    flagged_quality = {k: round(v, 4) for k, v in report.scores.items() if v < 1.0}  # the rest score 1.0
    ws.finish_run(run_id, report.summary | {"quality_below_1": flagged_quality}, findings)
    return report


PARALLEL_MIN = 20_000  # below this, forking costs more than it saves
FIRST_PASS_SAMPLE = 50_000  # a share measured on 50,000 examples is off by 0.5 points at most (2 sigma)
PARALLEL_WORKERS = max(1, min(4, os.cpu_count() or 1))
_STATE: tuple | None = None


def _with_progress(parts, progress, total):
    done = 0
    for part in parts:
        done += len(part[0])
        if progress:
            progress("check", done, total)
        yield part


def _first_pass(ws, collection, total, checks, ctx, failed, seconds) -> int:
    """Collection-wide preparation: one shared pass for checks that observe examples one by one, and a
    pass of its own for a check that overrides `prepare`. A failing check is recorded and skipped.
    Returns how many examples the shared pass observed."""
    own = [n for n, c in checks.items() if type(c).prepare is not Check.prepare]
    shared = [n for n, c in checks.items() if n not in own and (type(c).observe is not Check.observe or
                                                                 type(c).finish is not Check.finish)]
    for name in own:
        t = time.perf_counter()
        try:
            checks[name].prepare(ws.iter_examples(collection), ctx)
        except Exception:  # one broken check never stops the rest
            failed[name] = traceback.format_exc(limit=3)
        seconds[name] += time.perf_counter() - t
    if not shared:
        return 0
    # Shares and majorities come from an even sample of a large collection: reading and decoding every
    # example for them cost a sixth of a 1M-example run, single-threaded, for no better an estimate.
    every = max(1, -(-total // FIRST_PASS_SAMPLE)) if all(checks[n].observes_shares for n in shared) else 1
    observed = 0
    for example in ws.iter_examples(collection, every=every):
        observed += 1
        for name in shared:
            if name in failed:
                continue
            t = time.perf_counter()
            try:
                checks[name].observe(example, ctx)
            except Exception:
                failed[name] = traceback.format_exc(limit=3)
            seconds[name] += time.perf_counter() - t
    for name in shared:
        if name not in failed:
            try:
                checks[name].finish(ctx)
            except Exception:
                failed[name] = traceback.format_exc(limit=3)
    return observed


def _check_range(bounds: tuple[int, int]):
    """Run every check on one slice of the collection: the ids of its examples (each gets a score), and
    rows (example, source, check, severity, score, message, evidence) for the findings. Only findings
    carry a source: most examples have none, and the rows cross a process boundary."""
    if _STATE is None:
        raise RuntimeError("the check workers were not initialised")  # run_checks sets _STATE first, always
    ws_dir, collection, checks, ctx, failed = _STATE
    ids: list[str] = []
    rows: list[tuple] = []
    seconds = dict.fromkeys(checks, 0.0)
    with Workspace(ws_dir, create=False) as ws:
        for example in ws.iter_examples(collection, after=bounds[0], until=bounds[1]):
            ids.append(example.id)
            source = None
            for name, check in checks.items():
                if name in failed:
                    continue
                t = time.perf_counter()
                try:
                    for flag in check.check(example, ctx):
                        source = source or example.source.location()
                        rows.append((example.id, source, name, flag.severity, flag.score, flag.message,
                                     flag.evidence))
                except Exception:  # one broken check never stops the rest
                    failed[name] = f"on example {example.id}: " + traceback.format_exc(limit=3)
                seconds[name] += time.perf_counter() - t
    return ids, rows, seconds, failed


def _prune(report: CheckReport, share: float, flags_of: dict[str, list[Flag]],
           findings: list[Finding]) -> dict[str, Any]:
    """Propose rejecting the lowest-scoring `share` of the collection, from the examples with a warning or an
    error (never a clean one, nor one with only informational findings): fewer when fewer are flagged.
    Returns the requested and proposed counts, which the summary states side by side."""
    ranked = sorted((report.scores[eid], eid) for eid, flags in flags_of.items()
                    if any(f.severity in ("error", "warning") for f in flags))
    limit = int(round(share * len(report.scores)))
    for score, eid in ranked[:limit]:
        reasons = sorted({f.message.split(": ", 1)[-1][:80] for f in flags_of[eid]})
        message = f"proposed rejection: quality {score:.2f}, in the bottom {share:.0%} (" + "; ".join(reasons[:3]) + ")"
        findings.append(Finding(eid, "prune_proposal", "warning", 1 - score, message,
                                {"quality": round(score, 4), "reasons": reasons}))
        report.findings.append({"example_id": eid, "source": None, "check": "prune_proposal", "severity": "warning",
                                "score": round(1 - score, 4), "message": message, "evidence": None})
    return {"share": share, "requested": limit, "proposed": min(limit, len(ranked)), "flagged": len(ranked)}


def _summary(report, names, total, failed, seconds, proposed, elapsed) -> dict[str, Any]:
    by_check: dict[str, dict[str, int]] = {n: {"error": 0, "warning": 0, "info": 0} for n in names}
    flagged: dict[str, set] = {n: set() for n in names}
    serious: set[str] = set()  # examples with a warning or an error; info findings are notes
    noted: set[str] = set()
    for f in report.findings:
        (serious if f["severity"] in ("error", "warning") else noted).add(f["example_id"])
        if f["check"] in by_check:
            by_check[f["check"]][f["severity"]] += 1
            flagged[f["check"]].add(f["example_id"])
    scores = sorted(report.scores.values())
    return {
        "examples": total,
        "flagged_examples": len(serious),
        "noted_examples": len(noted - serious),
        "by_check": {n: dict(by_check[n], examples=len(flagged[n]),
                             examples_per_second=round(total / seconds[n]) if seconds[n] > 0 else None)
                     for n in names},
        "failed_checks": failed,
        "proposed_rejections": proposed,
        "quality": {"mean": round(sum(scores) / len(scores), 4) if scores else None,
                    "p10": round(scores[len(scores) // 10], 4) if scores else None},
        "seconds": round(elapsed, 3),
    }

