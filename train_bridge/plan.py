"""`curate plan`: will it fit, how long, what will it cost, and what practice warns about, before any GPU.

Memory (GB = 1e9 bytes) of one training step on one GPU as `curate train` runs it (transformers 5, peft,
bitsandbytes, TRL's SFTTrainer), each term read from the installed source:
- weights: LoRA loads every parameter in bf16 and upcasts nothing. QLoRA stores the linear layers in NF4,
  0.5 bytes + 0.127 bits of double-quantised constants per parameter, and everything else (embeddings,
  lm_head, norms) in fp32: peft's prepare_model_for_kbit_training casts every fp16/bf16 parameter that is
  not a bitsandbytes Params4bit to fp32 (`upcast_gb`: +2.1 GB for Llama 3 8B, +4.2 GB for 70B).
- LoRA: adapters in fp32 (peft's autocast_adapter_dtype), fp32 gradients and AdamW's two fp32 moments:
  16 bytes per trainable parameter.
- activations: with gradient checkpointing, every layer's input (batch x length x hidden) at 2 bytes for
  LoRA and 4 for QLoRA, whose fp32 embeddings and norms keep the residual stream in fp32 (Linear4bit
  returns its input's dtype); without it, every layer's activations (LAYER_BYTES). Attention is SDPA, with
  no length^2 term.
- the loss (`logits_gb`), on top of the activations. TRL's SFTTrainer replaces the lm_head by a fused one
  (add_fused_lm_head, ChunkedLogProbFunction) that never builds the batch x length x vocab logits: it
  scores 4096 tokens x 32768 vocabulary entries at a time in one bf16 buffer, with a bf16 slice of an
  fp32 head, and keeps per scored token its hidden state and an fp32 gradient. transformers' own loss, as
  a plain Trainer and the stacks behind the published figures run it, does build them: the bf16 logits,
  ForCausalLMLoss's .float() copy (4 bytes) and log_softmax's fp32 output (4) make 10 bytes per batch x
  length x vocab in the forward (labels are shifted, not logits). The Trainer drops the outputs before
  backward, where nll_loss's gradient (4) and log_softmax's (4) coexist with the saved log_softmax output
  (4): 12 bytes, the peak (12.0 measured on CPU), and an fp32 lm_head under bf16 autocast adds a saved
  bf16 copy of its weight. With checkpointing, the layer recomputed in backward comes after the loss's
  tensors are freed, so the larger of the two counts, never both.
- overhead: a 10% margin on all the above, for what is not modelled (the caching allocator's
  fragmentation, commonly 5-15% reserved over allocated; transient buffers: a dequantised weight per
  4-bit matmul, cuBLAS workspaces, the optimizer step; padding-free batches' attention mask), plus 1 GB of
  CUDA context (driver, kernels, library handles) outside PyTorch's allocator. A GPU fits the plan when
  the total is within its listed memory (read as 1e9 bytes; cards sold in GiB hold 7% more, so this errs
  safe).
Time: 6 x params FLOPs per trained token with gradient checkpointing (forward, recompute, backward to the
activations; frozen weights need no weight gradients), else 4 x, at 35% of the GPU's dense bf16 peak for
LoRA and 25% for QLoRA (dequantising costs), over the tokens computed: with flash-attn installed curate
trains padding-free batches (the tokens themselves), else batches of similar lengths padded to their
longest (`padded_tokens_per_epoch`, estimated from batches of sorted neighbours; `batches` says which).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from curate.errors import UsageError

from .config import PRICES, TrainConfig
from .presets import Arch, preset
from .trainer import varlen_attention

GPUS = {"L4 24GB": (24, 121), "RTX 4090 24GB": (24, 165), "A100 40GB": (40, 312), "A100 80GB": (80, 312),
        "H100 80GB": (80, 989)}  # memory GB, dense bf16 TFLOPS
MARGIN = 0.10
CUDA_CONTEXT_GB = 1.0
NF4_BYTES = 0.5 + 0.127 / 8
# One layer's activations, per token: bytes per hidden and per intermediate element, by the residual stream's
# bytes, plus per element of each adapted projection's input (peft's dropout output in fp32 and its mask).
# Measured on CPU (peak RSS, layers 2 against 6) with this transformers' Llama and peft's LoRA, Linear4bit
# emulated for the fp32 stream.
LAYER_BYTES = {2: (16, 6), 4: (26, 12)}
ADAPTER_INPUT_BYTES = 6
# TRL's fused head: a bf16 [4096 tokens x 32768 vocabulary] buffer, and a bf16 slice of the head when it is
# not bf16 already; per scored token, its saved hidden state and an fp32 gradient.
FUSED_TOKENS, FUSED_VOCAB = 4096, 32768
MFU = {"lora": 0.35, "qlora": 0.25}


@dataclass(frozen=True)
class Precision:
    """Bytes per element where training stacks differ; the defaults are curate's LoRA (module docstring)."""

    frozen: int = 2  # per non-quantised frozen parameter (embeddings, lm_head, norms)
    adapter: int = 4  # per LoRA weight, and again for its gradient; AdamW's two fp32 moments add 8
    residual: int = 2  # per element of the residual stream, which checkpointing keeps for every layer
    logits: int = 0  # per batch x length x vocab element at the loss's peak; 0: TRL's fused head, no logits


