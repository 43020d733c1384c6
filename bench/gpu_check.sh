#!/usr/bin/env bash
# The training bridge's GPU proof, in one script: on a CUDA machine, LoRA and QLoRA on a random 0.8B
# Llama-architecture model (bench/train.py --size 0.5b: 24 layers, hidden 1536), each against the plain
# recipe (HF Trainer + peft, batch 4, pad to longest) on the same data and LoRA: non-padding tokens/s of
# both, peak GPU memory of curate's run against the plan's estimate; then `curate train` itself for two
# epochs with the best checkpoint reloaded from disk and its val loss checked against the run's.
#
#   bash bench/gpu_check.sh [OUT_DIR]        (needs: make test's environment with a CUDA build of torch)
#
# Figures land in OUT_DIR (default gpu-check/) as JSON, and on stdout. About 5 minutes on one H100/H200.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${1:-gpu-check}
PY=${PYTHON:-.venv/bin/python}
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1
"$PY" - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device visible to torch (a CPU build of torch, or no GPU)"
print(f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}, bf16 {torch.cuda.is_bf16_supported()}")
PY
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
for method in lora qlora; do
  echo "== $method: curate vs the plain recipe, 0.8B random Llama =="
  "$PY" bench/train.py --size 0.5b --method "$method" --steps 30 --examples 400 --max-length 1024 \
    --reload --json "$OUT_DIR/$method.json"
done
"$PY" - "$OUT_DIR" <<'PY'
import json, sys
from pathlib import Path
ok = True
for method in ("lora", "qlora"):
    r = json.loads((Path(sys.argv[1]) / f"{method}.json").read_text())
    curate = list(r["results"].values())[1]
    fits = curate["peak_memory_gb"] <= r["plan_total_gb"]
    off = curate["peak_memory_gb"] / r["plan_tensors_gb"] - 1
    print(f"{method}: {r['ratio']:.2f}x plain tokens/s; peak {curate['peak_memory_gb']} GB allocated "
          f"({curate['memory_at_start_gb']} GB at start) vs the plan's "
          f"{r['plan_tensors_gb']} GB of tensors ({off:+.0%}), {r['plan_total_gb']} GB total "
          f"({'within' if fits else 'ABOVE'}); best checkpoint reloaded: {r['reload']['matches']}")
    ok &= fits and r["reload"]["matches"]
sys.exit(0 if ok else 1)
PY
