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

    def check(self, example, ctx):
        if not ctx.max_length:
            return
        n = ctx.count_tokens(render(example))
        if n > ctx.max_length:
            over = n - ctx.max_length
            yield Flag("error", min(1.0, 0.5 + over / ctx.max_length), f"{n:,} tokens, {over:,} over the "
                       f"{ctx.max_length:,}-token limit", {"tokens": n, "max_length": ctx.max_length, "over": over})
