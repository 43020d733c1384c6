"""`curate train --emit axolotl|llamafactory`: every emitted key and enum value checked against the trainers'
own schemas, and the LLaMA-Factory data files against its own row rules.

Versions read (the current releases on PyPI on 2026-12-02, from their wheels' source; the file is named at
each set below):
- axolotl 0.19.0 (pins transformers 5.16.1);
- llamafactory (LLaMA-Factory) 0.9.5 (transformers >=4.55,<=5.6.0), and data/README.md (commit 015ff251ec0a) from
  github.com/hiyouga/LLaMA-Factory;
- transformers 5.6.0 and 5.16.1 training_args.py / trainer_utils.py, for the keys both hand on to it.
The key sets are the keys curate may emit that exist there (a checked subset, not all the tool has). Why it
matters: axolotl ignores a key it does not know without a word (pydantic's default), and LLaMA-Factory stops
("Some specified arguments are not used by the HfArgumentParser").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from curate.errors import UsageError
from train_bridge.config import TrainConfig
from train_bridge.emit import _LF_BY_ID, _LF_BY_MARKER, emit

# ---- axolotl 0.19.0 ------------------------------------------------------------------------------------

AXOLOTL_KEYS = {
    # utils/schemas/model.py (ModelInputConfig, ModelOutputConfig)
    "base_model", "output_dir",
    # utils/schemas/peft.py (LoraConfig)
    "adapter", "load_in_4bit", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "lora_target_linear",
    # utils/schemas/training.py (HyperparametersConfig)
    "micro_batch_size", "gradient_accumulation_steps", "num_epochs", "learning_rate", "lr_scheduler",
    "weight_decay", "optimizer", "group_by_length",
    # utils/schemas/config.py (AxolotlInputConfig)
    "datasets", "test_datasets", "val_set_size", "sequence_len", "sample_packing", "max_steps", "warmup_ratio",
    "bf16", "gradient_checkpointing", "eval_strategy", "save_strategy", "eval_steps", "save_steps",
    "load_best_model_at_end", "early_stopping_patience", "logging_steps", "seed",
}
# utils/schemas/datasets.py SFTDataset: every field
AXOLOTL_SFT_DATASET_KEYS = {
    "path", "split", "type", "input_transform", "shards", "shards_idx", "preprocess_shards", "conversation",
    "chat_template", "chat_template_jinja", "data_files", "input_format", "name", "ds_type", "field", "field_human",
    "field_model", "field_messages", "field_tools", "field_thinking", "template_thinking_key", "message_field_role",
    "message_field_content", "message_property_mappings", "message_field_training", "message_field_training_detail",
    "split_thinking", "logprobs_field", "temperature", "roles_to_train", "train_on_eos", "train_on_eot", "roles",
    "drop_system_message", "trust_remote_code", "revision",
}
# utils/schemas/enums.py ChatTemplate
AXOLOTL_CHAT_TEMPLATES = {
    "alpaca", "chatml", "mistral_v1", "mistral_v2v3", "mistral_v3_tekken", "mistral_v7_tekken", "gemma", "cohere",
    "llama3", "llama3_2_vision", "llama4", "phi_3", "phi_35", "deepseek_v2", "deepseek_v3", "jamba", "jinja",
    "qwen_25", "qwen3", "qwen3_5", "falcon_h1", "nemotron_h", "tokenizer_default", "exaone", "exaone4", "metharme",
    "pixtral", "llava", "qwen2_vl", "gemma3", "gemma3n", "gemma4", "gemma4_unified", "command_a",
    "command_a_tool_use", "command_a_rag", "aya",
}
AXOLOTL_TRAIN_ON_EOS = {"all", "turn", "last"}  # utils/schemas/datasets.py SFTDataset.train_on_eos Literal
AXOLOTL_ADAPTERS = {"lora", "qlora", "llama-adapter"}  # utils/schemas/peft.py validate_adapter (built-ins)
AXOLOTL_BF16 = {"auto", True, False}  # utils/schemas/config.py: Literal["auto"] | bool
AXOLOTL_GRADIENT_CHECKPOINTING = {"offload", "offload_disk", True, False}  # utils/schemas/config.py
# axolotl's chat_template strategy roles (prompt_strategies/chat_template.py ChatTemplatePrompter default roles)
AXOLOTL_ROLES = {"user", "assistant", "system", "tool"}

# ---- transformers (training_args.py / trainer_utils.py, 5.6.0 and 5.16.1 alike) ------------------------

INTERVAL_STRATEGIES = {"no", "steps", "epoch"}  # trainer_utils.py IntervalStrategy
SAVE_STRATEGIES = {"no", "steps", "epoch", "best"}  # trainer_utils.py SaveStrategy
SCHEDULERS = {"linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
              "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr", "cosine_warmup_with_min_lr",
              "warmup_stable_decay", "greedy"}  # trainer_utils.py SchedulerType
OPTIMIZERS_USED = {"adamw_torch"}  # training_args.py OptimizerNames.ADAMW_TORCH (the one curate emits)

# ---- LLaMA-Factory 0.9.5 -------------------------------------------------------------------------------

LF_KEYS = {
    # hparams/model_args.py (BaseModelArguments, QuantizationArguments)
    "model_name_or_path", "disable_gradient_checkpointing", "quantization_bit", "quantization_method",
    "quantization_type", "double_quantization",
    # hparams/data_args.py (DataArguments)
    "template", "dataset", "eval_dataset", "dataset_dir", "cutoff_len", "mask_history",
    # hparams/finetuning_args.py (FinetuningArguments, LoraArguments)
    "stage", "finetuning_type", "lora_rank", "lora_alpha", "lora_dropout", "lora_target", "early_stopping_steps",
    # transformers training_args.py TrainingArguments, which hparams/training_args.py extends; warmup_ratio is
    # there up to 5.6.0 (deprecated), LLaMA-Factory 0.9.5's highest transformers
    "do_train", "per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps",
    "learning_rate", "num_train_epochs", "max_steps", "lr_scheduler_type", "warmup_ratio", "weight_decay", "bf16",
    "logging_steps", "eval_strategy", "save_strategy", "load_best_model_at_end", "output_dir", "seed",
}
LF_STAGES = {"pt", "sft", "rm", "ppo", "dpo", "kto"}  # hparams/finetuning_args.py FinetuningArguments.stage
LF_FINETUNING_TYPES = {"lora", "oft", "freeze", "full"}  # hparams/finetuning_args.py finetuning_type
LF_QUANTIZATION_METHODS = {"bnb", "gptq", "awq", "aqlm", "quanto", "eetq", "hqq", "mxfp4", "fp8"}  # extras/constants.py
LF_QUANTIZATION_TYPES = {"fp4", "nf4"}  # hparams/model_args.py QuantizationArguments.quantization_type
# data/template.py: every register_template(name=...)
LF_TEMPLATES = {
    "aeva", "alpaca", "bailing", "bailing_v2", "breeze", "chatglm3", "chatml", "chatml_de", "cohere", "cpm4", "dbrx",
    "deepseek", "deepseek3", "deepseekcoder", "deepseekr1", "default", "dots_ocr", "empty", "ernie", "ernie_nothink",
    "ernie_vl", "exaone", "falcon", "falcon_h1", "fewshot", "gemma", "gemma2", "gemma3", "gemma3n", "gemma4",
    "gemma4n", "glm4", "glm4_5v", "glm4_7", "glm4_moe", "glm4v", "glm_ocr", "glmz1", "gpt_oss", "granite3",
    "granite3_vision", "granite4", "hunyuan", "hunyuan_small", "hy3", "index", "intern2", "intern_s1", "intern_vl",
    "keye_vl", "kimi_vl", "lfm2", "lfm2_vl", "llama2", "llama2_zh", "llama3", "llama4", "llava", "llava_next",
    "llava_next_llama3", "llava_next_mistral", "llava_next_qwen", "llava_next_video", "llava_next_video_mistral",
    "llava_next_video_yi", "llava_next_yi", "mimo", "mimo_v2", "mimo_vl", "minicpm_o", "minicpm_v", "minicpm_v_4_6",
    "minimax1", "minimax2", "ministral", "ministral3", "mistral", "mistral_small", "mllama", "moonlight", "olmo",
    "openchat", "openchat-3.6", "opencoder", "paligemma", "paligemma_chat", "phi", "phi4", "phi4_mini", "phi_small",
    "pixtral", "qwen", "qwen2_audio", "qwen2_omni", "qwen2_vl", "qwen3", "qwen3_5", "qwen3_5_nothink", "qwen3_6",
    "qwen3_nothink", "qwen3_omni", "qwen3_omni_nothink", "qwen3_vl", "qwen3_vl_nothink", "sailor", "seed_coder",
    "seed_oss", "smollm", "smollm2", "solar", "starchat", "telechat2", "vicuna", "video_llava", "xuanyuan", "yi",
    "yi_vl", "youtu", "youtu_vl", "yuan", "zephyr",
}
# data/parser.py get_dataset_list and DatasetAttr.join: what a dataset_info.json entry may hold
LF_DATASET_KEYS = {"hf_hub_url", "ms_hub_url", "om_hub_url", "script_url", "cloud_file_name", "file_name",
                   "formatting", "ranking", "subset", "split", "folder", "num_samples", "columns", "tags"}
LF_FORMATTINGS = {"alpaca", "sharegpt", "openai"}  # data/parser.py DatasetAttr.formatting
LF_COLUMNS = {"prompt", "query", "response", "history", "messages", "system", "tools", "images", "videos", "audios",
              "chosen", "rejected", "kto_tag"}  # data/parser.py DatasetAttr.join column_names
LF_TAGS = {"role_tag", "content_tag", "user_tag", "assistant_tag", "observation_tag", "function_tag",
           "system_tag"}  # data/parser.py DatasetAttr.join tag_names


def lf_accepts(turns: list[dict], tags: dict) -> bool:
    """LLaMA-Factory 0.9.5 data/converter.py SharegptDatasetConverter, re-implemented: a leading system turn
    comes off; then turn i's role must be the user or observation tag when i is even, the assistant or function
    tag when odd; and a non-preference row must have an even number of turns. Otherwise it logs "Skipping this
    abnormal example" and the row is lost."""
    if turns and turns[0][tags["role_tag"]] == tags["system_tag"]:
        turns = turns[1:]
    sides = ((tags["user_tag"], tags["observation_tag"]), (tags["assistant_tag"], tags["function_tag"]))
    return (all(t[tags["role_tag"]] in sides[i % 2] for i, t in enumerate(turns))
            and len(turns) % 2 == 0 and len(turns) > 0)


