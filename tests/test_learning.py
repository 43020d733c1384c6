"""Learning from verdicts on real answers with planted defects: a simulated reviewer decides 80 examples,
and the model ranks the rest by p(accept) far better than chance, with its cross-validated accuracy."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner

from curate.checks import run as run_checks
from curate.cli import main
from curate.errors import UsageError
from curate.ingest import ingest
from curate.learning import predict
from curate.workspace import Workspace

from .conftest import require, write_jsonl

REFUSALS = ["I'm sorry, but I can't help with that.", "As an AI language model, I cannot provide that.",
            "I cannot assist with this request."]


def _planted(shared, n=300, seed=0):
    rows = [r for r in json.loads((shared / "alpaca_gpt4_en_demo" / "alpaca_en_demo.json").read_text())
            if len(r["output"].split()) > 40][:n]
    rng = random.Random(seed)
    out, bad = [], set()
    for i, r in enumerate(rows):
        answer = r["output"]
        if i % 3 == 0:  # a third defective: cut mid-sentence, or a refusal
            answer = answer[:rng.randint(40, len(answer) // 2)].rstrip(" .") if i % 2 else rng.choice(REFUSALS)
            bad.add(i)
        out.append({"instruction": r["instruction"], "input": r["input"], "output": answer, "row": i})
    return out, bad


def test_predictions_rank_planted_defects_below_clean_answers(shared_data, tmp_path):
    require("sklearn", "embed")
    from sklearn.metrics import roc_auc_score

    rows, bad = _planted(shared_data)
    ws_dir = tmp_path / "ws"
    ingest([write_jsonl(tmp_path / "d.jsonl", rows)], "d", workspace=ws_dir)
    run_checks("d", workspace=ws_dir)
    with Workspace(ws_dir) as ws:
        truth = {e.id: e.metadata["row"] not in bad for e in ws.iter_examples("d")}
        ids = sorted(truth)
        random.Random(1).shuffle(ids)
        for eid in ids[:80]:
            ws.record_decision("d", eid, "sim", "accept" if truth[eid] else "reject")
    result = predict("d", workspace=ws_dir)
    assert result.model["verdicts"] == 80 and len(result.predictions) == len(truth) - 80
    assert result.model["cv_accuracy"] >= 0.8
    p = {x["id"]: x["p_accept"] for x in result.predictions}
    assert roc_auc_score([truth[i] for i in p], [p[i] for i in p]) >= 0.9
    gaps = [abs(x["p_accept"] - 0.5) for x in result.predictions]
    assert gaps == sorted(gaps)  # the most unsure first

    out = CliRunner().invoke(main, ["-w", str(ws_dir), "predict", "-c", "d", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert set(doc) == {"model", "predictions"} and set(doc["predictions"][0]) == {"id", "p_accept"}

    require("textual", "tui")  # --order uncertain: the review queue starts where the model is least sure
    from tui.data import ReviewData

    with Workspace(ws_dir) as ws:
        queue = ReviewData(ws, "d", "sim", order="uncertain").ids
    assert queue[:10] == [x["id"] for x in result.predictions[:10]]

    out = CliRunner().invoke(main, ["-w", str(ws_dir), "predict", "-c", "d", "--accept-above", "0.9",
                                    "--reject-below", "0.1", "--json"])
    recorded = json.loads(out.stdout)["recorded"]
    with Workspace(ws_dir) as ws:
        by_model = [d for d in ws.decisions_in_force("d") if d.reviewer == "model:logistic"]
    assert len(by_model) == recorded["accepted"] + recorded["rejected"] > 0
    assert all("p(accept)" in d.reason and "cross-validated accuracy" in d.reason for d in by_model)
    right = sum((d.verdict == "accept") == truth[d.example_id] for d in by_model)
    assert right / len(by_model) >= 0.9  # confident verdicts are right far more often than the model overall

    from curate.export import export

    manifests = {choice: export("d", tmp_path / choice, workspace=ws_dir, leakage_check="off",
                                model_verdicts=choice).manifest for choice in ("include", "exclude")}
    people = sum(1 for eid in ids[:80] if truth[eid])  # the simulated reviewer's accepts
    assert manifests["exclude"]["reviewed"]["accepted"] <= people < manifests["include"]["reviewed"]["accepted"]
    assert manifests["include"]["model_decisions"] == len(by_model)
    assert manifests["exclude"]["model_verdicts"] == "exclude"


def test_too_few_verdicts_says_how_many_are_needed(tmp_path):
    rows = [{"prompt": f"Question {i}?", "completion": f"Answer {i}."} for i in range(30)]
    ws_dir = tmp_path / "ws"
    ingest([write_jsonl(tmp_path / "d.jsonl", rows)], "d", workspace=ws_dir)
    with Workspace(ws_dir) as ws:
        for eid in ws.example_ids("d")[:5]:
            ws.record_decision("d", eid, "ann", "accept")
    with pytest.raises(UsageError, match="at least 20 verdicts with 3 of each kind; there are 5 accepts and 0"):
        predict("d", workspace=ws_dir)
