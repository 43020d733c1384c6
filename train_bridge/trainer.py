"""The base model and TRL's SFTTrainer, set up the way curate trains: curate's own masks passed in as
pre-tokenised `input_ids` + `assistant_masks` (TRL turns them into labels and leaves the rows alone),
padding-free batches on a GPU with flash-attn's variable-length kernels (no pad token computed at all),
else batches of similar lengths padded to their longest, LoRA on peft's own module names (`all-linear`
for QLoRA, as in the QLoRA paper), QLoRA's base in 4-bit NF4 on the one GPU it was loaded to, bf16 where
the GPU has it natively, else fp16."""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any

from curate.errors import UsageError

from .config import TrainConfig
from .masks import Encoded


def precision(cfg: TrainConfig, cuda: bool) -> str:
    """bf16, fp16 or fp32: what the weights are loaded in and mixed precision runs at."""
    import torch

    if not cuda:
        return "bf16" if cfg.bf16 == "true" else "fp32"
    native = torch.cuda.is_bf16_supported()
    if cfg.bf16 == "true" and not native:
        raise UsageError("bf16 true: this GPU has no native bf16 (e.g. T4, V100); use bf16 auto (fp16 there)")
    return "bf16" if cfg.bf16 == "true" or (cfg.bf16 == "auto" and native) else "fp16"


def varlen_attention(cuda: bool) -> str | None:
    """The attention implementation that runs a padding-free batch as separate sequences, where installed.
    Without it transformers masks the flattened batch block-diagonally over its whole length (SDPA with a
    dense mask): on an H200, 0.8B QLoRA, that trained 0.89x the real tokens per second of plain padded
    batches while computing half the tokens (bench/gpu_check.sh, docs/DESIGN.md)."""
    import importlib.util

    return "flash_attention_2" if cuda and importlib.util.find_spec("flash_attn") else None


def _dtype(name: str):
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]


def refuse_data_parallel(cfg: TrainConfig) -> None:
    """Trainer wraps a model in DataParallel when it sees several GPUs in one process; a 4-bit model
    cannot be replicated that way, and fails deep inside bitsandbytes."""
    import torch

    if cfg.method == "qlora" and torch.cuda.device_count() > 1 and int(os.environ.get("WORLD_SIZE", "1")) == 1:
        raise UsageError(f"{torch.cuda.device_count()} GPUs are visible and QLoRA's 4-bit model cannot be split "
                         "across them by DataParallel: pick one (CUDA_VISIBLE_DEVICES=0 curate train ...) or "
                         "launch one process per GPU (accelerate launch / torchrun)")


def load_base(source: str, cfg: TrainConfig, cuda: bool, dtype_name: str):
    """The base model from a local directory or hub id; 4-bit NF4 with double quantisation for QLoRA,
    all of it on the current GPU (device_map), prepared for k-bit training (norms and head in fp32)."""
    import torch
    from transformers import AutoModelForCausalLM

    kw: dict[str, Any] = {"dtype": _dtype(dtype_name)}
    if cuda:
        kw["device_map"] = {"": torch.cuda.current_device()}
    if attention := varlen_attention(cuda):
        kw["attn_implementation"] = attention
    if cfg.method == "qlora":
        from transformers import BitsAndBytesConfig

        kw["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=_dtype(dtype_name))
    try:
        base = AutoModelForCausalLM.from_pretrained(source, **kw)
    except (OSError, ValueError) as exc:  # missing files, or a config.json transformers cannot place
        raise UsageError(f"cannot load model {source!r}: {str(exc).splitlines()[0]}. Pass a local model directory, "
                         "or {model} tiny for a smoke run", params=("model",)) from None
    if cfg.method == "qlora":
        from peft import prepare_model_for_kbit_training

        base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=cfg.gradient_checkpointing)
    return base


def with_lora(base, cfg: TrainConfig):
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=cfg.peft_targets, task_type="CAUSAL_LM")
    return get_peft_model(base, lora)