def lf_function_call_ok(value: str) -> bool:
    """data/formatter.py FunctionFormatter: json.loads the value; a dict or a list of dicts, each with "name"
    and "arguments" (json.dumps'd again, so an object)."""
    calls = json.loads(value)
    calls = calls if isinstance(calls, list) else [calls]
    return all(isinstance(c.get("name"), str) and isinstance(c.get("arguments"), dict) for c in calls)


# ---- fixtures: an export in OpenAI's nested chat form ------------------------------------------------

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}]


def call(cid: str, city: str) -> dict:
    return {"id": cid, "type": "function", "function": {"name": "get_weather", "arguments": json.dumps({"city": city})}}


def tool_row(i: int) -> dict:
    return {"messages": [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": f"Weather in Paris? ({i})"},
        {"role": "assistant", "content": None, "tool_calls": [call("abc123XYZ", "Paris")]},
        {"role": "tool", "tool_call_id": "abc123XYZ", "content": '{"temp_c": 21}'},
        {"role": "assistant", "content": "21 degrees."}], "tools": TOOLS}


def parallel_row(i: int) -> dict:
    return {"messages": [
        {"role": "user", "content": f"Paris or Rome, which is warmer? ({i})"},
        {"role": "assistant", "content": None, "tool_calls": [call("abc123XYZ", "Paris"), call("def456UVW", "Rome")]},
        {"role": "tool", "tool_call_id": "abc123XYZ", "content": '{"temp_c": 21}'},
        {"role": "tool", "tool_call_id": "def456UVW", "content": '{"temp_c": 25}'},
        {"role": "assistant", "content": "Rome."}], "tools": TOOLS}


