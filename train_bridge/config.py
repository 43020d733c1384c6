"""The training configuration: one dataclass, every field with its help text, validated up front.

Defaults follow common LoRA practice (QLoRA paper, Hugging Face PEFT and TRL guides): r=16, alpha=32,
dropout 0.05 on q_proj/v_proj, learning rate 2e-4, 3 epochs, batch 4 x gradient accumulation 4, warmup
10%, weight decay 0.01, evaluation on val every epoch with early stopping, best checkpoint kept.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from curate.errors import UsageError

METHODS = ("lora", "qlora")
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
TARGETS = {"auto": [], "q_proj,v_proj": ["q_proj", "v_proj"], "all-linear": ALL_LINEAR}  # auto: by method
# On-demand $/hour per GPU, from public cloud list prices (late 2025); override with `prices` in --config.
PRICES = {"L4 24GB": 0.80, "RTX 4090 24GB": 0.70, "A100 40GB": 1.30, "A100 80GB": 1.80, "H100 80GB": 2.80}


_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "dict": dict}


def _f(default: Any, help: str, **kw) -> Any:
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help}, **kw)
    return field(default=default, metadata={"help": help}, **kw)


def _as_written(name: str, value: Any, want: type) -> Any:
    """What a person writes for a value, as the field's type: an int for a float, a float with no fraction
    for an int, a number YAML 1.1 reads as text (`1e-4`), true/false for bf16. Anything else is left for
    the type check to refuse."""
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if want is float and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    if want is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if name == "bf16" and isinstance(value, bool):
        return "true" if value else "false"
    return value


@dataclass
class TrainConfig:
    method: str = _f("lora", "lora, or qlora (4-bit NF4 base weights, double quantisation, bf16 compute; CUDA only)")
    lora_r: int = _f(16, "LoRA rank")
    lora_alpha: int = _f(32, "LoRA scaling alpha (effective scale alpha / r)")
    lora_dropout: float = _f(0.05, "dropout on the LoRA path")
    target_modules: str = _f("auto", "projections to adapt: q_proj,v_proj, all-linear (every linear layer but "
                                     "the output head, by peft's names), or auto (all-linear for qlora, as the "
                                     "QLoRA paper found necessary; q_proj,v_proj for lora)")
    learning_rate: float = _f(2e-4, "peak learning rate (cosine decay after warmup)")
    epochs: float = _f(3.0, "passes over the training split")
    max_steps: int = _f(-1, "stop after this many optimizer steps (-1: run the epochs)")
    batch_size: int = _f(4, "examples per device batch")
    grad_accum: int = _f(4, "batches per optimizer step (effective batch = batch_size x grad_accum)")
    warmup_ratio: float = _f(0.1, "share of steps spent warming the learning rate up")
    weight_decay: float = _f(0.01, "AdamW weight decay")
    max_length: int = _f(2048, "tokens per example; longer ones are truncated and reported")
    early_stopping_patience: int = _f(2, "evaluations without val-loss improvement before stopping")
    gradient_checkpointing: bool = _f(True, "recompute activations in backward: less memory, ~30% more compute")
    bf16: str = _f("auto", "auto (where the hardware supports it), true or false")
    seed: int = _f(0, "random seed for initialisation and data order")
    eval_samples: int = _f(0, "after training, generate answers for this many test prompts and report exact match")
    logging_steps: int = _f(1, "log the training loss every this many steps")
    prices: dict = _f({}, "GPU name -> $/hour, overriding the built-in price table")

    def _check_types(self) -> list[str]:
        """Each value of the declared type (an int is a float too; a bool is never a number), so that what
        a config file says reaches the trainer and generated scripts as data, never as code."""
        problems = []
        for f in fields(self):
            value, want = getattr(self, f.name), _TYPES[str(f.type)]
            value = _as_written(f.name, value, want)
            setattr(self, f.name, value)
            if isinstance(value, bool) != (want is bool) or not isinstance(value, want):
                problems.append(f"{f.name} must be {want.__name__}, not {type(value).__name__} {value!r:.40}")
        if isinstance(self.prices, dict) and not all(
                isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
                for k, v in self.prices.items()):
            problems.append("prices must map GPU names to $/hour numbers")
        return problems

    def validate(self) -> "TrainConfig":
        problems = self._check_types()
        if problems:
            raise UsageError("training config: " + "; ".join(problems))
        if self.method not in METHODS:
            problems.append(f"method must be one of {', '.join(METHODS)}")
        if self.target_modules not in TARGETS:
            problems.append(f"target_modules must be one of {', '.join(TARGETS)}")
        for name in ("lora_r", "lora_alpha", "batch_size", "grad_accum", "max_length", "logging_steps"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        if not 0 <= self.lora_dropout < 1:
            problems.append("lora_dropout must be in [0, 1)")
        if not 0 < self.learning_rate < 1:
            problems.append("learning_rate must be in (0, 1)")
        if self.epochs <= 0 and self.max_steps <= 0:
            problems.append("give epochs > 0 or max_steps > 0")
        if not 0 <= self.warmup_ratio < 1:
            problems.append("warmup_ratio must be in [0, 1)")
        if self.bf16 not in ("auto", "true", "false"):
            problems.append("bf16 must be auto, true or false")
        if problems:
            raise UsageError("training config: " + "; ".join(problems))
        return self

    @property
    def resolved_targets(self) -> str:
        if self.target_modules == "auto":
            return "all-linear" if self.method == "qlora" else "q_proj,v_proj"
        return self.target_modules

    @property
    def targets(self) -> list[str]:
        """The projections adapted, by Llama's names (what the plan counts and other trainers' configs list)."""
        return TARGETS[self.resolved_targets]

    @property
    def peft_targets(self) -> str | list[str]:
        """What peft is given: its own "all-linear" (it finds every linear layer but the head, whatever the
        architecture calls them), else the named projections."""
        return "all-linear" if self.resolved_targets == "all-linear" else self.targets

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def load(cls, path: str | None, **overrides: Any) -> "TrainConfig":
        """Defaults, then a JSON (or YAML, with PyYAML) file, then command-line overrides; validated."""
        values: dict[str, Any] = {}
        if path:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"{{path}} {path}: cannot read it ({exc})", params=("path",)) from None
            try:
                values = json.loads(text)
            except json.JSONDecodeError:
                try:
                    import yaml

                    values = yaml.safe_load(text)
                except Exception as exc:
                    raise UsageError(f"{{path}} {path}: not JSON (or YAML): {exc}", params=("path",)) from None
            if not isinstance(values, dict):
                raise UsageError(f"{{path}} {path}: expected a mapping of field: value", params=("path",))
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UsageError(f"{{path}} {path}: unknown fields {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                             params=("path",))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values).validate()


def help_table() -> list[tuple[str, Any, str]]:
    from dataclasses import MISSING

    return [(f.name, f.default_factory() if f.default is MISSING else f.default, f.metadata["help"])  # type: ignore
            for f in fields(TrainConfig)]
