"""Terminal rendering for the CLI: summary tables, progress bars, conversations. No logic lives here."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import IO, Any, Iterator

from rich import box
from rich.console import Console, JustifyMethod
from rich.markup import escape
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from .errors import ROW_ERRORS, ROW_WARNINGS
from .findings import rank
from .ingest import IngestReport
from .readers import InputFile
from .readers.limits import human
from .record import Example, Message, Source
from .secrets import shown
from .workspace import CollectionInfo, QuarantinedRow

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)


class _Titled(Table):
    """A table whose title is a line of its own above it: as a Rich title, a title wider than the columns
    wrapped into a narrow block."""

    def __init__(self, heading: str, **kw):
        super().__init__(**kw)
        self.heading = heading

    def __rich_console__(self, console, options):
        yield Text.from_markup(self.heading, style="table.title")
        yield from super().__rich_console__(console, options)


def safe(text: str) -> str:
    """Data on a terminal: secrets masked, control characters visible, Rich markup inert."""
    return escape(shown(text))


def titled(title: str, **kw) -> Table:
    return _Titled(title, **kw)


ROLE_STYLE = {"system": "magenta", "user": "cyan", "assistant": "green", "tool": "yellow"}


# Without a terminal progress is plain lines on stderr, throttled so a log stays readable: a stage or file says
# nothing before it has run PLAIN_FIRST_S (quick commands stay silent), then at most a line every PLAIN_EVERY_S.
PLAIN_FIRST_S = 1.0
PLAIN_EVERY_S = 5.0
_TICK_S = 0.25  # how often the ticker looks: a stage that reports once and works for minutes still shows it lives


class _Lines:
    """Plain progress lines for one command, one stage (or file) at a time: a new one ends the one before, and
    one that ran PLAIN_FIRST_S or more ends with a `done in` line. Callbacks and a ticker thread both print."""

    def __init__(self, command: str, stream: IO[str]):
        self.command, self.stream = command, stream
        self.lock = threading.Lock()
        self.name: str | None = None
        self.done, self.unit = 0, ""
        self.total: int | None = None
        self.start = 0.0
        self.last: float | None = None  # when the current stage last printed
        self.stopped = threading.Event()
        self.ticker = threading.Thread(target=self._tick, daemon=True)
        self.ticker.start()

    def begin(self, name: str, total: int | None = None, unit: str = "") -> None:
        with self.lock:
            self._end()
            self.name, self.start, self.last = name, time.monotonic(), None
            self.done, self.total, self.unit = 0, total, unit

    def update(self, name: str, done: int, total: int | None, unit: str = "") -> None:
        if name != self.name:
            self.begin(name, total, unit)
        with self.lock:
            self.done, self.total, self.unit = done, total, unit
            self._maybe_print()

    def close(self, finished: bool) -> None:
        self.stopped.set()
        self.ticker.join()
        with self.lock:
            if finished:  # a failed or interrupted command is not `done`
                self._end()
            self.name = None

    def _tick(self) -> None:
        while not self.stopped.wait(_TICK_S):
            with self.lock:
                self._maybe_print()

    def _maybe_print(self) -> None:
        now = time.monotonic()
        if self.name is None or now - self.start < PLAIN_FIRST_S:
            return
        if self.last is not None and now - self.last < PLAIN_EVERY_S:
            return
        self.last = now
        self._write(f"{_counts(self.done, self.total, self.unit)}{now - self.start:.1f} s")

    def _end(self) -> None:
        elapsed = time.monotonic() - self.start
        if self.name is not None and elapsed >= PLAIN_FIRST_S:
            self._write(f"done in {elapsed:.1f} s")

    def _write(self, state: str) -> None:
        self.stream.write(f"{self.command} · {self.name}  {state}\n")
        self.stream.flush()


def _counts(done: int, total: int | None, unit: str) -> str:
    """`1,200/4,080 (29%)  `, `12.5 MB/40.1 MB (31%)  `, `1,200  ` with no total, nothing when nothing is known."""
    amount = human if unit == "bytes" else "{:,}".format
    suffix = f" {unit}" if unit not in ("", "bytes") else ""
    if total:
        return f"{amount(done)}/{amount(total)}{suffix} ({100 * done // total}%)  "
    return f"{amount(done)}{suffix}  " if done else ""


@contextmanager
def _plain(command: str) -> Iterator[_Lines]:
    lines, finished = _Lines(command, err.file), False
    try:
        yield lines
        finished = True
    finally:
        lines.close(finished)


@contextmanager
def file_progress(enabled: bool) -> Iterator:
    """Yields a factory InputFile -> progress callback: a live bar on a terminal, plain lines otherwise, None
    when progress is off."""
    if not enabled:
        yield None
        return
    if not err.is_terminal:
        with _plain("ingest") as lines:
            def plain_factory(inp: InputFile):
                name = shown(inp.display)  # a file name is data: no control characters, no secrets, on stderr
                lines.begin(name, inp.total or None, inp.unit)
                return lambda done: lines.update(name, done, inp.total or None, inp.unit)

            yield plain_factory
        return
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                        TransferSpeedColumn(), TimeRemainingColumn(), console=err, transient=True)
    rows_progress_cols = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn())

    def factory(inp: InputFile):
        if inp.unit == "rows":
            progress.columns = rows_progress_cols
        task = progress.add_task(inp.display, total=inp.total or None)
        return lambda done: progress.update(task, completed=done)

    with progress:
        yield factory


@contextmanager
def stage_progress(enabled: bool, command: str) -> Iterator:
    """Yields a callback(stage, done, total): one bar per stage on a terminal, plain lines otherwise, None when
    progress is off."""
    if not enabled:
        yield None
        return
    if not err.is_terminal:
        with _plain(command) as lines:
            yield lambda stage, done, total: lines.update(stage, done, total)
        return
    progress = Progress(TextColumn("[bold]{task.description:<14}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), console=err, transient=True)
    tasks: dict[str, TaskID] = {}

    def update(stage: str, done: int, total: int | None) -> None:
        if stage not in tasks:
            for other in tasks.values():
                task = progress.tasks[other]
                progress.update(other, completed=task.total or 1, total=task.total or 1)
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    with progress:
        yield update


def ingest_summary(report: IngestReport, shown_errors: int = 10) -> None:
    table = titled(f"ingest → collection '{report.collection}' ({report.kind})")
    table.add_column("file", overflow="fold", ratio=3)
    table.add_column("format", overflow="fold", ratio=2)
    for col in ("rows", "accepted", "repeats", "quarantined"):
        table.add_column(col, justify="right", no_wrap=True)
    for f in report.files:
        formats = ", ".join(f"{k} ({v})" if len(f.formats) > 1 else k for k, v in f.formats.most_common()) or "-"
        table.add_row(safe(f.path), formats, f"{f.rows:,}", f"{f.accepted:,}", f"{f.repeats:,}",
                      f"[red]{f.quarantined:,}[/]" if f.quarantined else "0")
    if len(report.files) > 1:
        table.add_row("[bold]total", "", f"{report.rows:,}", f"{report.accepted:,}", f"{report.repeats:,}",
                      f"{report.quarantined:,}")
    out.print(table)
    for f in report.files:
        for note in f.notes:
            out.print(f"[yellow]note:[/] {safe(f.path)}: {safe(note)}")
        if len(f.parts) > 1:
            listed = ", ".join(f"{safe(p)} ({n:,} rows)" for p, n in sorted(f.parts.items()))
            out.print(f"{safe(f.path)}: parts {listed}")
    if report.error_codes:
        codes = titled("quarantined rows by reason")
        for col in ("code", "rows", "first at", "how to fix"):
            codes.add_column(col, overflow="fold")
        for code, n in report.error_codes.most_common():
            first = next((e for e in report.errors if e.code == code), None)
            where = f"{first.path}:{first.line}" if first else ""
            codes.add_row(f"[red]{code}", f"{n:,}", safe(where), ROW_ERRORS.get(code, ""))
        out.print(codes)
        for e in report.errors[:shown_errors]:
            out.print(f"  [dim]{safe(e.path)}:{e.line}[/] [red]{e.code}[/] {safe(e.message)}")
        if report.bad_rows > shown_errors:
            out.print(f"  … {report.bad_rows - shown_errors:,} more: "
                      f"curate quarantine --collection {report.collection}")
    if report.warning_codes:
        warned = ", ".join(f"{c} ({n})" for c, n in report.warning_codes.most_common())
        out.print(f"[yellow]accepted with warnings:[/] {warned}")
    unchanged = f" + already held {report.unchanged:,}" if report.unchanged else ""
    out.print(f"read {report.read:,} = accepted {report.accepted:,} + repeats {report.repeats:,} "
              f"+ quarantined {report.quarantined:,}{unchanged}  [dim]({report.seconds:.1f}s, workspace "
              f"{report.workspace})")


def status_table(collections: dict[str, CollectionInfo], workspace: str, latest: dict | None = None,
                 unfinished: dict[str, list[tuple[float, list[str]]]] | None = None,
                 steps: dict[str, dict[str, Any]] | None = None, upcoming: dict[str, str] | None = None) -> None:
    if not collections:
        out.print(f"workspace {workspace}/ has no collections yet: curate ingest FILE --as NAME")
        return
    latest = latest or {}
    # The kind under the name and no inner rules: with a column of its own, rich cut the headers to fit 80
    # characters ('collect…', 'quarant…').
    table = titled(f"workspace {workspace}/", box=box.SIMPLE_HEAD)
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("collection", "left"), ("examples", "right"), ("repeats", "right"), ("quarantined", "right"),
        ("dupes", "right"), ("flagged", "right"), ("gaps", "right"))
    for col, justify in columns:
        table.add_column(col, justify=justify, overflow="fold", min_width=len(col))
    for info in collections.values():
        dedup = (latest.get(info.name) or {}).get("dedup")
        check = (latest.get(info.name) or {}).get("check")
        cov = (latest.get(info.name) or {}).get("coverage")
        state = (steps or {}).get(info.name, {})

        def cell(kind: str, text: str | None) -> str:
            if text is None:
                return "[dim]–[/]"
            return text + ("[yellow]*[/]" if getattr(state.get(kind), "status", "fresh") == "stale" else "")

        table.add_row(f"{safe(info.name)}\n[dim]{info.kind}[/]", f"{info.examples:,}", f"{info.repeats:,}",
                      f"[red]{info.quarantined:,}[/]" if info.quarantined else "0",
                      cell("dedup", f"{dedup['duplicates']:,}" if dedup else None),
                      cell("check", f"{check['flagged']:,}" if check else None),
                      cell("coverage", f"{cov['gaps']:,}/{cov['clusters']:,}" if cov else None))
    out.print(table)
    for name, kinds in (steps or {}).items():
        for kind, f in kinds.items():
            if f.status == "stale":
                out.print(f"[yellow]* '{safe(name)}': {kind} is stale[/] ({safe('; '.join(f.reasons))})")
        if upcoming and name in upcoming:
            out.print(f"'{safe(name)}': next: [bold]{safe(upcoming[name])}[/]")
    for name, runs in (unfinished or {}).items():
        for started, paths in runs:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(started))
            out.print(f"[yellow]'{safe(name)}': the ingest of {safe(', '.join(paths))} started {when} has not "
                      "finished[/] (still running, or it was stopped): what it wrote is kept; run it again to "
                      "finish (ingest is idempotent)")


def quarantine_table(rows: list[QuarantinedRow], total: int) -> None:
    if not rows:
        out.print("no quarantined rows")
        return
    table = titled(f"quarantined rows ({len(rows):,} of {total:,} shown)")
    for col in ("where", "code", "message", "raw"):
        table.add_column(col, overflow="fold")
    for r in rows:
        raw = shown(r.raw)  # masked before it is cut, so no part of a secret is left whole
        raw = raw if len(raw) <= 80 else raw[:77] + "..."
        table.add_row(safe(f"{r.path}:{r.line}"), f"[red]{r.code}", safe(r.message), escape(raw))
    out.print(table)


SEVERITY_STYLE = {"error": "red", "warning": "yellow", "info": "blue"}


SHOW_CHARS = 20_000  # of one turn: rich lays a panel out in time that grows with the square of its text


def _clipped(text: str) -> str:
    """A turn's text for the terminal, masked and escaped, cut at SHOW_CHARS with what was left out said
    (a 40 MB answer, which ingest accepts, took over 10 minutes to lay out)."""
    masked = shown(text)  # before the cut: a key cut in two is no longer a key to the masking
    if len(masked) <= SHOW_CHARS:
        return escape(masked)
    return (escape(masked[:SHOW_CHARS]) + f"\n[dim]… {len(masked) - SHOW_CHARS:,} more characters not shown "
            "(all of it: curate show ID --json)[/]")


def show_example(collection: str, example: Example, repeats: list[Source], findings=(), decisions=()) -> None:
    """What a reviewer needs first: findings, then decisions and edits, then the turns themselves."""
    src = example.source
    out.print(f"[bold]{example.id}[/]  collection [bold]{safe(collection)}[/]  "
              f"from {safe(str(src))} (record {src.index}, {src.format})")
    for run_kind, f in sorted(findings, key=lambda rf: -rank(rf[1].severity)):
        style = SEVERITY_STYLE.get(f.severity, "white")
        out.print(f"[{style}]{f.severity} {f.kind}[/] ({run_kind}, score {f.score:.2f}): {safe(f.message)}")
    if not findings:
        out.print("[dim]no findings in the latest dedup, check and coverage runs[/]")
    for d in decisions:
        colour = "green" if d.verdict == "accept" else "red"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(d.at))
        reason = f": {safe(d.reason)}" if d.reason else ""
        edited = " [bold](edited: the turns below are the revision)[/]" if d.revision else ""
        out.print(f"[{colour}]{d.verdict}ed[/] by {safe(d.reviewer)} {when}{reason}{edited}")
    edit = next((d for d in reversed(list(decisions)) if d.revision), None)
    messages = [Message.from_dict(m) for m in edit.revision] if edit and edit.revision else list(example.messages)
    for i, m in enumerate(messages, 1):
        style = ROLE_STYLE.get(m.role, "white")
        body = _clipped(m.content) if m.content else "[dim](no text)[/]"
        if edit and i <= len(example.messages) and example.messages[i - 1].content != m.content:
            body += f"\n[dim]— was: {_clipped(example.messages[i - 1].content)}[/]"
        for call in m.tool_calls:
            body += f"\n[yellow]→ call {safe(call.name)}({_clipped(call.arguments)})[/]"
        extra = f" weight={m.weight}" if m.weight is not None else ""
        extra += f" name={m.name}" if m.name else ""
        out.print(Panel(body, title=f"{i} {m.role}{extra}", title_align="left", border_style=style))
    if example.tools:
        out.print(f"[bold]tools:[/] {len(example.tools)} defined: " + safe(", ".join(
            str(t.get("name") or t.get("function", {}).get("name", "?")) if isinstance(t, dict) else "?"
            for t in example.tools)))
    for w in example.warnings:
        out.print(f"[yellow]warning {w.code}:[/] {safe(w.message)} — {ROW_WARNINGS.get(w.code, '')}")
    if example.metadata:
        import orjson

        out.print("[bold]metadata:[/]")
        text = shown(orjson.dumps(example.metadata, option=orjson.OPT_INDENT_2, default=str).decode())
        out.print(escape(text if len(text) < 4000 else text[:4000] + "\n…"))
    if repeats:
        out.print(f"[bold]also at[/] ({len(repeats)} exact repeat{'s' if len(repeats) > 1 else ''}): "
                  + ", ".join(safe(str(s)) for s in repeats[:20]))


def show_choices(asked: str, matches: list[tuple[str, Example]], by_place: bool) -> None:
    """Several examples answer to one FILE:LINE (an OASST tree, an `instances` list) or id prefix."""
    what = "this line holds" if by_place else "this id prefix matches"
    table = titled(f"{safe(asked)}: {what} {len(matches)} examples; pick one with curate show ID")
    table.add_column("id", no_wrap=True, min_width=20)  # whole, to copy
    for col in ("collection", "record", "first prompt", "last answer"):
        table.add_column(col, overflow="fold")
    for collection, e in matches:
        first = shown(e.prompt.split("\n\n")[0])[:60]
        last = shown(e.response.rsplit("\n\n", 1)[-1])[-60:]
        table.add_row(e.id, safe(collection), str(e.source.index), escape(first), escape(last))
    out.print(table)


def dedup_summary(report, report_path: str | None) -> None:
    s = report.summary
    table = titled(f"dedup '{report.collection}' (run {report.run_id}, key {report.params['key']}, "
                        f"near >= {report.params['near_threshold']})", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("examples", f"{s['examples']:,}")
    table.add_row("duplicate groups", f"{s['groups']:,}")
    table.add_row("duplicates (non-representatives)", f"{s['duplicates']:,}")
    table.add_row("kept (unique + representatives)", f"{s['kept']:,}")
    table.add_row("exact repeats merged at ingest", f"{s['ingest_repeats']:,}")
    table.add_row("conflicting answer pairs", f"{s['conflicts']:,}")
    if report.params.get("against"):
        table.add_row(f"contaminated by '{report.params['against']}'",
                      f"[red]{s['contaminated']:,}[/]" if s["contaminated"] else "0")
    table.add_row("seconds", f"{s['seconds']:.1f}")
    out.print(table)
    if s["groups_by_method"]:
        out.print("groups by method: " + ", ".join(f"{m} {n:,}" for m, n in sorted(s["groups_by_method"].items())))
    search = s.get("semantic") or {}
    if search.get("search") == "inverted lists":
        out.print(f"semantic search: {search['lists']:,} inverted lists, {search['probes']} probed per example, "
                  f"{search['sample_recall']:.1%} of a sample's exact pairs within reach")
    elif "lists" in search:
        out.print(f"semantic search: all against all, by {search['lists']:,} lists (at this threshold "
                  f"{search['probes']} probes of the lists would cost more)")
    left = ((s.get("semantic") or {}).get("stars") or {}).get("left_chained")
    if left:
        out.print(f"[yellow]semantic groups:[/] {left:,} examples are in chains too long to split into stars (past "
                  "the budget of cosines or of memory): their duplicates may be far from the one kept")
    search = s.get("contamination_search") or {}
    if search.get("search") == "inverted lists":
        out.print(f"contamination search: {search['lists']:,} inverted lists of the collection, {search['probes']} "
                  f"probed per example of '{report.params['against']}', {search['sample_recall']:.1%} of a "
                  "sample's exact matches within reach")
    biggest = sorted(report.groups, key=lambda g: -len(g["members"]))[:5]
    if biggest:
        groups = titled("largest groups")
        for col in ("group", "method", "members", "representative", "first at"):
            groups.add_column(col, overflow="fold")
        for g in biggest:
            first = g["members"][0]["source"]
            groups.add_row(str(g["id"]), g["method"], str(len(g["members"])), g["representative"][:12],
                           safe(f"{first['path']}:{first['line']}"))
        out.print(groups)
    for method, prev in (report.preview or {}).items():
        from .dedup.preview import PREVIEW_SAMPLE

        n = prev["sampled_documents"]
        sample = "a random sample of " if n >= PREVIEW_SAMPLE else ""
        # One text per exact class: its counts leave exact copies out, which the run's duplicates include.
        table = titled(f"threshold preview ({method}; {sample}{n:,} distinct texts, exact copies not counted)")
        for col in ("threshold", "pairs", "groups", "duplicates"):
            table.add_column(col, justify="right")
        for row in prev["thresholds"]:
            table.add_row(f"{row['threshold']:.2f}", f"{row['pairs']:,}", f"{row['groups']:,}",
                          f"{row['duplicates']:,}")
        out.print(table)
        for smp in prev["samples_near_threshold"][:4]:
            out.print(f"[dim]{smp['score']:.2f}[/]  {_diff_line(smp['diff'])}")
    if report.conflicts:
        c = report.conflicts[0]
        out.print(f"[yellow]conflicts:[/] {len(report.conflicts):,} pairs with the same prompt and different answers, "
                  f"e.g. {c['a'][:12]} vs {c['b'][:12]} (answer overlap {c['response_similarity']:.0%})")
    if report.contamination:
        out.print(f"[red]contamination:[/] {len(report.contamination):,} examples match "
                  f"'{report.params['against']}'")
    out.print("nothing was deleted: duplicates are findings (curate show ID); "
              + (f"full report in {report_path}" if report_path else "--report FILE.json for every group"))


_DEDUP_SETTINGS = ("methods", "key", "near_threshold", "semantic_threshold", "embedding_backend", "model", "against")
_SEMANTIC_SETTINGS = ("semantic_threshold", "embedding_backend", "model")


def replaced_dedup_run(collection: str, old_id: int, old: dict, new: dict) -> None:
    """On stderr, where a run made with other settings replaces the one review, status and export used: a
    `--preview` or a quick look with the default methods silently dropped an earlier semantic run's groups."""
    both_semantic = all("semantic" in (p.get("methods") or ()) for p in (old, new))
    keys = [k for k in _DEDUP_SETTINGS if both_semantic or k not in _SEMANTIC_SETTINGS]
    changed = [f"{k} {_setting(old.get(k))} -> {_setting(new.get(k))}" for k in keys if old.get(k) != new.get(k)]
    if changed:
        err.print(f"[yellow]note:[/] this dedup run replaces run {old_id} as the one review, status and export use "
                  f"({safe('; '.join(changed))}); to go back, run dedup on '{safe(collection)}' with those settings")


