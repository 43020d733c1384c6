"""The coverage report as one self-contained HTML page: inline CSS and SVG, no script, no network request.

Every piece of dataset text goes through `_e` (html.escape with quotes), so a query holding `<script>`
shows as text. The page stays small at any data size: the map is a sample, and the tables are capped.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from .analysis import CoverageReport

TRAIN, QUERY, GAP = "#4c78a8", "#f58518", "#d62728"
_CHART_ROWS = 40
_UNCOVERED_PER_CLUSTER = 25
_UNCOVERED_CLUSTERS = 40

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d1d1f;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px}
.sub{color:#555;margin-bottom:16px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}
.card{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px #0002}
.card b{display:block;font-size:24px}.card span{color:#555;font-size:12px}
.card.alert b{color:#d62728}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0002;border-radius:8px;overflow:hidden}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid #eee;vertical-align:top}
th{background:#fafafa;font-size:12px;color:#555;text-transform:uppercase;letter-spacing:.03em}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.label{font-weight:600}.terms{color:#666;font-size:12px}
.q{margin:2px 0}.q:before{content:"“";color:#999}.q:after{content:"”";color:#999}
.near{color:#555;font-size:12px;margin:0 0 6px 12px}
.flag{display:inline-block;background:#d62728;color:#fff;border-radius:4px;padding:0 6px;font-size:11px}
.bar{height:8px;border-radius:2px;display:inline-block;vertical-align:middle}
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:10px;height:10px;
border-radius:2px;margin-right:4px;vertical-align:middle}
svg{background:#fff;border-radius:8px;box-shadow:0 1px 2px #0002}
details{background:#fff;border-radius:8px;margin:6px 0;padding:8px 12px;box-shadow:0 1px 2px #0002}
summary{cursor:pointer}
.note{color:#666;font-size:12px}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _pct(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x * 100:.1f}%" if x < 0.1 else f"{x * 100:.0f}%"


def _cards(r: CoverageReport) -> str:
    s = r.summary
    # (figure, what it counts, shown as an alert when not zero)
    items = [(f"{s['train_examples']:,}", "training examples", False), (f"{s['clusters']:,}", "topic clusters", False)]
    if r.queries:
        share = s["queries_in_gaps"] / s["queries"] if s["queries"] else 0
        items[1:1] = [(f"{s['queries']:,}", "production queries", False)]
        items += [(f"{s['gaps']:,}", "gap clusters", True), (_pct(share), "of production in gaps", True),
                  (f"{s['suggested_new_examples']:,}", "examples to collect", True),
                  (f"{s['uncovered_queries']:,}", "queries with no close training example", False)]
    else:
        items += [(f"{s['gaps']:,}", "thin clusters", True),
                  (f"{s['suggested_new_examples']:,}", "examples to balance", True)]
    return '<div class="cards">' + "".join(
        f'<div class="card{" alert" if i[2] and i[0] not in ("0", "0%") else ""}"><b>{_e(i[0])}</b>'
        f'<span>{_e(i[1])}</span></div>' for i in items) + "</div>"


def _gap_table(r: CoverageReport) -> str:
    gaps = [c for c in r.clusters if c["gap"]]
    if not gaps:
        return '<p>No gap: every cluster\'s training share is within reach of its production share.</p>'
    head = ("<tr><th>#</th><th>topic</th><th>production</th><th>training</th><th>gap score</th><th>collect</th>"
            "<th>example queries → nearest training example</th></tr>") if r.queries else \
        "<tr><th>#</th><th>topic</th><th>training</th><th>share</th><th>to balance</th><th>examples</th></tr>"
    body = []
    for c in gaps:
        topic = f'<div class="label">{_e(c["label"])}</div><div class="terms">{_e(", ".join(c["terms"]))}</div>'
        if r.queries:
            pairs = "".join(f'<div class="q">{_e(p["query"])}</div><div class="near">→ {_e(p["nearest_train"])} '
                            f'<span class="note">(cosine {p["similarity"]:.2f})</span></div>'
                            for p in c["example_pairs"])
            body.append(f'<tr><td class="n">{c["id"]}</td><td>{topic}</td>'
                        f'<td class="n">{_pct(c["query_share"])}<br><span class="note">{c["n_queries"]:,} q</span></td>'
                        f'<td class="n">{_pct(c["train_share"])}<br><span class="note">{c["n_train"]:,} ex</span></td>'
                        f'<td class="n">{c["gap_score"]:.2f}</td><td class="n"><b>{c["suggested_new_examples"]:,}</b>'
                        f'</td><td>{pairs}</td></tr>')
        else:
            examples = "".join(f'<div class="q">{_e(t)}</div>' for t in c["example_train"])
            body.append(f'<tr><td class="n">{c["id"]}</td><td>{topic}</td><td class="n">{c["n_train"]:,}</td>'
                        f'<td class="n">{_pct(c["train_share"])}</td><td class="n"><b>{c["suggested_new_examples"]:,}'
                        f'</b></td><td>{examples}</td></tr>')
    return f"<table>{head}{''.join(body)}</table>"


def _share_chart(r: CoverageReport) -> str:
    """Paired horizontal bars: production vs training share, the clusters with the largest differences."""
    if r.queries:
        rows = sorted(r.clusters, key=lambda c: -abs(c["share_gap"]))[:_CHART_ROWS]
        rows.sort(key=lambda c: -c["share_gap"])
    else:
        rows = sorted(r.clusters, key=lambda c: c["train_share"])[:_CHART_ROWS]
    top = max([max(c["train_share"], c["query_share"] or 0) for c in rows] + [1e-9])
    left, width, row_h = 300, 560, 26
    h = row_h * len(rows) + 30
    out = [f'<svg viewBox="0 0 {left + width + 80} {h}" width="100%" role="img" '
           f'aria-label="production and training share per cluster">']
    for i, c in enumerate(rows):
        y = 10 + i * row_h
        name = c["label"] if len(c["label"]) <= 44 else c["label"][:43] + "…"
        color = GAP if c["gap"] else "#1d1d1f"
        out.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end" font-size="12" fill="{color}">'
                   f'{_e(name)}<title>{_e(c["label"])}</title></text>')
        bars = [(c["query_share"], QUERY, "production")] if r.queries else []
        bars.append((c["train_share"], TRAIN, "training"))
        bh = (row_h - 6) / len(bars)
        for j, (v, col, what) in enumerate(bars):
            w = width * (v or 0) / top
            out.append(f'<rect x="{left}" y="{y + j * bh:.1f}" width="{w:.1f}" height="{bh - 1:.1f}" fill="{col}">'
                       f'<title>{_e(what)}: {_pct(v)}</title></rect>'
                       f'<text x="{left + w + 4:.1f}" y="{y + j * bh + bh - 3:.1f}" font-size="10" fill="#555">'
                       f'{_pct(v)}</text>')
    out.append("</svg>")
    legend = (f'<div class="legend"><span><i style="background:{QUERY}"></i>production share</span>'
              if r.queries else '<div class="legend">') + \
        f'<span><i style="background:{TRAIN}"></i>training share</span>' \
        f'<span style="color:{GAP}">red label = gap</span></div>'
    return legend + "".join(out)


def _map(r: CoverageReport) -> str:
    m = r.map
    if not m or not m.get("xy"):
        return ""
    gap_ids = {c["id"] for c in r.clusters if c["gap"]}
    labels = {c["id"]: c["label"] for c in r.clusters}
    size = 640
    n_train = len(m["train"])
    out = [f'<svg viewBox="0 0 {size} {size}" width="{size}" role="img" aria-label="map of the embeddings">']
    for i, ((x, y), c) in enumerate(zip(m["xy"], m["cluster"])):
        is_q = i >= n_train
        col = (GAP if c in gap_ids else QUERY) if is_q else TRAIN
        shape_r = 2.6 if is_q else 2.0
        tip = f'{"query" if is_q else "training"} · cluster {c}: {labels.get(c, "")}\n{m["text"][i]}'
        out.append(f'<circle cx="{10 + x * (size - 20):.1f}" cy="{10 + y * (size - 20):.1f}" r="{shape_r}" '
                   f'fill="{col}" fill-opacity="{0.75 if is_q else 0.35}"><title>{_e(tip)}</title></circle>')
    out.append("</svg>")
    legend = (f'<div class="legend"><span><i style="background:{TRAIN}"></i>training prompt</span>'
              f'<span><i style="background:{QUERY}"></i>production query</span>'
              f'<span><i style="background:{GAP}"></i>query in a gap cluster</span></div>')
    return legend + "".join(out) + f'<p class="note">t-SNE of {len(m["xy"]):,} sampled points; hover for text.</p>'


def _all_clusters(r: CoverageReport) -> str:
    head = "<tr><th>#</th><th>topic</th><th>production</th><th>training</th><th>gap score</th><th>collect</th></tr>"
    body = "".join(
        f'<tr><td class="n">{c["id"]}</td><td><span class="label">{_e(c["label"])}</span>'
        f'{" <span class=flag>gap</span>" if c["gap"] else ""}<div class="terms">'
        f'{_e(", ".join(c["terms"]))}</div></td><td class="n">{_pct(c["query_share"])} ({c["n_queries"]:,})</td>'
        f'<td class="n">{_pct(c["train_share"])} ({c["n_train"]:,})</td><td class="n">{c["gap_score"]:.2f}</td>'
        f'<td class="n">{c["suggested_new_examples"]:,}</td></tr>' for c in r.clusters)
    return f"<details><summary>All {len(r.clusters)} clusters</summary><table>{head}{body}</table></details>"


def _uncovered(r: CoverageReport) -> str:
    if not r.uncovered_queries:
        return ""
    by_cluster: dict[int, list[dict]] = {}
    for u in r.uncovered_queries:
        by_cluster.setdefault(u["cluster"], []).append(u)
    labels = {c["id"]: c["label"] for c in r.clusters}
    parts = [f'<h2>Queries with no close training example</h2><p class="note">{len(r.uncovered_queries):,} queries '
             f'whose most similar training prompt has cosine below {r.params["uncovered_similarity"]}, by cluster; '
             f'the JSON report lists all of them.</p>']
    for c, items in list(by_cluster.items())[:_UNCOVERED_CLUSTERS]:
        rows = "".join(f'<div class="q">{_e(u["text"])}</div><div class="near">→ {_e(u["nearest_train"]["text"])} '
                       f'<span class="note">(cosine {u["nearest_similarity"]:.2f})</span></div>'
                       for u in items[:_UNCOVERED_PER_CLUSTER])
        more = f'<p class="note">… and {len(items) - _UNCOVERED_PER_CLUSTER} more</p>' \
            if len(items) > _UNCOVERED_PER_CLUSTER else ""
        parts.append(f'<details><summary><b>{_e(labels.get(c, c))}</b> — {len(items)} queries</summary>'
                     f'{rows}{more}</details>')
    return "".join(parts)


def render(r: CoverageReport) -> str:
    s = r.summary
    title = f"Coverage: {r.train}" + (f" vs {r.queries}" if r.queries else "")
    if r.queries:
        intro = (f"{s['gaps']} of {s['clusters']} topics are under-represented in training; they hold "
                 f"{s['queries_in_gaps']:,} of {s['queries']:,} production queries. Collecting about "
                 f"{s['suggested_new_examples']:,} examples for them brings each to its production share "
                 f"(at {s['size']:,} training examples).")
        gap_title = "Where to collect data, most needed first"
    else:
        intro = (f"No production queries given: the training set's own balance over {s['clusters']} topics; "
                 f"{s['gaps']} are thin (under half the average share).")
        gap_title = "Thin topics"
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{_e(title)}</title>'
            f"<style>{_CSS}</style></head><body><main><h1>{_e(title)}</h1><div class='sub'>{_e(intro)}</div>"
            f"{_cards(r)}<h2>{gap_title}</h2>{_gap_table(r)}"
            f"<h2>{'Production vs training share' if r.queries else 'Training share'} by topic</h2>{_share_chart(r)}"
            f"<h2>Map</h2>{_map(r)}{_uncovered(r)}<h2>Clusters</h2>{_all_clusters(r)}"
            f'<p class="note">Made by curate coverage. Clusters: k-means over both sides with equal weight, '
            f'k={s["clusters"]} ({_e(s["clusters_chosen_by"])}). Embeddings: {_e(r.params["model"])}.</p>'
            f"</main></body></html>")


def write_html(r: CoverageReport, path: str | Path) -> None:
    Path(path).write_text(render(r), encoding="utf-8")
