"""`export()`: the clean set as train/val/test files with a manifest, a dataset card and every exclusion.

Safety: everything is written into a temporary directory beside OUT_DIR and renamed into place at the
end, so an interrupted export leaves either the previous export or nothing, never half of one. An
existing OUT_DIR is replaced only with `force`, and only if it holds a curate manifest (so `--force`
cannot wipe a directory that curate did not write). OUT_DIR may not be the workspace or hold it.
Determinism: no timestamps or random names in the files; the same inputs and seed give the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import orjson

from .. import __version__, matching
from ..errors import UsageError
from ..findings import Progress
from ..provenance import check_inputs
from ..record import Example
from ..workspace import Workspace, opened
from ..workspace.scratch import owner, running, scratch_dir
from . import writers
from .card import dataset_card
from .leakage import leakage
from .select import MISSING, POLICIES, Kept, Selection, excluded, select
from .split import SPLITS, assign, parse_ratios, seeded_key, units

_TMP = ".curate-tmp-"


@dataclass
class ExportReport:
    out_dir: str
    manifest: dict[str, Any]
    excluded: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # stale or missing runs the export used

    def to_dict(self) -> dict[str, Any]:
        m = {k: v for k, v in self.manifest.items() if k != "splits"}
        return {"out_dir": self.out_dir, **m, "warnings": self.warnings}


def _check_target(out: Path, ws: Workspace, force: bool) -> None:
    ws_dir = Path(ws.dir).resolve()
    if ws_dir.is_relative_to(out):  # replacing OUT_DIR would take the workspace with it
        raise UsageError(f"{out} holds the workspace {ws_dir}; export to a directory beside or inside it")
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file; give a directory for the export")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise UsageError(f"{out} already exists; pass {{force}} to replace it (or choose another directory)",
                             params={"force": "force=True"})
        manifest = out / "manifest.json"
        try:
            ours = orjson.loads(manifest.read_bytes()).get("tool") == "curate"
        except (OSError, orjson.JSONDecodeError, AttributeError):
            ours = False
        if not ours:
            raise UsageError(f"{out} is not a curate export (no curate manifest.json); refusing to replace it "
                             "even with {force}", params={"force": "force=True"})


def _clean_stale(out: Path) -> None:
    """Remove temporary directories that killed exports to the same target left behind."""
    for p in out.parent.glob(f".{out.name}{_TMP}*"):
        pid = owner(p)
        if pid is not None and not running(pid):
            shutil.rmtree(p, ignore_errors=True)


def _strata(ws: Workspace, collection: str, stratify: str, kept: list[Kept],
            fields: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    if stratify == "auto":
        stratify = "cluster" if ws.latest_run(collection, "coverage") else "none"
    if stratify == "none":
        return stratify, {}
    if stratify == "cluster":
        run = ws.latest_run(collection, "coverage")
        if run is None:
            raise UsageError(f"{{stratify}} cluster needs a coverage run: curate coverage --train {collection}",
                            params=("stratify",))
        clusters = ws.run_clusters(run.id)
        return stratify, {e.id: f"cluster {clusters[e.id]}" if e.id in clusters else "unclustered" for e in kept}
    if stratify.startswith("metadata:") and stratify[9:]:
        at = fields.index(stratify[9:])
        return stratify, {e.id: "(missing)" if e.fields[at] is MISSING else str(e.fields[at]) for e in kept}
    raise UsageError(f"{{stratify}} {stratify!r}: choose cluster, metadata:FIELD or none", params=("stratify",))


def _fingerprint(ws: Workspace, collection: str, runs: dict[str, int | None]) -> str:
    h = hashlib.sha256()
    for row in ws.conn.execute("SELECT e.id FROM examples e JOIN collections c ON c.id = e.collection_id "
                               "WHERE c.name=? ORDER BY e.id", (collection,)):
        h.update(row[0].encode())
    h.update(orjson.dumps({"runs": runs, "decisions": ws.max_decision_id(collection)}))
    return h.hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _contamination_check(ws: Workspace, other: str):
    from ..dedup import DEFAULT_NEAR_THRESHOLD

    theirs = list(ws.iter_examples(other))

    def check(ids: list[str], prompts: list[str]) -> dict[str, str]:
        hits = matching.near(prompts, [e.prompt for e in theirs], DEFAULT_NEAR_THRESHOLD)
        return {ids[i]: f"contaminates:{other} {method} match of {theirs[j].id} (similarity {s:.2f})"
                for i, (j, s, method) in hits.items()}

    return check


TREE_FIELD = "message_tree_id"  # OpenAssistant: every path of one conversation tree carries it


def _fields(stratify: str, group_by: str) -> tuple[str, ...]:
    """The metadata fields that stratifying and grouping by origin read, which select keeps of each example."""
    names = [stratify[9:]] if stratify.startswith("metadata:") and stratify[9:] else []
    origin = TREE_FIELD if group_by == "auto" else group_by[9:] if group_by.startswith("metadata:") else ""
    return tuple(dict.fromkeys(names + ([origin] if origin else [])))


def _shared_origin(group_by: str, kept: list[Kept], fields: tuple[str, ...]) -> tuple[str, list[tuple[str, str]]]:
    """Links between examples that share an origin (the paths of one OASST conversation tree share their
    opening turns), so each origin lands in one split. auto: by `message_tree_id` where examples have one."""
    if group_by == "none":
        return "none", []
    if not (group_by == "auto" or group_by.startswith("metadata:") and group_by[9:]):
        raise UsageError(f"{{group_by}} {group_by!r}: choose auto, metadata:FIELD or none", params=("group_by",))
    at = fields.index(TREE_FIELD if group_by == "auto" else group_by[9:])
    if group_by == "auto":
        if all(e.fields[at] is MISSING for e in kept):
            return "none", []
        group_by = f"metadata:{TREE_FIELD}"
    last: dict[str, str] = {}
    links = []
    for e in kept:
        value = e.fields[at]
        if value is MISSING or value is None or value == "":
            continue  # an example without the field is its own origin
        key = str(value)
        if key in last:
            links.append((last[key], e.id))
        last[key] = e.id
    return group_by, links


def export(collection: str, out_dir: str | os.PathLike, *, workspace: Workspace | str | None = None,
           progress: Progress | None = None, split: str = "80/10/10", seed: int = 0, stratify: str = "auto",
           policy: str = "not-rejected", verdict_policy: str | None = None, fmt: str = "openai",
           exclude_near: str | None = None, force: bool = False, leakage_check: str = "auto", group_by: str = "auto",
           strict: bool = False, model_verdicts: str = "include") -> ExportReport:
    """Write the clean set; see the module doc. The dedup and check runs it uses (and coverage, for
    stratified splits) are judged fresh or stale first: a warning each, or with `strict` StaleInputs and
    nothing written."""
    ratios = parse_ratios(split)
    if policy not in POLICIES:
        raise UsageError(f"{{policy}} {policy!r}: choose {' or '.join(POLICIES)}", params=("policy",))
    if fmt not in writers.FORMATS:
        raise UsageError(f"{{fmt}} {fmt!r}: choose {', '.join(writers.FORMATS)}", params=("fmt",))
    if leakage_check not in ("auto", "near", "off"):
        raise UsageError("{leakage_check} must be auto, near or off", params=("leakage_check",))
    if model_verdicts not in ("include", "exclude"):
        raise UsageError("{model_verdicts} must be include or exclude", params=("model_verdicts",))
    out = Path(out_dir).resolve()
    with opened(workspace) as ws:
        _check_target(out, ws, force)
        if exclude_near:
            ws.collection_id(exclude_near)
        uses_clusters = stratify == "cluster" or (stratify == "auto" and ws.latest_run(collection, "coverage"))
        inputs, stale = check_inputs(ws, collection, ("dedup", "check") + (("coverage",) if uses_clusters else ()),
                                     strict)
        started = time.perf_counter()
        if verdict_policy is None:  # the policy `curate agreement --policy` set, else the latest decision counts
            from ..agreement import policy_of

            verdict_policy = policy_of(ws, collection)
        fields = _fields(stratify, group_by)
        with _spill_dir(ws, leakage_check != "off") as spill:
            sel = select(ws, collection, policy, verdict_policy,
                         _contamination_check(ws, exclude_near) if exclude_near else None,
                         (lambda d, t: progress("load", d, t)) if progress else None, model_verdicts == "include",
                         lambda e: writers.representable(e, fmt), fields, spill)
            kept = _representable(sel, fmt, policy, collection)
            if progress:
                progress("split", 0, None)
            plan = _split(ws, collection, sel, kept, ratios, seed, stratify, group_by, fields)
            read = _reader(ws, collection, sel)
            check = _leakage(plan.splits, sel, read, ws, leakage_check, progress)
        settings = {"collection": collection, "format": fmt, "seed": seed, "split": dict(zip(SPLITS, ratios)),
                    "policy": policy, "verdict_policy": verdict_policy, "stratify": plan.stratify,
                    "group_by": plan.group_by, "exclude_near": exclude_near}
        if sel.model_decisions or model_verdicts == "exclude":  # only where a model has decided: said when used
            settings.update(model_verdicts=model_verdicts, model_decisions=sel.model_decisions)
        manifest = _write(out, ws, settings, sel, plan, check, inputs, fmt, read, progress)
    manifest["seconds"] = round(time.perf_counter() - started, 2)
    return ExportReport(str(out), manifest, sel.excluded, stale)


@contextmanager
def _spill_dir(ws: Workspace, wanted: bool) -> Iterator[Path | None]:
    """A scratch directory for the conversations' words the leakage check reads, if there is a check."""
    if not wanted:
        yield None
        return
    with scratch_dir(ws.dir, "export") as path:
        yield path


