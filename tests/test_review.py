"""The review app: every key through Textual's pilot, asserting on the decisions in the workspace;
durability under SIGKILL and two reviewers at once, each in its own process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from .conftest import require

require("textual", "tui")

from textual.widgets import TextArea  # noqa: E402

from curate.checks import run as run_checks  # noqa: E402
from curate.cli import main  # noqa: E402
from curate.dedup import run as dedup  # noqa: E402
from curate.ingest import ingest  # noqa: E402
from curate.workspace import Workspace  # noqa: E402
from tui.app import EditScreen, HelpScreen, ReasonScreen, ReviewApp  # noqa: E402
from tui.data import COMMON_REASONS, ReviewData  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_FILES = [ROOT / "sample_data" / n for n in ("support_chat.jsonl", "support_faq.json",
                                                    "tool_calls_sharegpt.json", "escalations.csv")]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """sample_data ingested, deduplicated and checked, as the demo does; tests copy it."""
    d = tmp_path_factory.mktemp("prepared")
    with Workspace(d / "ws") as ws:
        ingest(SAMPLE_FILES, "support", workspace=ws)
        dedup("support", workspace=ws, methods=("exact", "near"))
        run_checks("support", workspace=ws)
    return d / "ws"


@pytest.fixture()
def ws(prepared, tmp_path):
    import shutil

    shutil.copytree(prepared, tmp_path / "ws")
    w = Workspace(tmp_path / "ws")
    yield w
    w.close()


def in_force(ws, reviewer="ann"):
    return {d.example_id: d for d in ws.decisions_in_force("support") if d.reviewer == reviewer}


def drive(ws, keys_and_checks, reviewer="ann", **kw):
    """Run the app headless and apply [(keys, callback(app) or None)] in order."""
    data = ReviewData(ws, "support", reviewer, **kw)
    app = ReviewApp(data)

    async def go():
        async with app.run_test(size=(140, 45)) as pilot:
            for keys, check in keys_and_checks:
                if keys:
                    await pilot.press(*keys)
                    await pilot.pause()
                if check:
                    r = check(app)
                    if asyncio.iscoroutine(r):
                        await r

    asyncio.run(go())
    return app


def test_accept_reject_skip_and_move(ws):
    seen = {}

    def first(app):
        seen["ids"] = list(app.data.ids)
        assert app.index == 0

    drive(ws, [(None, first), (["a"], None), (["x"], None), (["space"], None), (["j", "down", "down", "up"], None),
               (["k"], lambda app: seen.setdefault("index", app.index))])
    ids = seen["ids"]
    decided = in_force(ws)
    assert decided[ids[0]].verdict == "accept" and decided[ids[1]].verdict == "reject"
    assert ids[2] not in decided, "space skips without a decision"
    assert seen["index"] == 4  # 0 -a-> 1 -x-> 2 -space-> 3 -j,down-> 5 -k-> 4


def test_flagged_order_puts_the_worst_first(ws):
    app = drive(ws, [])
    top = app.data.top_flag(app.data.ids[0])
    assert top is not None and top[0] == "error"


def test_reject_with_reason_picked_and_typed(ws):
    def reason_open(app):
        assert isinstance(app.screen, ReasonScreen)

    app = drive(ws, [(["X"], reason_open), (["enter"], None),
                     (["X", "tab"], None), (list("too vague"), None), (["enter"], None)])
    ids = app.data.ids
    decided = in_force(ws)
    assert decided[ids[0]].verdict == "reject" and decided[ids[0]].reason == COMMON_REASONS[0]
    assert decided[ids[1]].reason == "too vague"


def test_edit_stores_a_revision_and_keeps_the_original(ws):
    def type_answer(app):
        assert isinstance(app.screen, EditScreen)
        app.screen.query_one(TextArea).text = "A better answer, edited by a reviewer."

    app = drive(ws, [(["e"], type_answer), (["ctrl+s"], None)])
    eid = app.data.ids[0]
    d = in_force(ws)[eid]
    assert d.verdict == "accept" and d.revision[-1]["content"] == "A better answer, edited by a reviewer."
    assert ws.get_example("support", eid).messages[-1].content != d.revision[-1]["content"], "original kept"


def test_a_saved_edit_is_shown_with_a_marker_and_o_shows_the_original(ws):
    from rich.console import Console

    def screen_text(app) -> str:
        console = Console(record=True, width=140, color_system=None)
        console.print(app._detail(app.data.shown(app.current)))
        return console.export_text()

    def edit(app):
        app.screen.query_one(TextArea).text = "A better answer, edited by a reviewer."

    def revision_shown(app):
        text = screen_text(app)
        assert "edited by ann" in text and "A better answer, edited by a reviewer." in text

    def original_shown(app):
        text = screen_text(app)
        assert "the original" in text and "A better answer" not in text

    drive(ws, [(["e"], edit), (["ctrl+s", "k"], revision_shown), (["o"], original_shown), (["o"], revision_shown)])


def test_escape_asks_before_it_discards_an_edit(ws):
    def type_answer(app):
        app.screen.query_one(TextArea).text = "Half-written new answer"

    def still_editing(app):
        assert isinstance(app.screen, EditScreen) and app.screen.warned

    def closed(app):
        assert not isinstance(app.screen, EditScreen)

    drive(ws, [(["e"], type_answer), (["escape"], still_editing), (["escape"], closed),
               (["e"], None), (["escape"], closed)])  # unchanged: one esc leaves
    assert in_force(ws) == {}


def test_undo_retracts_and_restores(ws):
    app = drive(ws, [(["a", "x", "u"], None)])
    ids = app.data.ids
    decided = in_force(ws)
    assert ids[0] in decided and ids[1] not in decided
    assert app.index == 1, "undo goes back to the example"
    rows = ws.conn.execute("SELECT verdict FROM decisions ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["accept", "reject", "retract"], "the log is append-only"


def test_search_and_filter(ws):
    target = next(e for e in ws.iter_examples("support") if "refund" in e.prompt.lower())

    def found(app):
        assert "refund" in "\\n".join(m.content for m in app.data.example(app.current).messages).lower()

    matches = [i for i, eid in enumerate(ReviewData(ws, "support", "ann").ids)
               if "refund" in "\n".join(m.content for m in ws.get_example("support", eid).messages).lower()]
    assert target and len(matches) >= 3
    seen = []

    def at(app):
        found(app)
        seen.append(app.index)

    drive(ws, [(["slash"], None), (list("refund"), None), (["enter"], at), (["n"], at), (["n"], at), (["N"], at),
               (["slash", "enter"], at)])
    assert seen[:3] == [m for m in matches if m > 0][:3]  # each n goes to the next match, in list order
    assert seen[3] == seen[1] and seen[4] == seen[2]  # N goes back one; enter on an empty search repeats it

    def only_accepted(app):
        assert len(app.data.ids) == 2 and all(app.data.verdict[i] == "accept" for i in app.data.ids)

    drive(ws, [(["a", "a", "x"], None), (["f"], None), (list("status:accepted"), None), (["enter"], only_accepted)])


def test_group_key_applies_the_decision_just_made_and_keeps_the_representative(ws):
    """x then g (no k: g acts on the example just decided, though the cursor moved on): every other member
    is rejected but the representative, so the group keeps a survivor; G rejects it too."""
    data = ReviewData(ws, "support", "ann")
    no, (rep, members, _) = max(data.groups.items(), key=lambda kv: len(kv[1][1]))
    assert len(members) >= 2
    order = ReviewData(ws, "support", "ann", filter_expr=f"group:{no}").ids
    first = order[0] if order[0] != rep else order[1]
    skip = ["space"] if order[0] == rep else []

    def representative_kept(app):
        decided = in_force(ws)
        assert decided[first].verdict == "reject" and rep not in decided
        assert all(decided[m].verdict == "reject" for m in members if m != rep)

    drive(ws, [(skip + ["x", "g"], representative_kept), (["G"], None)], filter_expr=f"group:{no}")
    assert in_force(ws)[rep].verdict == "reject"


def test_a_verdict_is_suggested_to_the_undecided_duplicates_of_its_example(ws):
    from rich.console import Console

    data = ReviewData(ws, "support", "ann")
    no, (rep, members, _) = max(data.groups.items(), key=lambda kv: len(kv[1][1]))
    order = ReviewData(ws, "support", "ann", filter_expr=f"group:{no}").ids

    def suggested(app):
        assert app.current == order[1]
        console = Console(record=True, width=400, color_system=None)  # wide: a long checkout path must not push the suggestion past the edge
        console.print(app._detail(app.data.shown(app.current)))
        assert f"suggested: reject (ann rejected its duplicate {order[0][:12]})" in console.export_text()

    drive(ws, [(["x"], suggested)], filter_expr=f"group:{no}")
    assert order[1] not in in_force(ws)  # a suggestion, never a decision


def test_group_key_after_rejecting_the_representative_rejects_nothing_more(ws):
    data = ReviewData(ws, "support", "ann")
    no, (rep, members, _) = max(data.groups.items(), key=lambda kv: len(kv[1][1]))
    order = ReviewData(ws, "support", "ann", filter_expr=f"group:{no}").ids
    moves = ["j"] * order.index(rep)
    app = drive(ws, [(moves + ["x", "g"], None)], filter_expr=f"group:{no}")
    assert set(in_force(ws)) == {rep} and "G does that" in app.message


def test_a_search_scrolls_its_match_into_view(ws):
    """The searched text is in a late turn of a long example: the pane scrolls down to it."""
    last_turn_only = next(
        e for e in ws.iter_examples("support") if len(e.messages) >= 5 and
        (words := [w for w in e.messages[-1].content.split() if len(w) > 7 and
                   not any(w in m.content for m in e.messages[:-1])]))
    word = words[0]
    app = ReviewApp(ReviewData(ws, "support", "ann"))

    async def go():
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("slash", *word, "enter")
            await pilot.pause()
            await pilot.pause()
            assert app.current == last_turn_only.id or word.lower() in "\n".join(
                m.content for m in app.data.example(app.current).messages).lower()
            assert app.query_one("#detail").scroll_y > 0

    asyncio.run(go())


def test_page_keys_scroll_the_example_under_review(ws):
    app = ReviewApp(ReviewData(ws, "support", "ann"))

    async def go():
        async with app.run_test(size=(80, 24)) as pilot:
            detail = app.query_one("#detail")
            while detail.max_scroll_y == 0:  # an example longer than the pane
                await pilot.press("j")
                await pilot.pause()
            await pilot.press("pagedown")
            await pilot.pause()
            assert detail.scroll_y > 0
            await pilot.press("pageup")
            await pilot.pause()
            assert detail.scroll_y == 0

    asyncio.run(go())


def test_help_scrolls_to_its_last_keys_in_a_small_terminal(ws):
    data = ReviewData(ws, "support", "ann")
    app = ReviewApp(data)

    async def go():
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("question_mark")
            await pilot.pause()
            dialog = app.screen.query_one("#dialog")
            assert dialog.max_scroll_y > 0
            await pilot.press("end")
            await pilot.pause()
            assert dialog.scroll_y == dialog.max_scroll_y

    asyncio.run(go())


def test_help_and_quit(ws):
    def help_open(app):
        assert isinstance(app.screen, HelpScreen)

    def closed(app):
        assert not isinstance(app.screen, HelpScreen)

    app = drive(ws, [(["question_mark"], help_open), (["escape"], closed), (["q"], None)])
    assert app.return_code == 0 or app.return_code is None


def test_reopening_resumes_at_the_first_undecided(ws):
    app = drive(ws, [(["a", "a", "a"], None)])
    again = ReviewData(ws, "support", "ann")
    assert again.first_unreviewed() == 3 and app.data.ids[:3] == again.ids[:3]
    assert ReviewData(ws, "support", "bob").first_unreviewed() == 0, "decisions are per reviewer"


_SCRIPTED = """
import asyncio, sys
from curate.workspace import Workspace
from tui.app import ReviewApp
from tui.data import ReviewData

