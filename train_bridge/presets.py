"""Architecture presets, so a plan works offline without downloading a model config.

Numbers from each model's published `config.json`. A preset answers to its short name (`llama-2-7b`)
and to its hub ids (base and chat/instruct variants share an architecture).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Arch:
    name: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    tied_embeddings: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each projection a LoRA adapter can target, per layer."""
        h, kv = self.hidden, self.kv_heads * self.head_dim
        return {"q_proj": (h, h), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (h, h),
                "gate_proj": (h, self.intermediate), "up_proj": (h, self.intermediate),
                "down_proj": (self.intermediate, h)}

    @property
    def linear_params(self) -> int:
        return self.layers * sum(i * o for i, o in self.linear_shapes().values())

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)

    @property
    def params(self) -> int:
        norms = (2 * self.layers + 1) * self.hidden
        return self.linear_params + self.embedding_params + norms


_PRESETS = {
    "llama-2-7b": (Arch("llama-2-7b", 4096, 32, 32, 32, 11008, 32000),
                   ["meta-llama/Llama-2-7b-hf", "meta-llama/Llama-2-7b-chat-hf"]),
    "llama-2-13b": (Arch("llama-2-13b", 5120, 40, 40, 40, 13824, 32000),
                    ["meta-llama/Llama-2-13b-hf", "meta-llama/Llama-2-13b-chat-hf"]),
    "llama-2-70b": (Arch("llama-2-70b", 8192, 80, 64, 8, 28672, 32000),
                    ["meta-llama/Llama-2-70b-hf", "meta-llama/Llama-2-70b-chat-hf"]),
    # LLaMA 1 (Touvron et al. 2023), as the QLoRA paper finetuned it; config.json of the Hugging Face conversion.
    "llama-1-65b": (Arch("llama-1-65b", 8192, 80, 64, 64, 22016, 32000), ["huggyllama/llama-65b"]),
    "llama-3-8b": (Arch("llama-3-8b", 4096, 32, 32, 8, 14336, 128256),
                   ["meta-llama/Meta-Llama-3-8B", "meta-llama/Meta-Llama-3-8B-Instruct", "meta-llama/Llama-3.1-8B",
                    "meta-llama/Llama-3.1-8B-Instruct"]),
    "llama-3-70b": (Arch("llama-3-70b", 8192, 80, 64, 8, 28672, 128256),
                    ["meta-llama/Meta-Llama-3-70B", "meta-llama/Meta-Llama-3-70B-Instruct",
                     "meta-llama/Llama-3.1-70B", "meta-llama/Llama-3.1-70B-Instruct"]),
    "mistral-7b": (Arch("mistral-7b", 4096, 32, 32, 8, 14336, 32000),
                   ["mistralai/Mistral-7B-v0.1", "mistralai/Mistral-7B-Instruct-v0.2"]),
    "qwen2.5-0.5b": (Arch("qwen2.5-0.5b", 896, 24, 14, 2, 4864, 151936, True),
                     ["Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-0.5B-Instruct"]),
    "qwen2.5-1.5b": (Arch("qwen2.5-1.5b", 1536, 28, 12, 2, 8960, 151936, True),
                     ["Qwen/Qwen2.5-1.5B", "Qwen/Qwen2.5-1.5B-Instruct"]),
    "qwen2.5-3b": (Arch("qwen2.5-3b", 2048, 36, 16, 2, 11008, 151936, True),
                   ["Qwen/Qwen2.5-3B", "Qwen/Qwen2.5-3B-Instruct"]),
    "qwen2.5-7b": (Arch("qwen2.5-7b", 3584, 28, 28, 4, 18944, 152064),
                   ["Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B-Instruct"]),
}
_BY_NAME = {k: a for k, (a, _) in _PRESETS.items()}
_BY_NAME.update({hub.lower(): a for a, hubs in _PRESETS.values() for hub in hubs})


def preset(name: str) -> Arch | None:
    """>>> preset("meta-llama/Llama-2-7b-hf").name, preset("LLAMA-2-7B").layers
    ('llama-2-7b', 32)
    >>> round(preset("llama-2-7b").params / 1e9, 2), round(preset("mistral-7b").params / 1e9, 2)
    (6.74, 7.24)
    """
    return _BY_NAME.get(name.lower())


def names() -> list[str]:
    return sorted(_PRESETS)
