"""Training throughput: curate's run vs the plain recipe, same model, data and LoRA config, one run.

    python bench/train.py [--examples 400] [--steps 40]

Data: ../shared/data/alpaca_gpt4_en_demo through `curate ingest` and `curate export` (answers of very
different lengths, as real sets have). Model: the tiny random Llama of `--model tiny` (CPU), with the
same tokenizer, labels and LoRA (r=16, q_proj/v_proj) for both.
- plain recipe (what guides show): HF Trainer + peft, batch 4, random order, padding to the longest in
  each batch, fp32 weights;
- curate: the same Trainer and peft with curate's data path: batches of similar lengths
  (`train_sampling_strategy="group_by_length"`), so far fewer padding tokens are pushed through the model.
Figure: non-padding tokens trained per second; target on CPU with the tiny model: at least 1.5x.
"""

from __future__ import annotations

import argparse
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
from train_bridge.data import encode, load_export  # noqa: E402
from train_bridge.run import _collate, _Dataset  # noqa: E402
from train_bridge.tiny import build  # noqa: E402


def run(enc, tok, model_fn, sampling: str, steps: int, out: Path) -> tuple[float, int, int]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    torch.manual_seed(0)
    model = get_peft_model(model_fn(), LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05,
                                                  target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    args = TrainingArguments(output_dir=str(out), per_device_train_batch_size=4, max_steps=steps, learning_rate=2e-4,
                             report_to=[], use_cpu=True, save_strategy="no", logging_steps=10_000, disable_tqdm=True,
                             train_sampling_strategy=sampling, seed=0, remove_unused_columns=False,
                             dataloader_num_workers=0)
    seen = {"real": 0, "padded": 0}
    collate = _collate(tok.pad_token_id)

    def counting(rows):
        batch = collate(rows)
        seen["real"] += int(batch["attention_mask"].sum())
        seen["padded"] += batch["input_ids"].numel()
        return batch

    trainer = Trainer(model=model, args=args, train_dataset=_Dataset(enc), data_collator=counting)
    trainer.remove_callback(PrinterCallback)
    t = time.perf_counter()
    trainer.train()
    return time.perf_counter() - t, seen["real"], seen["padded"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=400)
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with Workspace(tmp / "ws") as ws:
            ingest(sorted(DATA.glob("*.json*")), "alpaca", workspace=ws)
            export(tmp / "export", "alpaca", ws, split="90/10/0", leakage_check="off", stratify="none")
        _, splits = load_export(tmp / "export")
        convs = splits["train"][:args.examples]
        base, tok = build(convs, tmp / "tiny")
        from transformers import AutoModelForCausalLM

        enc = encode(tok, convs, 1024)
        print(f"{len(enc.input_ids)} examples, lengths {min(enc.lengths)}-{max(enc.lengths)} tokens; "
              f"{args.steps} steps of batch 4 each")

        def model_fn():
            return AutoModelForCausalLM.from_pretrained(tmp / "tiny" / "base", dtype="float32")

        results = {}
        for name, sampling in (("plain recipe (random order)", "random"), ("curate (length-grouped)",
                                                                           "group_by_length")):
            seconds, real, padded = run(enc, tok, model_fn, sampling, args.steps, tmp / name.split()[0])
            results[name] = real / seconds
            print(f"{name:<30} {seconds:6.2f} s  {real:>8,} real tokens of {padded:>8,} computed "
                  f"({real / padded:.0%})  {real / seconds:>9,.0f} non-padding tokens/s")
        a, b = results["curate (length-grouped)"], results["plain recipe (random order)"]
        print(f"\ncurate / plain: {a / b:.2f}x non-padding tokens per second (target >= 1.5x)")


if __name__ == "__main__":
    main()
