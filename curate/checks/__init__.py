"""Quality checks: flag what a careful reviewer would reject, with a score per example.

Each check is one module registered by name (see `base.py`); `run` runs the chosen ones over a
collection, each independently (a check that crashes is reported, and the others go on), stores the
findings as a `check` run, combines them into a quality score per example, and can propose rejecting
the lowest-scoring share (`prune_bottom`) as findings a reviewer can overturn. Nothing is deleted.

Custom checks: a Python file passed with `checks=["my_checks.py"]` (`--checks` on the command line), or
a package exposing one under the `curate.checks` entry-point group. See README "Custom checks".
"""

from __future__ import annotations

from . import (  # noqa: F401  (importing registers them)
    empty_answer,
    encoding,
    ingest_warnings,
    json_format,
    language,
    pii,
    placeholders,
    refusal,
    repetition,
    short_answer,
    system_prompt,
    token_length,
    truncation,
)
from .base import REGISTRY, Check, Context, Flag, register
from .custom import load_custom
from .runner import CheckReport, quality_score, run

__all__ = ["run", "CheckReport", "Check", "Flag", "Context", "register", "REGISTRY", "quality_score", "load_custom"]
