"""The coverage report as Markdown, short enough for a pull-request comment: the gaps, most examples to collect
first (without production queries, the thin clusters)."""

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
    lines = [f"### Coverage: `{_cell(r.train)}`" + (f" vs `{_cell(r.queries)}`" if r.queries else ""), ""]
    if r.queries:
        n_q = s.get("queries", 0)
        in_gaps = s.get("queries_in_gaps", sum(g.get("queries", 0) for g in r.gaps))
        collect = s.get("suggested_new_examples", sum(g.get("suggested_new_examples", 0) for g in r.gaps))
        share = f" ({_pct(in_gaps / n_q)})" if n_q else ""
        lines.append(f"**{len(r.gaps):,} gap{'s' if len(r.gaps) != 1 else ''}** hold **{in_gaps:,} of {n_q:,}** "
                     f"production queries{share} that training barely covers. Suggested: collect "
                     f"**{collect:,}** examples; {s.get('uncovered_queries', 0):,} queries have no close training "
                     f"example.")
        header = "| gap | queries | training density | collect | e.g. |\n|---|---:|---:|---:|---|"
        rows = [f"| {_cell(g.get('label', ''), 80)} | {g.get('queries', 0):,} | {_density(g.get('train_density'))} | "
                f"**{g.get('suggested_new_examples', 0):,}** | {_cell((g.get('example_queries') or [''])[0])} |"
                for g in r.gaps[:_ROWS]]
        rest = len(r.gaps) - _ROWS
        more = f"\n…and {rest} more gaps in the full report (training density: 0 none, 1 as covered as the " \
            "average query)." if rest > 0 else "\nTraining density: 0 none, 1 as covered as the average query."
    else:
        gaps = [c for c in r.clusters if c["gap"]]
        lines.append(f"Training set balance over **{s['clusters']} topics**; **{len(gaps)}** are thin "
                     f"(under half the average share).")
        header = "| topic | training | share | to balance | e.g. |\n|---|---:|---:|---:|---|"
        rows = [f"| {_cell(c['label'], 50)} | {c['n_train']:,} | {_pct(c['train_share'])} | "
                f"**{c['suggested_new_examples']:,}** | {_cell(c['example_train'][0] if c['example_train'] else '')} |"
                for c in gaps[:_ROWS]]
        more = f"\n…and {len(gaps) - _ROWS} more thin clusters in the full report." if len(gaps) > _ROWS else ""
    lines.append("")
    if rows:
        lines += [header, *rows]
        if more:
            lines.append(more)
    else:
        lines.append("No gaps found.")
    return "\n".join(lines) + "\n"


def _density(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"