def chat_row(i: int, weights: tuple = (None, None)) -> dict:
    first, second = ({"role": "assistant", "content": text} for text in (f"Hello ({i}).", "Fine, thanks."))
    for turn, w in zip((first, second), weights):
        if w is not None:
            turn["weight"] = w
    return {"messages": [{"role": "user", "content": "Hi"}, first, {"role": "user", "content": "How are you?"},
                         second]}


def write_export(root: Path, train: list[dict], val: list[dict]) -> Path:
    root.mkdir(parents=True)
    (root / "manifest.json").write_text(json.dumps({"tool": "curate", "format": "openai"}))
    for split, rows in (("train", train), ("val", val), ("test", val[:2])):
        (root / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def standard_export(tmp_path: Path, n: int = 40) -> Path:
    train = [f(i) for i in range(n) for f in (tool_row, parallel_row, chat_row)]
    return write_export(tmp_path / "export", train, [tool_row(0), chat_row(1), parallel_row(2)])


def emitted(target: str, export: Path, out: Path, model="meta-llama/Llama-3.1-8B-Instruct", **cfg) -> tuple[dict, str]:
    path = emit(target, str(export), model, TrainConfig.load(None, **cfg), str(out))
    text = path.read_text()
    return yaml.safe_load(text), text


CONFIGS = [{}, {"method": "qlora"}, {"target_modules": "all-linear", "bf16": "false", "gradient_checkpointing": False,
                                     "max_steps": 50}, {"bf16": "true"}]


# ---- axolotl -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("cfg", CONFIGS)
def test_axolotl_keys_and_values_are_in_its_schema(tmp_path, cfg):
    data, _ = emitted("axolotl", standard_export(tmp_path), tmp_path / "out", **cfg)
    assert set(data) <= AXOLOTL_KEYS, set(data) - AXOLOTL_KEYS
    for ds in data["datasets"] + data["test_datasets"]:
        assert set(ds) <= AXOLOTL_SFT_DATASET_KEYS, set(ds) - AXOLOTL_SFT_DATASET_KEYS
        assert ds["type"] == "chat_template" and ds["chat_template"] in AXOLOTL_CHAT_TEMPLATES
        assert ds["train_on_eos"] in AXOLOTL_TRAIN_ON_EOS and set(ds["roles_to_train"]) <= AXOLOTL_ROLES
    assert data["adapter"] in AXOLOTL_ADAPTERS and data["load_in_4bit"] == (data["adapter"] == "qlora")
    assert data["bf16"] in AXOLOTL_BF16 and data["gradient_checkpointing"] in AXOLOTL_GRADIENT_CHECKPOINTING
    assert data["lr_scheduler"] in SCHEDULERS and data["optimizer"] in OPTIMIZERS_USED
    assert data["eval_strategy"] in INTERVAL_STRATEGIES and data["save_strategy"] in SAVE_STRATEGIES
    # validation.py: warmup_steps and warmup_ratio are exclusive; test_datasets exclude a non-zero val_set_size
    assert not ("warmup_steps" in data and "warmup_ratio" in data) and not data.get("val_set_size")
    assert ("lora_target_linear" in data) != ("lora_target_modules" in data)


def test_axolotl_bf16_follows_the_config_and_keeps_auto(tmp_path):
    export = standard_export(tmp_path)
    assert [emitted("axolotl", export, tmp_path / v, bf16=v)[0]["bf16"] for v in ("auto", "true", "false")] == [
        "auto", True, False]


def test_axolotl_early_stopping_has_step_evaluation_and_keeps_the_best(tmp_path):
    """validation.py check_early_stopping: early_stopping_patience needs save_steps and eval_steps, eval_steps
    dividing save_steps; check_evals/check_saves: strategies "steps" with them. core/builders/causal.py sets
    load_best_model_at_end only under the condition re-checked here."""
    data, text = emitted("axolotl", standard_export(tmp_path), tmp_path / "out")
    assert data["early_stopping_patience"] and data["eval_steps"] and data["save_steps"]
    assert data["save_steps"] % data["eval_steps"] == 0 and data["eval_steps"] == data["save_steps"]
    assert data["eval_strategy"] == data["save_strategy"] == "steps"
    load_best = ((data.get("load_best_model_at_end") is not False or data["early_stopping_patience"])
                 and data["test_datasets"] and data.get("val_set_size", 0.0) == 0
                 and data["save_steps"] % data["eval_steps"] == 0)
    assert load_best and data["load_best_model_at_end"] is True
    # 120 train rows at batch 4 x accumulation 4: 8 optimizer steps an epoch, an evaluation every 2 (4 an
    # epoch); curate's patience of 2 (epochs) becomes 2 x 4 evaluations
    assert data["eval_steps"] == 2 and data["early_stopping_patience"] == 8 and "4 an epoch" in text


def test_axolotl_eval_steps_on_a_tiny_and_a_large_split(tmp_path):
    tiny = write_export(tmp_path / "tiny", [chat_row(i) for i in range(3)], [chat_row(9)])
    assert emitted("axolotl", tiny, tmp_path / "o1")[0]["eval_steps"] == 1
    big = write_export(tmp_path / "big", [chat_row(i) for i in range(16_000)], [chat_row(9)])
    data = emitted("axolotl", big, tmp_path / "o2", batch_size=8, grad_accum=2)[0]
    assert data["eval_steps"] == 250 and data["save_steps"] == 250  # 1000 steps an epoch, 4 evaluations


def test_axolotl_dataset_sees_tools_and_per_turn_weights(tmp_path):
    """prompt_strategies/chat_template.py: tools come from the row's field_tools key, and a turn whose
    message_field_training key is set is trained or not by it, before roles_to_train applies."""
    export = write_export(tmp_path / "export", [tool_row(0), chat_row(1, (0, 1))], [chat_row(2, (1, 0))])
    data, _ = emitted("axolotl", export, tmp_path / "out")
    for ds, split in ((data["datasets"][0], "train"), (data["test_datasets"][0], "val")):
        assert ds["path"] == str((export / f"{split}.jsonl").resolve())
        assert ds["field_messages"] == "messages" and ds["roles_to_train"] == ["assistant"]
        assert ds["train_on_eos"] == "turn"  # the end-of-turn token after each trained turn
        rows = [json.loads(line) for line in (export / f"{split}.jsonl").read_text().splitlines()]
        turns = [m for row in rows for m in row[ds["field_messages"]]]
        assert [m[ds["message_field_training"]] for m in turns if "weight" in m] in ([0, 1], [1, 0])
        if split == "train":
            assert rows[0][ds["field_tools"]] == TOOLS


def test_axolotl_without_val_rows_has_no_evaluation(tmp_path):
    export = write_export(tmp_path / "export", [chat_row(i) for i in range(10)], [])
    data, text = emitted("axolotl", export, tmp_path / "out")
    assert not {"test_datasets", "early_stopping_patience", "eval_steps", "load_best_model_at_end"} & set(data)
    assert "val split is empty" in text


# ---- LLaMA-Factory -----------------------------------------------------------------------------------

@pytest.mark.parametrize("cfg", CONFIGS)
def test_llamafactory_keys_and_values_are_in_its_schema(tmp_path, cfg):
    data, _ = emitted("llamafactory", standard_export(tmp_path), tmp_path / "out", **cfg)
    assert set(data) <= LF_KEYS, set(data) - LF_KEYS
    assert data["stage"] in LF_STAGES and data["finetuning_type"] in LF_FINETUNING_TYPES
    assert data["template"] in LF_TEMPLATES and data["template"] != "default"
    assert data["lr_scheduler_type"] in SCHEDULERS and isinstance(data["bf16"], bool)
    assert data["eval_strategy"] in INTERVAL_STRATEGIES and data["save_strategy"] in SAVE_STRATEGIES
    # transformers: load_best_model_at_end needs the save and eval strategies to match
    assert data["eval_strategy"] == data["save_strategy"] and data["load_best_model_at_end"] is True
    assert data["early_stopping_steps"] == 2
    if cfg.get("method") == "qlora":
        assert data["quantization_method"] in LF_QUANTIZATION_METHODS and data["quantization_method"] == "bnb"
        assert data["quantization_type"] in LF_QUANTIZATION_TYPES and data["quantization_bit"] == 4
    if cfg.get("target_modules") == "all-linear":
        assert data["lora_target"] == "all" and data["disable_gradient_checkpointing"] is True
    assert not data.get("mask_history"), "no weight-0 turn in this export"


def test_llamafactory_bf16_has_no_auto_and_says_so(tmp_path):
    export = standard_export(tmp_path)
    auto, text = emitted("llamafactory", export, tmp_path / "a")
    assert auto["bf16"] is True and "not auto" in text
    off, text = emitted("llamafactory", export, tmp_path / "b", bf16="false")
    assert off["bf16"] is False and "not auto" not in text


def test_llamafactory_data_files_follow_its_sharegpt_rules(tmp_path):
    export = standard_export(tmp_path)
    out = tmp_path / "out"
    data, _ = emitted("llamafactory", export, out)
    info = json.loads((out / "dataset_info.json").read_text())
    assert set(info) == {data["dataset"], data["eval_dataset"]}
    for name, split in ((data["dataset"], "train"), (data["eval_dataset"], "val")):
        entry = info[name]
        assert set(entry) <= LF_DATASET_KEYS and entry["formatting"] in LF_FORMATTINGS
        assert set(entry["columns"]) <= LF_COLUMNS and set(entry["tags"]) <= LF_TAGS
        tags, cols = entry["tags"], entry["columns"]
        rows = [json.loads(line) for line in (Path(data["dataset_dir"]) / entry["file_name"]).read_text().splitlines()]
        source = (export / f"{split}.jsonl").read_text().splitlines()
        assert len(rows) == len(source), "no export row is lost"
        for row in rows:
            turns = row[cols["messages"]]
            assert lf_accepts(turns, tags), turns
            for turn in turns:
                if turn[tags["role_tag"]] == tags["function_tag"]:
                    assert lf_function_call_ok(turn[tags["content_tag"]])
            if row[cols["tools"]]:  # data/formatter.py ToolFormatter: json.loads, a list of tool dicts
                assert json.loads(row[cols["tools"]]) == TOOLS
            assert isinstance(row[cols["system"]], str)
    train = [json.loads(line) for line in (out / info["curate_train"]["file_name"]).read_text().splitlines()]
    first = train[0]  # tool_row(0): the tool call, its result and the answer all kept
    assert first["system"] == "Answer briefly." and [t["from"] for t in first["conversations"]] == [
        "human", "function_call", "observation", "gpt"]
    assert json.loads(first["conversations"][1]["value"]) == {"name": "get_weather", "arguments": {"city": "Paris"}}
    parallel = train[1]["conversations"]  # both calls in one function_call turn, both results in one observation
    assert len(json.loads(parallel[1]["value"])) == 2 and parallel[2]["value"].count("temp_c") == 2


def test_llamafactory_weight_0_turns_are_never_trained(tmp_path):
    """LLaMA-Factory has no per-turn loss switch; with mask_history only each row's last turn is trained
    (data/processor/supervised.py), so the emitted rows end, one each, at every weight-1 assistant turn."""
    train = [chat_row(0, (0, 1)), chat_row(1, (1, 0)), chat_row(2, (0, 0)), chat_row(3), tool_row(4)]
    export = write_export(tmp_path / "export", train, [chat_row(5, (0, None))])
    out = tmp_path / "out"
    data, text = emitted("llamafactory", export, out)
    assert data["mask_history"] is True and "weight 0" in text
    rows = [json.loads(line) for line in (out / "curate_train.jsonl").read_text().splitlines()]
    last = [row["conversations"][-1]["value"] for row in rows]
    # row 0: only its second answer; row 1: only its first; row 2 (all weight 0): none, and reported;
    # row 3: both; row 4: the tool call and the answer
    assert last == ["Fine, thanks.", "Hello (1).", "Hello (3).", "Fine, thanks.",
                    json.dumps({"name": "get_weather", "arguments": {"city": "Paris"}}), "21 degrees."]
    assert all(lf_accepts(row["conversations"], json.loads((out / "dataset_info.json").read_text())[
        "curate_train"]["tags"]) for row in rows)
    assert "skipped 1 (no assistant turn to train" in text and "lines 3" in text


def test_llamafactory_rows_it_would_skip_are_reported(tmp_path):
    odd = {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                        {"role": "assistant", "content": "c"}]}
    export = write_export(tmp_path / "export", [chat_row(0), odd], [chat_row(1)])
    _, text = emitted("llamafactory", export, tmp_path / "out")
    assert "train: 2 export rows -> 1 rows" in text and "do not alternate" in text and "lines 2" in text


