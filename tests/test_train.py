"""Training bridge: plans that match published practice, assistant-only labels token by token, and real
LoRA runs on the tiny model (weights, loss, early stopping, reload and generate)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from .conftest import require

require("peft", "train")
torch = require("torch", "train")

from curate.cli import main  # noqa: E402
from curate.errors import UsageError  # noqa: E402
from curate.export import export  # noqa: E402
from curate.ingest import ingest  # noqa: E402
from curate.workspace import Workspace  # noqa: E402
from train_bridge.config import TrainConfig  # noqa: E402
from train_bridge.data import conversation_of  # noqa: E402
from train_bridge.masks import encode  # noqa: E402
from train_bridge.plan import arch_of, lora_params, memory  # noqa: E402
from train_bridge.run import train  # noqa: E402
from train_bridge.tiny import tiny_tokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def make_export(tmp_path, rows, name="d", split="80/10/10") -> Path:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with Workspace(tmp_path / f"ws-{name}") as ws:
        ingest([path], name, workspace=ws)
        export(name, tmp_path / f"export-{name}", workspace=ws, split=split, leakage_check="off")
    return tmp_path / f"export-{name}"


def repetitive(n=60):
    pairs = [("What colour is the sky?", "The sky is blue."), ("How many legs does a cat have?", "A cat has four legs."),
             ("What is two plus two?", "Two plus two is four.")]
    return [{"messages": [{"role": "user", "content": f"{q} (#{i})"}, {"role": "assistant", "content": a}]}
            for i in range(n) for q, a in [pairs[i % 3]]]


def test_plan_for_7b_qlora_matches_published_practice():
    cfg = TrainConfig.load(None, method="qlora")
    arch = arch_of("meta-llama/Llama-2-7b-hf")
    assert arch is arch_of("llama-2-7b")
    # QLoRA adapts every linear layer by default (the QLoRA paper); r=16 on all seven projections of 32 layers
    # is 39,976,960 (PEFT prints the same for Llama-2-7b), on q_proj and v_proj alone 8,388,608.
    assert lora_params(arch, cfg) == 39_976_960
    assert lora_params(arch, TrainConfig.load(None, method="lora")) == 8_388_608
    mem = memory(arch, cfg, 512)
    assert 3.5 <= mem["weights_gb"] <= 4.5, "QLoRA 7B weights: about 4 GB"
    assert 6 <= mem["total_gb"] <= 10 and mem["fits"]["L4 24GB"]  # all-linear, peft's fp32 upcast, a 10% margin
    full = memory(arch, TrainConfig.load(None, method="lora"), 512)
    assert 13 <= full["weights_gb"] <= 14 and full["total_gb"] > mem["total_gb"]
    assert not memory(arch_of("llama-2-70b"), TrainConfig.load(None), 2048)["fits"]["A100 80GB"]
    with pytest.raises(UsageError, match="presets"):
        arch_of("no-such-model")


def test_plan_json_from_an_export(tmp_path):
    exp = make_export(tmp_path, repetitive(40))
    result = CliRunner().invoke(main, ["plan", str(exp), "--model", "mistral-7b", "--json"])
    assert result.exit_code == 0, result.output
    p = json.loads(result.stdout)
    assert p["memory"]["total_gb"] > 0 and set(p["memory"]["fits"]) >= {"H100 80GB", "L4 24GB"}
    assert p["tokens"]["examples"] == len(json.loads((exp / "manifest.json").read_text())["splits"]["train"])
    assert p["time_hours"]["H100 80GB"] < p["time_hours"]["L4 24GB"] and p["cost_usd"]["A100 80GB"] >= 0
    assert any("prompting" in w for w in p["warnings"]), "fewer than 100 examples"
    bad = CliRunner().invoke(main, ["plan", str(exp), "--model", "tiny", "--config", str(_config(tmp_path, lora_r=0))])
    assert bad.exit_code == 2 and "lora_r" in bad.output


def _config(tmp_path, **values) -> Path:
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(values))
    return path


def test_labels_are_assistant_tokens_only_token_by_token():
    convo = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"},
             {"role": "assistant", "content": "Hello! How can I help?"}, {"role": "user", "content": "Tell a joke"},
             {"role": "assistant", "content": "Why did the chicken cross the road?"}]
    tok = tiny_tokenizer([m["content"] for m in convo] * 20, vocab_size=300)
    enc = encode(tok, [conversation_of({"messages": convo})], 4096)
    ids, labels = enc.input_ids[0], enc.labels[0]
    trained = [t for t, lab in zip(ids, labels) if lab != -100]
    assert all(lab in (-100, t) for t, lab in zip(ids, labels))
    # Each answer with its end-of-turn token; not the newline ChatML writes after it (it belongs to no answer).
    assert tok.decode(trained) == "Hello! How can I help?<|im_end|>Why did the chicken cross the road?<|im_end|>"
    # Every token outside the answers, system and user turns and headers included, is masked.
    masked = tok.decode([t for t, lab in zip(ids, labels) if lab == -100])
    assert "Be brief." in masked and "Tell a joke" in masked and "Hello" not in masked
    # Truncated before the first answer: the mask would be empty, so the example is refused.
    short = encode(tok, [conversation_of({"messages": convo})], 8)
    assert short.empty_mask == 1 and not short.input_ids


def test_tiny_lora_run_learns_and_only_adapters_change(tmp_path):
    exp = make_export(tmp_path, repetitive(60))
    cfg = TrainConfig.load(None, target_modules="all-linear", learning_rate=2e-2, epochs=10.0, batch_size=4,
                           grad_accum=1, early_stopping_patience=10)
    out = tmp_path / "adapter"
    record = train(str(exp), "tiny", cfg, str(out), quiet=True)
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [m["loss"] for m in metrics if "loss" in m]
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < first * 0.75, f"loss falls on a small repetitive set ({first:.2f} -> {last:.2f})"
    assert any("eval_loss" in m for m in metrics) and record["metrics"]["test_perplexity"] > 1
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "loss_curve.svg",
                 "training_manifest.json"):
        assert (out / name).exists(), name
    manifest = json.loads((out / "training_manifest.json").read_text())
    assert manifest["export_manifest_sha256"] and manifest["versions"]["peft"] and manifest["config"]["lora_r"] == 16

    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(out / "base")
    before = {k: v.clone() for k, v in base.state_dict().items()}
    adapter = load_file(str(out / "adapter_model.safetensors"))
    assert any(v.abs().sum() > 0 for k, v in adapter.items() if "lora_B" in k), "LoRA B starts at zero and moved"
    tuned = PeftModel.from_pretrained(base, out)
    merged_keys = {k.replace("base_model.model.", "").replace(".base_layer", ""): v
                   for k, v in tuned.state_dict().items() if "lora_" not in k}
    assert all(torch.equal(before[k], v) for k, v in merged_keys.items() if k in before), "base weights unchanged"
    tok = AutoTokenizer.from_pretrained(out)
    prompt = tok.apply_chat_template([{"role": "user", "content": "What colour is the sky? (#0)"}],
                                     add_generation_prompt=True, return_tensors="pt", return_dict=True)
    generated = tuned.generate(**prompt, max_new_tokens=8, do_sample=False)
    assert generated.shape[1] > prompt["input_ids"].shape[1]


def test_early_stopping_triggers(tmp_path):
    rows = repetitive(40)
    # Validation answers contradict training: once the model learns training's answers, val loss rises.
    exp = make_export(tmp_path, rows)
    manifest = json.loads((exp / "manifest.json").read_text())
    val = [json.loads(line) for line in (exp / "val.jsonl").read_text().splitlines()]
    for v in val:
        v["messages"][-1]["content"] = "Completely different words here, nothing like training."
    (exp / "val.jsonl").write_text("".join(json.dumps(v) + "\n" for v in val))
    cfg = TrainConfig.load(None, target_modules="all-linear", learning_rate=2e-2, epochs=30.0, batch_size=8,
                           grad_accum=1, early_stopping_patience=1)
    record = train(str(exp), "tiny", cfg, str(tmp_path / "a"), quiet=True)
    assert record["metrics"]["stopped_early"] and record["metrics"]["steps"] < 30 * 4
    assert manifest["counts"]["val"] == len(val)


def test_qlora_without_cuda_says_so(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: QLoRA would run")
    exp = make_export(tmp_path, repetitive(20))
    result = CliRunner().invoke(main, ["train", str(exp), "--model", "tiny", "--method", "qlora"])
    assert result.exit_code == 2 and "CUDA" in result.output and "Traceback" not in result.output


def test_mix_merge_and_exact_match(tmp_path):
    exp = make_export(tmp_path, repetitive(40))
    general = tmp_path / "general.jsonl"
    general.write_text("".join(json.dumps({"instruction": f"Name a prime number above {i}.", "output": str(i)}) + "\n"
                               for i in range(50)))
    cfg = TrainConfig.load(None, max_steps=4, eval_samples=2)
    record = train(str(exp), "tiny", cfg, str(tmp_path / "out"), quiet=True, mix=f"{general}:0.2", merge=True)
    n_train = record["data"]["train"]["examples"]
    assert record["mix"]["added"] == round(0.2 / 0.8 * (n_train - record["mix"]["added"]))
    assert record["metrics"]["generation"]["samples"] == 2 and 0 <= record["metrics"]["generation"]["exact_match"] <= 1
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "merged")
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "base"), tmp_path / "out")
    ids = torch.tensor([[1, 5, 9, 12]])
    assert torch.allclose(merged(ids).logits, tuned(ids).logits, atol=1e-4)
    with pytest.raises(UsageError, match="FILE:RATIO"):
        train(str(exp), "tiny", cfg, str(tmp_path / "o2"), quiet=True, mix=f"{general}:1.5")


@pytest.mark.parametrize("target", ["axolotl", "llamafactory", "trl"])
def test_emit_configs_for_other_trainers(tmp_path, target):
    import yaml

    exp = make_export(tmp_path, repetitive(20))
    result = CliRunner().invoke(main, ["train", str(exp), "--model", "meta-llama/Meta-Llama-3-8B", "--method",
                                       "qlora", "--emit", target, "--output", str(tmp_path / "cfg"), "--json"])
    assert result.exit_code == 0, result.output
    path = Path(json.loads(result.stdout)["emitted"])
    text = path.read_text()
    assert str((exp / "train.jsonl").resolve()) in text or target != "axolotl"
    if target == "trl":
        script = _load_script(path)
        sft = script.config(False, "fp32")  # built by this TRL: every argument exists, every value is accepted
        assert type(sft).__name__ == "SFTConfig" and sft.warmup_steps == 0.1 and sft.max_length is None
        assert script.SETTINGS["method"] == "qlora" and Path(script.EXPORT) == exp.resolve()
    else:
        data = yaml.safe_load(text)
        if target == "axolotl":
            assert data["adapter"] == "qlora" and data["lora_r"] == 16 and data["datasets"][0]["roles_to_train"] == [
                "assistant"]
        else:
            assert data["quantization_bit"] == 4 and data["quantization_method"] == "bnb"
            assert data["dataset"] == "curate_train" and data["template"] == "llama3"
            info = json.loads((tmp_path / "cfg" / "dataset_info.json").read_text())
            converted = tmp_path / "cfg" / info["curate_train"]["file_name"]  # LLaMA-Factory's sharegpt form
            assert len(converted.read_text().splitlines()) == len((exp / "train.jsonl").read_text().splitlines())


def _load_script(path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"emitted_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_emitted_trl_script_trains_with_curates_masks(tmp_path):
    from train_bridge.data import load_export
    from train_bridge.tiny import build

    exp = make_export(tmp_path, repetitive(20))
    _, splits = load_export(exp)
    build(splits["train"], tmp_path / "tiny")  # a model directory with a tokenizer and chat template
    config = _config(tmp_path, max_steps=2, batch_size=2, grad_accum=1)
    result = CliRunner().invoke(main, ["train", str(exp), "--model", str(tmp_path / "tiny" / "base"), "--emit", "trl",
                                       "--config", str(config), "--output", str(tmp_path / "cfg")])
    assert result.exit_code == 0, result.output
    script = _load_script(tmp_path / "cfg" / "train_trl.py")
    script.main()
    assert (tmp_path / "cfg" / "trl-out" / "checkpoints" / "adapter_model.safetensors").is_file()


@pytest.mark.parametrize("value", ["1); import os; os.system('touch pwned')  #", True, [1], {"a": 1}])
def test_config_values_are_checked_and_never_become_code(tmp_path, value):
    """A crafted seed once became a module-level call in the emitted TRL script."""
    exp = make_export(tmp_path, repetitive(20))
    config = tmp_path / "evil.json"
    config.write_text(json.dumps({"seed": value}))
    result = CliRunner().invoke(main, ["train", str(exp), "--model", "m", "--emit", "trl", "--config", str(config),
                                       "--output", str(tmp_path / "cfg")])
    assert result.exit_code == 2 and "seed must be int" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "cfg" / "train_trl.py").exists()
    missing = CliRunner().invoke(main, ["train", str(exp), "--model", "m", "--config", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "Traceback" not in missing.output


def test_config_help_lists_every_setting():
    result = CliRunner().invoke(main, ["plan", "--config-help"])
    assert result.exit_code == 0
    for name in ("lora_r", "learning_rate", "early_stopping_patience", "eval_samples", "prices"):
        assert name in result.output


@pytest.mark.parametrize("fmt", ["sharegpt", "parquet", "hf"])
def test_every_export_format_loads_for_training(tmp_path, fmt):
    require("datasets", "hf")
    from train_bridge.data import load_export

    rows = repetitive(20)
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with Workspace(tmp_path / "ws") as ws:
        ingest([path], "d", workspace=ws)
        export("d", tmp_path / "openai", workspace=ws, leakage_check="off")
        export("d", tmp_path / fmt, workspace=ws, fmt=fmt, leakage_check="off")
    _, reference = load_export(tmp_path / "openai")
    _, loaded = load_export(tmp_path / fmt)
    for split in ("train", "val", "test"):
        assert sorted(map(str, loaded[split])) == sorted(map(str, reference[split])), split
    with pytest.raises(UsageError, match="not a curate export"):
        load_export(tmp_path)


def test_a_damaged_export_row_stops_training_with_where_it_is(tmp_path):
    from train_bridge.data import load_export

    exp = make_export(tmp_path, repetitive(20))
    lines = (exp / "train.jsonl").read_text().splitlines()
    lines[2] = lines[2][:25]  # cut mid-record
    (exp / "train.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(UsageError, match=r"train\.jsonl:3: .*export again"):
        load_export(exp)
    result = CliRunner().invoke(main, ["plan", str(exp), "--model", "llama-2-7b"])
    assert result.exit_code == 2 and "train.jsonl:3" in result.output and "Traceback" not in result.output
