"""Running the quality checks over a collection: a shared first pass for collection-wide statistics, then
every check on every example (in forked workers past PARALLEL_MIN examples), findings stored as a `check`
run with a quality score per example, and the optional prune proposals."""

from __future__ import annotations

import multiprocessing
import os
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from ..engine import Engine
from ..errors import UsageError
from ..findings import PRUNE, Finding, Progress, Report, weight
from ..gcpause import gc_paused
from ..record import Example
from ..secrets import redact, redact_value
from ..workspace import Workspace, opened
from .base import REGISTRY, Check, Context, Flag
from .custom import USER_MODULE, load_custom


@dataclass
class CheckReport(Report):
    scores: dict[str, float] = field(default_factory=dict)  # example id -> quality score


def quality_score(flags: list[Flag]) -> float:
    """1 for a clean example, towards 0 as findings pile up: the product of (1 - weight x score)."""
    q = 1.0
    for f in flags:
        q *= 1 - weight(f.severity) * max(0.0, min(1.0, f.score))
    return q


def run(
    collection: str,
    *,
    workspace: Workspace | str | None = None,
    progress: Progress | None = None,
    only: list[str] | None = None,
    max_length: int | None = None,
    tokenizer: str | None = None,
    custom: list[str] | None = None,
    prune_bottom: float | None = None,
    engine: Engine | None = None,
) -> CheckReport:
    """Run quality checks over a collection and store their findings; see the package doc."""
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
    params: dict[str, Any] = {"checks": names, "max_length": max_length, "prune_bottom": prune_bottom,
                              "custom": added}
    ctx = Context(max_length=max_length)
    if "token_length" in names and max_length:
        from .tokenizer import load

        params["tokenizer"], ctx.tokenizer = load(tokenizer)
    with opened(workspace) as ws, gc_paused():
        return _run(ws, collection, params, ctx, progress, engine or Engine())


def _run(ws: Workspace, collection: str, params: dict[str, Any], ctx: Context,
         progress: Progress | None, engine: Engine) -> CheckReport:
    started = time.perf_counter()
    names = params["checks"]
    total = ws.count_examples(collection)
    report = CheckReport(collection, ws.start_run(collection, "check", params), params)
    checks: dict[str, Check] = {n: REGISTRY[n]() for n in names}
    failed: dict[str, str] = {}
    seconds = dict.fromkeys(names, 0.0)
    observed = _first_pass(ws, collection, total, checks, ctx, failed, seconds)
    results = _scan(ws, collection, checks, ctx, failed, total, progress, engine)
    findings, flags_of = _collect(results, report, seconds, failed)
    prune_bottom = params["prune_bottom"]
    prune = _prune(report, prune_bottom, flags_of, findings) if prune_bottom else None
    report.summary = _summary(report, names, total, failed, seconds, prune["proposed"] if prune else 0,
                              time.perf_counter() - started)
    if prune:
        report.summary["prune"] = prune
    if engine.distributed:
        report.summary["engine"] = engine.describe()
    if 0 < observed < total:
        report.summary["set_statistics_from"] = observed  # the even sample majorities were measured on
    flagged_quality = {k: round(v, 4) for k, v in report.scores.items() if v < 1.0}  # the rest score 1.0
    ws.finish_run(report.run_id, report.summary | {"quality_below_1": flagged_quality}, findings)
    return report


def _scan(ws: Workspace, collection: str, checks: dict[str, Check], ctx: Context, failed: dict[str, str],
          total: int, progress: Progress | None, engine: Engine) -> list[tuple]:
    """Every check on every example, by ranges of the collection: in forked workers for a large one (the
    checks, custom ones included, and the context are inherited, not pickled)."""
    global _STATE
    if engine.distributed:
        return list(_with_progress(_on_engine(ws, collection, checks, ctx, failed, engine), progress, total))
    workers = PARALLEL_WORKERS if total >= PARALLEL_MIN and "fork" in multiprocessing.get_all_start_methods() else 1
    ranges = ws.seq_bounds(collection, workers * 4)
    _STATE = (str(ws.dir), collection, checks, ctx, dict(failed))
    try:
        if workers > 1:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                return list(_with_progress(pool.map(_check_range, ranges), progress, total))
        return list(_with_progress(map(_check_range, ranges), progress, total))
    finally:
        _STATE = None


def _on_engine(ws: Workspace, collection: str, checks: dict[str, Check], ctx: Context, failed: dict[str, str],
               engine: Engine) -> Iterator[tuple]:
    """`check_examples` on partitions the head reads, on the engine's workers (user checks go by value)."""
    engine.by_value({type(c).__module__ for c in checks.values() if type(c).__module__.startswith(USER_MODULE)})
    total = ws.count_examples(collection)
    ranges = ws.seq_bounds(collection, max(engine.workers * 4, -(-total // ENGINE_PARTITION)))
    parts = (list(ws.iter_examples(collection, after=lo, until=hi)) for lo, hi in ranges)
    return engine.map(check_examples, parts, checks, ctx, dict(failed))


def _collect(results: list[tuple], report: CheckReport, seconds: dict[str, float],
             failed: dict[str, str]) -> tuple[list[Finding], dict[str, list[Flag]]]:
    """The workers' rows as findings (in the report and for the store), and every example's quality score."""
    findings: list[Finding] = []
    flags_of: dict[str, list[Flag]] = {}
    for ids, rows, part_seconds, part_failed in results:
        for name, secs in part_seconds.items():
            seconds[name] += secs
        for name, why in part_failed.items():
            failed.setdefault(name, why)
        report.scores.update(dict.fromkeys(ids, 1.0))
        for eid, source, name, severity, score, message, evidence in rows:
            # A finding quotes the example ("...stops at 'sk-proj-...'"): it is shown outside the review screen.
            message, evidence = redact(message), redact_value(evidence)
            flags_of.setdefault(eid, []).append(Flag(severity, score, message, evidence))
            findings.append(Finding(eid, name, severity, score, message, evidence))
            report.findings.append({"example_id": eid, "source": source, "check": name, "severity": severity,
                                    "score": round(score, 4), "message": message, "evidence": evidence})
    for eid, flags in flags_of.items():
        report.scores[eid] = quality_score(flags)
    return findings, flags_of


ENGINE_PARTITION = 20_000  # examples per partition on a distributed engine
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
    """`check_examples` on one slice of the collection, read in this (forked) worker."""
    if _STATE is None:
        raise RuntimeError("the check workers were not initialised")  # run() sets _STATE first, always
    ws_dir, collection, checks, ctx, failed = _STATE
    with Workspace(ws_dir, create=False) as ws:
        return check_examples(ws.iter_examples(collection, after=bounds[0], until=bounds[1]), checks, ctx, failed)


def check_examples(examples: Iterable[Example], checks: dict[str, Check], ctx: Context, failed: dict[str, str]):
    """Run every check on some examples: the ids of the examples (each gets a score), rows (example, source,
    check, severity, score, message, evidence) for the findings, seconds per check, and the checks that
    failed. Only findings carry a source: most examples have none, and the rows cross a process boundary."""
    ids: list[str] = []
    rows: list[tuple] = []
    seconds = dict.fromkeys(checks, 0.0)
    failed = dict(failed)
    for example in examples:
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
        findings.append(PRUNE(eid, 1 - score, message, {"quality": round(score, 4), "reasons": reasons}))
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

