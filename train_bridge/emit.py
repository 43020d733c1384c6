"""`--emit axolotl|llamafactory|trl`: a ready-to-run config for another trainer, pointing at the export,
with the same settings (LoRA, schedule, batch, length, assistant-only loss) as `curate train` would use.
The export must be in OpenAI chat format (`curate export --format openai`, the default).

Checked against the trainers' current releases on PyPI (read 2026-12-02 from their wheels):
- axolotl 0.19.0: utils/schemas/{config,datasets,enums,peft,training,model,validation}.py,
  prompt_strategies/chat_template.py, core/builders/{base,causal}.py;
- LLaMA-Factory (llamafactory) 0.9.5: hparams/{model,data,finetuning,training}_args.py, data/parser.py,
  data/converter.py, data/formatter.py, data/tool_utils.py, data/template.py, data/processor/supervised.py,
  extras/constants.py; data/README.md from github.com/hiyouga/LLaMA-Factory (commit 015ff251ec0a).
tests/test_emit_configs.py holds the key sets and enum values read there.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from curate.errors import UsageError

from .config import TARGETS as _TARGET_SETS
from .config import TrainConfig

TARGETS = ("axolotl", "llamafactory", "trl")
# `target` is the parameter; library messages call it by the function's name, which reads better.
_EMIT = {"target": "emit"}


def _paths(export_dir: Path) -> dict[str, str]:
    if not (export_dir / "manifest.json").is_file():
        raise UsageError(f"{export_dir} is not a curate export (no manifest.json); create one with curate export")
    manifest = json.loads((export_dir / "manifest.json").read_text())
    if manifest.get("format") != "openai":
        raise UsageError(f"{{target}} needs an export in OpenAI chat format (this one is {manifest.get('format')}); "
                         "re-export with --format openai", params=_EMIT)
    return {s: str((export_dir / f"{s}.jsonl").resolve()) for s in ("train", "val", "test")}


def _yaml(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _rows(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number, row) for each row of a JSONL split."""
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    yield n, json.loads(line)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{{target}}: cannot read the export's {path} ({exc}); re-export it", params=_EMIT) from None


def _count(path: str) -> int:
    return sum(1 for _ in _rows(path))


def _all_linear(cfg: TrainConfig) -> bool:
    return set(cfg.targets) == set(_TARGET_SETS["all-linear"])


# ---- axolotl ---------------------------------------------------------------------------------------------

# A few evaluations an epoch: axolotl's early stopping needs step-based evaluation and saving
# (validation.py check_early_stopping), and the best checkpoint is then chosen within an epoch too.
_EVALS_PER_EPOCH = 4


