"""An export's splits as whole conversations (tool calls, tool results, tool definitions, per-turn weights),
read back from the files curate wrote. Masking them for the loss is masks.py."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import orjson

from curate.errors import RowRejected, UsageError
from curate.export.writers import openai_messages, openai_tools
from curate.formats import convert_record
from curate.readers import open_input
from curate.record import content_id

SPLITS = ("train", "val", "test")
_FILES = {"openai": "{}.jsonl", "alpaca": "{}.json", "sharegpt": "{}.json", "parquet": "{}.parquet"}


@dataclass
class Conversation:
    """One example as chat templates take it: `messages` in OpenAI's form (tool calls nested, their
    arguments as objects, which is what Llama 3.1, Qwen2.5 and Mistral templates expect), `tools` for the
    template's tool block, and `trained[i]`: whether turn i is in the loss (an assistant turn whose weight
    is not 0)."""

    id: str
    messages: list[dict]
    tools: list[dict] | None = None
    trained: tuple[bool, ...] = ()

    @property
    def has_tool_calls(self) -> bool:
        return any(m.get("tool_calls") for m in self.messages)


def load_export(export_dir: str | Path) -> tuple[dict, dict[str, list[Conversation]]]:
    """(the export's manifest, split -> conversations, ids from the manifest)."""
    root = Path(export_dir)
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise UsageError(f"{root} is not a curate export (no manifest.json); create one with curate export")
    manifest = orjson.loads(manifest_path.read_bytes())
    fmt = manifest.get("format")
    rows: dict[str, list] = defaultdict(list)
    if fmt == "hf":
        for row in open_input(str(root), "hf").rows():
            rows[row.path.rsplit("#", 1)[-1] if "#" in row.path else "train"].append(row)  # DIR#SPLIT
    elif fmt in _FILES:
        for split in SPLITS:
            path = root / _FILES[fmt].format(split)
            if path.is_file() and path.stat().st_size:
                rows[split] = list(open_input(str(path)).rows())
    else:
        raise UsageError(f"{manifest_path}: unknown export format {fmt!r}")
    ids = manifest.get("splits") or {}
    return manifest, {s: _conversations(rows.get(s, []), ids.get(s)) for s in SPLITS}


def _conversations(rows: list, ids: list[str] | None) -> list[Conversation]:
    # The manifest lists each split's ids in file order; an export edited by hand falls back to content ids.
    named = ids if ids is not None and len(ids) == len(rows) else None
    return [_row_conversation(row, named[i] if named else None) for i, row in enumerate(rows)]


def _row_conversation(row, id_: str | None) -> Conversation:
    """One row of an export; a damaged one stops the run with where it is (training on a silently
    shortened split would misreport every figure)."""
    try:
        if row.error is not None:
            raise RowRejected(*row.error)
        return conversation_of(row.value, id_)
    except RowRejected as exc:
        raise UsageError(f"{row.path}:{row.line}: {exc.message}; the export was changed after curate wrote it "
                         "(its sha256 is in manifest.json): export again") from None


def conversation_of(record, id_: str | None = None) -> Conversation:
    """A record in any format curate reads (RowRejected if bad)."""
    _, converted = convert_record(record, "examples")
    example = converted[0]
    id_ = id_ or content_id(tuple(example.messages), tuple(example.tools))
    messages = openai_messages(example.messages, id_)
    for m in messages:
        m.pop("weight", None)
        for call in m.get("tool_calls", ()):
            call["function"]["arguments"] = _arguments(call["function"]["arguments"])
    trained = tuple(m.role == "assistant" and m.weight != 0 for m in example.messages)
    return Conversation(id_, messages, openai_tools(example.tools) or None, trained)


def _arguments(text: str):
    """Arguments as an object where they are a JSON object: templates write them with `tojson`, and a
    string would come out quoted twice. Anything else stays the text it was."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    return value if isinstance(value, dict) else text
