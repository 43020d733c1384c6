"""The review app: a list of examples, the one under review in detail, and one key per decision.

Keys: a accept · x reject · X reject with a reason · e edit the answer · space skip · u undo ·
j/k or arrows move · / search · f filter · g apply the decision just made to its duplicate group ·
? help · q quit. A decision is committed to the workspace before the cursor moves.
"""

from __future__ import annotations

import difflib

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static, TextArea

from curate.errors import CurateError, WorkspaceBusy
from curate.findings import rank
from curate.record import Message
from curate.secrets import printable

from .data import COMMON_REASONS, ReviewData, Shown
from .written import as_written

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
STATUS_GLYPH = {"accept": ("✓", "green"), "reject": ("✗", "red"), None: ("·", "dim")}
ROLE_STYLE = {"system": "magenta", "user": "cyan", "assistant": "green", "tool": "yellow"}
HELP = [
    ("a", "accept"), ("x", "reject"), ("X", "reject with a reason"),
    ("e", "edit the answer: saving accepts the edited version as a new revision; the original is kept"),
    ("space", "skip"), ("u", "undo your last decision"), ("j / ↓", "next"), ("k / ↑", "previous"),
    ("PgDn / PgUp", "scroll the example under review"),
    ("o", "an edited example: its original / the edit"), ("/", "search the text"),
    ("n / N", "next / previous match of the search"),
    ("f", "filter: finding:NAME severity:LEVEL cluster:N group:N status:unreviewed|reviewed|accepted|rejected"),
    ("g", "apply the decision just made to its duplicate group (a reject keeps the representative)"),
    ("G", "the same, representative included"), ("?", "this help"),
    ("q", "quit (every decision is already saved)"),
]


class ReasonScreen(ModalScreen[str | None]):
    """Pick a common reason or type one."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("[b]Reject: why?[/b]  (enter picks, or type your own and press enter; esc cancels)")
            yield OptionList(*COMMON_REASONS, id="reasons")
            yield Input(placeholder="other reason…", id="reason")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(str(event.option.prompt))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class EditScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("ctrl+s", "save", "save"), Binding("escape", "cancel", "cancel")]

    TITLE = "[b]Edit the answer[/b]  ctrl+s saves it as a new revision (the original is kept) · esc cancels"

    def __init__(self, text: str):
        super().__init__()
        self.text = text
        self.warned = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.TITLE, id="edit-title")
            yield TextArea(self.text, id="editor")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)

    def action_cancel(self) -> None:
        """Esc leaves at once when nothing changed; a changed answer is discarded only on a second esc."""
        if self.query_one(TextArea).text == self.text or self.warned:
            self.dismiss(None)
            return
        self.warned = True
        self.query_one("#edit-title", Static).update(
            "[b yellow]The answer has unsaved changes:[/] esc again discards them · ctrl+s saves them")


class AskScreen(ModalScreen[str | None]):
    """One line of input: a search or a filter."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = ""):
        super().__init__()
        self.title_text, self.value, self.placeholder = title, value, placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.title_text)
            yield Input(self.value, placeholder=self.placeholder, id="ask")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "close")]

    def compose(self) -> ComposeResult:
        table = Table(title="curate review: keys  [dim](↑↓ scroll, esc closes)[/dim]", show_header=False, box=None,
                      padding=(0, 2))
        for key, what in HELP:
            table.add_row(f"[b]{key}[/b]", what)
        with VerticalScroll(id="dialog"):  # scrolls in a small terminal instead of cutting the last keys
            yield Static(table)
            yield Static("[dim]Findings from checks and dedup are suggestions: your decision overrides them.[/dim]")

    def action_close(self) -> None:
        self.dismiss(None)


def _span(content: str, evidence: dict | None) -> Text | None:
    """The offending span of a finding, highlighted in a little context."""
    if not evidence or "start" not in evidence or "end" not in evidence:
        return None
    start, end = int(evidence["start"]), int(evidence["end"])
    if not 0 <= start <= end <= len(content):
        return None
    text = Text("    …" if start > 40 else "    ", style="dim")
    text.append(content[max(0, start - 40):start].replace("\n", " "))
    text.append(content[start:end][:200].replace("\n", " "), style="bold reverse red")
    text.append(content[end:end + 40].replace("\n", " "))
    return text