def _setting(value) -> str:
    return ",".join(value) if isinstance(value, list) else ("none" if value is None else str(value))


def _diff_line(segments: list[list[str]], width: int = 240) -> str:
    """A near-duplicate pair on one line: shared words dim, words only in the first red, only in the
    second green (struck and underlined too, for terminals without colour). Where the output has no
    styles at all (a pipe, a file, NO_COLOR) the changes are marked as git's word diff does,
    [-only in the first-]{+only in the second+}: unmarked, both texts ran together unreadably."""
    styles = {"=": "dim", "-": "red strike", "+": "green underline"}
    plain = out.no_color or out.color_system is None
    marks = {"=": ("", ""), "-": ("[-", "-]"), "+": ("{+", "+}")} if plain else {op: ("", "") for op in styles}
    parts, used = [], 0
    for op, text in segments:
        text = text.replace("\n", " ⏎ ")
        if used + len(text) > width:
            text = text[:max(0, width - used)] + "…"
        opener, closer = marks[op]
        parts.append(f"[{styles[op]}]{safe(opener + text + closer)}[/]")
        used += len(text)
        if used >= width:
            break
    return "".join(parts)


def check_list(rows: list[dict]) -> None:
    table = titled("checks")
    table.add_column("name")
    table.add_column("flags", overflow="fold")
    for r in rows:
        table.add_row(r["name"], safe(r["description"]))
    out.print(table)