@pytest.mark.parametrize("model, template", [
    ("meta-llama/Meta-Llama-3-8B", "llama3"), ("meta-llama/Llama-3.1-8B-Instruct", "llama3"),
    ("meta-llama/Llama-2-7b-chat-hf", "llama2"), ("meta-llama/Llama-4-Scout-17B-16E-Instruct", "llama4"),
    ("Qwen/Qwen2.5-7B-Instruct", "qwen"), ("Qwen/Qwen3-8B", "qwen3"), ("Qwen/Qwen3-4B-Instruct-2507", "qwen3_nothink"),
    ("mistralai/Mistral-7B-Instruct-v0.3", "mistral"), ("mistralai/Mixtral-8x7B-Instruct-v0.1", "mistral"),
    ("mistralai/Mistral-Nemo-Instruct-2407", "ministral"), ("google/gemma-7b-it", "gemma"),
    ("google/gemma-2-9b-it", "gemma2"), ("google/gemma-3-27b-it", "gemma3"), ("microsoft/Phi-3-mini-4k-instruct", "phi"),
    ("microsoft/phi-4", "phi4"), ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "deepseekr1"),
    ("HuggingFaceTB/SmolLM2-1.7B-Instruct", "smollm2"), ("openai/gpt-oss-20b", "gpt_oss"),
])
def test_llamafactory_template_from_the_model_id(tmp_path, model, template):
    data, text = emitted("llamafactory", standard_export(tmp_path), tmp_path / "out", model=model)
    assert data["template"] == template and data["model_name_or_path"] == model and f"model id {model}" in text


