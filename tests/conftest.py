"""Shared fixtures. Integration tests read ../shared/data and skip, with the reason, when it is absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _model_cache(tmp_path_factory):
    """Exported models go to a temporary cache, never the user's ~/.cache, during tests."""
    import os

    old = os.environ.get("CURATE_CACHE")
    os.environ["CURATE_CACHE"] = str(tmp_path_factory.mktemp("curate-cache"))
    yield
    if old is None:
        os.environ.pop("CURATE_CACHE", None)
    else:
        os.environ["CURATE_CACHE"] = old


def require(module: str, extra: str):
    """Import an optional dependency, skipping only when its extra is not installed at all.

    pytest.importorskip would also skip when the package is installed but broken (peft that does not
    import against this transformers): that is a failure, and it must show as one.
    """
    import importlib
    import importlib.util

    if importlib.util.find_spec(module) is None:
        pytest.skip(f"the {extra} extra is not installed ({module})")
    return importlib.import_module(module)


@pytest.fixture(autouse=True)
def _console_width():
    """Human output is asserted on by substring, so it is drawn 80 columns wide whatever COLUMNS the shell
    exports (rich reads it once, when curate.render is imported; at 60 the status table cuts 'support')."""
    from curate import render

    widths = render.out.width, render.err.width
    render.out.width = render.err.width = 80
    yield
    render.out.width, render.err.width = widths


@pytest.fixture
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"real data not found at {SHARED} (a fresh checkout has no ../shared)")
    return SHARED


@pytest.fixture
def ws_dir(tmp_path: Path) -> Path:
    return tmp_path / "ws"


def write_jsonl(path: Path, records) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(r if isinstance(r, str) else json.dumps(r))
            fh.write("\n")
    return path


@pytest.fixture(autouse=True)
def _check_registry():
    """Custom checks a test loads stay in that test: the golden test runs every registered check."""
    from curate.checks import REGISTRY

    saved = dict(REGISTRY)
    yield
    REGISTRY.clear()
    REGISTRY.update(saved)