def check_summary(report, report_path: str | None) -> None:
    s = report.summary
    noted = f", {s['noted_examples']:,} more with notes only" if s.get("noted_examples") else ""
    sample = (f"; the set's majorities from an even sample of {s['set_statistics_from']:,}"
              if s.get("set_statistics_from") else "")
    # The headline on its own line: as the table's title it wrapped to the table's narrow width.
    out.print(f"[bold]check '{safe(report.collection)}'[/] (run {report.run_id}): {s['flagged_examples']:,} of "
              f"{s['examples']:,} examples flagged{noted}{sample}")
    table = Table()
    table.add_column("check", justify="left")
    for col in ("examples", "error", "warning", "info"):
        table.add_column(col, justify="right")
    for name, c in sorted(s["by_check"].items(), key=lambda kv: -kv[1]["examples"]):
        table.add_row(name, f"{c['examples']:,}", f"[red]{c['error']:,}[/]" if c["error"] else "0",
                      f"[yellow]{c['warning']:,}[/]" if c["warning"] else "0", f"{c['info']:,}")
    out.print(table)
    first_of: dict[str, dict] = {}  # one example finding per check, the most serious first
    for f in sorted(report.findings, key=lambda f: (-rank(f["severity"]), -f["score"])):
        first_of.setdefault(f["check"], f)
    for f in list(first_of.values())[:8]:
        where = f"{f['source']['path']}:{f['source']['line']}" if f.get("source") else f["example_id"][:12]
        style = SEVERITY_STYLE.get(f["severity"], "white")
        out.print(f"  [dim]{safe(where)}[/] [{style}]{f['check']}[/] {safe(f['message'][:110])}")
    for name, why in s["failed_checks"].items():
        out.print(f"[red]check {name} failed[/] and was skipped: {safe(why.strip().splitlines()[-1])}")
    q = s["quality"]
    out.print(f"quality: mean {q['mean']}, 10th percentile {q['p10']}  [dim]({s['seconds']:.1f}s)")
    prune = s.get("prune")
    if prune:
        fewer = (f"; only {prune['flagged']:,} examples have a warning or an error, and clean ones are never "
                 "proposed" if prune["proposed"] < prune["requested"] else "")
        out.print(f"--prune-bottom {prune['share']:.0%}: {prune['requested']:,} requested, [bold]{prune['proposed']:,} "
                  f"proposed[/] for rejection{fewer}. They are findings ('prune_proposal'): export leaves them out "
                  "unless a reviewer accepts them.")
    out.print("curate show ID lists an example's findings; " + (f"every finding is in {report_path}" if report_path
                                                               else "--report FILE.json for every finding"))


