"""Progress goes to stderr whatever stdout is: plain throttled lines without a terminal, never into stdout."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from curate import render
from curate.cli import main

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "support_chat.jsonl"
LINE = re.compile(r"^\w+ · .+  (done in )?\d+\.\d s$", re.M)  # `check · check  12/138 (8%)  0.0 s`


@pytest.fixture
def no_terminal(monkeypatch):
    """stderr is never a terminal under CliRunner; FORCE_COLOR or TTY_COMPATIBLE from CI must not say it is."""
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.delenv("CURATE_PROGRESS", raising=False)


@pytest.fixture
def eager(monkeypatch, no_terminal):
    """Every stage prints at once and at every report, so a quick command on a small collection shows its lines."""
    monkeypatch.setattr(render, "PLAIN_FIRST_S", 0.0)
    monkeypatch.setattr(render, "PLAIN_EVERY_S", 0.0)


@pytest.fixture
def cli(tmp_path):
    runner = CliRunner()

    def invoke(*args, env=None):
        result = runner.invoke(main, ["-w", str(tmp_path / "ws"), *map(str, args)], env=env)
        assert result.exit_code == 0, result.output + repr(result.exception)
        return result

    return invoke


def test_lines_on_stderr_none_on_stdout(eager, cli):
    ingest = cli("ingest", SAMPLE, "--as", "s", "--json")
    assert json.loads(ingest.stdout)["accepted"] > 100
    assert re.search(r"^ingest · .*support_chat\.jsonl  [\d.]+ KB/[\d.]+ KB \(100%\)  \d+\.\d s$", ingest.stderr, re.M)
    assert re.search(r"^ingest · .*support_chat\.jsonl  done in \d+\.\d s$", ingest.stderr, re.M)
    for args in (["check", "-c", "s"], ["check", "-c", "s", "--json"], ["dedup", "-c", "s"]):
        result = cli(*args)
        assert LINE.search(result.stderr), (args, result.stderr)
        assert not LINE.search(result.stdout) and "·" not in result.stdout, args
        assert "\x1b" not in result.stderr and "\r" not in result.stderr, "plain lines: no ANSI, no carriage returns"
    checked = cli("check", "-c", "s", "--json")
    assert re.search(r"^check · check  \d[\d,]*/\d[\d,]* \(\d+%\)  \d+\.\d s$", checked.stderr, re.M)
    assert re.search(r"^check · check  done in \d+\.\d s$", checked.stderr, re.M)
    assert json.loads(checked.stdout)["summary"]


def test_no_progress_and_env_silence_it_and_the_flag_wins(eager, cli):
    assert not LINE.search(cli("--no-progress", "ingest", SAMPLE, "--as", "s").stderr)
    assert not LINE.search(cli("--no-progress", "check", "-c", "s", "--json").stderr)
    assert not LINE.search(cli("check", "-c", "s", env={"CURATE_PROGRESS": "0"}).stderr)
    assert LINE.search(cli("--progress", "check", "-c", "s", env={"CURATE_PROGRESS": "0"}).stderr)
    assert LINE.search(cli("check", "-c", "s", env={"CURATE_PROGRESS": "1"}).stderr)


def test_throttled_quick_stages_silent(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(render, "PLAIN_FIRST_S", 3600.0)
    lines = render._Lines("dedup", stream)
    for done in range(100):
        lines.update("load", done, 100)
    lines.close(finished=True)
    assert stream.getvalue() == "", "a stage quicker than PLAIN_FIRST_S says nothing, not even done"

    monkeypatch.setattr(render, "PLAIN_FIRST_S", 0.0)
    monkeypatch.setattr(render, "PLAIN_EVERY_S", 3600.0)
    lines = render._Lines("coverage", stream)
    for done in range(0, 4080, 40):
        lines.update("embed", done, 4080)
    lines.update("cluster", 0, None)
    lines.update("map", 1200, None)
    lines.close(finished=True)
    got = [re.sub(r"\d+\.\d s$", "T s", line) for line in stream.getvalue().splitlines()]
    assert got == ["coverage · embed  0/4,080 (0%)  T s", "coverage · embed  done in T s",
                   "coverage · cluster  T s", "coverage · cluster  done in T s",
                   "coverage · map  1,200  T s", "coverage · map  done in T s"], "one line per PLAIN_EVERY_S at most"


def test_a_failed_command_is_not_done(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(render, "PLAIN_FIRST_S", 0.0)
    lines = render._Lines("check", stream)
    lines.update("check", 5, 10)
    lines.close(finished=False)
    assert "check · check  5/10 (50%)" in stream.getvalue() and "done" not in stream.getvalue()


def test_counts_formats():
    assert render._counts(13_107_200, 42_048_307, "bytes") == "12.5 MB/40.1 MB (31%)  "
    assert render._counts(1200, 4080, "rows") == "1,200/4,080 rows (29%)  "
    assert render._counts(1200, None, "") == "1,200  " and render._counts(0, None, "") == ""


def test_real_pipes_without_a_terminal(tmp_path, no_terminal, shared_data):
    """The installed entry point, stdout and stderr both pipes, default thresholds: semantic dedup embeds 1,000+
    texts with the offline MiniLM model, well over a second even with the model cached and a fast CPU (on
    sample_data alone every stage could end inside the quiet first second), so stderr says how it goes and
    stdout holds only the summary."""
    ws = str(tmp_path / "ws")
    data = [str(SAMPLE), str(shared_data / "alpaca_gpt4_en_demo/alpaca_en_demo.json")]
    assert CliRunner().invoke(main, ["-w", ws, "--no-progress", "ingest", *data, "--as", "s"]).exit_code == 0
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "CURATE_PROGRESS")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", "from curate.cli import main; main()", "-w", ws, "dedup", "-c", "s",
                           "--methods", "semantic"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert re.search(r"^dedup · \w+  done in \d+\.\d s$", proc.stderr, re.M), proc.stderr
    assert "·" not in proc.stdout and "duplicate" in proc.stdout.lower(), proc.stdout