ws = Workspace(sys.argv[1])
data = ReviewData(ws, "support", sys.argv[2], order="source")
app = ReviewApp(data)
async def go():
    async with app.run_test(size=(120, 40)) as pilot:
        for i in range(int(sys.argv[3])):
            await pilot.press("a" if i % 3 else "x")
            print("ack", data.undo_stack[-1][1], flush=True)
        await asyncio.sleep(60)
asyncio.run(go())
"""


def test_killed_app_loses_no_acknowledged_decision(ws, tmp_path):
    ws.close()
    proc = subprocess.Popen([sys.executable, "-c", _SCRIPTED, str(tmp_path / "ws"), "ann", "12"],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    acked = []
    for line in proc.stdout:
        acked.append(line.split()[1])
        if len(acked) == 12:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Workspace(tmp_path / "ws") as w:
        assert set(acked) <= set(in_force(w)) and len(acked) == 12


def test_two_reviewers_in_two_processes_never_overwrite_each_other(ws, tmp_path):
    ws.close()
    procs = [subprocess.Popen([sys.executable, "-c", _SCRIPTED.replace("await asyncio.sleep(60)", "pass"),
                               str(tmp_path / "ws"), who, "25"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
             for who in ("ann", "bob")]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    with Workspace(tmp_path / "ws") as w:
        for who, out in zip(("ann", "bob"), outs):
            acked = [line.split()[1] for line in out.splitlines()]
            mine = in_force(w, who)
            assert len(acked) == 25 and set(acked) == set(mine)


def test_decisions_and_agreement_commands(ws, tmp_path):
    ids = ws.example_ids("support")[:6]
    for i, eid in enumerate(ids):
        ws.record_decision("support", eid, "ann", "accept")
        ws.record_decision("support", eid, "bob", "accept" if i < 4 else "reject", "wrong")
    ws.close()
    runner = CliRunner()
    w = str(tmp_path / "ws")
    import json

    rows = json.loads(runner.invoke(main, ["-w", w, "decisions", "--json"]).stdout)
    assert len(rows) == 12 and set(rows[0]) == {"example_id", "source", "reviewer", "verdict", "reason", "edited",
                                                "at"}
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)
    result = json.loads(runner.invoke(main, ["-w", w, "agreement", "--policy", "unanimous", "--json"]).stdout)
    assert result["pairs"][0]["overlap"] == 6 and len(result["disagreements"]) == 2
    assert result["policy"] == "unanimous"
    out = runner.invoke(main, ["-w", w, "agreement"]).output
    assert "Cohen" in out and "unanimous" in out
