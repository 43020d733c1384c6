"""Format faults found at ingest on examples that were accepted with a warning."""

from __future__ import annotations

from ..errors import ROW_WARNINGS
from .base import Check, Flag, register


@register
class IngestWarnings(Check):
    name = "ingest_warnings"
    description = "format faults found at ingest (empty system prompt, all weights 0, unanswered tool call, ...)"

    def check(self, example, ctx):
        for w in example.warnings:
            yield Flag("warning", 0.5, f"{w.code}: {w.message}", {"code": w.code, "hint": ROW_WARNINGS.get(w.code)})
