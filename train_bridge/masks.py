"""Which tokens of a rendered conversation the loss sees: the trained assistant turns, each with its
end-of-turn token (so the model learns to stop); everything else -100. Three ways to find a turn, the
first that works per example, recorded as its `method`:

- generation: the template marks answers with `{% generation %}` blocks; transformers reports their
  character spans (as for return_assistant_tokens_mask). Used when there is one block per assistant turn,
  so per-turn weights can be honoured.
- prefix: the rendering of the turns before, with the generation prompt, and the rendering through the
  turn are both prefixes of the full rendering (Llama 3, Qwen2.5, ChatML, Gemma; the usual case).
- search: templates that rewrite earlier turns (Mistral moves the system prompt into the last user turn;
  Qwen3 drops earlier reasoning). The turn's own rendering (what the rendering through it adds to the
  rendering before it) is searched for in the full rendering; failing that, its text, extended over the
  end-of-turn token that follows. A turn found by none of them is counted as `unlocated`, never guessed.

A token is trained when its characters overlap a trained span, so a token that merges the answer's first
character with the header before it is trained too (transformers' own rule for assistant masks).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .data import Conversation

METHODS = ("generation", "prefix", "search")
_GENERATION = re.compile(r"\{%-?\s*generation\s*-?%\}")
_END_OF_TURN = re.compile(r"end|eot|eos|</s>", re.IGNORECASE)


class RenderError(Exception):
    """The template refused the conversation (e.g. roles that do not alternate); the message is the template's."""


def render(tokenizer, conv: Conversation, upto: int | None = None, generation_prompt: bool = False) -> str:
    messages = conv.messages if upto is None else conv.messages[:upto]
    try:
        return tokenizer.apply_chat_template(messages, tools=conv.tools, tokenize=False,
                                             add_generation_prompt=generation_prompt)
    except Exception as exc:  # jinja2's TemplateError, or a template's raise_exception(): any message
        raise RenderError(str(exc) or type(exc).__name__) from None


@dataclass
class Masked:
    text: str
    spans: list[tuple[int, int]]  # character spans of the trained turns, in order
    method: str
    unlocated: int = 0  # trained turns that no method could find
    system_dropped: bool = False  # the template left the system prompt out (Mistral v3 keeps it for the last turn)


def mask(tokenizer, conv: Conversation) -> Masked:
    full = render(tokenizer, conv)
    first = conv.messages[0] if conv.messages else {}
    dropped = first.get("role") == "system" and (first.get("content") or "").strip() not in full
    spans = _generation_spans(tokenizer, conv, full)
    if spans is not None:
        return Masked(full, spans, "generation", 0, dropped)
    out, worst, unlocated, cursor = [], "prefix", 0, 0
    for i, m in enumerate(conv.messages):
        if m["role"] != "assistant":
            continue
        around = _around(tokenizer, conv, i)
        span = _prefix_span(full, around)
        if span is None:
            worst = "search"
            span = _search_span(tokenizer, conv.messages[max(i - 1, 0):i + 1], full, cursor, around)
        if span is None:
            unlocated += conv.trained[i]
            continue
        cursor = span[1]
        if conv.trained[i]:
            out.append(span)
    return Masked(full, out, worst, unlocated, dropped)


def _generation_spans(tokenizer, conv: Conversation, full: str) -> list[tuple[int, int]] | None:
    template = tokenizer.get_chat_template(None, conv.tools)
    if not _GENERATION.search(template):
        return None
    from transformers.utils.chat_template_utils import render_jinja_template

    try:
        # Annotated as returning a str; it returns (renderings, generation indices).
        pair: Any = render_jinja_template(conversations=[conv.messages], tools=list(conv.tools or []) or None,
                                          chat_template=template, return_assistant_tokens_mask=True,
                                          **tokenizer.special_tokens_map)
    except Exception:
        return None
    rendered, indices = pair
    blocks = [(int(s), int(e)) for s, e in indices[0] if e > s]
    turns = [conv.trained[i] for i, m in enumerate(conv.messages) if m["role"] == "assistant"]
    if rendered[0] != full or len(blocks) != len(turns):
        return None  # blocks that cannot be paired with turns: the next method honours per-turn weights
    return [b for b, trained in zip(blocks, turns) if trained]


def _around(tokenizer, conv: Conversation, i: int) -> tuple[str, str] | None:
    """(the rendering before turn i with the generation prompt, the rendering through turn i)."""
    try:
        return (render(tokenizer, conv, i, generation_prompt=True) if i else ""), render(tokenizer, conv, i + 1)
    except RenderError:
        return None  # e.g. a template that refuses a conversation ending in a tool call


def _prefix_span(full: str, around: tuple[str, str] | None) -> tuple[int, int] | None:
    if around is None:
        return None
    before, through = around
    if full.startswith(before) and full.startswith(through) and len(through) > len(before):
        return _trim(full, len(before), len(through))
    return None


