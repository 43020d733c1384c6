"""The training bridge on real chat data: tool calls exported in OpenAI's nested form and trained, masks shown
before training (`plan --show-masks`), TRL as the trainer, before/after evaluation and `--compare`."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from .conftest import require

require("trl", "train")

from curate.cli import main  # noqa: E402
from curate.export import export  # noqa: E402
from curate.ingest import ingest  # noqa: E402
from curate.workspace import Workspace  # noqa: E402
from train_bridge.config import TrainConfig  # noqa: E402
from train_bridge.run import compare, train  # noqa: E402

from .test_train import make_export, repetitive  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def _glaive_export(tmp_path, shared_data) -> Path:
    with Workspace(tmp_path / "ws") as ws:
        ingest([shared_data / "glaive_toolcall_demo" / "glaive_toolcall_en_demo.json"], "g", workspace=ws)
        export("g", tmp_path / "export", workspace=ws, split="80/10/10", leakage_check="off")
    return tmp_path / "export"


def test_export_writes_tool_calls_in_openai_nested_form_with_paired_ids(tmp_path, shared_data):
    exp = _glaive_export(tmp_path, shared_data)
    rows = [json.loads(line) for s in ("train", "val", "test") for line in (exp / f"{s}.jsonl").open()]
    calls = [(r, m) for r in rows for m in r["messages"] if m.get("tool_calls")]
    assert len(calls) > 100
    for row, m in calls:
        for call in m["tool_calls"]:
            assert call["type"] == "function" and set(call["function"]) == {"name", "arguments"}
            assert isinstance(call["function"]["arguments"], str) and re.fullmatch(r"[0-9A-Za-z]{9}", call["id"])
            answers = [t for t in row["messages"] if t["role"] == "tool" and t.get("tool_call_id") == call["id"]]
            assert len(answers) <= 1
        assert all(t.get("type") == "function" and "function" in t for t in row.get("tools", []))
    paired = sum(1 for r, m in calls for t in r["messages"] if t.get("tool_call_id") == m["tool_calls"][0]["id"])
    assert paired >= 0.9 * len(calls), "tool results name the call they answer"
    # The nested form reads back through curate's own loader, calls intact.
    with Workspace(tmp_path / "ws2") as ws:
        report = ingest([exp / "train.jsonl"], "back", workspace=ws)
        assert report.quarantined == 0
        back = [m for e in ws.iter_examples("back") for m in e.messages if m.tool_calls]
    assert back and all(c.id and c.name for m in back for c in m.tool_calls)


def test_show_masks_marks_the_tool_call_trained_and_its_result_not(tmp_path, shared_data):
    exp = _glaive_export(tmp_path, shared_data)
    result = CliRunner().invoke(main, ["plan", str(exp), "--model", "tiny", "--show-masks", "3", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    masks = plan["masks"]
    assert len(masks) == 3 and masks[0]["tool_calls"] and plan["masking"]["unlocated_turns"] == 0
    for m in masks:
        assert set(m) >= {"id", "segments"} and all(set(s) == {"text", "trained"} for s in m["segments"])
    trained = "".join(s["text"] for s in masks[0]["segments"] if s["trained"])
    untrained = "".join(s["text"] for s in masks[0]["segments"] if not s["trained"])
    assert "<tool_call>" in trained and "<|im_end|>" in trained
    assert "<tool_response>" in untrained and "<tool_response>" not in trained
    # Any example can be asked for by id, a tool-call one included; the human view highlights the same spans.
    tool_id = masks[0]["id"]
    shown = CliRunner().invoke(main, ["plan", str(exp), "--model", "tiny", "--show-masks-id", tool_id[:10]])
    assert shown.exit_code == 0 and tool_id in shown.output and "what the loss sees" in shown.output
    assert "⟦<tool_call>" in shown.output, "without colours the trained text is bracketed"
    missing = CliRunner().invoke(main, ["plan", str(exp), "--model", "tiny", "--show-masks-id", "zzzz"])
    assert missing.exit_code == 2 and "no example" in missing.output
    preset = CliRunner().invoke(main, ["plan", str(exp), "--model", "llama-3-8b", "--show-masks", "1"])
    assert preset.exit_code == 2 and "local model directory" in preset.output and "Traceback" not in preset.output


def test_a_model_without_a_chat_template_is_refused_before_its_weights_load(tmp_path):
    from train_bridge.tiny import tiny_tokenizer

    exp = make_export(tmp_path, repetitive(20))
    tok = tiny_tokenizer(["some text here"] * 5, 300)
    tok.chat_template = None
    tok.save_pretrained(tmp_path / "model")  # a tokenizer and a config, no weights at all: loading them would fail
    from transformers import LlamaConfig

    LlamaConfig(vocab_size=300, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                num_attention_heads=2).save_pretrained(tmp_path / "model")
    result = CliRunner().invoke(main, ["train", str(exp), "--model", str(tmp_path / "model"), "--max-steps", "1"])
    assert result.exit_code == 2 and "no chat template" in result.output and "Traceback" not in result.output


def test_trl_trains_tool_calls_and_measures_before_and_after(tmp_path, shared_data):
    exp = _glaive_export(tmp_path, shared_data)
    cfg = TrainConfig.load(None, max_steps=6, eval_samples=2, learning_rate=5e-3)
    record = train(str(exp), "tiny", cfg, str(tmp_path / "out"), quiet=True)
    assert record["versions"]["trl"] and record["targets"] == ["q_proj", "v_proj"]
    data = record["data"]["train"]
    assert data["trained"] == data["examples"] and data["methods"] == {"prefix": data["examples"]}
    m = record["metrics"]
    assert m["before"]["test_loss"] > m["test_loss"], "six steps at 5e-3 lower the test loss of a random model"
    gen = m["generation"]
    assert gen["samples"] == 2 and 0 <= gen["rouge_l"] <= 1 and "rouge_l" in m["before"]["generation"]
    assert gen["similarity"] is None or -1 <= gen["similarity"] <= 1


def test_compare_scores_both_exports_on_the_first_ones_test_split(tmp_path):
    rows = repetitive(40)
    curated = make_export(tmp_path, rows, "curated")
    noisy = rows + [{"messages": [{"role": "user", "content": f"Junk {i}"},
                                  {"role": "assistant", "content": "lorem " * (i % 7 + 1)}]} for i in range(20)]
    raw = make_export(tmp_path, noisy, "raw")
    result = compare(str(curated), str(raw), "tiny", TrainConfig.load(None, max_steps=3), str(tmp_path / "cmp"),
                     quiet=True)
    a, b = result["table"]
    assert a["run"] == "a" and b["run"] == "b" and a["test_loss"] is not None and b["test_loss"] is not None
    test_ids = json.loads((curated / "manifest.json").read_text())["splits"]["test"]
    assert result["b"]["data"]["test"]["examples"] == len(test_ids)
    assert b["held_out_of_train"] > 0, "the raw set holds the curated test examples: they are kept out of its training"
    assert (tmp_path / "cmp" / "comparison.json").is_file()
    assert "generation" not in result["a"]["metrics"], "eval_samples 0 (the default) generates nothing"
    cli = CliRunner().invoke(main, ["train", str(curated), "--model", "tiny", "--max-steps", "1", "--compare", str(raw),
                                    "--output", str(tmp_path / "cmp2")])
    assert cli.exit_code == 0 and "held out" in cli.output, cli.output


def test_gpu_precision_and_the_data_parallel_refusal(monkeypatch):
    import pytest
    import torch

    from curate.errors import UsageError
    from train_bridge.trainer import precision, refuse_data_parallel

    auto, forced = TrainConfig.load(None), TrainConfig.load(None, bf16="true")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)  # a T4 or V100
    assert precision(auto, cuda=True) == "fp16" and precision(auto, cuda=False) == "fp32"
    with pytest.raises(UsageError, match="no native bf16"):
        precision(forced, cuda=True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert precision(auto, cuda=True) == "bf16"
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(UsageError, match="CUDA_VISIBLE_DEVICES=0"):
        refuse_data_parallel(TrainConfig.load(None, method="qlora"))
    refuse_data_parallel(TrainConfig.load(None, method="lora"))  # bf16 LoRA replicates fine
    monkeypatch.setenv("WORLD_SIZE", "2")  # one process per GPU (torchrun): no DataParallel
    refuse_data_parallel(TrainConfig.load(None, method="qlora"))


def test_an_earlier_run_is_replaced_only_with_force_and_wholly(tmp_path):
    exp = make_export(tmp_path, repetitive(20))
    out = tmp_path / "out"
    cfg = TrainConfig.load(None, max_steps=1)
    train(str(exp), "tiny", cfg, str(out), quiet=True, merge=True)
    assert (out / "merged").is_dir()
    again = CliRunner().invoke(main, ["train", str(exp), "--model", "tiny", "--max-steps", "1", "--output", str(out)])
    assert again.exit_code == 2 and "--force" in again.output and (out / "merged").is_dir()
    forced = CliRunner().invoke(main, ["train", str(exp), "--model", "tiny", "--max-steps", "1", "--output", str(out),
                                       "--force", "--json"])
    assert forced.exit_code == 0 and not (out / "merged").exists(), "nothing of the earlier run is left"
    assert json.loads(forced.stdout)["output"] == str(out.resolve())
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == str((out / "base").resolve())
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    theirs = CliRunner().invoke(main, ["train", str(exp), "--model", "tiny", "--output", str(tmp_path / "mine"),
                                       "--force"])
    assert theirs.exit_code == 2 and (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_bad_models_and_configs_get_clear_errors_and_leave_nothing(tmp_path):
    exp = make_export(tmp_path, repetitive(20))
    (tmp_path / "empty").mkdir()
    for model, says in (("/no/such/dir", "no such directory"), (str(tmp_path / "empty"), "not a model directory")):
        for verb in (["train", str(exp), "--output", str(tmp_path / "o")], ["plan", str(exp)]):
            result = CliRunner().invoke(main, [*verb, "--model", model])
            assert result.exit_code == 2 and says in result.output and "internal error" not in result.output
    assert not (tmp_path / "o").exists(), "a refused run leaves no directory behind"
    emit = CliRunner().invoke(main, ["train", str(tmp_path / "empty"), "--model", "m", "--emit", "trl"])
    assert emit.exit_code == 2 and "not a curate export" in emit.output
    tiny = CliRunner().invoke(main, ["train", str(exp), "--model", "tiny", "--emit", "axolotl"])
    assert tiny.exit_code == 2 and "OUTPUT/base" in tiny.output
    # Values as people write them: YAML 1.1 reads 1e-4 as text, bf16 true as a bool, 16.0 for an int.
    config = tmp_path / "c.yaml"
    config.write_text("learning_rate: 1e-4\nbf16: true\nlora_r: 16.0\n")
    cfg = TrainConfig.load(str(config))
    assert cfg.learning_rate == 1e-4 and cfg.bf16 == "true" and cfg.lora_r == 16


def test_show_masks_says_where_an_example_is_cut(tmp_path):
    long = [{"messages": [{"role": "user", "content": f"Question {i}"},
                          {"role": "assistant", "content": " ".join(["word"] * 300)}]} for i in range(20)]
    exp = make_export(tmp_path, long)
    result = CliRunner().invoke(main, ["plan", str(exp), "--model", "tiny", "--show-masks", "1", "--json",
                                       "--config", str(_cfg(tmp_path, max_length=64))])
    entry = json.loads(result.stdout)["masks"][0]
    assert entry["truncated"] and entry["tokens"] > 64 and entry["max_length"] == 64
    human = CliRunner().invoke(main, ["plan", str(exp), "--model", "tiny", "--show-masks", "1",
                                      "--config", str(_cfg(tmp_path, max_length=64))])
    assert "cut at 64" in " ".join(human.output.split())


def _cfg(tmp_path, **values):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(values))
    return path


def test_gpu_batches_are_padding_free_only_where_flash_attn_keeps_sequences_apart(monkeypatch, tmp_path):
    """Without a variable-length kernel transformers masks a flattened batch over its whole length, which on
    an H200 trained fewer real tokens per second than plain padded batches: padding-free needs flash-attn."""
    import importlib.util

    import numpy as np
    import pytest

    from train_bridge.plan import arch_of, plan
    from train_bridge.trainer import sft_args

    real_find_spec = importlib.util.find_spec

    def installed(flash: bool):
        monkeypatch.setattr(importlib.util, "find_spec",
                            lambda name, *a: object() if name == "flash_attn" and flash else
                            None if name == "flash_attn" else real_find_spec(name, *a))

    cfg = TrainConfig.load(None)
    lengths = [int(x) for x in np.random.default_rng(0).integers(10, 2000, 20_000)]
    hours = {}
    for flash, batches in ((False, "length-grouped"), (True, "padding-free")):
        installed(flash)
        gpu, cpu = (sft_args(cfg, tmp_path, cuda, "bf16", False) for cuda in (True, False))
        assert gpu["padding_free"] is flash and cpu["padding_free"] is False
        assert gpu["train_sampling_strategy"] == ("random" if flash else "group_by_length")
        assert cpu["train_sampling_strategy"] == "group_by_length"
        p = plan(arch_of("llama-2-70b"), cfg, lengths, 10, "t")
        assert p["batches"].startswith(batches)
        hours[flash] = p["time_hours"]["H100 80GB"]
    padded_share = p["padded_tokens_per_epoch"] / p["tokens"]["total"]
    assert padded_share > 1 and hours[False] / hours[True] == pytest.approx(padded_share, rel=1e-4)