CURATE = {"lora": Precision(), "qlora": Precision(frozen=4, residual=4)}
# The stacks behind published figures, to compare like with like. The QLoRA paper's qlora.py (transformers
# 4.30, plain Trainer): after the kbit preparation it casts adapters, embeddings and lm_head back to bf16 and
# keeps the norms in fp32, whose outputs keep the residual stream fp32; paged AdamW with 32-bit moments.
QLORA_PAPER = Precision(frozen=2, adapter=2, residual=4, logits=12)
# Hugging Face + peft of late 2024 (transformers 4.46): as curate's QLoRA, with transformers' own loss, which
# then shifted the upcast logits into a second fp32 copy: 2 + 4 + 4 + 4 bytes in the forward.
HF_2024 = Precision(frozen=4, residual=4, logits=14)


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


def memory(arch: Arch, cfg: TrainConfig, seq: int, precision: Precision | None = None) -> dict[str, Any]:
    """Peak GPU memory of one training step at `seq` tokens; `precision` defaults to curate's own."""
    p = precision or CURATE[cfg.method]
    loaded, upcast = _weights(arch, cfg, p)
    trainable = lora_params(arch, cfg)
    stored, logits, recompute = _activations(arch, cfg, seq, p)
    parts = {"weights_gb": loaded + upcast, "lora_gb": trainable * p.adapter,
             "optimizer_gb": trainable * (p.adapter + 8), "activations_gb": stored + max(logits, recompute)}
    tensors = sum(parts.values()) / 1e9
    total = tensors * (1 + MARGIN) + CUDA_CONTEXT_GB
    out: dict[str, Any] = {k: round(v / 1e9, 2) for k, v in parts.items()}
    out["overhead_gb"] = round(tensors * MARGIN + CUDA_CONTEXT_GB, 2)
    # Held in the parts above, shown apart: the terms the estimate once missed, and the overhead's two halves.
    out.update(upcast_gb=round(upcast / 1e9, 2), logits_gb=round(logits / 1e9, 2), tensors_gb=round(tensors, 2),
               margin_gb=round(tensors * MARGIN, 2), cuda_context_gb=CUDA_CONTEXT_GB, total_gb=round(total, 2))
    out["fits"] = {gpu: total <= mem for gpu, (mem, _) in GPUS.items()}
    return out


def _weights(arch: Arch, cfg: TrainConfig, p: Precision) -> tuple[float, float]:
    """Bytes of the frozen weights as loaded (bf16, or NF4 linears), and what an fp32 upcast of the
    non-quantised rest (embeddings, lm_head, norms) adds."""
    rest = arch.params - arch.linear_params
    linear = arch.linear_params * (NF4_BYTES if cfg.method == "qlora" else 2)
    return linear + rest * 2, rest * (p.frozen - 2)


