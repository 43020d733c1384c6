"""`--emit axolotl|llamafactory|trl`: a ready-to-run config for another trainer, pointing at the export,
with the same settings (LoRA, schedule, batch, length, assistant-only loss) as `curate train` would use.
The export must be in OpenAI chat format (`curate export --format openai`, the default)."""

from __future__ import annotations

import json
from pathlib import Path

from curate.errors import UsageError

from .config import TrainConfig

TARGETS = ("axolotl", "llamafactory", "trl")


def _paths(export_dir: Path) -> dict[str, str]:
    manifest = json.loads((export_dir / "manifest.json").read_text())
    if manifest.get("format") != "openai":
        raise UsageError(f"--emit needs an export in OpenAI chat format (this one is {manifest.get('format')}); "
                         "re-export with --format openai")
    return {s: str((export_dir / f"{s}.jsonl").resolve()) for s in ("train", "val", "test")}


def _yaml(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def axolotl(model: str, cfg: TrainConfig, paths: dict[str, str], out: Path) -> str:
    qlora = cfg.method == "qlora"
    return _yaml({
        "base_model": model, "load_in_4bit": qlora, "adapter": "qlora" if qlora else "lora",
        "lora_r": cfg.lora_r, "lora_alpha": cfg.lora_alpha, "lora_dropout": cfg.lora_dropout,
        "lora_target_modules": cfg.targets,
        "datasets": [{"path": paths["train"], "ds_type": "json", "type": "chat_template",
                      "field_messages": "messages", "roles_to_train": ["assistant"]}],
        "test_datasets": [{"path": paths["val"], "ds_type": "json", "type": "chat_template",
                           "field_messages": "messages", "split": "train"}],
        "sequence_len": cfg.max_length, "sample_packing": False, "micro_batch_size": cfg.batch_size,
        "gradient_accumulation_steps": cfg.grad_accum, "num_epochs": cfg.epochs, "learning_rate": cfg.learning_rate,
        "lr_scheduler": "cosine", "warmup_ratio": cfg.warmup_ratio, "weight_decay": cfg.weight_decay,
        "optimizer": "adamw_torch", "bf16": "auto", "gradient_checkpointing": cfg.gradient_checkpointing,
        "group_by_length": True, "early_stopping_patience": cfg.early_stopping_patience, "seed": cfg.seed,
        "output_dir": str(out / "axolotl-out")})


def llamafactory(model: str, cfg: TrainConfig, paths: dict[str, str], out: Path) -> str:
    info = {f"curate_{s}": {"file_name": paths[s], "formatting": "sharegpt", "columns": {"messages": "messages"},
                            "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                                     "assistant_tag": "assistant", "system_tag": "system"}}
            for s in ("train", "val")}
    (out / "dataset_info.json").write_text(json.dumps(info, indent=2) + "\n")
    data = {"model_name_or_path": model, "stage": "sft", "do_train": True, "finetuning_type": "lora",
            "lora_rank": cfg.lora_r, "lora_alpha": cfg.lora_alpha, "lora_dropout": cfg.lora_dropout,
            "lora_target": "all" if cfg.target_modules == "all-linear" else ",".join(cfg.targets),
            "dataset_dir": str(out), "dataset": "curate_train", "eval_dataset": "curate_val",
            "template": "default", "cutoff_len": cfg.max_length, "per_device_train_batch_size": cfg.batch_size,
            "gradient_accumulation_steps": cfg.grad_accum, "learning_rate": cfg.learning_rate,
            "num_train_epochs": cfg.epochs, "lr_scheduler_type": "cosine", "warmup_ratio": cfg.warmup_ratio,
            "weight_decay": cfg.weight_decay, "bf16": True, "eval_strategy": "epoch", "save_strategy": "epoch",
            "load_best_model_at_end": True, "output_dir": str(out / "llamafactory-out"), "seed": cfg.seed}
    if cfg.method == "qlora":
        data.update(quantization_bit=4, quantization_method="bitsandbytes", double_quantization=True)
    return "# set `template` to your model's chat template (llama3, qwen, mistral, ...)\n" + _yaml(data)


def trl(model: str, cfg: TrainConfig, paths: dict[str, str], out: Path) -> str:
    """A Python script: every value is written with repr (and TrainConfig checks its types), so no value
    from a config file or the command line can become code."""
    quant = ""
    if cfg.method == "qlora":
        quant = ("from transformers import BitsAndBytesConfig\n"
                 "model_kwargs = {'quantization_config': BitsAndBytesConfig(load_in_4bit=True, "
                 "bnb_4bit_quant_type='nf4', bnb_4bit_use_double_quant=True, "
                 "bnb_4bit_compute_dtype=torch.bfloat16)}\n")
    return f'''"""TRL SFTTrainer on a curate export, emitted by curate train --emit trl.

Run: python {out / "train_trl.py"}
"""
import torch
from datasets import load_dataset
from peft import LoraConfig
from trl import SFTConfig, SFTTrainer

data = load_dataset("json", data_files={{"train": {paths["train"]!r}, "validation": {paths["val"]!r}}})
model_kwargs = {{}}
{quant}
config = SFTConfig(
    output_dir={str(out / "trl-out")!r}, num_train_epochs={cfg.epochs!r},
    per_device_train_batch_size={cfg.batch_size!r}, gradient_accumulation_steps={cfg.grad_accum!r},
    learning_rate={cfg.learning_rate!r}, lr_scheduler_type="cosine",
    warmup_ratio={cfg.warmup_ratio!r}, weight_decay={cfg.weight_decay!r}, max_length={cfg.max_length!r},
    assistant_only_loss=True, eval_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True,
    metric_for_best_model="eval_loss", gradient_checkpointing={cfg.gradient_checkpointing!r}, seed={cfg.seed!r},
    bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(), model_init_kwargs=model_kwargs or None,
)
peft_config = LoraConfig(r={cfg.lora_r!r}, lora_alpha={cfg.lora_alpha!r}, lora_dropout={cfg.lora_dropout!r},
                         target_modules={cfg.targets!r}, task_type="CAUSAL_LM")
trainer = SFTTrainer(model={model!r}, args=config, train_dataset=data["train"], eval_dataset=data["validation"],
                     peft_config=peft_config)
trainer.train()
trainer.save_model()
'''


def emit(target: str, export_dir: str, model: str, cfg: TrainConfig, out_dir: str) -> Path:
    if target not in TARGETS:
        raise UsageError(f"--emit {target!r}: choose {', '.join(TARGETS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = _paths(Path(export_dir))
    text = {"axolotl": axolotl, "llamafactory": llamafactory, "trl": trl}[target](model, cfg, paths, out.resolve())
    path = out / {"axolotl": "axolotl.yaml", "llamafactory": "llamafactory.yaml", "trl": "train_trl.py"}[target]
    path.write_text(text, encoding="utf-8")
    return path
