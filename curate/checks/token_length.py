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

    def prepare(self, examples, ctx):
        """Count every conversation in batches of 4,096 (the tokenizer parallelises a batch)."""
        if not ctx.max_length or ctx.tokenizer is None or not hasattr(ctx.tokenizer, "many"):
            return
        counts: dict[str, int] = {}
        batch: list = []
        for e in examples:
            batch.append(e)
            if len(batch) == 4096:
                counts.update(zip((b.id for b in batch), ctx.tokenizer.many([render(b) for b in batch])))
                batch = []
        counts.update(zip((b.id for b in batch), ctx.tokenizer.many([render(b) for b in batch])))
        ctx.stats["token_counts"] = counts

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
