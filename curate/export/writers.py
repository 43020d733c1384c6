"""Split files in the formats trainers take; every one loads back through curate's own loaders.

- openai: JSONL, one {"messages": [...], "tools"?: [...]} per line (OpenAI / TRL chat format), tool calls
  and tool definitions in OpenAI's nested form (see openai_messages);
- alpaca: a JSON array of {"instruction", "input", "output", "system"?, "history"?} (LLaMA-Factory's
  Alpaca with history): single-user-turn chains only, no tool use;
- sharegpt: a JSON array of {"conversations": [{"from", "value"}], "system"?, "tools"?} with tool calls
  as function_call / observation turns (one call per turn, no call ids);
- parquet: one file per split, columns `messages` (list of structs) and `tools` (JSON text);
- hf: a `datasets.DatasetDict` saved to disk, same columns.
`representable(example, fmt)` says why a format cannot hold an example; export excludes it with that reason.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable, Mapping

import orjson

from ..errors import MissingDependency
from ..record import Example, Message

FORMATS = ("openai", "alpaca", "sharegpt", "parquet", "hf")


def representable(e: Example, fmt: str) -> str | None:
    """None when `fmt` can hold the example exactly, else why not."""
    msgs = list(e.messages)
    if fmt == "alpaca":
        if e.tools or any(m.tool_calls or m.role == "tool" or m.name or m.weight is not None for m in msgs):
            return "Alpaca has no place for tool use, names or weights"
        body = msgs[1:] if msgs and msgs[0].role == "system" else msgs
        roles = [m.role for m in body]
        if not roles or len(roles) % 2 or roles != ["user", "assistant"] * (len(roles) // 2):
            return "Alpaca needs alternating user/assistant turns"
    elif fmt == "sharegpt":
        for m in msgs:
            if m.name or m.weight is not None or m.tool_call_id:
                return "ShareGPT has no place for names, weights or tool call ids"
            if m.tool_calls and (len(m.tool_calls) > 1 or m.content or m.tool_calls[0].id):
                return "ShareGPT holds one tool call per turn, without text or call id"
        if any(m.role == "system" for m in msgs[1:]):
            return "ShareGPT holds one system prompt, first"
    return None


def call_id(example_id: str, n: int) -> str:
    """A stable id for an example's n-th tool call that has none: 9 letters and digits, the form Mistral's
    templates insist on (others take any string).

    >>> call_id("ab12", 0), call_id("ab12", 0) == call_id("ab12", 1)
    ('pz6h53ZUr', False)
    """
    digest = hashlib.blake2b(f"{example_id}:{n}".encode(), digest_size=8).digest()
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    value = int.from_bytes(digest, "big")
    return "".join(alphabet[(value // 62 ** k) % 62] for k in range(9))


def openai_messages(messages: Iterable[Message], example_id: str) -> list[dict]:
    """Messages in OpenAI's chat form: tool calls nested as {id, type: "function", function: {name,
    arguments}}; a call without an id gets a stable one, and the tool turn answering it (the next one
    without a tool_call_id, in order) names it, so templates can pair calls with results."""
    out, pending, n = [], [], 0
    for m in messages:
        d = m.to_dict()
        if m.tool_calls:
            calls = []
            for c in m.tool_calls:
                cid = c.id or call_id(example_id, n)
                n += 1
                calls.append({"id": cid, "type": "function", "function": {"name": c.name, "arguments": c.arguments}})
                if c.id is None:
                    pending.append(cid)
            d["tool_calls"] = calls
        elif m.role == "tool" and m.tool_call_id is None and pending:
            d["tool_call_id"] = pending.pop(0)
        out.append(d)
    return out


def openai_tools(tools) -> list:
    """Tool definitions as OpenAI's {type: "function", function: {...}}; bare function schemas are wrapped."""
    return [{"type": "function", "function": t} if isinstance(t, dict) and "name" in t and "function" not in t
            else t for t in tools]


def _openai(e: Example) -> dict:
    d: dict = {"messages": openai_messages(e.messages, e.id)}
    if e.tools:
        d["tools"] = openai_tools(e.tools)
    return d


