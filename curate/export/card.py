"""The export's README.md: a dataset card a person reads before training on the files."""

from __future__ import annotations

from collections import Counter
from pathlib import PurePath
from typing import Any, Callable

import numpy as np

from ..record import Example
from .select import Kept

_TOKEN_SAMPLE = 2000  # examples per split whose tokens are counted: the statistics are estimates beyond it

_LOAD = {
    "openai": 'load_dataset("json", data_files={"train": "train.jsonl", "validation": "val.jsonl", '
              '"test": "test.jsonl"})',
    "alpaca": 'load_dataset("json", data_files={"train": "train.json", "validation": "val.json", '
              '"test": "test.json"})',
    "sharegpt": 'load_dataset("json", data_files={"train": "train.json", "validation": "val.json", '
                '"test": "test.json"})',
    "parquet": 'load_dataset("parquet", data_files={"train": "train.parquet", "validation": "val.parquet", '
               '"test": "test.parquet"})',
    "hf": 'load_from_disk(".")',
}


def _tokens(kept: list[Kept], read: Callable[[list[Kept]], list[Example]]) -> dict[str, Any] | None:
    try:
        from ..checks.tokenizer import DEFAULT, load

        _, counter = load(None)
    except Exception:  # the card is still useful without token counts
        return None
    sample = read(kept[:_TOKEN_SAMPLE])
    if not sample:
        return None
    counts = np.array(counter.many(["\n".join(m.content for m in e.messages) for e in sample]))
    return {"tokenizer": DEFAULT, "counted": len(sample), "p50": int(np.percentile(counts, 50)),
            "p95": int(np.percentile(counts, 95)), "max": int(counts.max()), "mean": round(float(counts.mean()), 1)}


def dataset_card(manifest: dict[str, Any], splits: dict[str, list[Kept]], excluded: list[dict],
                 read: Callable[[list[Kept]], list[Example]]) -> str:
    """The README of an export; `read` gives the examples whose tokens are counted."""
    c = manifest["counts"]
    lines = [f"# {manifest['collection']}: curated fine-tuning set", "",
             f"Exported by curate {manifest['version']} from collection `{manifest['collection']}` in "
             f"`{manifest['format']}` format. {c['exported']:,} of {c['examples']:,} examples kept; "
             f"{c['excluded']:,} excluded, each listed with its reason in `excluded.jsonl`.", "",
             "## Splits", "", "| split | examples | share | turns (mean) | tokens p50 | tokens p95 | tokens max |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    token_note = None
    for name, exs in splits.items():
        t = _tokens(exs, read)
        turns = np.mean([e.turns for e in exs]) if exs else 0
        share = len(exs) / max(1, c["exported"])
        if t:
            token_note = t["tokenizer"]
            lines.append(f"| {name} | {len(exs):,} | {share:.1%} | {turns:.1f} | {t['p50']:,} | {t['p95']:,} | "
                         f"{t['max']:,} |")
        else:
            lines.append(f"| {name} | {len(exs):,} | {share:.1%} | {turns:.1f} | – | – | – |")
    if token_note:
        lines += ["", f"Tokens counted with {token_note} on up to {_TOKEN_SAMPLE:,} examples per split."]
    origin = "" if manifest.get("group_by", "none") == "none" else \
        f", as do examples sharing `{manifest['group_by']}`"
    lines += ["", f"Splits are group-aware (duplicate groups and conflicting pairs stay together{origin}) and "
              f"stratified by `{manifest['stratify']}`, seed {manifest['seed']}; the ordered ids of each split are in "
              "`manifest.json`, with the sha256 of every file.", "", "## Sources", "",
              "| file | examples |", "|---|---:|"]
    # Paths as the workspace names them (relative to its folder); a file outside it by its name only, so
    # the card carries no local path of the machine that made it.
    sources: Counter[str] = Counter()
    for path, n in Counter(e.source.path for exs in splits.values() for e in exs).items():  # few paths, many rows
        sources[_shown_path(path)] += n
    lines += [f"| `{path}` | {n:,} |" for path, n in sorted(sources.items())]
    lines += ["", "## What was filtered and why", ""]
    if manifest["excluded_by_reason"]:
        lines += ["| reason | examples |", "|---|---:|"]
        lines += [f"| {reason} | {n:,} |" for reason, n in manifest["excluded_by_reason"].items()]
    else:
        lines.append("Nothing was excluded.")
    r = manifest["reviewed"]
    lines += ["", f"Review policy `{manifest['policy']}`: {r['accepted']:,} exported examples were accepted by a "
              f"reviewer, {r['edited']:,} of them edited (the edit is exported).", "", "## Leakage check", ""]
    leak = manifest["leakage"]
    lines.append(f"{leak['near_pairs']:,} val/test examples have a training example with word 3-gram Jaccard >= "
                 f"{leak.get('near_threshold', 0.5)}.")
    sem = leak.get("semantic")
    if sem and "closest" in sem:
        lines.append(f"{sem['pairs_at_threshold']:,} have a training prompt with embedding cosine >= "
                     f"{sem['threshold']} ({sem['model']}).")
    elif sem:
        lines.append(f"Semantic check skipped: {sem['skipped']}")
    lines += ["", "## Load", "", "```python", "from datasets import load_dataset, load_from_disk", "",
              f"ds = {_LOAD[manifest['format']]}", "```", ""]
    return "\n".join(lines)


def _shown_path(path: str) -> str:
    """
    >>> _shown_path("data/a.jsonl"), _shown_path("/home/ann/data/a.jsonl#train")
    ('data/a.jsonl', 'a.jsonl#train')
    """
    return PurePath(path).name if PurePath(path).is_absolute() else path
