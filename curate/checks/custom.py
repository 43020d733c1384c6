"""Checks from outside curate: a user's Python file (`--checks my_checks.py`) or an installed package's
`curate.checks` entry point; each registers its checks on import, like the built-in ones."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from pathlib import Path

from ..errors import UsageError
from .base import REGISTRY

USER_MODULE = "curate_user_checks_"  # module names of user check files: a distributed engine ships them by value


def load_custom(paths: list[str]) -> list[str]:
    """Import user check files and installed `curate.checks` entry points; returns the names they added."""
    before = set(REGISTRY)
    for ep in importlib.metadata.entry_points(group="curate.checks"):
        ep.load()
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise UsageError(f"{{custom}} {p}: no such file", params=("custom",))
        spec = importlib.util.spec_from_file_location(USER_MODULE + path.stem, path)
        if spec is None or spec.loader is None:
            raise UsageError(f"{{custom}} {p}: not a Python module (use a .py file)", params=("custom",))
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # the user's code: report it as one clear line
            raise UsageError(f"{{custom}} {p}: {type(exc).__name__}: {exc}", params=("custom",)) from exc
    return sorted(set(REGISTRY) - before)