def _activations(arch: Arch, cfg: TrainConfig, seq: int, p: Precision) -> tuple[float, float, float]:
    """Bytes of the activations kept through the step, of the loss's peak, and of one layer's activations
    (what checkpointing recomputes in backward)."""
    tokens = cfg.batch_size * seq
    per_hidden, per_intermediate = LAYER_BYTES[p.residual]
    adapted = sum(arch.linear_shapes()[t][0] for t in cfg.targets)
    layer = tokens * (per_hidden * arch.hidden + per_intermediate * arch.intermediate
                      + ADAPTER_INPUT_BYTES * adapted)
    loss = _loss_peak(arch, tokens, p)
    if not cfg.gradient_checkpointing:
        return arch.layers * layer, loss, 0
    return arch.layers * tokens * arch.hidden * p.residual, loss, layer


def _loss_peak(arch: Arch, tokens: int, p: Precision) -> float:
    """Bytes the loss adds at its peak: the logits' tensors, or TRL's fused head (module docstring)."""
    # An fp32 head is used through a bf16 copy: all of it under autocast, saved for the backward; a slice at a
    # time in the fused head.
    copied = arch.vocab if p.logits else min(arch.vocab, FUSED_VOCAB)
    head_copy = copied * arch.hidden * 2 if p.frozen > 2 else 0
    if p.logits:
        return p.logits * tokens * arch.vocab + head_copy
    return min(tokens, FUSED_TOKENS) * FUSED_VOCAB * 2 + head_copy + tokens * arch.hidden * (p.residual + 4)


def token_stats(lengths: list[int], max_length: int) -> dict[str, Any]:
    if not lengths:
        return {"examples": 0, "total": 0, "p50": 0, "p95": 0, "max": 0, "truncated": 0}
    arr = np.array(lengths)
    return {"examples": len(lengths), "total": int(np.minimum(arr, max_length).sum()),
            "p50": int(np.percentile(arr, 50)), "p95": int(np.percentile(arr, 95)), "max": int(arr.max()),
            "truncated": int((arr > max_length).sum())}


def plan(arch: Arch, cfg: TrainConfig, lengths: list[int], n_val: int, tokenizer_note: str,
         n_test: int = 1) -> dict[str, Any]:
    tokens = token_stats(lengths, cfg.max_length)
    tokens["tokenizer"] = tokenizer_note
    seq = min(cfg.max_length, tokens["p95"] or cfg.max_length)
    # Padding to the longest in each batch: estimate the padded tokens from batches of sorted neighbours.
    capped = np.sort(np.minimum(np.array(lengths or [0]), cfg.max_length))
    padded = sum(int(capped[i:i + cfg.batch_size].max()) * len(capped[i:i + cfg.batch_size])
                 for i in range(0, len(capped), cfg.batch_size))
    epochs = cfg.epochs if cfg.max_steps <= 0 else \
        cfg.max_steps * cfg.batch_size * cfg.grad_accum / max(1, tokens["examples"])
    padding_free = varlen_attention(cuda=True) is not None  # on the GPU the plan is for
    computed = tokens["total"] if padding_free else padded
    flops_per_token = (6 if cfg.gradient_checkpointing else 4) * arch.params
    prices = {**PRICES, **cfg.prices}
    time_hours, cost = {}, {}
    for gpu, (_, tflops) in GPUS.items():
        hours = computed * epochs * flops_per_token / (tflops * 1e12 * MFU[cfg.method]) / 3600
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
    if n_test == 0:
        warnings.append("no test split: nothing measures the model before and after training (export with "
                        "--split 80/10/10)")
    if tokens["truncated"]:
        many = tokens["truncated"]
        warnings.append(f"{many:,} example{'s' if many != 1 else ''} exceed{'' if many != 1 else 's'} max_length "
                        f"{cfg.max_length} and will be truncated")
    if not any(mem["fits"].values()):
        warnings.append("fits none of the listed GPUs: try qlora, a smaller batch, or a shorter max_length")
    return {"model": arch.name, "method": cfg.method, "tokens": tokens, "epochs": round(epochs, 3),
            "padded_tokens_per_epoch": int(padded), "computed_tokens_per_epoch": int(computed),
            "batches": "padding-free (flash-attn)" if padding_free else "length-grouped, padded to the longest",
            "total_params": arch.params, "trainable_params": trainable,
            "trainable_share": round(trainable / arch.params, 6), "memory": mem, "time_hours": time_hours,
            "cost_usd": cost, "prices_usd_per_hour": prices, "warnings": warnings, "config": cfg.to_dict()}