def _own_rendering(previous: dict | None, around: tuple[str, str] | None) -> str:
    """What the rendering through a turn adds after the turn before it: the answer with its markup (tool
    call tags, end-of-turn token). Both renderings are compared from the end of the previous turn's text,
    since what comes before it may differ (Mistral writes the system prompt into the last user turn only)."""
    before, through = around or ("", "")
    anchor = ((previous or {}).get("content") or "").strip()
    a, b = (before.rfind(anchor), through.rfind(anchor)) if anchor else (-1, -1)
    if a >= 0 and b >= 0:
        before, through = before[a + len(anchor):], through[b + len(anchor):]
    return through[len(os.path.commonprefix([before, through])):].strip()


def _search_span(tokenizer, turns: list[dict], full: str, cursor: int,
                 around: tuple[str, str] | None) -> tuple[int, int] | None:
    """`turns`: the turn before (when there is one) and the turn to find."""
    own = _own_rendering(turns[0] if len(turns) == 2 else None, around)
    at = full.find(own, cursor) if own else -1
    if at >= 0:
        return at, at + len(own)
    content = turns[-1].get("content") or ""
    at = full.find(content, cursor) if content.strip() else -1
    if at < 0:
        return None
    return at, _through_end_of_turn(tokenizer, full, at + len(content))


def _through_end_of_turn(tokenizer, full: str, end: int) -> int:
    """Past the end-of-turn token right after an answer (only whitespace between), where there is one."""
    rest = full[end:]
    gap = len(rest) - len(rest.lstrip())
    candidates = [tokenizer.eos_token] + [t for t in tokenizer.all_special_tokens if _END_OF_TURN.search(t)]
    for token in sorted({t for t in candidates if t}, key=len, reverse=True):
        if rest.startswith(token, gap):
            return end + gap + len(token)
    return end


def _trim(full: str, start: int, end: int) -> tuple[int, int]:
    """Without the whitespace a template writes after the end-of-turn token (ChatML's newline): it belongs
    to no answer."""
    while end > start and full[end - 1].isspace():
        end -= 1
    return start, end


def labels_for(offsets: list[tuple[int, int]], ids: list[int], spans: list[tuple[int, int]]) -> list[int]:
    labels, k = [], 0
    for tok, (start, end) in zip(ids, offsets):
        while k < len(spans) and start >= spans[k][1]:
            k += 1
        overlaps = k < len(spans) and end > spans[k][0] and end > start
        labels.append(tok if overlaps else -100)
    return labels


@dataclass
class Encoded:
    input_ids: list[list[int]] = field(default_factory=list)
    labels: list[list[int]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)  # the conversation each row came from
    truncated: int = 0
    empty_mask: int = 0
    lengths: list[int] = field(default_factory=list)
    methods: Counter = field(default_factory=Counter)
    unlocated_turns: int = 0
    system_dropped: int = 0
    unrenderable: list[tuple[str, str]] = field(default_factory=list)  # (id, the template's message)

    def summary(self) -> dict:
        return {"examples": len(self.lengths) + len(self.unrenderable), "trained": len(self.input_ids),
                "truncated": self.truncated, "empty_mask": self.empty_mask, "methods": dict(self.methods),
                "unlocated_turns": self.unlocated_turns, "system_prompt_not_rendered": self.system_dropped,
                "unrenderable": len(self.unrenderable)}


def tokenize(tokenizer, masked: Masked) -> tuple[list[int], list[int], list[tuple[int, int]]]:
    enc = tokenizer(masked.text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = [tuple(o) for o in enc["offset_mapping"]]
    return enc["input_ids"], labels_for(offsets, enc["input_ids"], masked.spans), offsets


def encode(tokenizer, conversations: list[Conversation], max_length: int) -> Encoded:
    out = Encoded()
    for conv in conversations:
        try:
            masked = mask(tokenizer, conv)
        except RenderError as exc:
            out.unrenderable.append((conv.id, str(exc)))
            continue
        ids, labels, _ = tokenize(tokenizer, masked)
        out.methods[masked.method] += 1
        out.unlocated_turns += masked.unlocated
        out.system_dropped += masked.system_dropped
        out.lengths.append(len(ids))
        if len(ids) > max_length:
            out.truncated += 1
            ids, labels = ids[:max_length], labels[:max_length]
        if all(x == -100 for x in labels):
            out.empty_mask += 1
            continue
        out.input_ids.append(ids)
        out.labels.append(labels)
        out.ids.append(conv.id)
    return out


def segments(tokenizer, masked: Masked, max_length: int) -> tuple[list[dict], int]:
    """The rendered conversation cut where training starts and stops: [{"text", "trained"}], tokens past
    max_length untrained (as truncation leaves them); and its length in tokens."""
    ids, labels, offsets = tokenize(tokenizer, masked)
    flags = [lab != -100 and k < max_length for k, lab in enumerate(labels)]
    out: list[dict] = []
    for k, (start, _) in enumerate(offsets):
        stop = offsets[k + 1][0] if k + 1 < len(offsets) else len(masked.text)
        if out and out[-1]["trained"] == flags[k]:
            out[-1]["text"] += masked.text[start:stop]
        else:
            out.append({"text": masked.text[start:stop], "trained": flags[k]})
    if offsets and offsets[0][0] > 0:
        out.insert(0, {"text": masked.text[:offsets[0][0]], "trained": False})
    return out, len(ids)
