"""Training throughput and memory: curate's run vs the plain recipe, same model, data and LoRA, one run.

    python bench/train.py [--examples 400] [--steps 40] [--size tiny|0.5b] [--method lora|qlora] [--json F]

Data: ../shared/data/alpaca_gpt4_en_demo through `curate ingest` and `curate export` (answers of very
different lengths, as real sets have). Model: a random Llama, `tiny` (2 layers, as `--model tiny`) or
`0.5b` (24 layers, hidden 1536: 0.8B parameters), with a BPE tokenizer trained on the data; both runs get
the same tokenizer, curate's assistant-only labels and LoRA (r=16, q_proj/v_proj; all-linear for qlora).
- plain recipe (what guides show): HF Trainer + peft, batch 4, random order, padding to the longest in
  each batch;
- curate: train_bridge's own TRL SFTTrainer set-up (trainer.py): batches of similar lengths, or
  padding-free batches on a GPU with flash-attn installed.
Figures: non-padding tokens trained per second, and on CUDA the peak memory of curate's run against the
plan's estimate (train_bridge.plan.memory) for the same model, batch and longest sequence.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "alpaca_gpt4_en_demo"

from curate.export import export  # noqa: E402
from curate.ingest import ingest  # noqa: E402
from curate.workspace import Workspace  # noqa: E402
from train_bridge.config import TrainConfig  # noqa: E402
from train_bridge.data import load_export  # noqa: E402
from train_bridge.masks import Encoded, encode  # noqa: E402
from train_bridge.tiny import tiny_tokenizer  # noqa: E402

SIZES = {"tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2),
         "0.5b": dict(hidden_size=1536, intermediate_size=6144, num_hidden_layers=24, num_attention_heads=12,
                      num_key_value_heads=2)}


def make_model(size: str, vocab: int, out: Path) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=vocab, max_position_embeddings=4096, tie_word_embeddings=False,
                                         pad_token_id=0, initializer_range=0.2 if size == "tiny" else 0.02,
                                         **SIZES[size]))
    model.save_pretrained(out)
    return out


def padded_collate(pad_id: int, seen: dict):
    import torch

    def collate(rows):
        n = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), n), pad_id, dtype=torch.long)
        labels = torch.full((len(rows), n), -100, dtype=torch.long)
        mask = torch.zeros((len(rows), n), dtype=torch.long)
        for k, r in enumerate(rows):
            L = len(r["input_ids"])
            ids[k, :L], labels[k, :L], mask[k, :L] = torch.tensor(r["input_ids"]), torch.tensor(r["labels"]), 1
        seen["real"] += int(mask.sum())
        seen["computed"] += ids.numel()
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    return collate


def plain(model_dir: Path, cfg: TrainConfig, enc: Encoded, tok, cuda: bool, dtype: str, out: Path) -> dict:
    from transformers import Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    from train_bridge.trainer import dataset, load_base, with_lora

    model = with_lora(load_base(str(model_dir), cfg, cuda, dtype), cfg)
    seen = {"real": 0, "computed": 0}
    args = TrainingArguments(output_dir=str(out), per_device_train_batch_size=4, max_steps=cfg.max_steps,
                             learning_rate=2e-4, report_to=[], use_cpu=not cuda, save_strategy="no",
                             logging_steps=10_000, disable_tqdm=True, seed=0, remove_unused_columns=False,
                             bf16=dtype == "bf16", fp16=dtype == "fp16", dataloader_num_workers=0)
    trainer = Trainer(model=model, args=args, train_dataset=dataset(enc, labels=True),
                      data_collator=padded_collate(tok.pad_token_id, seen))
    trainer.remove_callback(PrinterCallback)
    return _timed(trainer, seen, cuda)


def curate_run(model_dir: Path, cfg: TrainConfig, enc: Encoded, tok, cuda: bool, dtype: str, out: Path) -> dict:
    from train_bridge.trainer import Log, load_base, sft_trainer, with_lora

    model = with_lora(load_base(str(model_dir), cfg, cuda, dtype), cfg)
    out.mkdir(parents=True, exist_ok=True)
    empty = Encoded()
    trainer = sft_trainer(model, tok, cfg, {"train": enc, "val": empty, "test": empty}, out, cuda, dtype,
                          Log(out / "metrics.jsonl", quiet=True))
    seen = {"real": 0, "computed": 0}
    collate = trainer.data_collator

    def counting(rows):
        batch = collate(rows)
        seen["real"] += sum(len(r["input_ids"]) for r in rows)
        seen["computed"] += batch["input_ids"].numel()
        return batch

    trainer.data_collator = counting
    return _timed(trainer, seen, cuda)


def _timed(trainer, seen: dict, cuda: bool) -> dict:
    import torch

    gc.collect()  # the previous run's model sits in reference cycles (Trainer, callbacks): free it first
    if cuda:
        torch.cuda.empty_cache()
        start = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t
    result = {"seconds": round(seconds, 2), "real_tokens": seen["real"], "computed_tokens": seen["computed"],
              "tokens_per_s": round(seen["real"] / seconds, 1)}
    if cuda:
        result["peak_memory_gb"] = round(torch.cuda.max_memory_allocated() / 1e9, 2)
        result["memory_at_start_gb"] = round(start / 1e9, 2)  # this run's model alone, if nothing leaked
    return result


def reload_check(export_dir: Path, model_dir: Path, method: str, out: Path) -> dict:
    """`curate train` itself (two epochs, val each epoch, best checkpoint kept), then the saved adapter
    reloaded on the base: its val loss must be the best val loss the run reported."""
    from peft import PeftModel

    from train_bridge.run import train
    from train_bridge.trainer import Log, load_base, precision, sft_trainer

    cfg = TrainConfig.load(None, method=method, epochs=2.0, batch_size=4, grad_accum=1, max_length=1024)
    record = train(str(export_dir), str(model_dir), cfg, str(out), quiet=True)
    import torch
    from transformers import AutoTokenizer

    cuda = torch.cuda.is_available()
    dtype = precision(cfg, cuda)
    tok = AutoTokenizer.from_pretrained(out)
    reloaded = PeftModel.from_pretrained(load_base(str(model_dir), cfg, cuda, dtype), out)
    _, splits = load_export(export_dir)
    data = {s: encode(tok, splits[s], cfg.max_length) for s in ("train", "val", "test")}
    again = sft_trainer(reloaded, tok, cfg, data, out / "reload", cuda, dtype, Log(out / "reload.jsonl", True))
    val = again.evaluate()["eval_loss"]
    best = record["metrics"].get("best_eval_loss")
    return {"best_eval_loss": best, "reloaded_eval_loss": round(val, 4), "steps": record["metrics"]["steps"],
            "matches": best is not None and abs(val - best) < 2e-2}


def estimate(model_dir: Path, cfg: TrainConfig, longest: int) -> dict:
    from transformers import AutoConfig

    from train_bridge.plan import arch_of, memory

    return memory(arch_of(str(model_dir), AutoConfig.from_pretrained(model_dir)), cfg, longest)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=400)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--size", choices=sorted(SIZES), default="tiny")
    ap.add_argument("--method", choices=["lora", "qlora"], default="lora")
    ap.add_argument("--max-length", type=int, default=1024)
    ap.add_argument("--json", dest="json_out", help="also write the figures to this file")
    ap.add_argument("--reload", action="store_true", help="also run curate train (2 epochs) and reload its best "
                                                           "checkpoint")
    args = ap.parse_args()
    import torch

    from train_bridge.run import _libs
    from train_bridge.trainer import precision, varlen_attention

    _libs()
    cuda = torch.cuda.is_available()
    cfg = TrainConfig.load(None, method=args.method, max_steps=args.steps, batch_size=4, grad_accum=1,
                           max_length=args.max_length, gradient_checkpointing=cuda)
    dtype = precision(cfg, cuda)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with Workspace(tmp / "ws") as ws:
            ingest(sorted(DATA.glob("*.json*")), "alpaca", workspace=ws)
            export("alpaca", tmp / "export", workspace=ws, split="90/10/0", leakage_check="off", stratify="none")
        _, splits = load_export(tmp / "export")
        convs = splits["train"][:args.examples]
        tok = tiny_tokenizer([m.get("content") or "" for c in convs for m in c.messages],
                             1000 if args.size == "tiny" else 8000)
        model_dir = make_model(args.size, len(tok), tmp / "model")
        tok.save_pretrained(model_dir)  # with its chat template: the model directory curate train is given
        enc = encode(tok, convs, args.max_length)
        print(f"{len(enc.input_ids)} examples, lengths {min(enc.lengths)}-{max(enc.lengths)} tokens; {args.steps} "
              f"steps of batch 4; {args.size} model, {args.method}, {'cuda' if cuda else 'cpu'} {dtype}")
        if cuda:  # CUDA's first steps (cuBLAS handles, kernel choice) would slow whichever run came first
            plain(model_dir, dataclasses.replace(cfg, max_steps=3), enc, tok, cuda, dtype, tmp / "warm-up")
        results = {"plain recipe (HF Trainer + peft, random order, pad to longest)":
                   plain(model_dir, cfg, enc, tok, cuda, dtype, tmp / "plain"),
                   "curate (TRL SFTTrainer, curate's masks, " + ("padding-free)" if varlen_attention(cuda) else "length-grouped)"):
                   curate_run(model_dir, cfg, enc, tok, cuda, dtype, tmp / "curate")}
        for name, r in results.items():
            mem = (f"  peak {r['peak_memory_gb']:.2f} GB ({r['memory_at_start_gb']:.2f} at start)"
                   if "peak_memory_gb" in r else "")
            print(f"{name:<66} {r['seconds']:7.2f} s  {r['real_tokens']:>9,} real of {r['computed_tokens']:>9,} "
                  f"computed  {r['tokens_per_s']:>10,.0f} tokens/s{mem}")
        peer, ours = results.values()
        summary: dict = {"results": results, "ratio": round(ours["tokens_per_s"] / peer["tokens_per_s"], 2)}
        print(f"\ncurate / plain: {summary['ratio']:.2f}x non-padding tokens per second")
        if cuda:
            plan = estimate(model_dir, cfg, max(len(r) for r in enc.input_ids))
            summary["plan_tensors_gb"], summary["plan_total_gb"] = plan["tensors_gb"], plan["total_gb"]
            print(f"plan: {plan['tensors_gb']:.2f} GB of tensors ({plan['total_gb']:.2f} GB with the margin and CUDA "
                  f"context) vs {ours['peak_memory_gb']:.2f} GB measured (peak allocated by tensors)")
        if args.reload:
            (tmp / "small").mkdir()
            rows = tmp / "small" / "rows.jsonl"  # a short set with a val split, so there is a best checkpoint
            rows.write_text("".join(json.dumps({"messages": c.messages}) + "\n" for c in convs[:200]))
            with Workspace(tmp / "ws") as ws:
                ingest([rows], "small", workspace=ws)
                export("small", tmp / "small" / "export", workspace=ws, split="80/10/10", leakage_check="off", stratify="none")
            summary["reload"] = reload_check(tmp / "small" / "export", model_dir, args.method, tmp / "adapter")
            print(f"best checkpoint: val loss {summary['reload']['best_eval_loss']} in the run, "
                  f"{summary['reload']['reloaded_eval_loss']} reloaded from disk")
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
