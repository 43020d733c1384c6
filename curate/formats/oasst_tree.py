"""OpenAssistant message trees: one example per distinct root-to-leaf path, cut back to end on an
assistant turn. Per-turn fields (ids, ranks, review data) are kept in metadata for the turns on the
path; prompter replies that no assistant answered are kept in `unanswered` so no text is lost."""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import RowRejected
from ..record import Message
from .base import Converted, rest
from .turns import role_of

NAME = "oasst_tree"
_ROLES = {"prompter": "user", "assistant": "assistant"}
_TURN_SKIP = frozenset({"text", "role", "replies"})


def matches(record: Mapping[str, Any]) -> bool:
    root = record.get("prompt")
    return isinstance(root, dict) and "replies" in root and "role" in root


def _paths(node: dict, prefix: list[dict]) -> list[list[dict]]:
    path = prefix + [node]
    replies = [r for r in node.get("replies") or [] if isinstance(r, dict)]
    if not replies:
        return [path]
    return [p for r in replies for p in _paths(r, path)]


def convert(record: Mapping[str, Any]) -> list[Converted]:
    root = record["prompt"]
    tree_meta = rest(record, {"prompt"})
    seen: dict[tuple, int] = {}
    out: list[Converted] = []
    for path in _paths(root, []):
        cut = path
        while cut and cut[-1].get("role") != "assistant":
            cut = cut[:-1]
        dropped = path[len(cut):]
        if not cut:
            raise RowRejected("no_assistant_turn", "this tree has no assistant reply")
        key = tuple(id(n) for n in cut)
        if key in seen:
            if dropped:
                out[seen[key]].metadata.setdefault("unanswered", []).append(dropped[0].get("text"))
            continue
        messages = []
        for n in cut:
            role, _ = role_of(n.get("role"), _ROLES)
            if role is None:
                raise RowRejected("unknown_role", f"message {n.get('message_id')} has role {n.get('role')!r}")
            if not isinstance(n.get("text"), str):
                raise RowRejected("non_string_content", f"message {n.get('message_id')} has no text")
            messages.append(Message(role, n["text"]))
        meta = dict(tree_meta, turns=[{k: v for k, v in n.items() if k not in _TURN_SKIP} for n in cut])
        if dropped:
            meta["unanswered"] = [dropped[0].get("text")]
        seen[key] = len(out)
        out.append(Converted(messages, meta))
    return out
