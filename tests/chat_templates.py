"""Real chat templates with tool calling, and small offline tokenizers that behave like the real ones, so
loss masks can be checked under the templates people actually train with.

The templates live in tests/templates/ as byte-exact copies of the `chat_template` the model repositories
ship (no comment was added inside them, so they stay identical to the original). Where each came from:

- llama3.jinja: meta-llama/Llama-3.1-8B-Instruct, tokenizer_config.json `chat_template`. Copied byte for
  byte from trl 1.16.0 (the installed package), trl/chat_templates/llama3_1.jinja, md5
  81de1619b73b2fdd744897ca14b4f0ad. TRL recognises models by exact string comparison against these
  files, and its scripts/check_chat_templates.py (huggingface/trl, commit
  71f34db9152750d38edbe900164f24c6e9f1c200) fails CI when meta-llama/Llama-3.1-8B-Instruct ships a
  template that is not stored there. Third-party adaptations found by search share its text outside the
  parts they change (vllm-project/vllm examples/tool_chat_template_llama3.1_json.jinja is one: not used).
- qwen2_5.jinja: Qwen/Qwen2.5-7B-Instruct, tokenizer_config.json `chat_template` (the whole Qwen2.5
  Instruct family ships the same one). Copied byte for byte from trl 1.16.0
  trl/chat_templates/qwen2_5.jinja, md5 9a1b1065834e140093019c313c23b567; the same TRL drift check
  compares it against Qwen/Qwen2.5-32B-Instruct.
- mistral_v3.jinja: mistralai/Mistral-7B-Instruct-v0.3, tokenizer_config.json `chat_template`, the
  tool-capable revision (alternation check through `ns.index`, `|trim` on answers, tool call ids of exactly
  9 characters). Transcribed from huggingface/optimum-intel optimum/exporters/openvino/utils.py (commit
  008977f829112179c2cd6b35e01eabbf048b3e85), where it is a key of COMPLEX_CHAT_TEMPLATES labelled
  "# Mistral-7B-Instruct-v0.3" and so matched by exact string; checked against a second, independent
  transcription of the same text as lmstudio-community/Mistral-7B-Instruct-v0.3-GGUF embeds it (a
  third-party copy found by searching for its "Tool call IDs should be alphanumeric strings with length 9!"
  message); rendering llama.cpp's test conversation with it gives the output that
  ggml-org/llama.cpp tests/test-chat-template.cpp expects of the same mistralai "v3" template.
  vllm-project/vllm examples/tool_chat_template_mistral_official.jinja is an earlier revision (rejectattr
  alternation check, no `|trim`, a literal "\\n\\n"), not used.
- qwen2_5_training.jinja: trl 1.16.0 trl/chat_templates/qwen2_5_training.jinja, md5
  65877c121e4560620b783001d8602003: TRL's Qwen2.5 template with `{% generation %}` blocks around each
  assistant turn (content or tool calls, through `<|im_end|>\\n`), for transformers'
  return_assistant_tokens_mask. It renders the same text as qwen2_5.jinja, so both mask paths can be
  compared on one rendering.

The tokenizers are byte-level BPE trained on the caller's texts (as train_bridge/tiny.py does), with each
family's special tokens as single special tokens and bos/eos/pad as the real tokenizer sets them. Where
the real tokenizer adds bos itself when encoding with add_special_tokens=True (Llama 3's post-processor,
Mistral's add_bos_token), so does this one; the templates write bos themselves too, so a rendering must be
encoded with add_special_tokens=False (apply_chat_template(tokenize=True) does), as with the real ones.
Known differences from the real tokenizers: the vocabulary and merges (Mistral's real one is a
SentencePiece BPE with a leading "▁", not byte-level), and every special token listed here is registered
as an extra special token (the real Llama 3.1 tokenizer registers only bos and eos; all of its reserved
tokens are special in its vocabulary all the same).
"""

from __future__ import annotations

from pathlib import Path

TEMPLATE_DIR = Path(__file__).parent / "templates"

_QWEN_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

