"""The shape every quality check shares, and the registry that finds checks by name.

A check is a class with a `name`, a `description` and a `check(example, ctx)` method yielding
`Flag`s; a check that needs the whole collection first (a majority, a common system prompt) also
implements `observe(example, ctx)` and `finish(ctx)` (or `prepare(examples, ctx)`, which gets a pass of
its own). Registering is one decorator: `@register`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable, Iterator

from ..record import Example


@dataclass(frozen=True)
class Flag:
    """What a check found in one example: how bad, how sure (score in [0, 1]), why, and where."""

    severity: str
    score: float
    message: str
    evidence: dict[str, Any] | None = None


@dataclass
class Context:
    """Settings shared by every check in a run."""

    max_length: int | None = None
    tokenizer: Any = None  # text -> token count
    stats: dict[str, Any] = field(default_factory=dict)

    def count_tokens(self, text: str) -> int:
        return self.tokenizer(text) if self.tokenizer else len(text.split())


class Check:
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # True when what `observe` learns is a share or a majority, which an even sample measures as well as
    # the whole: the runner then observes at most FIRST_PASS_SAMPLE examples of a large collection.
    observes_shares: ClassVar[bool] = False

    def prepare(self, examples: Iterable[Example], ctx: Context) -> None:
        """Optional first pass over the whole collection. Prefer `observe` + `finish`: the runner then
        shares one pass among all checks instead of reading the collection once per check."""
        for example in examples:
            self.observe(example, ctx)
        self.finish(ctx)

    def observe(self, example: Example, ctx: Context) -> None:
        """Optional: see one example of the first pass."""

    def finish(self, ctx: Context) -> None:
        """Optional: conclude the first pass (store what was learnt in ctx.stats)."""

    def check(self, example: Example, ctx: Context) -> Iterator[Flag]:
        raise NotImplementedError


REGISTRY: dict[str, type[Check]] = {}


def register(cls: type[Check]) -> type[Check]:
    if not cls.name or not cls.description:
        raise TypeError(f"{cls.__name__} needs a name and a description")
    REGISTRY[cls.name] = cls
    return cls


def span(turn: int, text: str, start: int, end: int) -> dict[str, Any]:
    """Evidence pointing at the offending characters of one turn."""
    return {"turn": turn, "start": start, "end": end, "text": text[start:end][:200]}


def answers(example: Example) -> Iterator[tuple[int, str]]:
    """(turn index, text) of each assistant turn with text."""
    for i, m in enumerate(example.messages):
        if m.role == "assistant" and m.content:
            yield i, m.content


def asked_by(example: Example, turn: int) -> str:
    """The user turn that the message at index `turn` answers (the nearest one before it)."""
    return next((m.content for m in reversed(example.messages[:turn]) if m.role == "user"), "")