def _eval_every(cfg: TrainConfig, train_rows: int) -> tuple[int, int]:
    """(optimizer steps between evaluations, evaluations an epoch) on one GPU; a max_steps run shorter than
    an epoch counts as the epoch, so it is evaluated a few times too."""
    steps = max(1, math.ceil(train_rows / (cfg.batch_size * cfg.grad_accum)))
    steps = min(steps, cfg.max_steps) if cfg.max_steps > 0 else steps
    every = max(1, steps // _EVALS_PER_EPOCH)
    return every, max(1, steps // every)


def _axolotl_dataset(path: str, **extra: Any) -> dict:
    # The tokenizer's own chat template with the row's tools (field_tools); loss on assistant turns and the
    # end-of-turn token closing each (train_on_eos: turn); a turn's 0/1 "weight" overrides that per turn
    # (message_field_training: axolotl trains a turn whose value is truthy, whatever its role).
    return {"path": path, "ds_type": "json", "type": "chat_template", "chat_template": "tokenizer_default",
            "field_messages": "messages", "field_tools": "tools", "message_field_training": "weight",
            "roles_to_train": ["assistant"], "train_on_eos": "turn", **extra}


def _axolotl_eval(cfg: TrainConfig, paths: dict[str, str]) -> tuple[dict, str]:
    if not _count(paths["val"]):
        return {}, "# the val split is empty: no evaluation, early stopping or best-checkpoint choice\n"
    rows = _count(paths["train"])
    every, per_epoch = _eval_every(cfg, rows)
    # eval_steps == save_steps, so every evaluated step has a checkpoint and axolotl sets
    # load_best_model_at_end (core/builders/causal.py); patience counts evaluations, so curate's patience
    # (in epochs, as curate train evaluates once an epoch) is scaled to the evaluations an epoch.
    note = (f"# evaluation and a checkpoint every {every} optimizer steps: {per_epoch} an epoch for {rows} train rows "
            f"at batch {cfg.batch_size} x accumulation {cfg.grad_accum} on one GPU\n"
            "# (on N GPUs divide eval_steps and save_steps by N); early stopping after "
            f"{cfg.early_stopping_patience} epochs' worth of evaluations without a better val loss\n")
    return {"test_datasets": [_axolotl_dataset(paths["val"], split="train")],
            "eval_strategy": "steps", "save_strategy": "steps", "eval_steps": every, "save_steps": every,
            "load_best_model_at_end": True, "early_stopping_patience": cfg.early_stopping_patience * per_epoch}, note


def axolotl(model: str, cfg: TrainConfig, paths: dict[str, str], out: Path) -> str:
    qlora = cfg.method == "qlora"
    targets = {"lora_target_linear": True} if _all_linear(cfg) else {"lora_target_modules": cfg.targets}
    evaluation, note = _axolotl_eval(cfg, paths)
    data = {
        "base_model": model, "load_in_4bit": qlora, "adapter": "qlora" if qlora else "lora",
        "lora_r": cfg.lora_r, "lora_alpha": cfg.lora_alpha, "lora_dropout": cfg.lora_dropout, **targets,
        "datasets": [_axolotl_dataset(paths["train"])],
        "sequence_len": cfg.max_length, "sample_packing": False, "micro_batch_size": cfg.batch_size,
        "gradient_accumulation_steps": cfg.grad_accum, "num_epochs": cfg.epochs, "learning_rate": cfg.learning_rate,
        "lr_scheduler": "cosine", "warmup_ratio": cfg.warmup_ratio, "weight_decay": cfg.weight_decay,
        "optimizer": "adamw_torch", "bf16": {"auto": "auto", "true": True, "false": False}[cfg.bf16],
        "gradient_checkpointing": cfg.gradient_checkpointing, "group_by_length": True, **evaluation,
        "logging_steps": cfg.logging_steps, "seed": cfg.seed, "output_dir": str(out / "axolotl-out")}
    if cfg.max_steps > 0:
        data["max_steps"] = cfg.max_steps
    return "# curate train --emit axolotl; run: axolotl train <this file>\n" + note + _yaml(data)


# ---- LLaMA-Factory ---------------------------------------------------------------------------------------

# Model-id patterns (on the name after the last "/", lower-cased) to LLaMA-Factory template names, following
# how its extras/constants.py files the models; the first match wins, so narrower patterns come first.
_LF_BY_ID = (
    (r"deepseek-r1", "deepseekr1"), (r"deepseek-v3", "deepseek3"),
    (r"llama-?4", "llama4"), (r"llama-?3", "llama3"), (r"llama-?2", "llama2"),
    (r"qwen2(\.5)?-vl", "qwen2_vl"), (r"qwen3-vl", "qwen3_vl"), (r"qwen3\.5", "qwen3_5"),
    (r"qwen3-.*instruct-2507|qwen3-next-.*instruct", "qwen3_nothink"), (r"qwen3", "qwen3"), (r"qwen|qwq", "qwen"),
    (r"ministral-3-", "ministral3"), (r"ministral|mistral-nemo", "ministral"),
    (r"(mistral|devstral)-small", "mistral_small"), (r"mistral|mixtral|codestral", "mistral"),
    (r"gemma-?3n", "gemma3n"), (r"gemma-?3-(270m|1b)", "gemma2"), (r"gemma-?3", "gemma3"), (r"gemma-?2", "gemma2"),
    (r"gemma", "gemma"), (r"phi-?4-mini", "phi4_mini"), (r"phi-?4", "phi4"), (r"phi-?3", "phi"),
    (r"smollm2", "smollm2"), (r"smollm", "smollm"), (r"gpt-oss", "gpt_oss"),
)
# Markers in a local model's own chat template to the LLaMA-Factory template that writes the same format.
_LF_BY_MARKER = (("<|header_start|>", "llama4"), ("<|start_header_id|>", "llama3"), ("<|im_sep|>", "phi4"),
                 ("<|im_start|>", "qwen"), ("<<SYS>>", "llama2"), ("[INST]", "mistral"),
                 ("<start_of_turn>", "gemma"), ("<|end|>", "phi"))


def _chat_template_text(model_dir: Path) -> str:
    """The model's chat template(s): tokenizer_config.json's, and chat_template.jinja (where transformers now
    saves it)."""
    text = ""
    config = model_dir / "tokenizer_config.json"
    try:
        template = json.loads(config.read_text(encoding="utf-8")).get("chat_template") if config.is_file() else None
    except (OSError, ValueError, AttributeError):
        template = None
    text += template if isinstance(template, str) else json.dumps(template or "")  # or a list of named ones
    jinja = model_dir / "chat_template.jinja"
    return text + (jinja.read_text(encoding="utf-8", errors="replace") if jinja.is_file() else "")


def _lf_template(model: str) -> tuple[str, str]:
    """LLaMA-Factory's template for the model, and how it was chosen. It must be named: LLaMA-Factory formats
    every row with its own template, not the tokenizer's (`template: default` would be a generic format)."""
    if Path(model).is_dir():
        text = _chat_template_text(Path(model))
        for marker, name in _LF_BY_MARKER:
            if marker in text:
                return name, f"its chat template has {marker}"
    else:
        base = model.rstrip("/").rsplit("/", 1)[-1].lower()
        for pattern, name in _LF_BY_ID:
            if re.search(pattern, base):
                return name, f"from the model id {model}"
    known = sorted({n for _, n in _LF_BY_ID} | {n for _, n in _LF_BY_MARKER})
    raise UsageError(
        f"{{target}} llamafactory: cannot tell which LLaMA-Factory chat template {model!r} uses, and LLaMA-Factory "
        f"needs it named. Known here: {', '.join(known)} (all: LLaMA-Factory's data/template.py). Give {{model}} as "
        "a hub id naming the family (meta-llama/Llama-3.1-8B-Instruct, Qwen/Qwen2.5-7B-Instruct, "
        "mistralai/Mistral-7B-Instruct-v0.3, google/gemma-2-9b-it), or a local model directory whose "
        "tokenizer_config.json (or chat_template.jinja) holds its chat template; or use {target} axolotl or trl, "
        "which use the tokenizer's own template", params={**_EMIT, "model": "model"})


# The sharegpt form, tags spelled out. Not LLaMA-Factory's own `openai` formatting: its converter (0.9.5
# data/converter.py) appends "detailed thinking off" to the system prompt of every row without tools.
_LF_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
            "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"}
# LLaMA-Factory's rule for a sharegpt row (data/converter.py SharegptDatasetConverter): turn i is human or
# observation when i is even, gpt or function_call when odd, and a (non-preference) row has an even number of
# turns; any other row is logged and skipped. Every row written here is checked against it.
_LF_SIDES = (("human", "observation"), ("gpt", "function_call"))


def _lf_accepts(turns: list[dict]) -> bool:
    return bool(turns) and len(turns) % 2 == 0 and all(t["from"] in _LF_SIDES[i % 2] for i, t in enumerate(turns))


class _Skip(Exception):
    """A row LLaMA-Factory could not take, and why."""


@dataclass
class _Note:
    """What the conversion of one split did, for the YAML's comments."""

    rows_in: int = 0
    rows_out: int = 0
    text_beside_calls: int = 0
    skipped: Counter = field(default_factory=Counter)
    lines: dict[str, list[int]] = field(default_factory=dict)


def _text(content: Any) -> str:
    if isinstance(content, list):  # OpenAI content parts
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _lf_call(calls: list[dict]) -> str:
    """A function_call turn's value as LLaMA-Factory's FunctionFormatter parses it (data/formatter.py):
    {"name", "arguments": {...}}, or a list of them for parallel calls. OpenAI holds arguments as JSON text."""
    out = []
    for call in calls:
        fn = call.get("function") or call
        args = fn.get("arguments")
        try:
            args = json.loads(args) if isinstance(args, str) else args
        except ValueError:
            pass  # not JSON: kept as text, which LLaMA-Factory passes on as a JSON string
        out.append({"name": fn.get("name"), "arguments": {} if args is None else args})
    return json.dumps(out[0] if len(out) == 1 else out, ensure_ascii=False)


def _lf_turns(messages: list[dict], note: _Note) -> list[tuple[dict, bool]]:
    """ShareGPT turns, each with whether it is trained: an assistant turn whose weight is not 0."""
    turns: list[tuple[dict, bool]] = []
    for m in messages:
        role, text, trained = m.get("role"), _text(m.get("content")), m.get("weight") != 0
        if role == "tool" and turns and turns[-1][0]["from"] == "observation":
            turns[-1][0]["value"] += "\n" + text  # parallel calls' results: one observation turn, in order
        elif role == "tool":
            turns.append(({"from": "observation", "value": text}, False))
        elif role == "assistant" and m.get("tool_calls"):
            note.text_beside_calls += bool(text.strip())
            turns.append(({"from": "function_call", "value": _lf_call(m["tool_calls"])}, trained))
        elif role in ("user", "assistant"):
            turns.append(({"from": "human" if role == "user" else "gpt", "value": text},
                          role == "assistant" and trained))
        else:
            raise _Skip(f"a {role} turn after the first")
    return turns


def _lf_row(row: dict, one_per_turn: bool, note: _Note) -> list[dict]:
    """The row in LLaMA-Factory's sharegpt form, cut after its last trained turn (later turns teach nothing);
    with one_per_turn, one row per trained turn, each cut after it (for mask_history)."""
    messages = list(row.get("messages") or [])
    system = _text(messages.pop(0).get("content")) if messages and messages[0].get("role") == "system" else ""
    turns = _lf_turns(messages, note)
    ends = [i + 1 for i, (_, trained) in enumerate(turns) if trained]
    if not ends:
        raise _Skip("no assistant turn to train (none, or all with weight 0)")
    rows = [[turn for turn, _ in turns[:end]] for end in (ends if one_per_turn else ends[-1:])]
    if not all(_lf_accepts(r) for r in rows):
        raise _Skip("turns do not alternate user and assistant as LLaMA-Factory requires")
    # tools as JSON text: LLaMA-Factory's ToolFormatter json.loads them, OpenAI's {"type": "function", ...} as is
    tools = json.dumps(row["tools"], ensure_ascii=False) if row.get("tools") else ""
    return [{"conversations": r, "system": system, "tools": tools} for r in rows]


def _lf_write(src: str, dest: Path, one_per_turn: bool) -> _Note:
    note = _Note()
    with open(dest, "w", encoding="utf-8") as f:
        for line, row in _rows(src):
            note.rows_in += 1
            try:
                converted = _lf_row(row, one_per_turn, note)
            except _Skip as why:
                note.skipped[str(why)] += 1
                note.lines.setdefault(str(why), []).append(line)
                continue
            note.rows_out += len(converted)
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in converted)
    return note