def coverage_summary(report, outputs: list[str]) -> None:
    s = report.summary
    title = f"coverage '{report.train}'" + (f" vs '{report.queries}'" if report.queries else "") + \
        f" (run {report.run_id}, {s['clusters']} clusters)"
    table = titled(title)
    if report.queries:
        # One row per gap, most examples to collect first.
        table.add_column("#", justify="right")
        table.add_column("gap", overflow="fold", ratio=3)
        for col in ("queries", "train density", "collect"):
            table.add_column(col, justify="right", no_wrap=True)
        for n, g in enumerate(report.gaps[:15], 1):
            density = g.get("train_density")
            table.add_row(str(n), safe(g.get("label", "")), f"{g.get('queries', 0):,}",
                          "–" if density is None else f"{density:.2f}",
                          f"[bold]{g.get('suggested_new_examples', 0):,}[/]")
    else:
        table.add_column("#", justify="right")
        table.add_column("topic", overflow="fold", ratio=3)
        for col in ("training", "share", "to balance"):
            table.add_column(col, justify="right", no_wrap=True)
        for c in [c for c in report.clusters if c["gap"]][:15] or report.clusters[:5]:
            name = ("[red]" if c["gap"] else "") + safe(c["label"]) + ("[/]" if c["gap"] else "")
            table.add_row(str(c["id"]), name, f"{c['n_train']:,}", f"{c['train_share']:.1%}",
                          f"[bold]{c['suggested_new_examples']:,}[/]")
    if report.queries and not report.gaps:
        out.print(f"no gap: every region of the {s.get('queries', 0):,} production queries is about as covered by "
                  "training as production is on average.")
    else:
        out.print(table)
    if report.queries:
        gaps = report.gaps
        in_gaps = s.get("queries_in_gaps", sum(g.get("queries", 0) for g in gaps))
        collect = s.get("suggested_new_examples", sum(g.get("suggested_new_examples", 0) for g in gaps))
        more = " (the first 15 above)" if len(gaps) > 15 else ""
        out.print(f"{len(gaps)} gaps{more} hold {in_gaps:,} of {s.get('queries', 0):,} queries; collect about "
                  f"[bold]{collect:,}[/] examples; {s.get('uncovered_queries', 0):,} queries have no training "
                  f"example above cosine {report.params['uncovered_similarity']}. Train density: 0 none, 1 as "
                  "covered as the average query.")
    else:
        thin = sum(1 for c in report.clusters if c["gap"])
        out.print(f"{thin} thin clusters (under half the average share); no --queries, so no production gaps.")
    if s.get("neighbour_search"):
        low = s.get("neighbour_recall", 1.0) < 0.99
        out.print(f"{'[yellow]' if low else '[dim]'}neighbour search: {s['neighbour_search']}"
                  f"{': gaps are less exact than on a smaller set' if low else ''}[/]")
    if s.get("skipped_without_prompt"):
        out.print(f"[yellow]{s['skipped_without_prompt']:,} examples without a user turn were left out[/]")
    out.print("reports: " + ", ".join(outputs) if outputs else
              "--html FILE for the full report with charts and a map; --json FILE / --markdown FILE")


