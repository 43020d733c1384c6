"""`curate plan`'s memory model: peft's fp32 upcast for QLoRA, the loss's real peak, the stated margin, honest
`fits`, and published figures reproduced from the settings their sources state (README, Training)."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from train_bridge.config import TrainConfig
from train_bridge.plan import CUDA_CONTEXT_GB, CURATE, GPUS, HF_2024, MARGIN, QLORA_PAPER, arch_of, memory, plan

from .conftest import require

GB = 1e9


def cfg(method: str, **kw) -> TrainConfig:
    return TrainConfig.load(None, method=method, **kw)


def test_qlora_counts_peft_upcasting_everything_not_quantised_to_fp32():
    llama3 = arch_of("llama-3-8b")
    mem = memory(llama3, cfg("qlora"), 2048)
    rest = llama3.params - llama3.linear_params  # embeddings, lm_head, norms: 1.05B parameters
    assert mem["upcast_gb"] == pytest.approx(rest * 2 / GB, abs=0.01) == pytest.approx(2.1, abs=0.01)
    without = memory(llama3, cfg("qlora"), 2048, replace(CURATE["qlora"], frozen=2))
    assert mem["weights_gb"] - without["weights_gb"] == pytest.approx(2.1, abs=0.02)
    assert mem["total_gb"] - without["total_gb"] == pytest.approx(2.1 * (1 + MARGIN), abs=0.05)
    assert memory(arch_of("llama-3-70b"), cfg("qlora"), 2048)["upcast_gb"] == pytest.approx(4.2, abs=0.02)
    lora = memory(llama3, cfg("lora"), 2048)  # a bf16 base without the kbit preparation: nothing upcast
    assert lora["upcast_gb"] == 0 and lora["weights_gb"] == pytest.approx(llama3.params * 2 / GB, abs=0.01)


def test_the_counted_upcast_is_what_the_installed_peft_does():
    require("peft", "train")
    from peft import prepare_model_for_kbit_training

    source = inspect.getsource(prepare_model_for_kbit_training)
    assert "param.data.to(torch.float32)" in source and "Params4bit" in source
    assert "torch.float16" in source and "torch.bfloat16" in source


def test_transformers_loss_peaks_at_12_bytes_per_logit_and_an_fp32_head_adds_its_bf16_copy():
    llama3 = arch_of("llama-3-8b")
    logits = 4 * 2048 * llama3.vocab
    plain = replace(CURATE["lora"], logits=12)  # transformers' own loss, as a plain Trainer runs it
    assert memory(llama3, cfg("lora"), 2048, plain)["logits_gb"] == pytest.approx(12 * logits / GB, abs=0.01)
    fp32_head = replace(plain, frozen=4, residual=4)
    head_copy = llama3.vocab * llama3.hidden * 2
    assert memory(llama3, cfg("qlora"), 2048, fp32_head)["logits_gb"] == \
        pytest.approx((12 * logits + head_copy) / GB, abs=0.01)


def test_trl_fused_head_never_builds_the_logits():
    llama3 = arch_of("llama-3-8b")
    fused = memory(llama3, cfg("qlora"), 4096)["logits_gb"]  # 16,384 tokens against a 128K vocabulary
    assert fused < 1.5, "a bf16 tile and a bf16 slice of the head, and per token its hidden state and gradient"
    assert memory(llama3, cfg("qlora"), 4096, HF_2024)["logits_gb"] > 20 * fused


def test_checkpointing_keeps_fp32_layer_inputs_for_qlora_and_bf16_for_lora():
    llama3, tokens = arch_of("llama-3-8b"), 4 * 2048
    for method, residual in (("lora", 2), ("qlora", 4)):
        mem = memory(llama3, cfg(method), 2048)
        every = memory(llama3, cfg(method, gradient_checkpointing=False), 2048)
        layer = (every["activations_gb"] - every["logits_gb"]) / llama3.layers
        inputs = llama3.layers * tokens * llama3.hidden * residual / GB
        # the layer inputs, plus the loss's peak or one layer recomputed in backward, whichever is larger
        assert mem["activations_gb"] == pytest.approx(inputs + max(layer, mem["logits_gb"]), abs=0.02)
        assert every["activations_gb"] > 10 * mem["activations_gb"] / 2


def test_margin_and_cuda_context_are_added_and_the_parts_add_up():
    mem = memory(arch_of("llama-3-8b"), cfg("qlora"), 2048)
    assert mem["margin_gb"] == pytest.approx(MARGIN * mem["tensors_gb"], abs=0.01)
    assert mem["overhead_gb"] == pytest.approx(mem["margin_gb"] + CUDA_CONTEXT_GB, abs=0.01)
    assert mem["total_gb"] == pytest.approx(mem["tensors_gb"] * (1 + MARGIN) + CUDA_CONTEXT_GB, abs=0.01)
    shown = ("weights_gb", "lora_gb", "optimizer_gb", "activations_gb", "overhead_gb")  # what `curate plan` prints
    assert sum(mem[k] for k in shown) == pytest.approx(mem["total_gb"], abs=0.03)


@pytest.mark.parametrize("batch,seq", [(1, 512), (4, 2048)])
def test_70b_qlora_fits_only_where_the_total_says(batch, seq):
    mem = memory(arch_of("llama-3-70b"), cfg("qlora", batch_size=batch), seq)
    assert mem["fits"] == {gpu: mem["total_gb"] <= size for gpu, (size, _) in GPUS.items()}
    assert not mem["fits"]["A100 40GB"], "43.7 GB of weights once peft upcasts 4.2 GB of them"
    assert mem["fits"]["A100 80GB"] == (batch == 1)


# Published figures and the settings their sources state. The plan is run with the source's stack (its dtypes
# and its loss); its tensors must come within 10% of the figure, and its total, margin included, above it.
PUBLISHED = [
    # QLoRA paper (Dettmers et al. 2023): 65B finetuned on one 48 GB GPU; Guanaco 65B as the paper's repository
    # runs it (scripts/finetune_guanaco_65b.sh): batch 4, up to 16 + 512 tokens, r=64 on all linear layers,
    # gradient checkpointing.
    ("llama-1-65b", 528, dict(lora_r=64, batch_size=4), QLORA_PAPER, 48),
    # Unsloth's benchmarks, Hugging Face + FA2 baseline: Llama 3.1 8B, 4-bit QLoRA r=32 on all linear layers,
    # batch 1, sequences padded to the longest that fits a GPU of that size.
    ("llama-3-8b", 932, dict(lora_r=32, batch_size=1), HF_2024, 12),
    ("llama-3-8b", 5789, dict(lora_r=32, batch_size=1), HF_2024, 24),
    ("llama-3-8b", 12264, dict(lora_r=32, batch_size=1), HF_2024, 40),
    ("llama-3-8b", 28454, dict(lora_r=32, batch_size=1), HF_2024, 80),
]


@pytest.mark.parametrize("model,seq,settings,stack,published", PUBLISHED)
def test_published_figures_within_10_percent(model, seq, settings, stack, published):
    config = cfg("qlora", target_modules="all-linear", max_length=seq, **settings)
    mem = memory(arch_of(model), config, seq, stack)
    assert abs(mem["tensors_gb"] / published - 1) <= 0.10
    assert mem["total_gb"] >= published
    own = plan(arch_of(model), config, [seq] * 8, 1, "")["memory"]  # the command's path, with curate's stack
    assert own == memory(arch_of(model), config, seq)


def test_llama_1_65b_preset():
    arch = arch_of("huggyllama/llama-65b")
    assert arch.name == "llama-1-65b" and arch.params / 1e9 == pytest.approx(65.3, abs=0.1)


def _peak_rss_of(step) -> int:
    """Bytes a call holds at its peak, from the kernel's peak-RSS counter. Run in a fresh process with a fixed
    mmap threshold (MALLOC_MMAP_THRESHOLD_), every tensor of 64 KB or more has its own mapping, returned on
    free, so RSS follows the live tensors."""
    status = Path("/proc/self/status")

    def read(key):
        return next(int(line.split()[1]) * 1024 for line in status.read_text().splitlines() if line.startswith(key))

    step()
    base = read("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak to the current RSS
    step()
    return read("VmHWM") - base


def _tiny_llama_step(layers, vocab, hidden, upcast, batch, seq, intermediate):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
                                         num_key_value_heads=4, intermediate_size=intermediate, vocab_size=vocab))
    model = model.to(torch.bfloat16).train()
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    for param in model.parameters():
        param.requires_grad_(False)
        if upcast:  # what prepare_model_for_kbit_training does to each parameter that is not 4-bit
            param.data = param.data.float()
    model.enable_input_require_grads()
    ids = torch.randint(0, vocab, (batch, seq))

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(input_ids=ids, labels=ids)
        loss = out.loss
        del out  # as the Trainer's compute_loss returns only the loss
        loss.backward()

    return step


def measure(kind: str) -> None:
    """Bytes per logit at transformers' loss peak, or per layer-input element that checkpointing keeps, for a
    bf16 model and for one upcast as peft's kbit preparation does."""
    for upcast in (False, True):
        if kind == "logits":
            batch, seq, vocab = 2, 256, 32000
            peak = _peak_rss_of(_tiny_llama_step(1, vocab, 64, upcast, batch, seq, 128))
            print((peak - (vocab * 64 * 2 if upcast else 0)) / (batch * seq * vocab))
        else:  # the layers' difference: what each layer adds
            few, many = (_peak_rss_of(_tiny_llama_step(n, 256, 256, upcast, 4, 256, 64)) for n in (2, 8))
            print((many - few) / 6 / (4 * 256 * 256))


def _measured(kind: str) -> list[float]:
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    require("torch", "train")
    require("transformers", "train")
    run = subprocess.run([sys.executable, "-c", f"from tests.test_plan_memory import measure; measure({kind!r})"],
                         cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
                         env={**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"})
    assert run.returncode == 0, run.stderr
    return [float(x) for x in run.stdout.split()]


def test_measured_transformers_loss_peak_is_12_bytes_per_logit():
    plain, upcast = _measured("logits")  # the upcast one less the bf16 copy of its fp32 head
    assert plain == pytest.approx(12, abs=0.4) and upcast == pytest.approx(12, abs=0.4)


@pytest.mark.slow
def test_measured_layer_inputs_are_bf16_for_lora_and_fp32_once_upcast():
    bf16, fp32 = _measured("layers")
    assert bf16 == pytest.approx(2, abs=0.3) and fp32 == pytest.approx(4, abs=0.3)
