"""Shared fixtures. Integration tests read ../shared/data and skip, with the reason, when it is absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


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