def _has_weight_0(path: str) -> bool:
    return any(m.get("role") == "assistant" and m.get("weight") == 0
               for _, row in _rows(path) for m in row.get("messages") or [])


def _lf_info(split: str) -> dict:
    return {"file_name": f"curate_{split}.jsonl", "formatting": "sharegpt",
            "columns": {"messages": "conversations", "system": "system", "tools": "tools"}, "tags": dict(_LF_TAGS)}


def _lf_comments(template: str, why: str, notes: dict[str, _Note], mask: bool, cfg: TrainConfig) -> str:
    out = ["curate train --emit llamafactory; run: llamafactory-cli train <this file>",
           f"template: {template} ({why}); LLaMA-Factory formats rows with it, not with the tokenizer's template:",
           "  if your model uses another chat format, change it (names: LLaMA-Factory's data/template.py)",
           "data: curate_train/val.jsonl beside dataset_info.json, converted from the export to the sharegpt form",
           "  (user -> human, assistant -> gpt, tool calls -> function_call, tool results -> observation)"]
    for split, note in notes.items():
        out.append(f"{split}: {note.rows_in} export rows -> {note.rows_out} rows")
        out += [f"  skipped {n} ({reason}): lines {', '.join(map(str, note.lines[reason][:10]))}"
                + (", ..." if n > 10 else "") for reason, n in note.skipped.items()]
        if note.text_beside_calls:
            out += [f"  {note.text_beside_calls} assistant turns had text beside their tool calls: a function_call",
                    "  turn holds only the calls, so the text is left out (as LLaMA-Factory's openai converter does)"]
    if mask:
        out += ["weight 0: LLaMA-Factory has no per-turn loss switch (it trains every assistant turn, or with",
                "  mask_history only a row's last), so each row is written once per trained turn, cut after it, with",
                "  mask_history: true: each weight-1 turn is learned once, no weight-0 turn is (prefixes repeat)"]
    if cfg.bf16 == "auto":
        out.append("bf16: LLaMA-Factory takes true or false, not auto: on a GPU without bf16 (before Ampere) set "
                   "bf16: false and fp16: true")
    return "".join(f"# {line}\n" for line in out)


