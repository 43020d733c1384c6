"""The analysis skeleton in docs/DESIGN.md runs as written: a newcomer who copies it gets a working analysis."""

from __future__ import annotations

import re
from pathlib import Path

from curate import findings
from curate.ingest import ingest

from .conftest import write_jsonl

DESIGN = Path(__file__).resolve().parents[1] / "docs" / "DESIGN.md"


def test_the_documented_analysis_runs_and_stores_its_findings(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", DESIGN.read_text(encoding="utf-8"), re.S).group(1)
    monkeypatch.setattr(findings, "KINDS", dict(findings.KINDS))  # the example registers a kind
    namespace: dict = {}
    exec(compile(code, str(DESIGN), "exec"), namespace)
    long_prompt = "word " * 300
    write_jsonl(tmp_path / "d.jsonl", [{"prompt": long_prompt, "completion": "Yes."},
                                       {"prompt": "Short?", "completion": "Yes."}])
    ingest([tmp_path / "d.jsonl"], "d", workspace=tmp_path / "ws")
    stages = []
    report = namespace["run"]("d", workspace=tmp_path / "ws", progress=lambda s, d, t: stages.append((s, d, t)))
    assert report.summary == {"examples": 2, "long_prompts": 1}
    assert [f["kind"] for f in report.to_dict()["findings"]] == ["long_prompt"]
    assert stages[-1] == ("scan", 2, 2)
    from curate.workspace import Workspace

    with Workspace(tmp_path / "ws", create=False) as ws:
        run = ws.latest_run("d", "long_prompts")
        assert run is not None and run.summary == report.summary
        assert [f.kind for f in ws.run_findings(run.id)] == ["long_prompt"]
