"""The one record type: every loader yields `Example`, every later step reads it.

An example's id is a hash of its normalised conversation (messages and tool
definitions), never of where it came from, so re-ingesting a file is idempotent
and ids survive re-runs, renames and format conversions.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import orjson

ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call made by an assistant turn; `arguments` is the JSON text as the source gave it."""

    name: str
    arguments: str = "{}"
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "arguments": self.arguments}
        if self.id is not None:
            d["id"] = self.id
        return d


@dataclass(frozen=True, slots=True)
class Message:
    """One turn. `weight` is OpenAI's per-turn training weight (0 or 1) where the source has one."""

    role: str
    content: str
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    weight: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.name is not None:
            d["name"] = self.name
        if self.tool_calls:
            d["tool_calls"] = [c.to_dict() for c in self.tool_calls]
        if self.tool_call_id is not None:
            d["tool_call_id"] = self.tool_call_id
        if self.weight is not None:
            d["weight"] = self.weight
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Message":
        if len(d) == 2:  # role and content only: most turns, and the hot path of every workspace read
            return cls(d["role"], d["content"])
        return cls(
            role=d["role"],
            content=d["content"],
            name=d.get("name"),
            tool_calls=tuple(ToolCall(**c) for c in d.get("tool_calls", ())),
            tool_call_id=d.get("tool_call_id"),
            weight=d.get("weight"),
        )


@dataclass(frozen=True, slots=True)
class Source:
    """Where an example came from: `line` is the 1-based line (text files) or row (tables),
    `index` the 0-based record index in that file, `format` the detected input format."""

    path: str
    line: int
    index: int
    format: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "index": self.index, "format": self.format}

    def location(self) -> dict[str, Any]:
        """Where, in the shape every report uses: {"path", "line", "index"}."""
        return {"path": self.path, "line": self.line, "index": self.index}

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class Issue:
    """A format problem found at ingest: `code` is stable and machine-readable."""

    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class Example:
    """A normalised training conversation (or a production query: one user turn).

    `metadata` holds every source field that is not part of the conversation, verbatim.
    `warnings` are format faults that did not warrant quarantine.
    """

    id: str
    messages: tuple[Message, ...]
    source: Source
    metadata: Mapping[str, Any] = field(default_factory=dict)
    tools: tuple[Any, ...] = ()
    warnings: tuple[Issue, ...] = ()

    @classmethod
    def create(
        cls,
        messages: Iterable[Message],
        source: Source,
        metadata: Mapping[str, Any] | None = None,
        tools: Iterable[Any] = (),
        warnings: Iterable[Issue] = (),
    ) -> "Example":
        msgs = tuple(messages)
        tls = tuple(tools)
        return cls(
            id=content_id(msgs, tls),
            messages=msgs,
            source=source,
            metadata=dict(metadata or {}),
            tools=tls,
            warnings=tuple(warnings),
        )

    def turns(self, role: str) -> list[str]:
        return [m.content for m in self.messages if m.role == role]

    @property
    def prompt(self) -> str:
        """The user turns joined: what dedup and coverage compare prompts by."""
        return "\n\n".join(self.turns("user"))

    @property
    def response(self) -> str:
        return "\n\n".join(self.turns("assistant"))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "messages": [m.to_dict() for m in self.messages],
            "source": self.source.to_dict(),
            "metadata": dict(self.metadata),
        }
        if self.tools:
            d["tools"] = list(self.tools)
        if self.warnings:
            d["warnings"] = [w.to_dict() for w in self.warnings]
        return d


def normalise_text(text: str) -> str:
    """What two contents must agree on to be the same content: NFC, Unix newlines, no outer whitespace.

    >>> normalise_text("  Caf\\u0065\\u0301\\r\\n")
    'Café'
    """
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.strip()


def content_id(messages: tuple[Message, ...], tools: tuple[Any, ...] = ()) -> str:
    """A 20-hex-digit hash of the normalised conversation; metadata and source never count.

    >>> a = content_id((Message("user", "Hi "), Message("assistant", "Hello")))
    >>> b = content_id((Message("user", "Hi"), Message("assistant", "Hello\\r\\n")))
    >>> a == b, len(a)
    (True, 20)
    """
    canon = [
        [
            m.role,
            normalise_text(m.content),
            m.name,
            [[c.name, c.arguments] for c in m.tool_calls],
            m.tool_call_id,
            m.weight,
        ]
        for m in messages
    ]
    payload = orjson.dumps([canon, list(tools)], option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(payload, digest_size=10).hexdigest()
