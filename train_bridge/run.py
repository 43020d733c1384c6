"""`curate plan` and `curate train` on an export: transformers' Trainer + peft LoRA (QLoRA on CUDA).

What curate adds to the libraries: assistant-only labels for any chat template (data.py), refusal when the
mask is empty, batches of similar lengths padded to their longest (less padding than a random order),
metrics.jsonl and an SVG loss curve, an overfitting warning, and a manifest tying the adapter to the
export it was trained on.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from curate.errors import MissingDependency, UsageError
from curate.secrets import redact

from .config import TrainConfig
from .data import encode, load_export, messages_of
from .plan import arch_of, plan


def _libs():
    import logging
    import warnings

    # Messages a user cannot act on: bitsandbytes (imported by peft) asks for an optional CPU kernel package
    # on CPUs with AVX512-BF16; peft reads an attribute transformers renamed; transformers' own progress bars
    # (curate draws one per run) and its notes on file timestamps.
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing. is deprecated", category=FutureWarning)
    try:
        import peft  # noqa: F401
        import torch  # noqa: F401
        import transformers
    except ImportError as exc:
        raise MissingDependency(exc.name or "transformers", "train", "Training") from exc
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def _load_tokenizer(model: str, conversations: list[list[dict]], out_dir: Path | None, seed: int):
    """(model or None, tokenizer or None, what counted the tokens)."""
    if model == "tiny":
        from .tiny import build

        m, tok = build(conversations, out_dir, seed)
        return m, tok, "tiny BPE tokenizer trained on the export"
    if Path(model).is_dir():
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(model)
        if not tok.chat_template:
            raise UsageError(f"{model}: the tokenizer has no chat template; use an instruct/chat model or add one")
        return None, tok, f"{model} tokenizer with its chat template"
    return None, None, "all-MiniLM-L6-v2 WordPiece (offline estimate: no tokenizer for a preset)"


def _lengths(tok, conversations: list[list[dict]]) -> list[int]:
    if tok is not None:
        from .data import render

        return [len(tok(render(tok, c), add_special_tokens=False)["input_ids"]) for c in conversations]
    from curate.checks.tokenizer import load

    _, counter = load(None)
    # About 4 template tokens per turn on top of the text (role header and end-of-turn).
    return [n + 4 * len(c) for n, c in zip(counter.many(["\n".join(m["content"] for m in c)
                                                         for c in conversations]), conversations)]


def make_plan(export_dir: str, model: str, cfg: TrainConfig) -> dict[str, Any]:
    _, splits = load_export(export_dir)
    if not splits["train"]:
        raise UsageError(f"{export_dir}: the train split is empty")
    hf_config = None
    if model == "tiny":
        _libs()
    elif Path(model).is_dir():
        _libs()
        from transformers import AutoConfig

        hf_config = AutoConfig.from_pretrained(model)
    m, tok, note = _load_tokenizer(model, splits["train"], None, cfg.seed)
    arch = arch_of(model, m.config if m is not None else hf_config)
    return plan(arch, cfg, _lengths(tok, splits["train"]), len(splits["val"]), note)


class _Dataset:
    def __init__(self, enc):
        self.rows = [{"input_ids": i, "labels": lab, "attention_mask": [1] * len(i)}
                     for i, lab in zip(enc.input_ids, enc.labels)]

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


def _collate(pad_id: int):
    import torch

    def collate(rows):
        n = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), n), pad_id, dtype=torch.long)
        labels = torch.full((len(rows), n), -100, dtype=torch.long)
        mask = torch.zeros((len(rows), n), dtype=torch.long)
        for k, r in enumerate(rows):
            L = len(r["input_ids"])
            ids[k, :L] = torch.tensor(r["input_ids"])
            labels[k, :L] = torch.tensor(r["labels"])
            mask[k, :L] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    return collate


def _loss_svg(metrics: list[dict], path: Path) -> None:
    train = [(m["step"], m["loss"]) for m in metrics if "loss" in m]
    evals = [(m["step"], m["eval_loss"]) for m in metrics if "eval_loss" in m]
    pts = train + evals
    if not pts:
        return
    w, h, pad = 640, 320, 40
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts) or 1
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    sx = lambda x: pad + (x - x0) / max(1e-9, x1 - x0) * (w - 2 * pad)  # noqa: E731
    sy = lambda y: h - pad - (y - y0) / max(1e-9, y1 - y0) * (h - 2 * pad)  # noqa: E731
    line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in train)
    dots = "".join(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="#d62728"/>' for x, y in evals)
    path.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        f'font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>'
        f'<polyline points="{line}" fill="none" stroke="#4c78a8" stroke-width="2"/>{dots}'
        f'<text x="{pad}" y="20">loss: train (line), val (red dots); steps {x0}-{x1}; '
        f'{y0:.3f}-{y1:.3f}</text></svg>', encoding="utf-8")


def _overfitting(metrics: list[dict]) -> str | None:
    evals = [m["eval_loss"] for m in metrics if "eval_loss" in m]
    train = [m["loss"] for m in metrics if "loss" in m]
    if len(evals) >= 3 and evals[-1] > evals[-2] > evals[-3] and len(train) >= 2 and train[-1] < train[0]:
        return (f"val loss rose for two evaluations ({evals[-3]:.3f} -> {evals[-1]:.3f}) while train loss fell: "
                "overfitting; the best checkpoint (lowest val loss) was kept")
    return None


def _mix(spec: str, n_train: int, seed: int) -> tuple[list[list[dict]], dict[str, Any]]:
    """FILE:RATIO -> conversations from FILE making up RATIO of the blended training set."""
    import random

    from curate.readers import open_input

    path, sep, ratio_text = spec.rpartition(":")
    try:
        ratio = float(ratio_text)
    except ValueError:
        ratio = -1.0
    if not sep or not path or not 0 < ratio < 1:
        raise UsageError(f"--mix {spec!r}: give FILE:RATIO with a ratio between 0 and 1, e.g. general.jsonl:0.15")
    pool, bad = [], 0
    for row in open_input(path).rows():
        try:
            pool.append(messages_of(row.value))
        except Exception:  # a bad row of the general set is counted, not fatal
            bad += 1
    want = round(ratio / (1 - ratio) * n_train)
    chosen = random.Random(seed).sample(pool, min(want, len(pool)))
    return chosen, {"file": path, "ratio": ratio, "wanted": want, "available": len(pool), "unreadable_rows": bad,
                    "added": len(chosen)}


def _exact_match(model_, tok, conversations: list[list[dict]], n: int) -> dict[str, Any]:
    """Greedy answers to the first n test prompts vs the reference answer, compared whitespace- and
    case-insensitively."""
    import torch

    from .data import render

    hits = 0
    shown: list[dict[str, Any]] = []
    cases = [c for c in conversations if c and c[-1]["role"] == "assistant"][:n]
    model_.eval()
    for conv in cases:
        prompt = render(tok, conv[:-1], add_generation_prompt=True)
        enc = tok(prompt, return_tensors="pt", add_special_tokens=False)
        ref = tok(conv[-1]["content"], add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            out = model_.generate(**enc, max_new_tokens=min(512, len(ref) + 16), do_sample=False,
                                  pad_token_id=tok.pad_token_id)
        answer = tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        hit = " ".join(answer.split()).lower() == " ".join(conv[-1]["content"].split()).lower()
        hits += hit
        if len(shown) < 3:
            # The training manifest is shared like a report: masked before it is cut.
            shown.append({"prompt": redact(conv[-2]["content"])[:200], "answer": redact(answer)[:200], "exact": hit})
    return {"samples": len(cases), "exact_match": round(hits / len(cases), 4) if cases else None, "examples": shown}


def train(export_dir: str, model: str, cfg: TrainConfig, output: str, quiet: bool = False, mix: str | None = None,
          merge: bool = False) -> dict[str, Any]:
    _libs()
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import EarlyStoppingCallback, Trainer, TrainerCallback, TrainingArguments

    import curate

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    manifest, splits = load_export(export_dir)
    if not splits["train"]:
        raise UsageError(f"{export_dir}: the train split is empty")
    cuda = torch.cuda.is_available()
    mixed = None
    if mix:
        extra, mixed = _mix(mix, len(splits["train"]), cfg.seed)
        splits["train"] = splits["train"] + extra
    if merge and cfg.method == "qlora":
        raise UsageError("--merge with qlora would merge into 4-bit weights; merge the adapter into the "
                         "full-precision base instead (load it, PeftModel.from_pretrained, merge_and_unload)")
    if cfg.method == "qlora" and not cuda:
        raise UsageError("QLoRA loads the base model in 4-bit with bitsandbytes, which needs a CUDA GPU; this "
                         "machine has none. Use --method lora here, or run on a GPU machine")
    torch.manual_seed(cfg.seed)
    base, tok, _ = _load_tokenizer(model, splits["train"], out, cfg.seed)
    if base is None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            tok = tok or AutoTokenizer.from_pretrained(model)
            kw: dict[str, Any] = {}
            if cfg.method == "qlora":
                from transformers import BitsAndBytesConfig

                kw["quantization_config"] = BitsAndBytesConfig(
                    load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                    bnb_4bit_compute_dtype=torch.bfloat16)
            base = AutoModelForCausalLM.from_pretrained(model, **kw)
        except OSError as exc:
            raise UsageError(f"cannot load model {model!r}: {exc}. Pass a local model directory, or "
                             "--model tiny for a smoke run") from exc
        if cfg.method == "qlora":
            from peft import prepare_model_for_kbit_training

            base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=cfg.gradient_checkpointing)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    enc = {s: encode(tok, splits[s], cfg.max_length) for s in ("train", "val", "test")}
    if not enc["train"].input_ids:
        raise UsageError("every training example has an empty loss mask (no assistant tokens after the template "
                         "and truncation): nothing would be learned; check the chat template and max_length")
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=cfg.targets, task_type="CAUSAL_LM")
    model_: Any = get_peft_model(base, lora)  # Any: PeftModel forwards attributes to the base dynamically
    bf16 = cfg.bf16 == "true" or (cfg.bf16 == "auto" and cuda and torch.cuda.is_bf16_supported())
    has_val = bool(enc["val"].input_ids)
    metrics: list[dict] = []
    metrics_path = out / "metrics.jsonl"
    metrics_path.write_text("")

    class Log(TrainerCallback):
        """metrics.jsonl, and one quiet progress bar (the Trainer's own prints every log dict)."""

        bar = None

        def on_train_begin(self, args, state, control, **kw):
            if not quiet:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=state.max_steps, desc="training", unit="step")

        def on_step_end(self, args, state, control, **kw):
            if self.bar is not None:
                self.bar.update(1)
                last = next((m for m in reversed(metrics) if "loss" in m), None)
                if last:
                    self.bar.set_postfix(loss=f"{last['loss']:.3f}")

        def on_train_end(self, args, state, control, **kw):
            if self.bar is not None:
                self.bar.close()

        def on_log(self, args, state, control, logs=None, **kw):
            row = {"step": state.global_step, "epoch": round(state.epoch or 0, 4)}
            row.update({k: v for k, v in (logs or {}).items() if k in ("loss", "eval_loss", "learning_rate",
                                                                        "grad_norm")})
            if "loss" in row or "eval_loss" in row:
                metrics.append(row)
                with open(metrics_path, "a") as fh:
                    fh.write(json.dumps(row) + "\n")

    import inspect

    checkpointing = "activation_checkpointing" if "activation_checkpointing" in \
        inspect.signature(TrainingArguments.__init__).parameters else "gradient_checkpointing"
    renamed: dict[str, Any] = {checkpointing: cfg.gradient_checkpointing and cuda}
    args = TrainingArguments(
        output_dir=str(out / "checkpoints"), per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate, num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
        warmup_steps=cfg.warmup_ratio, weight_decay=cfg.weight_decay, lr_scheduler_type="cosine",
        logging_steps=cfg.logging_steps, eval_strategy="epoch" if has_val else "no",
        save_strategy="epoch" if has_val else "no", load_best_model_at_end=has_val,
        metric_for_best_model="eval_loss", greater_is_better=False, save_total_limit=2, bf16=bf16,
        use_cpu=not cuda, report_to=[], seed=cfg.seed, train_sampling_strategy="group_by_length", disable_tqdm=True,
        remove_unused_columns=False, **renamed)
    callbacks: list[TrainerCallback] = [Log()]
    if has_val:
        callbacks.append(EarlyStoppingCallback(cfg.early_stopping_patience))
    trainer = Trainer(model=model_, args=args, train_dataset=_Dataset(enc["train"]),
                      eval_dataset=_Dataset(enc["val"]) if has_val else None, data_collator=_collate(tok.pad_token_id),
                      callbacks=callbacks)
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    started = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - started
    final: dict[str, Any] = {"train_loss": round(result.training_loss, 4), "steps": result.global_step,
                             "seconds": round(seconds, 2),
                             "stopped_early": bool(cfg.max_steps <= 0 and has_val and
                                                   trainer.state.epoch < cfg.epochs - 1e-6)}
    if has_val and trainer.state.best_metric is not None:  # None when training ended before the first eval
        final["best_eval_loss"] = round(trainer.state.best_metric, 4)
    if enc["test"].input_ids:
        trainer.remove_callback(EarlyStoppingCallback)  # it only knows eval_loss, and would warn about test_loss
        test_set: Any = _Dataset(enc["test"])  # a map-style dataset, as Trainer takes it (duck-typed)
        test = trainer.evaluate(test_set, metric_key_prefix="test")
        final["test_loss"] = round(test["test_loss"], 4)
        final["test_perplexity"] = round(math.exp(min(test["test_loss"], 50)), 3)
    if cfg.eval_samples and splits["test"]:
        final["generation"] = _exact_match(model_, tok, splits["test"], cfg.eval_samples)
    model_.save_pretrained(str(out))
    tok.save_pretrained(out)
    if merge:
        merged = model_.merge_and_unload()
        merged.save_pretrained(out / "merged")
        tok.save_pretrained(out / "merged")
    _loss_svg(metrics, out / "loss_curve.svg")
    warning = _overfitting(metrics)
    import peft
    import transformers

    export_manifest = Path(export_dir) / "manifest.json"
    record = {
        "export": str(Path(export_dir).resolve()),
        "export_manifest_sha256": hashlib.sha256(export_manifest.read_bytes()).hexdigest(),
        "export_fingerprint": manifest.get("workspace_fingerprint"), "model": model,
        "base_model_dir": str(out / "base") if model == "tiny" else model, "config": cfg.to_dict(),
        "data": {s: {"examples": len(splits[s]), "trained": len(enc[s].input_ids), "truncated": enc[s].truncated,
                     "empty_mask": enc[s].empty_mask} for s in ("train", "val", "test")},
        "versions": {"curate": curate.__version__, "torch": torch.__version__,
                     "transformers": transformers.__version__, "peft": peft.__version__},
        "device": "cuda" if cuda else "cpu", "bf16": bf16, "metrics": final, "warnings": [warning] if warning else [],
        "mix": mixed, "merged": str(out / "merged") if merge else None,
    }
    (out / "training_manifest.json").write_text(json.dumps(record, indent=2) + "\n")
    if not os.environ.get("CURATE_KEEP_CHECKPOINTS"):
        _drop_checkpoints(out / "checkpoints")
    return record


def _drop_checkpoints(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