def export_summary(report) -> None:
    m = report.manifest
    c = m["counts"]
    grouped = "" if m.get("group_by", "none") == "none" else f", grouped by {m['group_by']}"
    table = titled(f"export '{m['collection']}' → {report.out_dir} ({m['format']}, stratified by "
                        f"{m['stratify']}{grouped}, seed {m['seed']})")
    for col in ("split", "examples", "share", "target"):
        table.add_column(col, justify="right" if col != "split" else "left")
    for name, ratio in m["split"].items():
        table.add_row(name, f"{c[name]:,}", f"{c[name] / max(1, c['exported']):.1%}", f"{ratio:.0%}")
    table.add_row("[bold]exported", f"[bold]{c['exported']:,}", "", "")
    out.print(table)
    if m["excluded_by_reason"]:
        reasons = titled(f"excluded: {c['excluded']:,} (each in excluded.jsonl)")
        reasons.add_column("reason")
        reasons.add_column("examples", justify="right")
        for reason, n in sorted(m["excluded_by_reason"].items(), key=lambda kv: -kv[1]):
            reasons.add_row(safe(reason), f"{n:,}")
        out.print(reasons)
    out.print(f"{c['examples']:,} examples = {c['exported']:,} exported + {c['excluded']:,} excluded")
    _inputs_line(m.get("inputs") or {})
    leak = m["leakage"]
    sem = leak.get("semantic") or {}
    line = f"leakage check: {leak['near_pairs']:,} val/test examples with a train example at Jaccard >= " \
           f"{leak.get('near_threshold', 0.5)}"
    if "pairs_at_threshold" in sem:
        line += f", {sem['pairs_at_threshold']:,} at cosine >= {sem['threshold']}"
    out.print(line + " (closest pairs in manifest.json)")
    if m["policy"] == "not-rejected" and not m["reviewed"]["accepted"]:
        out.print("[yellow]no exported example has been reviewed yet[/]: curate review, then --policy accepted")


def _inputs_line(inputs: dict[str, dict]) -> None:
    """Which analyses the export acted on, in one line: the manifest held it, the table said nothing."""
    used = [f"{kind} run {f['run']}" + (" [yellow](stale)[/]" if f["status"] == "stale" else "")
            for kind, f in inputs.items() if f.get("run")]
    missing = [kind for kind, f in inputs.items() if not f.get("run")]
    if used or missing:
        out.print("acted on: " + (", ".join(used) or "no analysis")
                  + (f"; never run: {', '.join(missing)}" if missing else ""))


def decisions_table(collection: str, rows: list[dict]) -> None:
    if not rows:
        out.print(f"no decisions on '{collection}' yet: curate review -c {collection}")
        return
    table = titled(f"decisions in force on '{collection}' ({len(rows):,})")
    for col in ("example", "where", "reviewer", "verdict", "reason", "edited"):
        table.add_column(col, overflow="fold")
    for r in rows[-50:]:
        colour = "green" if r["verdict"] == "accept" else "red"
        table.add_row(r["example_id"][:12], safe(f"{r['source']['path']}:{r['source']['line']}"),
                      safe(r["reviewer"]), f"[{colour}]{r['verdict']}[/]", safe(r["reason"] or ""),
                      "yes" if r["edited"] else "")
    out.print(table)
    if len(rows) > 50:
        out.print(f"(the latest 50 of {len(rows):,}; --json for all)")