def _spans_by_turn(s: Shown) -> dict[int, list[tuple[int, int]]]:
    """The characters each finding points at, by turn: marked in the conversation itself."""
    out: dict[int, list[tuple[int, int]]] = {}
    for _, f in s.findings:
        ev = f.evidence or {}
        if isinstance(ev.get("turn"), int) and isinstance(ev.get("start"), int) and isinstance(ev.get("end"), int):
            out.setdefault(ev["turn"], []).append((ev["start"], ev["end"]))
    return out


def _diff(a: str, b: str) -> Text:
    """Words of `b` that differ from `a` highlighted (what the member changed against the representative)."""
    wa, wb = a.split(), b.split()
    out = Text()
    for op, _, _, j1, j2 in difflib.SequenceMatcher(a=wa, b=wb, autojunk=False).get_opcodes():
        chunk = " ".join(wb[j1:j2])
        if chunk:
            out.append(chunk + " ", style=None if op == "equal" else "bold black on yellow")
    return out


def conversation_text(e) -> str:
    return printable("\n".join(f"{m.role}: {m.content}" for m in e.messages if m.role != "system"))


KEYS_LINE = "  ".join(f"[b]{escape(k)}[/b] {what}" for k, what in (
    ("a", "accept"), ("x", "reject"), ("X", "reason"), ("e", "edit"), ("space", "skip"), ("u", "undo"),
    ("j/k", "move"), ("/", "search"), ("n/N", "next/prev"), ("f", "filter"), ("g/G", "group"), ("o", "original"),
    ("?", "help"), ("q", "quit")))


