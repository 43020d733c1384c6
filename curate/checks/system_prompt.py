"""Inconsistent system prompts within a collection: examples whose system prompt differs from the one
most of the set uses, or is missing where most have one."""

from __future__ import annotations

from collections import Counter

from .base import Check, Flag, register


def system_of(example) -> str | None:
    return next((m.content.strip() for m in example.messages if m.role == "system"), None)


@register
class SystemPrompt(Check):
    name = "system_prompt"
    description = "a system prompt that differs from (or is missing against) the one most of the set uses"
    observes_shares = True  # a majority (measured on a sample of a large collection)

    def __init__(self):
        self.counts: Counter = Counter()

    def observe(self, example, ctx):
        self.counts[system_of(example)] += 1

    def finish(self, ctx):
        counts = self.counts
        total = sum(counts.values())
        common, n = counts.most_common(1)[0] if counts else (None, 0)
        ctx.stats["system_prompt"] = common if total and n / total >= 0.6 else None
        ctx.stats["system_prompt_share"] = n / total if total else 0

    def check(self, example, ctx):
        common = ctx.stats.get("system_prompt")
        if common is None:
            return
        mine = system_of(example)
        if mine != common:
            share = ctx.stats["system_prompt_share"]
            what = "has no system prompt" if mine is None else "has its own system prompt"
            yield Flag("info", 0.5, f"{what}, unlike the {share:.0%} of the set that share one",
                       {"common": common[:200], "this": (mine or "")[:200]})