def prediction_summary(collection: str, result, recorded: dict | None = None) -> None:
    m, p = result.model, result.predictions
    sure_accept = sum(x["p_accept"] >= 0.9 for x in p)
    sure_reject = sum(x["p_accept"] <= 0.1 for x in p)
    out.print(f"'{collection}': learned from {m['verdicts']:,} verdicts ({m['accepted']:,} accepted, "
              f"{m['rejected']:,} rejected); cross-validated accuracy {m['cv_accuracy']:.0%} ({m['cv_folds']} folds)")
    out.print(f"{len(p):,} undecided: {sure_accept:,} likely accepts (p >= 0.9), {sure_reject:,} likely rejects "
              f"(p <= 0.1), {len(p) - sure_accept - sure_reject:,} in between")
    table = titled("the most unsure first: review these next")
    for col in ("example", "p(accept)"):
        table.add_column(col)
    for x in p[:10]:
        table.add_row(x["id"][:12], f"{x['p_accept']:.2f}")
    out.print(table)
    if recorded is not None:
        out.print(f"recorded as reviewer model:logistic: {recorded['accepted']:,} accepts, {recorded['rejected']:,} "
                  "rejects (curate decisions lists them; a person's later decision overrides them)")


def decisions_imported(report) -> None:
    who = ", ".join(f"{safe(r)} {n:,}" for r, n in report.by_reviewer.items())
    out.print(f"recorded {report.recorded:,} decisions from {safe(report.path)} on '{report.collection}'"
              + (f" ({who})" if who else "") + (f"; {report.unchanged:,} already in force" if report.unchanged else ""))


def decisions_exported(collection: str, n: int, path: str) -> None:
    out.print(f"wrote {n:,} decisions in force on '{collection}' to {safe(path)}")


def agreement_summary(collection: str, result: dict) -> None:
    if len(result["reviewers"]) < 2:
        out.print(f"'{collection}': {len(result['reviewers'])} reviewer(s) so far; agreement needs two. "
                  f"Verdict policy for export: {result['policy']}")
        return
    table = titled(f"agreement on '{collection}'")
    for col in ("reviewers", "overlap", "agreement", "Cohen's kappa"):
        table.add_column(col, justify="right" if col != "reviewers" else "left")
    for p in result["pairs"]:
        table.add_row(safe(" / ".join(p["reviewers"])), f"{p['overlap']:,}",
                      "–" if p["agreement"] is None else f"{p['agreement']:.1%}",
                      "–" if p["cohen_kappa"] is None else f"{p['cohen_kappa']:.3f}")
    out.print(table)
    if result["fleiss_kappa"] is not None:
        out.print(f"Fleiss' kappa over the {result['all_reviewers_overlap']:,} examples all "
                  f"{len(result['reviewers'])} reviewers decided: {result['fleiss_kappa']:.3f}")
    out.print(f"{len(result['disagreements']):,} disagreements (--json lists them); verdict policy for export: "
              f"{result['policy']}")


def plan_summary(p: dict) -> None:
    t = p["tokens"]
    out.print(f"[bold]plan[/]: {p['model']} with {p['method']}, {t['examples']:,} training examples, "
              f"{t['total']:,} tokens (p50 {t['p50']:,}, p95 {t['p95']:,}, max {t['max']:,}; {t['truncated']:,} "
              f"truncated) by {t['tokenizer']}; trainable {p['trainable_params']:,} of {p['total_params']:,} "
              f"parameters ({p['trainable_share']:.3%})")
    m = p["memory"]
    out.print(f"memory: weights {m['weights_gb']:.2f} GB + LoRA {m['lora_gb']:.2f} + optimizer {m['optimizer_gb']:.2f}"
              f" + activations {m['activations_gb']:.2f} + overhead {m['overhead_gb']:.2f} = [bold]{m['total_gb']:.2f} "
              f"GB[/]")
    if "upcast_gb" in m:
        out.print(f"[dim]  of which: {m['upcast_gb']:.2f} GB peft's fp32 upcast of what is not quantised, "
                  f"{m['logits_gb']:.2f} GB the loss at its peak; overhead = a 10% margin {m['margin_gb']:.2f} + "
                  f"CUDA context {m['cuda_context_gb']:.2f}[/]")
    table = titled(f"per GPU ({p['epochs']} epochs; {p['batches']} batches, {p['computed_tokens_per_epoch']:,} "
                   "tokens computed per epoch)")
    for col in ("GPU", "fits", "time", "cost $"):
        table.add_column(col, justify="left" if col == "GPU" else "right")
    for gpu, fits in m["fits"].items():
        hours = p["time_hours"][gpu]
        table.add_row(gpu, "[green]yes[/]" if fits else "[red]no[/]",
                      f"{hours:.2f} h" if hours >= 1 else f"{hours * 60:.1f} min", f"{p['cost_usd'][gpu]:.2f}")
    out.print(table)
    if "masking" in p:
        k = p["masking"]
        methods = ", ".join(f"{n:,} by {how}" for how, n in k["methods"].items()) or "none"
        out.print(f"loss masks: {methods}; {k['empty_mask']:,} with nothing to train, {k['unlocated_turns']:,} "
                  f"answers not found in the rendering, {k['unrenderable']:,} refused by the template")
        if k.get("system_prompt_not_rendered"):
            out.print(f"[yellow]warning:[/] the chat template leaves out the system prompt of "
                      f"{k['system_prompt_not_rendered']:,} examples (it writes it into a final user turn only): "
                      "the model trains without it")
    for w in p["warnings"]:
        out.print(f"[yellow]warning:[/] {safe(w)}")
    if p.get("masks"):
        plan_masks(p["masks"])