def _alpaca(e: Example) -> dict:
    msgs = list(e.messages)
    system = msgs.pop(0).content if msgs and msgs[0].role == "system" else None
    pairs = [(msgs[i].content, msgs[i + 1].content) for i in range(0, len(msgs), 2)]
    d: dict = {"instruction": pairs[-1][0], "input": "", "output": pairs[-1][1]}
    if system is not None:
        d["system"] = system
    if len(pairs) > 1:
        d["history"] = [list(p) for p in pairs[:-1]]
    return d


_SPEAKER = {"user": "human", "assistant": "gpt", "tool": "observation"}


def _sharegpt(e: Example) -> dict:
    msgs = list(e.messages)
    d: dict = {}
    if msgs and msgs[0].role == "system":
        d["system"] = msgs.pop(0).content
    turns = []
    for m in msgs:
        if m.tool_calls:
            call = m.tool_calls[0]
            turns.append({"from": "function_call",
                          "value": orjson.dumps({"name": call.name, "arguments": call.arguments}).decode()})
        else:
            turns.append({"from": _SPEAKER[m.role], "value": m.content})
    d = {"conversations": turns, **d}
    if e.tools:
        d["tools"] = orjson.dumps(list(e.tools)).decode()
    return d


def _columns(examples: list[Example]) -> dict[str, list]:
    def message(m) -> dict:
        return {"role": m.role, "content": m.content, "name": m.name,
                "tool_calls": [{"name": c.name, "arguments": c.arguments, "id": c.id} for c in m.tool_calls],
                "tool_call_id": m.tool_call_id, "weight": m.weight}

    return {"messages": [[message(m) for m in e.messages] for e in examples],
            "tools": [orjson.dumps(list(e.tools)).decode() if e.tools else None for e in examples]}


def _arrow_schema():
    import pyarrow as pa

    call = pa.struct([("name", pa.string()), ("arguments", pa.string()), ("id", pa.string())])
    message = pa.struct([("role", pa.string()), ("content", pa.string()), ("name", pa.string()),
                         ("tool_calls", pa.list_(call)), ("tool_call_id", pa.string()), ("weight", pa.float64())])
    return pa.schema([("messages", pa.list_(message)), ("tools", pa.string())])


def write_split(fmt: str, examples: Iterable[Example], out_dir: Path, split: str) -> list[Path]:
    """Write one split; returns the files written (hf is written once for all splits by `write_hf`). JSONL
    streams; the other formats hold the split's examples in memory while they write it."""
    if fmt == "openai":
        path = out_dir / f"{split}.jsonl"
        with open(path, "wb") as fh:
            for e in examples:
                fh.write(orjson.dumps(_openai(e)) + b"\n")
        return [path]
    if fmt in ("alpaca", "sharegpt"):
        path = out_dir / f"{split}.json"
        convert = _alpaca if fmt == "alpaca" else _sharegpt
        path.write_bytes(orjson.dumps([convert(e) for e in examples], option=orjson.OPT_INDENT_2) + b"\n")
        return [path]
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = out_dir / f"{split}.parquet"
        table = pa.Table.from_pydict(_columns(list(examples)), schema=_arrow_schema())
        pq.write_table(table, path, compression="zstd")
        return [path]
    raise ValueError(fmt)


def _fingerprint(name: str, examples: list[Example]) -> str:
    h = hashlib.blake2b(name.encode(), digest_size=8)
    for e in examples:
        h.update(e.id.encode())
    return h.hexdigest()


def write_hf(splits: Mapping[str, Iterable[Example]], out_dir: Path) -> list[Path]:
    try:
        import datasets
    except ImportError as exc:
        raise MissingDependency("datasets", "hf", "Exporting a Hugging Face DatasetDict") from exc
    import pyarrow as pa

    datasets.disable_progress_bars()
    schema = _arrow_schema()
    held = {name: list(exs) for name, exs in splits.items()}
    # A fingerprint from the content, not a random one, so that the saved files are the same on every run.
    dd = datasets.DatasetDict({name: datasets.Dataset(pa.Table.from_pydict(_columns(exs), schema=schema),
                                                      fingerprint=_fingerprint(name, exs))
                               for name, exs in held.items()})
    dd.save_to_disk(str(out_dir))
    return sorted(p for p in out_dir.rglob("*") if p.is_file())