def _lf_eval(cfg: TrainConfig, has_val: bool) -> dict:
    # As curate train: evaluate and save each epoch, stop after early_stopping_steps evaluations without a
    # better val loss (finetuning_args.py; train/tuner.py adds the callback), keep the best checkpoint.
    if not has_val:
        return {}
    return {"eval_dataset": "curate_val", "per_device_eval_batch_size": cfg.batch_size, "eval_strategy": "epoch",
            "save_strategy": "epoch", "load_best_model_at_end": True,
            "early_stopping_steps": cfg.early_stopping_patience}


def llamafactory(model: str, cfg: TrainConfig, paths: dict[str, str], out: Path) -> str:
    template, why = _lf_template(model)
    mask = _has_weight_0(paths["train"]) or _has_weight_0(paths["val"])
    notes = {s: _lf_write(paths[s], out / f"curate_{s}.jsonl", mask) for s in ("train", "val")}
    splits = ("train", "val") if notes["val"].rows_out else ("train",)
    (out / "dataset_info.json").write_text(json.dumps({f"curate_{s}": _lf_info(s) for s in splits}, indent=2) + "\n")
    data: dict[str, Any] = {
        "model_name_or_path": model, "stage": "sft", "do_train": True, "finetuning_type": "lora",
        "lora_rank": cfg.lora_r, "lora_alpha": cfg.lora_alpha, "lora_dropout": cfg.lora_dropout,
        "lora_target": "all" if _all_linear(cfg) else ",".join(cfg.targets),
        "dataset_dir": str(out), "dataset": "curate_train", "template": template, "cutoff_len": cfg.max_length,
        "per_device_train_batch_size": cfg.batch_size, "gradient_accumulation_steps": cfg.grad_accum,
        "learning_rate": cfg.learning_rate, "num_train_epochs": cfg.epochs, "lr_scheduler_type": "cosine",
        "warmup_ratio": cfg.warmup_ratio, "weight_decay": cfg.weight_decay, "bf16": cfg.bf16 != "false",
        "logging_steps": cfg.logging_steps, **_lf_eval(cfg, "val" in splits),
        "output_dir": str(out / "llamafactory-out"), "seed": cfg.seed}
    if mask:
        data["mask_history"] = True
    if not cfg.gradient_checkpointing:  # LLaMA-Factory checkpoints by default
        data["disable_gradient_checkpointing"] = True
    if cfg.max_steps > 0:
        data["max_steps"] = cfg.max_steps
    if cfg.method == "qlora":
        data.update(quantization_bit=4, quantization_method="bnb", quantization_type="nf4", double_quantization=True)
    return _lf_comments(template, why, notes, mask, cfg) + _yaml(data)


