"""`curate plan`: will it fit, how long, what will it cost, and what practice warns about, before any GPU.

Memory (GB = 1e9 bytes), for one GPU:
- weights: linear layers at 2 bytes/param (bf16) for LoRA, or 0.5 bytes + 0.127 bits of double-quantised
  constants for QLoRA's NF4; embeddings and the LM head stay bf16 either way;
- LoRA: trainable params x 16 bytes (fp32 weight, gradient, and AdamW's two moments);
- activations: with gradient checkpointing, each layer's input (batch x length x hidden x 2 bytes) plus one
  layer recomputed in full (34 x batch x length x hidden bytes, Korthikanti et al. 2022, attention by
  SDPA so no length^2 term); without it, every layer in full; plus the fp32 logits for the loss
  (batch x length x vocab x 4 bytes: 4 GB for Llama 3's 128K vocabulary at 4 x 2048);
- 1.5 GB of CUDA context and allocator slack; a GPU fits the plan when the total is within its memory.
Time: 6 x params FLOPs per trained token with gradient checkpointing (forward, recompute, backward to the
activations; frozen weights need no weight gradients), else 4 x, at 35% of the GPU's dense bf16 peak for
LoRA and 25% for QLoRA (dequantising costs); tokens padded per batch as the data says.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from curate.errors import UsageError

from .config import PRICES, TrainConfig
from .presets import Arch, preset

GPUS = {"L4 24GB": (24, 121), "RTX 4090 24GB": (24, 165), "A100 40GB": (40, 312), "A100 80GB": (80, 312),
        "H100 80GB": (80, 989)}  # memory GB, dense bf16 TFLOPS
OVERHEAD_GB = 1.5
MFU = {"lora": 0.35, "qlora": 0.25}


def arch_of(model: str, hf_config=None) -> Arch:
    if hf_config is not None:
        return Arch(model, hf_config.hidden_size, hf_config.num_hidden_layers, hf_config.num_attention_heads,
                    getattr(hf_config, "num_key_value_heads", None) or hf_config.num_attention_heads,
                    hf_config.intermediate_size, hf_config.vocab_size,
                    bool(getattr(hf_config, "tie_word_embeddings", False)))
    found = preset(model)
    if found is None:
        from .presets import names

        raise UsageError(f"no preset for {model!r} and no local config; presets: {', '.join(names())} "
                         "(or pass a model directory)")
    return found


def lora_params(arch: Arch, cfg: TrainConfig) -> int:
    shapes = arch.linear_shapes()
    return arch.layers * sum(cfg.lora_r * (shapes[t][0] + shapes[t][1]) for t in cfg.targets)


def memory(arch: Arch, cfg: TrainConfig, seq: int) -> dict[str, Any]:
    if cfg.method == "qlora":
        weights = arch.linear_params * (0.5 + 0.127 / 8) + (arch.params - arch.linear_params) * 2
    else:
        weights = arch.params * 2
    trainable = lora_params(arch, cfg)
    b, h = cfg.batch_size, arch.hidden
    full_layer = 34 * b * seq * h
    if cfg.gradient_checkpointing:
        acts = arch.layers * b * seq * h * 2 + full_layer
    else:
        acts = arch.layers * full_layer
    logits = b * seq * arch.vocab * 4
    parts = {"weights_gb": weights / 1e9, "lora_gb": trainable * 4 / 1e9, "optimizer_gb": trainable * 12 / 1e9,
             "activations_gb": (acts + logits) / 1e9, "overhead_gb": OVERHEAD_GB}
    total = sum(parts.values())
    out: dict[str, Any] = {k: round(v, 2) for k, v in parts.items()}
    out["total_gb"] = round(total, 2)
    out["fits"] = {gpu: total <= mem for gpu, (mem, _) in GPUS.items()}
    return out


def token_stats(lengths: list[int], max_length: int) -> dict[str, Any]:
    if not lengths:
        return {"examples": 0, "total": 0, "p50": 0, "p95": 0, "max": 0, "truncated": 0}
    arr = np.array(lengths)
    return {"examples": len(lengths), "total": int(np.minimum(arr, max_length).sum()),
            "p50": int(np.percentile(arr, 50)), "p95": int(np.percentile(arr, 95)), "max": int(arr.max()),
            "truncated": int((arr > max_length).sum())}


def plan(arch: Arch, cfg: TrainConfig, lengths: list[int], n_val: int, tokenizer_note: str) -> dict[str, Any]:
    tokens = token_stats(lengths, cfg.max_length)
    tokens["tokenizer"] = tokenizer_note
    seq = min(cfg.max_length, tokens["p95"] or cfg.max_length)
    # Padding to the longest in each batch: estimate the padded tokens from batches of sorted neighbours.
    capped = np.sort(np.minimum(np.array(lengths or [0]), cfg.max_length))
    padded = sum(int(capped[i:i + cfg.batch_size].max()) * len(capped[i:i + cfg.batch_size])
                 for i in range(0, len(capped), cfg.batch_size))
    epochs = cfg.epochs if cfg.max_steps <= 0 else \
        cfg.max_steps * cfg.batch_size * cfg.grad_accum / max(1, tokens["examples"])
    flops_per_token = (6 if cfg.gradient_checkpointing else 4) * arch.params
    prices = {**PRICES, **cfg.prices}
    time_hours, cost = {}, {}
    for gpu, (_, tflops) in GPUS.items():
        hours = padded * epochs * flops_per_token / (tflops * 1e12 * MFU[cfg.method]) / 3600
        time_hours[gpu] = round(hours, 3)
        cost[gpu] = round(hours * prices.get(gpu, math.nan), 2)
    mem = memory(arch, cfg, int(capped.max()) if len(capped) else seq)
    trainable = lora_params(arch, cfg)
    warnings = []
    n = tokens["examples"]
    if n < 100:
        warnings.append(f"only {n} training examples: prompting (few-shot) is likely to do as well; fine-tune "
                        "with at least a few hundred")
    elif n < 500:
        warnings.append(f"{n} training examples: high risk of overfitting; keep epochs low and watch val loss")
    if n_val == 0:
        warnings.append("no validation split: early stopping and the overfitting check cannot run "
                        "(export with --split 80/10/10)")
    if tokens["truncated"]:
        warnings.append(f"{tokens['truncated']} examples exceed max_length {cfg.max_length} and will be truncated")
    if not any(mem["fits"].values()):
        warnings.append("fits none of the listed GPUs: try qlora, a smaller batch, or a shorter max_length")
    return {"model": arch.name, "method": cfg.method, "tokens": tokens, "epochs": round(epochs, 3),
            "padded_tokens_per_epoch": int(padded), "total_params": arch.params, "trainable_params": trainable,
            "trainable_share": round(trainable / arch.params, 6), "memory": mem, "time_hours": time_hours,
            "cost_usd": cost, "prices_usd_per_hour": prices, "warnings": warnings, "config": cfg.to_dict()}