def _reader(ws: Workspace, collection: str, sel: Selection) -> Callable[[Iterable[Kept]], Iterator[Example]]:
    """Kept examples read back from the workspace, in the order given, with reviewers' edits applied."""
    def read(kept: Iterable[Kept]) -> Iterator[Example]:
        for e in ws.examples_by_id(collection, (k.id for k in kept)):
            yield replace(e, messages=sel.revised[e.id]) if e.id in sel.revised else e
    return read


def _representable(sel: Selection, fmt: str, policy: str, collection: str) -> list[Kept]:
    """The selected examples the format can hold; the others join the excluded, with why."""
    kept = []
    for e in sel.kept:
        if e.unfit:
            sel.excluded.append(excluded(e.id, e.source, f"format:{fmt}", e.unfit))
        else:
            kept.append(e)
    if not kept:
        raise UsageError(f"nothing to export from {collection!r}: all {len(sel.excluded):,} examples are excluded "
                         f"(policy {policy}" + ("; no example has been accepted yet, review first or use {policy} "
                                                "not-rejected" if policy == "accepted" else "") + ")",
                         params=("policy",))
    return kept


@dataclass
class _Plan:
    """Which split each kept example goes to, and how the splits were made."""

    splits: dict[str, list[Kept]]
    where: dict[str, str]
    stratum_of: dict[str, str]
    stratify: str
    group_by: str


def _split(ws: Workspace, collection: str, sel: Selection, kept: list[Kept], ratios: tuple[float, float, float],
           seed: int, stratify: str, group_by: str, fields: tuple[str, ...]) -> _Plan:
    """Linked examples (a duplicate group, a conflict, one origin) form one unit, and units are split by stratum."""
    stratify_used, stratum_of = _strata(ws, collection, stratify, kept, fields)
    group_by_used, shared = _shared_origin(group_by, kept, fields)
    links = [(g[i], g[i + 1]) for g in sel.groups for i in range(len(g) - 1)] + sel.conflicts + shared
    keys = {e.id: seeded_key(seed, e.id) for e in kept}
    where = assign(units([e.id for e in kept], links), stratum_of, ratios, seed, keys)
    splits: dict[str, list[Kept]] = {s: [] for s in SPLITS}
    for e in sorted(kept, key=lambda e: keys[e.id]):
        splits[where[e.id]].append(e)
    return _Plan(splits, where, stratum_of, stratify_used, group_by_used)


def _leakage(splits: dict[str, list[Kept]], sel: Selection, read: Callable[[Iterable[Kept]], Iterator[Example]],
             ws: Workspace, leakage_check: str, progress: Progress | None) -> dict[str, Any]:
    if leakage_check == "off" or sel.words is None:
        return {"near_pairs": 0, "closest_near": [], "semantic": None, "skipped": "--leakage off"}
    return leakage(splits, sel.words, lambda kept: list(read(kept)), ws, "off" if leakage_check == "near" else "auto",
                   (lambda stage: progress(stage, 0, None)) if progress else None)


def _write(out: Path, ws: Workspace, settings: dict[str, Any], sel: Selection, plan: _Plan, check: dict[str, Any],
           inputs: dict, fmt: str, read: Callable[[Iterable[Kept]], Iterator[Example]],
           progress: Progress | None) -> dict[str, Any]:
    """The split files, excluded.jsonl, the dataset card and the manifest, written to a temporary folder that
    replaces `out` whole: an interrupted export leaves the previous one or none, never a mix."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(out)
    tmp = out.parent / f".{out.name}{_TMP}{os.getpid()}-{os.urandom(4).hex()}"
    tmp.mkdir()
    try:
        total = sum(len(v) for v in plan.splits.values())
        counted = _counted(progress, total)
        examples = {name: counted(read(plan.splits[name])) for name in SPLITS}
        files = writers.write_hf(examples, tmp) if fmt == "hf" else \
            [f for name in SPLITS for f in writers.write_split(fmt, examples[name], tmp, name)]
        with open(tmp / "excluded.jsonl", "wb") as fh:
            for x in sel.excluded:
                fh.write(orjson.dumps(x) + b"\n")
        files.append(tmp / "excluded.jsonl")
        manifest = _manifest(ws, settings, sel, plan, check, inputs)
        (tmp / "README.md").write_text(dataset_card(manifest, plan.splits, sel.excluded,
                                                    lambda kept: list(read(kept))), encoding="utf-8")
        files.append(tmp / "README.md")
        manifest["files"] = {p.relative_to(tmp).as_posix(): _sha256(p) for p in sorted(files)}
        manifest["splits"] = {s: [e.id for e in plan.splits[s]] for s in SPLITS}
        (tmp / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _counted(progress: Progress | None, total: int) -> Callable[[Iterator[Example]], Iterator[Example]]:
    """Examples passed through, counted on the progress line as they are written."""
    done = 0

    def counted(examples: Iterator[Example]) -> Iterator[Example]:
        nonlocal done
        for e in examples:
            yield e
            done += 1
            if progress and done % 20000 == 0:
                progress("write", done, total)
        if progress and done == total:
            progress("write", total, total)
    if progress:
        progress("write", 0, total)
    return counted


def _manifest(ws: Workspace, settings: dict[str, Any], sel: Selection, plan: _Plan, check: dict[str, Any],
              inputs: dict) -> dict[str, Any]:
    collection = settings["collection"]
    by_reason: dict[str, int] = {}
    for x in sel.excluded:
        by_reason[x["reason"]] = by_reason.get(x["reason"], 0) + 1
    strata_counts: dict[str, dict[str, int]] = {}
    for eid, split in plan.where.items():
        row = strata_counts.setdefault(plan.stratum_of.get(eid, "all"), {s: 0 for s in SPLITS})
        row[split] += 1
    runs = dict(sel.runs)
    cov = ws.latest_run(collection, "coverage")
    runs["coverage"] = cov.id if cov and plan.stratify == "cluster" else None
    exported = set(plan.where)
    return {
        "tool": "curate", "version": __version__, **settings,
        "counts": {"examples": ws.count_examples(collection), "exported": len(exported),
                   "excluded": len(sel.excluded), **{s: len(plan.splits[s]) for s in SPLITS}},
        "reviewed": {"accepted": len(sel.accepted & exported), "edited": len(sel.edited & exported)},
        "excluded_by_reason": dict(sorted(by_reason.items())),
        "strata": dict(sorted(strata_counts.items())),
        "leakage": check,
        "workspace_fingerprint": _fingerprint(ws, collection, runs), "runs": runs,
        "inputs": {kind: f.to_dict() for kind, f in inputs.items()},
    }


def _swap_into_place(tmp: Path, out: Path) -> None:
    if out.exists():
        old = out.parent / f".{out.name}{_TMP}{os.getpid()}-old"
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)