TEMPLATES: dict[str, dict] = {
    "llama3": {
        "file": TEMPLATE_DIR / "llama3.jinja",
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "special_tokens": ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                           "<|eot_id|>", "<|eom_id|>", "<|python_tag|>", "<|finetune_right_pad_id|>"],
        "added_tokens": [],
        "bos": "<|begin_of_text|>",
        "eos": "<|eot_id|>",  # the Instruct tokenizer's eos; the base model's is <|end_of_text|>
        "pad": None,  # Llama 3.1 ships no pad token
        "unk": None,
        "adds_bos": True,  # tokenizer.json's TemplateProcessing post-processor, on add_special_tokens=True
    },
    "qwen2_5": {
        "file": TEMPLATE_DIR / "qwen2_5.jinja",
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "special_tokens": list(_QWEN_SPECIAL),
        "added_tokens": ["<tool_call>", "</tool_call>"],  # single tokens in Qwen2.5, but not special
        "bos": None,  # Qwen2.5's bos_token is null
        "eos": "<|im_end|>",
        "pad": "<|endoftext|>",
        "unk": None,
        "adds_bos": False,
    },
    "mistral_v3": {
        "file": TEMPLATE_DIR / "mistral_v3.jinja",
        "model": "mistralai/Mistral-7B-Instruct-v0.3",
        # in the real vocabulary's order: ids 0-9
        "special_tokens": ["<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]",
                           "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]"],
        "added_tokens": [],
        "bos": "<s>",
        "eos": "</s>",
        "pad": None,  # Mistral 7B v0.3 ships no pad token
        "unk": "<unk>",
        "adds_bos": True,  # add_bos_token: true in its tokenizer_config.json
        "add_bos_token": True,
    },
    "qwen2_5_training": {
        "file": TEMPLATE_DIR / "qwen2_5_training.jinja",
        "model": "Qwen/Qwen2.5-7B-Instruct (TRL's training variant, with {% generation %} blocks)",
        "special_tokens": list(_QWEN_SPECIAL),
        "added_tokens": ["<tool_call>", "</tool_call>"],
        "bos": None,
        "eos": "<|im_end|>",
        "pad": "<|endoftext|>",
        "unk": None,
        "adds_bos": False,
    },
}


def template_text(name: str) -> str:
    return Path(TEMPLATES[name]["file"]).read_text(encoding="utf-8")


def tokenizer_for(name: str, texts: list[str], vocab_size: int = 2000):
    """A PreTrainedTokenizerFast for template `name`: byte-level BPE trained on `texts`, the family's special
    tokens single special tokens, bos/eos/pad as the real tokenizer has them, the real chat template."""
    from tokenizers import AddedToken, processors
    from transformers import PreTrainedTokenizerFast

    from train_bridge.tiny import train_bpe

    spec = TEMPLATES[name]
    special = list(spec["special_tokens"])
    tok = train_bpe(texts, vocab_size, special)
    if spec["added_tokens"]:
        tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in spec["added_tokens"]])
    byte_level = processors.ByteLevel(trim_offsets=False)
    bos = spec["bos"]
    if spec["adds_bos"]:
        bos_id = tok.token_to_id(bos)
        tok.post_processor = processors.Sequence([
            byte_level,
            processors.TemplateProcessing(single=f"{bos}:0 $A:0", pair=f"{bos}:0 $A:0 {bos}:1 $B:1",
                                          special_tokens=[(bos, bos_id)]),
        ])
    else:
        tok.post_processor = byte_level
    named = {"bos_token": bos, "eos_token": spec["eos"], "pad_token": spec["pad"], "unk_token": spec["unk"]}
    extra = [t for t in special if t not in named.values()]
    if spec.get("add_bos_token"):  # transformers then builds the same bos-adding post-processor itself
        named["add_bos_token"] = True
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, extra_special_tokens=extra,
                                   **{k: v for k, v in named.items() if v is not None})
    fast.chat_template = template_text(name)
    return fast


_CONVERT_CURRENCY = {
    "name": "convert_currency",
    "description": "Convert one currency to another",
    "parameters": {
        "type": "object",
        "properties": {
            "amount": {"type": "number", "description": "The amount to be converted"},
            "from_currency": {"type": "string", "description": "The currency to be converted from"},
            "to_currency": {"type": "string", "description": "The currency to be converted to"},
        },
        "required": ["amount", "from_currency", "to_currency"],
    },
}

# Row 24 of glaive_toolcall_en_demo.json (../shared/data/glaive_toolcall_demo; LLaMA-Factory's copy of
# glaiveai/glaive-function-calling-v2), its text unchanged, in OpenAI's form. The system prompt is the one
# glaive-function-calling-v2 opens its conversations with, less the function list it appends (the demo file
# drops it; the tools go in `tools`). The tool call id is
# 9 alphanumeric characters, which the Mistral v3 template requires; the tool result stays a JSON string.
GLAIVE_TOOL_CALL: dict = {
    "messages": [
        {"role": "system",
         "content": "You are a helpful assistant with access to the following functions. Use them if required."},
        {"role": "user", "content": "Hi, I need to convert 500 USD to Euros. Can you help me with that?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call00001", "type": "function",
             "function": {"name": "convert_currency",
                          "arguments": {"amount": 500, "from_currency": "USD", "to_currency": "EUR"}}},
        ]},
        {"role": "tool", "tool_call_id": "call00001",
         "content": '{"converted_amount": 420.50, "from_currency": "USD", "to_currency": "EUR"}'},
        {"role": "assistant", "content": "Sure, 500 USD is approximately 420.50 Euros."},
    ],
    "tools": [{"type": "function", "function": _CONVERT_CURRENCY}],
}
