"""Golden outputs: every command's --json on sample_data and on the shared sets, compared with what the
code wrote before the analysis-contract refactor (tests/golden/*.json).

A refactor that moves code must not change what users get. Truncation's findings are left out: that check
was rebuilt on purpose (a rule table measured on held-out seeds), and what depends on it (quality scores,
prune proposals) with it. Embeddings come from a fixed hashing encoder, so the golden files hold the
pipeline's behaviour (grouping, clustering, splitting), not the float noise of one CPU's int8 kernels.
The outputs are computed in a child process with OpenBLAS's Haswell (AVX2) kernels: its AVX-512 kernels
round products differently, which moves a query between two nearly equidistant coverage clusters (seen
on an AMD EPYC, where the golden files were otherwise met to the byte).

Regenerate only when a change of output is intended, and say why in the commit:
    python -m tests.test_golden --write
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from curate.cli import main

from .conftest import SHARED, require

GOLDEN = Path(__file__).parent / "golden"
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
SHARED_FILES = ["alpaca_gpt4_en_demo/alpaca_en_demo.json", "glaive_toolcall_demo/glaive_toolcall_en_demo.json",
                "oasst_en100/oasst_en100_paths.messages.jsonl", "fastchat_dummy/dummy_conversation.json",
                "openai_toy_chat/toy_chat_fine_tuning.jsonl", "alpaca/seed_tasks.jsonl"]
# Rebuilt on purpose (issue 20): its findings, and the scores and proposals derived from them.
CHANGED_CHECKS = {"truncation", "prune_proposal"}
VOLATILE = {"run_id", "seconds", "elapsed", "created_at", "started_at", "finished_at", "time", "duration_s",
            "reads", "fingerprint", "curate_version", "runs", "sha256", "bytes", "quality", "score_of", "timings"}


def _hash_encode(texts):
    """A bag of hashed word bigrams and words: deterministic on every machine, similar texts stay close."""
    out = np.zeros((len(texts), 256), dtype=np.float32)
    for i, t in enumerate(texts):
        words = re.findall(r"\w+", t.lower())
        for w in words + [a + " " + b for a, b in zip(words, words[1:])]:
            out[i, int(hashlib.blake2b(w.encode(), digest_size=4).hexdigest(), 16) % 256] += 1
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out


def _portable(text: str, tmp: str) -> str:
    """Paths as on every checkout: CI clones elsewhere, and files outside the workspace's folder are named
    absolutely. curate names a file by its resolved path, so a ../shared that is a symlink shows as its target."""
    text = text.replace(tmp, "<tmp>").replace(str(SHARED.resolve()), "<shared>").replace(str(SHARED), "<shared>")
    return text.replace(str(SAMPLE.parent), "<root>")


def _normalise(value: Any, tmp: str) -> Any:
    if isinstance(value, dict):
        return {k: _normalise(v, tmp) for k, v in value.items()
                if k not in VOLATILE and not k.endswith(("per_second", "_seconds", "_s"))}
    if isinstance(value, list):
        return [_normalise(v, tmp) for v in value]
    if isinstance(value, str):
        return _portable(value, tmp)
    if isinstance(value, float):
        return round(value, 3)
    return value


def _compact(value: Any) -> Any:
    """A long list becomes its length, a digest and its first items: small files that still fail on any change."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_compact(v) for v in value]
        if len(items) <= 8:
            return items
        text = json.dumps(items, sort_keys=True)
        return {"n": len(items), "digest": hashlib.blake2b(text.encode(), digest_size=8).hexdigest(),
                "head": items[:2]}
    return value


def _without_changed_checks(report: dict) -> dict:
    report = dict(report)
    report["findings"] = [f for f in report.get("findings", []) if f.get("check") not in CHANGED_CHECKS]
    summary = dict(report.get("summary", {}))
    for key in ("by_check", "checks"):
        if isinstance(summary.get(key), dict):
            summary[key] = {k: v for k, v in summary[key].items() if k not in CHANGED_CHECKS}
    for key in list(summary):
        if "prune" in key or "flagged" in key or "quality" in key or "examples_with" in key:
            summary.pop(key)
    report["summary"] = summary
    return report


class _Runner:
    def __init__(self, ws: Path):
        self.ws, self.cli = ws, CliRunner()

    def json(self, *args: str) -> Any:
        result = self.cli.invoke(main, ["-w", str(self.ws), *args, "--json"] if args[0] != "coverage"
                                 else ["-w", str(self.ws), *args, "--json", "-"])
        assert result.exit_code == 0, (args, result.output)
        return json.loads(result.stdout)


def _export_files(out: Path, tmp: Path) -> dict[str, Any]:
    files = {}
    for path in sorted(out.rglob("*.jsonl")):
        lines = _portable(path.read_text(encoding="utf-8"), str(tmp)).splitlines()
        files[str(path.relative_to(out))] = {"rows": len(lines), "digests": sorted(
            hashlib.blake2b(line.encode(), digest_size=6).hexdigest() for line in lines)}
    return files


