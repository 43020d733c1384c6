"""An export's splits as conversations, rendered with the chat template, with loss on assistant tokens only.

Masking: for each assistant turn, the rendered text of the conversation up to that turn with the
generation prompt gives where its answer starts, and the rendering including the turn gives where it
ends (its end-of-turn token included, so the model learns to stop). Tokens whose characters start in
such a span keep their label; every other token gets -100. This works for any template whose renderings
of a prefix are prefixes of the full rendering (Llama, Mistral, Qwen/ChatML, Gemma); where a template is
not, the answer's text is located in the rendering instead. A conversation whose mask comes out empty
(e.g. truncated before the first answer) is refused: training on it would silently teach nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from curate.errors import RowRejected, UsageError
from curate.formats import convert_record
from curate.readers import open_input

SPLITS = ("train", "val", "test")
_FILES = {"openai": "{}.jsonl", "alpaca": "{}.json", "sharegpt": "{}.json", "parquet": "{}.parquet"}


def load_export(export_dir: str | Path) -> tuple[dict, dict[str, list[list[dict]]]]:
    """(the export's manifest, split -> conversations as lists of {"role", "content"} dicts)."""
    root = Path(export_dir)
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise UsageError(f"{root} is not a curate export (no manifest.json); create one with curate export")
    manifest = orjson.loads(manifest_path.read_bytes())
    fmt = manifest.get("format")
    out: dict[str, list[list[dict]]] = defaultdict(list)
    if fmt == "hf":
        for row in open_input(str(root), "hf").rows():
            split = row.path.rsplit("#", 1)[-1] if "#" in row.path else "train"  # DIR#SPLIT
            out[split].append(_row_messages(row))
    elif fmt in _FILES:
        for split in SPLITS:
            path = root / _FILES[fmt].format(split)
            if path.is_file() and path.stat().st_size:
                out[split] = [_row_messages(r) for r in open_input(str(path)).rows()]
    else:
        raise UsageError(f"{manifest_path}: unknown export format {fmt!r}")
    return manifest, {s: out.get(s, []) for s in SPLITS}


def _row_messages(row) -> list[dict]:
    """One row of an export; a damaged one stops the run with where it is (training on a silently
    shortened split would misreport every figure)."""
    try:
        if row.error is not None:
            raise RowRejected(*row.error)
        return messages_of(row.value)
    except RowRejected as exc:
        raise UsageError(f"{row.path}:{row.line}: {exc.message}; the export was changed after curate wrote it "
                         "(its sha256 is in manifest.json): export again") from None


def messages_of(record) -> list[dict]:
    """A record in any format curate reads, as a list of {"role", "content"} turns (RowRejected if bad)."""
    _, converted = convert_record(record, "examples")
    return [{"role": m.role, "content": m.content} for m in converted[0].messages]


def render(tokenizer, messages: list[dict], **kw) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, **kw)


def assistant_spans(tokenizer, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of its assistant answers."""
    full = render(tokenizer, messages)
    spans = []
    cursor = 0
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = render(tokenizer, messages[:i], add_generation_prompt=True) if i else ""
        through = render(tokenizer, messages[:i + 1])
        if full.startswith(before) and full.startswith(through) and len(through) > len(before):
            spans.append((len(before), len(through)))
            cursor = len(through)
            continue
        at = full.find(m["content"], cursor)  # a template that is not prefix-stable: find the answer itself
        if at >= 0 and m["content"]:
            spans.append((at, at + len(m["content"])))
            cursor = at + len(m["content"])
    return full, spans


@dataclass
class Encoded:
    input_ids: list[list[int]] = field(default_factory=list)
    labels: list[list[int]] = field(default_factory=list)
    truncated: int = 0
    empty_mask: int = 0
    lengths: list[int] = field(default_factory=list)


def encode(tokenizer, conversations: list[list[dict]], max_length: int) -> Encoded:
    out = Encoded()
    for messages in conversations:
        text, spans = assistant_spans(tokenizer, messages)
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets = enc["input_ids"], enc["offset_mapping"]
        labels = [tok if any(s <= start < e for s, e in spans) else -100 for tok, (start, _) in zip(ids, offsets)]
        out.lengths.append(len(ids))
        if len(ids) > max_length:
            out.truncated += 1
            ids, labels = ids[:max_length], labels[:max_length]
        if all(x == -100 for x in labels):
            out.empty_mask += 1
            continue
        out.input_ids.append(ids)
        out.labels.append(labels)
    return out