def trl(model: str, cfg: TrainConfig, paths: dict[str, str], out: Path) -> str:
    """A Python script: curate's own data path (conversations whole, curate's masks, pre-tokenised rows)
    into TRL's SFTTrainer with curate's arguments, written out so they can be edited. Every value is
    written with repr (and TrainConfig checks its types), so nothing from a config file becomes code."""
    from .trainer import sft_args

    export = str(Path(paths["train"]).parent)
    args = {k: v for k, v in sft_args(cfg, out / "trl-out", False, "fp32", True).items()
            if k not in ("bf16", "fp16", "use_cpu", "padding_free", "train_sampling_strategy")}
    lines = "".join(f"        {k}={v!r},\n" for k, v in args.items())
    return f'''"""TRL's SFTTrainer on a curate export, with curate's loss masks: each conversation rendered whole by
the model's chat template (tool calls and tool definitions included), the loss on assistant turns and
their end-of-turn tokens only, weight-0 turns untrained. Emitted by `curate train --emit trl`; needs
ftcurate[train]. Edit the arguments below freely.

Run: python {out / "train_trl.py"}
"""
from trl import SFTConfig

from train_bridge.trainer import varlen_attention

EXPORT = {export!r}
MODEL = {model!r}
SETTINGS = {cfg.to_dict()!r}


def config(cuda: bool, dtype: str) -> SFTConfig:
    return SFTConfig(
{lines}        bf16=dtype == "bf16", fp16=dtype == "fp16", use_cpu=not cuda,
        # one flattened row per batch where flash-attn keeps its sequences apart; else similar lengths together
        padding_free=varlen_attention(cuda) is not None,
        train_sampling_strategy="random" if varlen_attention(cuda) else "group_by_length",
    )


def main() -> None:
    import torch
    from transformers import AutoTokenizer, EarlyStoppingCallback
    from trl import SFTTrainer

    from train_bridge.config import TrainConfig
    from train_bridge.data import load_export
    from train_bridge.masks import encode
    from train_bridge.trainer import dataset, load_base, precision, with_lora

    cfg = TrainConfig(**SETTINGS).validate()
    cuda = torch.cuda.is_available()
    dtype = precision(cfg, cuda)
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    _, splits = load_export(EXPORT)
    data = {{split: encode(tokenizer, splits[split], cfg.max_length) for split in ("train", "val")}}
    model = with_lora(load_base(MODEL, cfg, cuda, dtype), cfg)
    has_val = bool(data["val"].input_ids)
    args = config(cuda, dtype)
    args.eval_strategy = args.save_strategy = "epoch" if has_val else "no"
    args.load_best_model_at_end = has_val
    callbacks = [EarlyStoppingCallback(cfg.early_stopping_patience)] if has_val else []
    trainer = SFTTrainer(model=model, args=args, processing_class=tokenizer, callbacks=callbacks,
                         train_dataset=dataset(data["train"]),
                         eval_dataset=dataset(data["val"]) if has_val else None)
    trainer.train()
    trainer.save_model()


if __name__ == "__main__":
    main()
'''


def emit(target: str, export_dir: str, model: str, cfg: TrainConfig, out_dir: str) -> Path:
    if target not in TARGETS:
        raise UsageError(f"{{target}} {target!r}: choose {', '.join(TARGETS)}", params=_EMIT)
    if model == "tiny":
        raise UsageError("{target} needs a model another trainer can load (a hub id or a model directory); tiny "
                         "exists only inside curate train, which saves it in OUTPUT/base: pass that directory",
                         params=_EMIT)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = _paths(Path(export_dir))
    text = {"axolotl": axolotl, "llamafactory": llamafactory, "trl": trl}[target](model, cfg, paths, out.resolve())
    path = out / {"axolotl": "axolotl.yaml", "llamafactory": "llamafactory.yaml", "trl": "train_trl.py"}[target]
    path.write_text(text, encoding="utf-8")
    return path
