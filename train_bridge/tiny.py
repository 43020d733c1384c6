"""`--model tiny`: a small random Llama-architecture model and a byte-level BPE tokenizer trained on the
export itself, with a ChatML chat template, so the whole training path runs anywhere in seconds.
It learns nothing useful; it proves the pipeline (data, masking, LoRA, saving, evaluation) works."""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
SPECIAL = ["<pad>", "<|im_start|>", "<|im_end|>"]


def tiny_tokenizer(texts: list[str], vocab_size: int = 1000):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                        show_progress=False))
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


def build(conversations: list[list[dict]], out_dir: Path | None = None, seed: int = 0):
    """(model, tokenizer); saved to out_dir/base when given, so the adapter can be reloaded on it."""
    texts = [m["content"] for conv in conversations for m in conv]
    tokenizer = tiny_tokenizer(texts)
    model = tiny_model(len(tokenizer), seed)
    if out_dir is not None:
        base = Path(out_dir) / "base"
        model.save_pretrained(base)
        tokenizer.save_pretrained(base)
    return model, tokenizer