@pytest.mark.parametrize("where, chat_template, template", [
    ("tokenizer_config.json", "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>' }}", "llama3"),
    ("tokenizer_config.json", "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>{% endfor %}",
     "qwen"),
    ("tokenizer_config.json", "{{ bos_token }}{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}",
     "mistral"),
    ("chat_template.jinja", "<start_of_turn>user\n{{ messages[0].content }}<end_of_turn>", "gemma"),
])
def test_llamafactory_template_from_a_local_models_chat_template(tmp_path, where, chat_template, template):
    model = tmp_path / "my-finetune"
    model.mkdir()
    if where == "tokenizer_config.json":
        (model / where).write_text(json.dumps({"chat_template": chat_template, "eos_token": "</s>"}))
    else:
        (model / "tokenizer_config.json").write_text(json.dumps({"eos_token": "</s>"}))
        (model / where).write_text(chat_template)
    data, _ = emitted("llamafactory", standard_export(tmp_path), tmp_path / "out", model=str(model))
    assert data["template"] == template


@pytest.mark.parametrize("model", ["my-org/house-model-7b", "LOCAL"])  # tiny: refused for every trainer
def test_llamafactory_unknown_template_says_what_to_do(tmp_path, model):
    if model == "LOCAL":
        model = str(tmp_path / "no-template")
        Path(model).mkdir()
        (Path(model) / "tokenizer_config.json").write_text(json.dumps({"eos_token": "</s>"}))
    with pytest.raises(UsageError) as err:
        emitted("llamafactory", standard_export(tmp_path), tmp_path / "out", model=model)
    message = str(err.value)
    assert all(name in message for name in ("llama3", "qwen", "mistral", "gemma"))
    assert "Give model as a hub id" in message and "tokenizer_config.json" in message


def test_template_tables_name_only_real_templates():
    assert {name for _, name in _LF_BY_ID} | {name for _, name in _LF_BY_MARKER} <= LF_TEMPLATES


def test_axolotl_a_short_max_steps_run_is_still_evaluated(tmp_path):
    big = write_export(tmp_path / "big", [chat_row(i) for i in range(16_000)], [chat_row(9)])
    data = emitted("axolotl", big, tmp_path / "out", max_steps=20)[0]
    assert data["max_steps"] == 20 and data["eval_steps"] == 5 and data["save_steps"] == 5