def plan_masks(masks: list[dict]) -> None:
    """Each example as the model sees it, the tokens the loss trains on highlighted."""
    from rich.text import Text

    plain = out.color_system is None  # no colours (a pipe, a file): the trained text is bracketed instead
    legend = "⟦trained⟧ / not trained" if plain else "[black on green]trained[/] / [dim]not trained[/]"
    out.print(f"[bold]what the loss sees[/]: {legend} (template text included)")
    for m in masks:
        head = f"{m['id']} ({m['split']}" + (", tool calls" if m.get("tool_calls") else "") + \
            (f", {m['tokens']:,} tokens: cut at {m['max_length']:,}, the rest never seen" if m.get("truncated")
             else "") + (f", masked by {m['method']})" if "method" in m else ")")
        out.rule(head, align="left")
        if "error" in m:
            out.print(f"[red]{safe(m['error'])}[/]")
            continue
        text = Text()
        for seg in m["segments"]:
            if plain:
                text.append(f"⟦{seg['text']}⟧" if seg["trained"] else seg["text"])
            else:
                text.append(seg["text"], style="black on green" if seg["trained"] else "dim")
        out.print(text, soft_wrap=True)


def train_summary(r: dict, path: str) -> None:
    m = r["metrics"]
    table = titled(f"trained {r['model']} ({r['config']['method']}) on {r['device']}",
                  show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("steps", f"{m['steps']:,}" + (" (stopped early)" if m.get("stopped_early") else ""))
    table.add_row("train loss", f"{m['train_loss']:.4f}")
    if "best_eval_loss" in m:
        table.add_row("best val loss", f"{m['best_eval_loss']:.4f}")
    before = m.get("before") or {}
    if "test_loss" in m:
        was = f" (before: {before['test_loss']:.4f} / {before['test_perplexity']:.2f})" if "test_loss" in before else ""
        table.add_row("test loss / perplexity", f"{m['test_loss']:.4f} / {m['test_perplexity']:.2f}{was}")
    gen, gen_before = m.get("generation") or {}, before.get("generation") or {}
    for key, label in (("rouge_l", "ROUGE-L F1"), ("similarity", "MiniLM similarity"), ("exact_match", "exact match")):
        if gen.get(key) is not None:
            was = f" (before: {gen_before[key]:.3f})" if gen_before.get(key) is not None else ""
            table.add_row(f"{label} of {gen['samples']} test answers", f"{gen[key]:.3f}{was}")
    table.add_row("seconds", f"{m['seconds']:.1f}")
    d = r["data"]["train"]
    table.add_row("train examples (truncated, empty mask)",
                  f"{d['trained']:,} ({d['truncated']:,}, {d['empty_mask']:,})")
    out.print(table)
    for w in r["warnings"]:
        out.print(f"[yellow]warning:[/] {safe(w)}")
    out.print(f"adapter, tokenizer, metrics.jsonl, loss_curve.svg and training_manifest.json in {safe(path)}")
    if r["model"] == "tiny":
        out.print("[dim]--model tiny is a smoke run: a random 2-layer model proves the pipeline, not the data[/]")


def compare_summary(result: dict) -> None:
    where = safe(result["test_split_of"])
    table = titled(f"the same recipe on two exports, both measured on the test split of {where}")
    cols = [("run", "run"), ("export", "export"), ("train_examples", "trained on"),
            ("held_out_of_train", "held out"), ("test_loss_before", "test loss before"), ("test_loss", "after"),
            ("rouge_l_before", "ROUGE-L before"), ("rouge_l", "after"), ("similarity", "similarity")]
    for _, label in cols:
        table.add_column(label, justify="left" if label in ("run", "export") else "right", overflow="fold")
    for row in result["table"]:
        table.add_row(*["-" if row[k] is None else f"{row[k]:.4f}" if isinstance(row[k], float) else safe(str(row[k]))
                        for k, _ in cols])
    out.print(table)
    out.print("held out: training examples of that export that are in the shared test split, left out of its "
              "training so that no run is scored on what it trained on")