def _pipeline(run: _Runner, tmp: Path, collection: str, queries: str, files: list[Path], query_file: Path,
              semantic: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["ingest"] = run.json("ingest", *map(str, files), "--as", collection)
    out["ingest_queries"] = run.json("ingest", str(query_file), "--as", queries, "--kind", "queries")
    out["status"] = run.json("status")
    out["quarantine"] = run.json("quarantine", "--limit", "50")
    methods = "exact,near,semantic" if semantic else "exact,near"
    out["dedup"] = run.json("dedup", "--collection", collection, "--methods", methods, "--against", queries)
    out["check"] = _without_changed_checks(run.json("check", "--collection", collection, "--max-length", "512"))
    out["coverage"] = run.json("coverage", "--train", collection, "--queries", queries, "--seed", "0")
    export_dir = tmp / f"export-{collection}"
    out["export"] = run.json("export", str(export_dir), "--collection", collection, "--split", "80/10/10",
                             "--stratify", "cluster")
    out["export"].pop("files")  # checksums of files that name paths: export_files holds their portable digests
    out["export_files"] = _export_files(export_dir, tmp)
    out["show"] = run.json("show", out["check"]["findings"][0]["example_id"])
    return out


def _banking_queries(tmp: Path) -> Path:
    lines = (SHARED / "banking77" / "test.csv").read_text(encoding="utf-8").splitlines()
    path = tmp / "banking_queries.csv"
    path.write_text("\n".join(lines[:1] + lines[1::10]) + "\n", encoding="utf-8")
    return path


def outputs(tmp: Path, which: str) -> dict[str, Any]:
    from curate import embed

    saved = embed.Embedder._load, embed.Embedder.name
    embed.Embedder._load = lambda self, cache_dir=None: _hash_encode  # type: ignore[method-assign]
    embed.Embedder.name = property(lambda self: "golden-hash")  # type: ignore[method-assign,assignment]
    try:
        run = _Runner(tmp / f"ws-{which}")
        if which == "sample":
            files = [SAMPLE / n for n in ("support_chat.jsonl", "support_faq.json", "tool_calls_sharegpt.json",
                                          "escalations.csv")]
            result = _pipeline(run, tmp, "support", "production", files, SAMPLE / "production_queries.csv", True)
        else:
            files = [SHARED / f for f in SHARED_FILES]
            result = _pipeline(run, tmp, "mix", "banking", files, _banking_queries(tmp), False)
    finally:
        embed.Embedder._load, embed.Embedder.name = saved  # type: ignore[method-assign]
    return _compact(_normalise(result, str(tmp)))


def pinned_outputs(tmp: Path, which: str) -> dict[str, Any]:
    """`outputs` in a child process on OpenBLAS's AVX2 kernels (chosen when the library loads, so the
    variable must be set before numpy is imported)."""
    env = {**os.environ, "OPENBLAS_CORETYPE": "Haswell"}
    done = subprocess.run([sys.executable, "-m", "tests.test_golden", "--one", which, str(tmp)],
                          cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((tmp / f"{which}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("which", ["sample", "shared"])
def test_outputs_match_the_golden_files(which, tmp_path, request):
    require("sklearn", "embed")
    if which == "shared":
        request.getfixturevalue("shared_data")
    got = pinned_outputs(tmp_path, which)
    want = json.loads((GOLDEN / f"{which}.json").read_text(encoding="utf-8"))
    assert _differences(got, want) == [], "outputs changed; see tests/test_golden.py to regenerate if intended"


def _differences(got: Any, want: Any, path: str = "") -> list[str]:
    """Where two outputs differ, as paths (the first 20): a failure says which step and field moved."""
    if isinstance(got, dict) and isinstance(want, dict):
        out = [f"{path}/{k}: only in {'new' if k in got else 'golden'}" for k in set(got) ^ set(want)]
        for k in sorted(set(got) & set(want)):
            out += _differences(got[k], want[k], f"{path}/{k}")
        return out[:20]
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in _differences(g, w, f"{path}[{i}]")][:20]
    return [] if got == want else [f"{path}: {str(want)[:120]} -> {str(got)[:120]}"]


if __name__ == "__main__" and sys.argv[1:2] == ["--one"]:
    out_dir = Path(sys.argv[3])
    (out_dir / f"{sys.argv[2]}.json").write_text(json.dumps(outputs(out_dir, sys.argv[2])), encoding="utf-8")
elif __name__ == "__main__" and "--write" in sys.argv:
    import tempfile

    GOLDEN.mkdir(exist_ok=True)
    for name in ("sample", "shared"):
        with tempfile.TemporaryDirectory() as d:
            data = pinned_outputs(Path(d), name)
        (GOLDEN / f"{name}.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {GOLDEN / name}.json")
