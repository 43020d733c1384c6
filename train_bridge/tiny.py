"""`--model tiny`: a small random Llama-architecture model and a byte-level BPE tokenizer trained on the
export itself, with a ChatML chat template, so the whole training path runs anywhere in seconds.
It learns nothing useful; it proves the pipeline (data, masking, LoRA, saving, evaluation) works."""

from __future__ import annotations

from pathlib import Path

# ChatML, with tools, tool calls and tool results written as Qwen2.5 writes them (<tools>, <tool_call>,
# <tool_response>), so the smoke run trains on tool use as a real template would render it.
CHAT_TEMPLATE = (
    "{% if tools %}<|im_start|>system\n{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}\n\n"
    "{% endif %}# Tools\n<tools>{% for t in tools %}\n{{ t | tojson }}{% endfor %}\n</tools><|im_end|>\n{% endif %}"
    "{% for m in messages %}{% if m['role'] == 'system' and loop.first and tools %}"
    "{% elif m['role'] == 'tool' %}<|im_start|>tool\n<tool_response>\n{{ m['content'] }}\n</tool_response><|im_end|>\n"
    "{% else %}<|im_start|>{{ m['role'] }}\n{{ m['content'] or '' }}"
    "{% if m['tool_calls'] is defined %}{% for c in m['tool_calls'] %}<tool_call>\n{\"name\": \""
    "{{ c['function']['name'] }}\", \"arguments\": {{ c['function']['arguments'] | tojson }}}\n</tool_call>"
    "{% endfor %}{% endif %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
SPECIAL = ["<pad>", "<|im_start|>", "<|im_end|>"]


def train_bpe(texts: list[str], vocab_size: int, special: list[str]):
    """A byte-level BPE (tokenizers.Tokenizer) trained on `texts`, each of `special` one token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                        show_progress=False))
    return tok


def tiny_tokenizer(texts: list[str], vocab_size: int = 1000):
    from transformers import PreTrainedTokenizerFast

    tok = train_bpe(texts, vocab_size, SPECIAL)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<|im_end|>",
                                   bos_token="<|im_start|>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_model(vocab_size: int, seed: int = 0, hidden: int = 64, layers: int = 2):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=hidden * 2,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=4096, tie_word_embeddings=False, pad_token_id=0,
                         # The LM head stays frozen under LoRA: at the usual 0.02 its logits after the final
                         # norm cannot exceed ~1.3, so no answer could be learned with confidence.
                         initializer_range=0.2)
    return LlamaForCausalLM(config)


def build(conversations, out_dir: Path | None = None, seed: int = 0):
    """(model, tokenizer) for a list of Conversation; saved to out_dir/base when given, so the adapter can
    be reloaded on it."""
    import json

    texts = [m.get("content") or "" for conv in conversations for m in conv.messages]
    texts += [json.dumps([m.get("tool_calls") for m in c.messages], default=str) for c in conversations
              if c.has_tool_calls]
    tokenizer = tiny_tokenizer(texts)
    model = tiny_model(len(tokenizer), seed)
    if out_dir is not None:
        base = Path(out_dir) / "base"
        model.save_pretrained(base)
        tokenizer.save_pretrained(base)
    return model, tokenizer