def dataset(enc: Encoded, labels: bool = False):
    """Rows for SFTTrainer: input_ids with curate's mask as `assistant_masks`, from which TRL builds the
    labels; or with the labels themselves, for a dataset TRL does not prepare (one given to evaluate())."""
    from datasets import Dataset

    if labels:
        return Dataset.from_dict({"input_ids": enc.input_ids, "labels": enc.labels})
    masks = [[int(x != -100) for x in row] for row in enc.labels]
    return Dataset.from_dict({"input_ids": enc.input_ids, "assistant_masks": masks})


class Log:
    """metrics.jsonl, and one quiet progress bar (the Trainer's own prints every log dict)."""

    def __init__(self, path: Path, quiet: bool):
        from transformers import TrainerCallback

        self.path, self.rows = path, []  # type: tuple[Path, list[dict]]
        path.write_text("")
        log = self

        class Callback(TrainerCallback):
            bar: Any = None

            def on_train_begin(self, args, state, control, **kw):
                if not quiet:
                    from tqdm.auto import tqdm

                    self.bar = tqdm(total=state.max_steps, desc="training", unit="step")

            def on_step_end(self, args, state, control, **kw):
                if self.bar is not None:
                    self.bar.update(1)
                    last = next((m for m in reversed(log.rows) if "loss" in m), None)
                    if last:
                        self.bar.set_postfix(loss=f"{last['loss']:.3f}")

            def on_train_end(self, args, state, control, **kw):
                if self.bar is not None:
                    self.bar.close()

            def on_log(self, args, state, control, logs=None, **kw):
                log.add(state, logs or {})

        self.callback = Callback()

    def add(self, state, logs: dict) -> None:
        row = {"step": state.global_step, "epoch": round(state.epoch or 0, 4)}
        row.update({k: v for k, v in logs.items() if k in ("loss", "eval_loss", "learning_rate", "grad_norm")})
        if "loss" in row or "eval_loss" in row:
            self.rows.append(row)
            with open(self.path, "a") as fh:
                fh.write(json.dumps(row) + "\n")


def sft_args(cfg: TrainConfig, out: Path, cuda: bool, dtype_name: str, has_val: bool) -> dict[str, Any]:
    """SFTConfig's arguments for curate's recipe (also written into `--emit trl` scripts)."""
    from trl import SFTConfig

    padding_free = varlen_attention(cuda) is not None
    checkpointing = "activation_checkpointing" if "activation_checkpointing" in \
        inspect.signature(SFTConfig.__init__).parameters else "gradient_checkpointing"
    return dict(
        output_dir=str(out / "checkpoints"), per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate, num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
        # transformers 5 reads a warmup_steps below 1 as a share of the steps (it dropped warmup_ratio)
        warmup_steps=cfg.warmup_ratio, weight_decay=cfg.weight_decay, lr_scheduler_type="cosine",
        logging_steps=cfg.logging_steps, eval_strategy="epoch" if has_val else "no",
        save_strategy="epoch" if has_val else "no", load_best_model_at_end=has_val,
        metric_for_best_model="eval_loss", greater_is_better=False, save_total_limit=2,
        bf16=dtype_name == "bf16", fp16=dtype_name == "fp16", use_cpu=not cuda, report_to=[], seed=cfg.seed,
        disable_tqdm=True, max_length=None,  # rows arrive tokenised and truncated, with their masks
        padding_free=padding_free, completion_only_loss=False, assistant_only_loss=False,
        train_sampling_strategy="random" if padding_free else "group_by_length",
        **{checkpointing: cfg.gradient_checkpointing and cuda})


def sft_trainer(model, tokenizer, cfg: TrainConfig, data: dict[str, Encoded], out: Path, cuda: bool,
                dtype_name: str, log: Log):
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from trl import SFTConfig, SFTTrainer

    has_val = bool(data["val"].input_ids)
    args = SFTConfig(**sft_args(cfg, out, cuda, dtype_name, has_val))
    trainer = SFTTrainer(model=model, args=args, processing_class=tokenizer, train_dataset=dataset(data["train"]),
                         eval_dataset=dataset(data["val"]) if has_val else None, callbacks=[log.callback])
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer
