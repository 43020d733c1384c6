"""SVG snapshots of the review app's main screens (pytest-textual-snapshot). Regenerate after an
intended change with: pytest tests/test_review_snapshots.py --snapshot-update"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import require

require("pytest_textual_snapshot", "dev")

from curate.checks import run as run_checks  # noqa: E402
from curate.dedup import run as dedup  # noqa: E402
from curate.ingest import ingest  # noqa: E402
from curate.workspace import Workspace  # noqa: E402
from tui.app import ReviewApp  # noqa: E402
from tui.data import ReviewData  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FILES = ["sample_data/support_chat.jsonl", "sample_data/support_faq.json", "sample_data/tool_calls_sharegpt.json",
         "sample_data/escalations.csv"]


@pytest.fixture(scope="module")
def snap_ws(tmp_path_factory):
    """The files beside the workspace, so that their names (relative to its folder) are the same in any
    checkout."""
    import os
    import shutil

    d = tmp_path_factory.mktemp("snap")
    (d / "sample_data").mkdir()
    for name in FILES:
        shutil.copy(ROOT / name, d / name)
    cwd = os.getcwd()
    os.chdir(d)
    try:
        with Workspace(d / "ws") as ws:
            ingest(FILES, "support", workspace=ws)
            dedup("support", workspace=ws, methods=("exact", "near"))
            run_checks("support", workspace=ws)
    finally:
        os.chdir(cwd)
    return d / "ws"


@pytest.fixture(autouse=True)
def _default_look(monkeypatch):
    """The screens as drawn with colour and the default dark theme, whatever the terminal asks for:
    NO_COLOR (read when an app starts) and TEXTUAL_THEME (read when textual is imported) change every cell."""
    monkeypatch.delenv("NO_COLOR", raising=False)


def _app(ws_dir, **kw):
    app = ReviewApp(ReviewData(Workspace(ws_dir), "support", "snap", **kw))
    app.theme = "textual-dark"
    return app


def test_main_screen(snap_compare, snap_ws):
    assert snap_compare(_app(snap_ws), terminal_size=(160, 45))


def test_main_screen_at_80x24(snap_compare, snap_ws):
    assert snap_compare(_app(snap_ws), terminal_size=(80, 24))


def test_help_at_80x24(snap_compare, snap_ws):
    assert snap_compare(_app(snap_ws), terminal_size=(80, 24), press=["question_mark"])


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
def test_every_key_and_the_whole_header_are_on_screen(snap_ws, size):
    """Textual's Footer cut the filter, group, help and quit keys at 80 columns, and the header its counts."""
    import asyncio
    import html
    import re

    app = _app(snap_ws)

    async def shot() -> str:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            return app.export_screenshot()

    svg = asyncio.run(shot())
    rows: dict[float, list[tuple[float, str]]] = {}
    for m in re.finditer(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>', svg):
        rows.setdefault(float(m[2]), []).append((float(m[1]), html.unescape(m[3]).replace("\xa0", " ")))
    screen = " ".join("".join(t for _, t in sorted(cells)) for _, cells in sorted(rows.items()))
    screen = " ".join(screen.split())
    for key in ("a accept", "x reject", "/ search", "n/N next/prev", "f filter", "g/G group", "? help", "q quit"):
        assert key in screen, key
    assert "rejected 0" in screen


def test_after_accept_and_reject_with_reason(snap_compare, snap_ws, tmp_path):
    import shutil

    shutil.copytree(snap_ws, tmp_path / "ws")
    assert snap_compare(_app(tmp_path / "ws"), terminal_size=(150, 45), press=["a", "X"])


def test_duplicate_group_view(snap_compare, snap_ws):
    data = ReviewData(Workspace(snap_ws), "support", "snap")
    no = max(data.groups, key=lambda n: len(data.groups[n][1]))
    assert snap_compare(_app(snap_ws, filter_expr=f"group:{no}"), terminal_size=(150, 45), press=["j"])


def test_help(snap_compare, snap_ws):
    assert snap_compare(_app(snap_ws), terminal_size=(150, 45), press=["question_mark"])