class ReviewApp(App[None]):
    TITLE = "curate review"
    CSS = """
    #top { height: auto; background: $primary-background; color: $text; padding: 0 1; }
    #keys { height: auto; background: $panel; color: $text; padding: 0 1; }
    #list { width: 42%; border-right: solid $primary; padding: 0 1; }
    #detail { width: 58%; padding: 0 1; }
    #status { height: 1; padding: 0 1; color: $text-muted; }
    ModalScreen { align: center middle; }
    #dialog { width: 90; max-width: 100%; max-height: 90%; height: auto; border: thick $primary; background: $surface;
              padding: 1 2; }
    #editor { height: 20; }
    #reasons { height: auto; max-height: 12; }
    """
    BINDINGS = [
        Binding("a", "accept", "accept"), Binding("x", "reject", "reject"),
        Binding("X", "reject_reason", "reject+reason"), Binding("e", "edit", "edit"),
        Binding("space", "skip", "skip"), Binding("u", "undo", "undo"),
        Binding("j,down", "move(1)", "next", show=False), Binding("k,up", "move(-1)", "prev", show=False),
        Binding("slash", "search", "search"), Binding("f", "filter", "filter"), Binding("g", "group", "group"),
        Binding("G", "whole_group", "whole group", show=False),
        Binding("n", "search_again(1)", "next match", show=False),
        Binding("o", "original", "original", show=False),
        Binding("pagedown", "page(1)", "page down", show=False), Binding("pageup", "page(-1)", "page up", show=False),
        Binding("N", "search_again(-1)", "previous match", show=False),
        Binding("question_mark", "help", "help"), Binding("q", "quit", "quit"),
    ]

    def __init__(self, data: ReviewData):
        super().__init__()
        self.data = data
        self.index = data.first_unreviewed()
        self.message = ""
        self._unsaved: tuple[str, str, str | None, list[dict] | None] | None = None  # waiting for the lock
        self.last_decided: str | None = None  # what g applies to its group: the cursor has moved on from it
        self.last_search: str | None = None
        self.show_original = False  # o: an edited example's original instead of its revision
        self._scroll_to_match = False  # set by a search: the detail pane scrolls to the first match
        self._parts: list[RenderableType] = []
        self._match_part: int | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="top")
        with Horizontal():
            yield Static(id="list")
            with VerticalScroll(id="detail"):
                yield Static(id="body")
        yield Static(id="status")
        # Every key, wrapping onto a second line in a narrow terminal: Textual's Footer cut the filter, group,
        # help and quit keys at 80 columns.
        yield Static(KEYS_LINE, id="keys")

    def on_mount(self) -> None:
        self.refresh_view()

    # -- rendering -----------------------------------------------------------------------------
    @property
    def current(self) -> str | None:
        return self.data.ids[self.index] if self.data.ids else None

    def refresh_view(self) -> None:
        reviewed, accepted, rejected = self.data.counts()
        d = self.data
        top = (f"[b]curate review[/b] · {escape(d.collection)} · reviewer [b]{escape(d.reviewer)}[/b] · "
               f"{self.index + 1 if d.ids else 0:,}/{len(d.ids):,}"
               + (f" (filter: {escape(d.filter_expr)})" if d.filter_expr else "")
               + f" · reviewed {reviewed:,}/{d.total_examples:,} · [green]accepted {accepted:,}[/] · "
                 f"[red]rejected {rejected:,}[/]")
        self.query_one("#top", Static).update(top)
        self.query_one("#list", Static).update(self._list())
        body = self.query_one("#body", Static)
        body.update(self._detail(d.shown(self.current)) if self.current else
                    Text("Nothing to review with this filter. Press f to change it.", style="bold"))
        detail = self.query_one("#detail", VerticalScroll)
        detail.scroll_home(animate=False)
        if self._scroll_to_match and self._match_part:
            detail_width = detail.scrollable_content_region.width or self.size.width * 58 // 100 - 2
            options = self.console.options.update_width(max(20, detail_width))
            above = sum(len(self.console.render_lines(p, options, pad=False)) for p in self._parts[:self._match_part])
            self.call_after_refresh(detail.scroll_to, y=above, animate=False)
        self._scroll_to_match = False
        self.query_one("#status", Static).update(self.message)

    def _list(self) -> RenderableType:
        """The rows around the cursor as plain styled lines: a rich Table here cost ~30 ms per key."""
        # The list's own height once laid out (the header and key lines take two rows each when narrow).
        laid_out = self.query_one("#list").size.height
        height = max(5, laid_out if laid_out > 0 else self.size.height - 4)
        width = max(20, int(self.size.width * 0.42) - 4)
        start = max(0, min(self.index - height // 2, len(self.data.ids) - height))
        lines = []
        for i in range(start, min(len(self.data.ids), start + height)):
            eid = self.data.ids[i]
            glyph, colour = STATUS_GLYPH[self.data.verdict.get(eid)]
            flag = self.data.top_flag(eid)
            cluster = self.data.cluster_of.get(eid)
            line = Text.assemble((glyph, colour), " ", (eid[:8], "dim"), " ")
            if flag:
                line.append(flag[1], style=SEVERITY_STYLE.get(flag[0], ""))
            tail = "" if cluster is None else f" c{cluster}"
            line.truncate(width - len(tail), pad=True)
            line.append(tail, style="dim")
            if i == self.index:
                line.stylize("reverse")
            lines.append(line)
        return Text("\n").join(lines)

    def _detail(self, s: Shown) -> RenderableType:
        e = s.example
        parts: list[RenderableType] = []
        self._parts = parts
        self._match_part = None  # the first turn holding the searched text, to scroll to
        glyph, colour = STATUS_GLYPH[s.status]
        head = Text.assemble((f"{glyph} ", colour), (e.id, "bold"), f"  {e.source}  ({e.source.format})")
        suggested = self.data.suggestion(e.id)
        if suggested:
            verdict, who, twin = suggested
            head.append(f"  suggested: {verdict} ({who} {verdict}ed its duplicate {twin[:12]})",
                        style="green" if verdict == "accept" else "red")
        messages = e.messages
        if s.revision and not self.show_original:
            messages = tuple(Message.from_dict(m) for m in s.revision[1])
            head.append(f"  ✎ edited by {s.revision[0]} (o: the original)", style="bold yellow")
        elif s.revision:
            head.append(f"  the original (o: {s.revision[0]}'s edit)", style="bold yellow")
        if s.cluster:
            head.append(f"  cluster {s.cluster}", style="cyan")
        parts.append(head)
        if s.findings:
            findings = Text()
            for kind, f in sorted(s.findings, key=lambda kf: -rank(kf[1].severity)):
                findings.append(f"{f.severity:<8}", style=SEVERITY_STYLE.get(f.severity, ""))
                findings.append(f"{f.kind} ({kind}, score {f.score:.2f}): {f.message}\n")
                turn = (f.evidence or {}).get("turn")
                if isinstance(turn, int) and 0 <= turn < len(e.messages):
                    span = _span(e.messages[turn].content, f.evidence)
                    if span is not None:
                        findings.append_text(span)
                        findings.append("\n")
            # First, above the conversation: why this example is in front of the reviewer.
            parts.append(Panel(findings, title="findings (suggestions: your decision overrides them)",
                               title_align="left", border_style="red"))
        spans = _spans_by_turn(s) if messages is e.messages else {}  # findings point into the original
        for i, m in enumerate(messages, 1):
            if self._match_part is None and self.last_search and self.last_search.lower() in m.content.lower():
                self._match_part = len(parts)
            # The real text (the review screen is where secrets may be seen), but no escape sequence reaches
            # the terminal.
            body: RenderableType = (as_written(m.content, spans.get(i - 1, []), self.last_search)
                                    if m.content.strip() else Text("(empty)", style="dim italic"))
            if m.tool_calls:
                calls = Text("\n".join(f"→ {c.name}({c.arguments})" for c in m.tool_calls), style="yellow")
                body = Group(body, calls)
            parts.append(Panel(body, title=f"{i} {m.role}", title_align="left",
                               border_style=ROLE_STYLE.get(m.role, "white")))
        if s.group:
            no, rep, members, method = s.group
            grid = None
            if rep == e.id:
                text = Text(f"representative of {method} group {no} ({len(members)} members)")
            else:
                other = self.data.example(rep)
                text = Text(f"{method} group {no}: representative {rep[:12]} (left) · this member (right, "
                            f"changes highlighted)\n", style="bold")
                grid = Table.grid(expand=True, padding=(0, 2))
                grid.add_column(ratio=1)
                grid.add_column(ratio=1)
                grid.add_row(Text(conversation_text(other)), _diff(conversation_text(other), conversation_text(e)))
            body = Group(text, grid) if grid is not None else text
            parts.append(Panel(body, title="duplicate group", title_align="left", border_style="yellow"))
        return Group(*parts)

    # -- actions ---------------------------------------------------------------------------------
    def _say(self, message: str) -> None:
        self.message = message

    def _decide(self, verdict: str, reason: str | None = None, revision: list[dict] | None = None) -> None:
        eid = self.current
        if eid is None:
            return
        if self._unsaved is not None:
            self._say("[yellow]still saving the last decision: the workspace is busy[/]")
            self.refresh_view()
            return
        self._unsaved = (eid, verdict, reason, revision)
        self._save()

    def _save(self) -> None:
        """Commit the decision waiting in `_unsaved`; the cursor moves only once it is committed. While
        another process holds the write lock, say so and try again each second."""
        if self._unsaved is None:
            return
        eid, verdict, reason, revision = self._unsaved
        try:
            self.data.decide(eid, verdict, reason, revision)
        except WorkspaceBusy:
            self._say("[yellow]the workspace is busy (another curate command is writing): this decision is not "
                      "saved yet; retrying every second…[/]")
            self.refresh_view()
            self.set_timer(1.0, self._save)
            return
        self._unsaved = None
        self.last_decided = eid
        self._say(f"{verdict}ed {eid[:12]}" + (f" ({reason})" if reason else "")
                  + (" with an edit" if revision else ""))
        if self.current == eid:
            self._advance()
        else:
            self.refresh_view()

    def _advance(self) -> None:
        if self.index < len(self.data.ids) - 1:
            self.index += 1
        self.refresh_view()

    def action_accept(self) -> None:
        self._decide("accept")

    def action_reject(self) -> None:
        self._decide("reject")

    def action_reject_reason(self) -> None:
        if self.current is None:
            return

        def done(reason: str | None) -> None:
            if reason:
                self._decide("reject", reason)

        self.push_screen(ReasonScreen(), done)

    def action_edit(self) -> None:
        eid = self.current
        if eid is None:
            return
        edited = self.data.revision(eid)  # an edit goes on from the revision in force, as shown
        messages = tuple(Message.from_dict(m) for m in edited[1]) if edited else self.data.example(eid).messages
        answer = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "assistant"), None)
        if answer is None:
            self._say("no assistant turn to edit")
            self.refresh_view()
            return

        def done(text: str | None) -> None:
            if text is None or text == messages[answer].content:
                return
            revision = [m.to_dict() for m in messages]
            revision[answer]["content"] = text
            self._decide("accept", "edited", revision)

        self.push_screen(EditScreen(messages[answer].content), done)

    def action_page(self, direction: int) -> None:
        detail = self.query_one("#detail", VerticalScroll)
        (detail.scroll_page_down if direction > 0 else detail.scroll_page_up)(animate=False)

    def action_original(self) -> None:
        self.show_original = not self.show_original
        self.refresh_view()

    def action_skip(self) -> None:
        self._say("skipped")
        self._advance()

    def action_undo(self) -> None:
        try:
            eid = self.data.undo()
        except WorkspaceBusy:
            self._say("[yellow]the workspace is busy (another curate command is writing): press u again in a "
                      "moment[/]")
            self.refresh_view()
            return
        if eid is None:
            self._say("nothing to undo in this session")
        else:
            if eid in self.data.position:
                self.index = self.data.position[eid]
            self.last_decided = None
            self._say(f"undid the decision on {eid[:12]}")
        self.refresh_view()

    def action_move(self, step: int) -> None:
        if self.data.ids:
            self.index = max(0, min(len(self.data.ids) - 1, self.index + step))
            self.message = ""
            self.refresh_view()

    def action_search(self) -> None:
        def done(text: str | None) -> None:
            if text:
                self.last_search = text
            if text is not None and self.last_search:  # enter on an empty line repeats the last search
                self.action_search_again(1)

        self.push_screen(AskScreen("[b]Search[/b] the conversations (enter; esc cancels; then n next, N previous)",
                                   placeholder=self.last_search or ""), done)

    def action_search_again(self, direction: int) -> None:
        text = self.last_search
        if not text:
            self._say("no search yet: / searches")
        else:
            i, which, total = self.data.search(text, self.index, direction)
            if i is None:
                self._say(f"no example contains {text!r}")
            else:
                self.index = i
                self._scroll_to_match = True
                self._say(f"{text!r}: match {which} of {total} (n next, N previous)")
        self.refresh_view()

    def action_filter(self) -> None:
        def done(expr: str | None) -> None:
            if expr is None:
                return
            current = self.current
            try:
                self.data.apply_filter(expr)
            except CurateError as exc:
                self._say(str(exc))
                self.refresh_view()
                return
            self.index = self.data.position.get(current, 0) if current else 0
            self._say(f"{len(self.data.ids):,} examples match" if expr.strip() else "filter cleared")
            self.refresh_view()

        self.push_screen(AskScreen("[b]Filter[/b]: finding:NAME severity:error|warning|info cluster:N group:N "
                                   "status:unreviewed|reviewed|accepted|rejected (empty clears)",
                                   self.data.filter_expr, "status:unreviewed severity:error"), done)

    def action_group(self, whole: bool = False) -> None:
        """Apply the decision just made (the cursor has moved on since) to its duplicate group. A reject
        leaves the group's representative alone, so the group keeps a survivor, unless `whole` (G)."""
        eid = self.last_decided or self.current
        if eid is None:
            return
        verdict = self.data.verdict.get(eid)
        if eid not in self.data.group_no:
            self._say(f"{eid[:12]} is in no duplicate group")
        elif verdict is None:
            self._say("decide an example first (a or x), then g applies it to its group")
        else:
            self._apply_to_group(eid, verdict, whole)
        self.refresh_view()

    def _apply_to_group(self, eid: str, verdict: str, whole: bool) -> None:
        no = self.data.group_no[eid]
        rep = self.data.groups[no][0]
        spare = verdict == "reject" and not whole
        if spare and rep == eid:
            self._say(f"{eid[:12]} is the representative of group {no}: rejecting the rest too would leave the "
                      "group no example at export; G does that")
            return
        members = [m for m in self.data.groups[no][1] if m != eid and not (spare and m == rep)]
        try:
            for m in members:
                self.data.decide(m, verdict, f"same as {eid[:12]} (duplicate group {no})")
        except WorkspaceBusy:
            self._say("[yellow]the workspace is busy (another curate command is writing): press g again in a "
                      "moment[/]")
            return
        kept = f"; its representative {rep[:12]} is kept (G rejects it too)" if spare else ""
        self._say(f"{verdict}ed {len(members)} more members of group {no} as {eid[:12]}{kept}")

    def action_whole_group(self) -> None:
        self.action_group(whole=True)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())
