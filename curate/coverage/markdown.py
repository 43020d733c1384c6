"""The coverage report as Markdown, short enough for a pull-request comment: the gaps, most needed first."""

from __future__ import annotations

from .analysis import CoverageReport

_ROWS = 15


def _cell(text: str, limit: int = 90) -> str:
    """Table-safe: no pipes or newlines, no HTML, bounded length."""
    text = " ".join(str(text).split()).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.1f}%"


def render(r: CoverageReport) -> str:
    s = r.summary
    gaps = [c for c in r.clusters if c["gap"]]
    lines = [f"### Coverage: `{_cell(r.train)}`" + (f" vs `{_cell(r.queries)}`" if r.queries else ""), ""]
    if r.queries:
        lines.append(f"**{s['gaps']} of {s['clusters']} topics** are under-represented in training, holding "
                     f"**{s['queries_in_gaps']:,} of {s['queries']:,}** production queries. Suggested: collect "
                     f"**{s['suggested_new_examples']:,}** examples (at {s['size']:,} training examples); "
                     f"{s['uncovered_queries']:,} queries have no close training example.")
        header = "| topic | production | training | gap score | collect | e.g. |\n|---|---:|---:|---:|---:|---|"
        rows = [f"| {_cell(c['label'], 50)} | {_pct(c['query_share'])} ({c['n_queries']:,}) | "
                f"{_pct(c['train_share'])} ({c['n_train']:,}) | {c['gap_score']:.2f} | "
                f"**{c['suggested_new_examples']:,}** | {_cell((c['example_queries'] or [''])[0])} |"
                for c in gaps[:_ROWS]]
    else:
        lines.append(f"Training set balance over **{s['clusters']} topics**; **{s['gaps']}** are thin "
                     f"(under half the average share).")
        header = "| topic | training | share | to balance | e.g. |\n|---|---:|---:|---:|---|"
        rows = [f"| {_cell(c['label'], 50)} | {c['n_train']:,} | {_pct(c['train_share'])} | "
                f"**{c['suggested_new_examples']:,}** | {_cell(c['example_train'][0] if c['example_train'] else '')} |"
                for c in gaps[:_ROWS]]
    lines.append("")
    if rows:
        lines += [header, *rows]
        if len(gaps) > _ROWS:
            lines.append(f"\n…and {len(gaps) - _ROWS} more gap clusters in the full report.")
    else:
        lines.append("No gaps found.")
    return "\n".join(lines) + "\n"
