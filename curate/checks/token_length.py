"""Token length with a real tokenizer, and examples longer than the training context (`--max-length`)."""

from __future__ import annotations

from .base import Check, Flag, register


def render(example) -> str:
    """The conversation as a trainer sees it, roughly: every turn's text with a role marker."""
    return "\n".join(f"<|{m.role}|>\n{m.content}" for m in example.messages)


@register
class TokenLength(Check):
    name = "token_length"
    description = "conversations longer than --max-length tokens (they would be truncated in training)"

    def __init__(self):
        self.batch: list = []
        self.counts: dict[str, int] = {}

    def observe(self, example, ctx):
        """Count conversations in batches of 4,096 (the tokenizer parallelises a batch)."""
        if not ctx.max_length or ctx.tokenizer is None or not hasattr(ctx.tokenizer, "many"):
            return
        self.batch.append(example)
        if len(self.batch) == 4096:
            self._flush(ctx)

    def _flush(self, ctx):
        if self.batch:
            texts = [render(e) for e in self.batch]
            self.counts.update(zip((e.id for e in self.batch), ctx.tokenizer.many(texts)))
            self.batch = []

    def finish(self, ctx):
        self._flush(ctx)
        ctx.stats["token_counts"] = self.counts

    def check(self, example, ctx):
        if not ctx.max_length:
            return
        n = ctx.stats.get("token_counts", {}).get(example.id)
        if n is None:
            n = ctx.count_tokens(render(example))
        if n > ctx.max_length:
            over = n - ctx.max_length
            yield Flag("error", min(1.0, 0.5 + over / ctx.max_length), f"{n:,} tokens, {over:,} over the "
                       f"{ctx.max_length:,}-token limit", {"tokens": n, "max_length": ctx.max_length, "over": over})
