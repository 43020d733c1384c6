"""The coverage report as one self-contained HTML page: inline CSS, no script, no network request.

Read top-down by a busy person: the title, one sentence and the figures; a chart of the gaps; a table of
contents; then one collapsed entry per gap (the first few open) with its example queries, the nearest
training examples and how many examples to collect; then the share chart by topic cluster, the map, the
uncovered queries and every cluster. Without production queries, the training set's thin clusters take the
gaps' place.

Every piece of dataset text goes through `_e` (html.escape with quotes), so a query holding `<script>`
shows as text. The page stays small at any data size: the map is a sample, every list is capped and every
text clipped (the JSON report has all of it). It reads at 420 px: bars are HTML with percentage widths,
the map's SVG scales to its box, tables turn into blocks and long words break.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from .analysis import CoverageReport

TRAIN, QUERY, GAP, COLLECT = "#4c78a8", "#f58518", "#d62728", "#54a24b"
_GAP_CHART_ROWS = 15  # gaps in the chart at the top
_GAPS_SHOWN = 60  # gap entries on the page; the JSON has the rest
_GAPS_OPEN = 3  # entries shown open
_EXAMPLES, _NEAREST, _SUB_TOPICS, _SUB_EXAMPLES, _TERMS = 5, 3, 8, 3, 10
_CHART_ROWS = 40
_CLUSTER_ROWS = 300
_UNCOVERED_PER_CLUSTER = 25
_UNCOVERED_CLUSTERS = 40
_TEXT = 400  # characters of one dataset text shown
_MAP_TIP = 160

_CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d1d1f;background:#f6f7f9;
overflow-wrap:anywhere}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px}h3{font-size:13px;margin:10px 0 4px;color:#555}
.sub{color:#333;margin-bottom:16px;max-width:72ch}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}
.card{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px #0002}
.card b{display:block;font-size:24px}.card span{color:#555;font-size:12px}
.card.alert b{color:#d62728}
nav.toc{background:#fff;border-radius:8px;padding:8px 14px;margin:20px 0 0;box-shadow:0 1px 2px #0002}
nav.toc ol{margin:4px 0;padding-left:20px}nav.toc li{margin:2px 0}
a{color:#1a5fb4}
.chart{background:#fff;border-radius:8px;padding:10px 14px;box-shadow:0 1px 2px #0002}
.row{display:grid;grid-template-columns:minmax(0,2fr) minmax(0,3fr);gap:2px 12px;padding:4px 0;
border-bottom:1px solid #f0f0f0}
.row .name{font-size:13px}.row .name.gap{color:#d62728}
.bars div{display:flex;align-items:center;gap:6px;font-size:11px;color:#555;line-height:1.3;margin:1px 0}
.bars i{display:block;height:10px;border-radius:2px;min-width:1px;flex:none}.bars span{white-space:nowrap}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0002;border-radius:8px}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid #eee;vertical-align:top}
th{background:#fafafa;font-size:12px;color:#555;text-transform:uppercase;letter-spacing:.03em}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.label{font-weight:600}.terms{color:#666;font-size:12px}
.q{margin:2px 0}.q:before{content:"“";color:#999}.q:after{content:"”";color:#999}
.near{color:#555;font-size:12px;margin:0 0 6px 12px}
ul.plain{list-style:none;margin:0;padding:0}
.flag{display:inline-block;background:#d62728;color:#fff;border-radius:4px;padding:0 6px;font-size:11px}
.legend{font-size:12px;margin:4px 0}.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:middle}
svg.map{display:block;width:100%;max-width:640px;height:auto;background:#fff;border-radius:8px;
box-shadow:0 1px 2px #0002}
details{background:#fff;border-radius:8px;margin:6px 0;padding:8px 12px;box-shadow:0 1px 2px #0002}
summary{cursor:pointer}summary .meta{color:#555;font-size:12px;white-space:nowrap}
details.gap>summary .label{font-size:15px}
.sub-topic{border-left:3px solid #eee;padding-left:8px;margin:6px 0}
.note{color:#666;font-size:12px}
@media (max-width:600px){
main{padding:12px}h1{font-size:20px}
.cards{grid-template-columns:repeat(3,minmax(0,1fr));gap:8px}.card{padding:8px}
.card b{font-size:18px}.card span{font-size:11px;line-height:1.25;display:block}
.row{grid-template-columns:minmax(0,1fr)}
table,tbody,tr,td{display:block;width:100%}tr.head{display:none}
tr{border-bottom:1px solid #ddd;padding:4px 0}td{border:0;padding:2px 10px}td.n{text-align:left}
td[data-h]:before{content:attr(data-h) ": ";color:#666;font-size:12px}
summary .meta{white-space:normal}
}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _clip(text: Any, limit: int = _TEXT) -> str:
    """Dataset text, escaped and bounded in length."""
    text = str(text)
    return _e(text if len(text) <= limit else text[:limit - 1] + "…")


def _pct(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x * 100:.1f}%" if x < 0.1 else f"{x * 100:.0f}%"


def _num(x: Any) -> str:
    return f"{x:,}" if isinstance(x, int) else _e(x)


def _gap_queries(r: CoverageReport) -> int:
    return int(r.summary.get("queries_in_gaps", sum(g.get("queries", 0) for g in r.gaps)))


def _to_collect(r: CoverageReport) -> int:
    return int(r.summary.get("suggested_new_examples", sum(g.get("suggested_new_examples", 0) for g in r.gaps)))


def _thin(r: CoverageReport) -> list[dict[str, Any]]:
    return [c for c in r.clusters if c.get("gap")]


def _intro(r: CoverageReport) -> str:
    s = r.summary
    if not r.queries:
        return (f"No production queries given: the training set's own balance over "
                f"{s.get('clusters', len(r.clusters))} topic clusters; {len(_thin(r))} are thin (under half the "
                f"average share).")
    n_q = s.get("queries", 0)
    if not r.gaps:
        return (f"No gap found: each of the {n_q:,} production queries has training examples around it about as "
                f"dense as production's own.")
    share = _gap_queries(r) / n_q if n_q else 0.0
    return (f"{len(r.gaps):,} gap{'s' if len(r.gaps) != 1 else ''} hold {_gap_queries(r):,} of {n_q:,} production "
            f"queries ({_pct(share)}) that training barely covers: collect about {_to_collect(r):,} training "
            f"examples for them, biggest first.")


def _cards(r: CoverageReport) -> str:
    s = r.summary
    # (figure, what it counts, shown as an alert when not zero)
    items: list[tuple[str, str, bool]]
    if r.queries:
        n_q = s.get("queries", 0)
        share = _gap_queries(r) / n_q if n_q else 0.0
        items = [(f"{len(r.gaps):,}", "gaps", True), (f"{_to_collect(r):,}", "examples to collect", True),
                 (_pct(share), "of production in gaps", True),
                 (f"{s.get('under_covered_queries', 0):,}", "under-covered queries", False),
                 (f"{s.get('uncovered_queries', 0):,}", "queries with no close training example", False),
                 (f"{n_q:,}", "production queries", False),
                 (f"{s.get('train_examples', 0):,}", "training examples", False)]
    else:
        items = [(f"{len(_thin(r)):,}", "thin clusters", True),
                 (f"{s.get('suggested_new_examples', 0):,}", "examples to balance", True),
                 (f"{s.get('train_examples', 0):,}", "training examples", False),
                 (f"{s.get('clusters', len(r.clusters)):,}", "topic clusters", False)]
    return '<div class="cards">' + "".join(
        f'<div class="card{" alert" if alert and figure not in ("0", "0%", "0.0%") else ""}"><b>{_e(figure)}</b>'
        f'<span>{_e(what)}</span></div>' for figure, what, alert in items) + "</div>"


def _bar_row(name: str, bars: list[tuple[float, float, str, str]], href: str = "", cls: str = "") -> str:
    """One chart row: the name, then a bar per (value, scale, colour, caption); widths in percent of the box."""
    name_html = f'<a href="{href}">{name}</a>' if href else name
    out = [f'<div class="row"><div class="name{cls}">{name_html}</div><div class="bars">']
    for value, top, colour, caption in bars:
        w = 100 * (value or 0) / top if top else 0
        out.append(f'<div><i style="width:{min(w, 100) * 0.7:.1f}%;background:{colour}"></i>'
                   f'<span>{caption}</span></div>')
    return "".join(out) + "</div></div>"


def _gap_chart(r: CoverageReport) -> str:
    """Per gap, most examples to collect first: its under-covered queries and the examples to collect."""
    rows = r.gaps[:_GAP_CHART_ROWS]
    top_q = max([g.get("queries", 0) for g in rows] + [1])
    top_c = max([g.get("suggested_new_examples", 0) for g in rows] + [1])
    body = "".join(_bar_row(
        _clip(g.get("label", ""), 80),
        [(g.get("queries", 0), top_q, QUERY, f'{g.get("queries", 0):,} queries'),
         (g.get("suggested_new_examples", 0), top_c, COLLECT, f'collect {g.get("suggested_new_examples", 0):,}')],
        href=f'#gap-{_e(g.get("id", i))}') for i, g in enumerate(rows))
    more = f'<p class="note">The {len(r.gaps) - len(rows):,} smaller gaps are listed below.</p>' \
        if len(r.gaps) > len(rows) else ""
    legend = (f'<div class="legend"><span><i style="background:{QUERY}"></i>under-covered production queries'
              f'</span><span><i style="background:{COLLECT}"></i>training examples to collect</span></div>')
    return f'{legend}<div class="chart">{body}</div>{more}'


def _gap_entry(g: dict[str, Any], i: int) -> str:
    density = g.get("train_density")
    meta = [f'{g.get("queries", 0):,} under-covered queries', f'collect {g.get("suggested_new_examples", 0):,}']
    facts = [f'{g.get("queries", 0):,} under-covered production queries'
             + (f' ({_pct(g["query_share"])} of production)' if g.get("query_share") is not None else ""),
             f'<b>collect {g.get("suggested_new_examples", 0):,} training examples</b>']
    if density is not None:
        facts.insert(1, f"training density {density:.2f} (1 = as covered as the average query)")
    parts = [f'<p class="note">{" · ".join(facts)}</p>']
    examples = g.get("example_queries") or []
    if examples:
        parts.append('<h3>Example queries</h3><ul class="plain">' +
                     "".join(f'<li class="q">{_clip(q)}</li>' for q in examples[:_EXAMPLES]) + "</ul>")
    nearest = g.get("nearest_train") or []
    if nearest:
        parts.append('<h3>Nearest training examples</h3><ul class="plain">' + "".join(
            f'<li class="q">{_clip(t.get("text", ""))}</li><li class="near">cosine {t.get("similarity", 0):.2f}'
            f'{" · id " + _clip(t["id"], 40) if t.get("id") else ""}</li>' for t in nearest[:_NEAREST]) + "</ul>")
    elif g.get("queries"):
        parts.append('<p class="note">No training example near this gap.</p>')
    subs = g.get("sub_topics") or []
    if subs:
        items = "".join(
            f'<div class="sub-topic"><span class="label">{_clip(s.get("label", ""), 80)}</span> '
            f'<span class="note">{s.get("queries", 0):,} queries · {_clip(", ".join(s.get("terms") or []), 120)}'
            f'</span>' + "".join(f'<div class="q">{_clip(q)}</div>' for q in (s.get("example_queries") or [])
                                 [:_SUB_EXAMPLES]) + "</div>" for s in subs[:_SUB_TOPICS])
        more = f'<p class="note">… and {len(subs) - _SUB_TOPICS} more sub-topics</p>' if len(subs) > _SUB_TOPICS \
            else ""
        parts.append(f"<h3>Sub-topics ({len(subs)})</h3>{items}{more}")
    terms = g.get("terms") or []
    if terms:
        parts.append(f'<p class="terms">Terms: {_clip(", ".join(terms[:_TERMS]), 200)}</p>')
    return (f'<details class="gap" id="gap-{_e(g.get("id", i))}"{" open" if i < _GAPS_OPEN else ""}><summary>'
            f'<span class="label">{_clip(g.get("label", ""), 80)}</span> <span class="meta">'
            f'— {" · ".join(meta)}</span></summary>{"".join(parts)}</details>')


def _gaps(r: CoverageReport) -> str:
    if not r.gaps:
        return ('<p>No gap: no region of production queries is much less covered by training than production '
                'is on average.</p>')
    shown = r.gaps[:_GAPS_SHOWN]
    more = f'<p class="note">… and {len(r.gaps) - len(shown):,} smaller gaps in the JSON report.</p>' \
        if len(r.gaps) > len(shown) else ""
    return "".join(_gap_entry(g, i) for i, g in enumerate(shown)) + more


def _thin_entry(c: dict[str, Any], i: int) -> str:
    examples = "".join(f'<li class="q">{_clip(t)}</li>' for t in (c.get("example_train") or [])[:_EXAMPLES])
    return (f'<details class="gap" id="thin-{_e(c["id"])}"{" open" if i < _GAPS_OPEN else ""}><summary>'
            f'<span class="label">{_clip(c["label"], 80)}</span> <span class="meta">— {c["n_train"]:,} examples '
            f'({_pct(c["train_share"])}) · collect {c["suggested_new_examples"]:,} to balance</span></summary>'
            + (f'<h3>Central training examples</h3><ul class="plain">{examples}</ul>' if examples else "")
            + f'<p class="terms">Terms: {_clip(", ".join(c.get("terms") or []), 200)}</p></details>')


def _thin_list(r: CoverageReport) -> str:
    thin = _thin(r)
    if not thin:
        return "<p>No thin cluster: every topic holds at least half the average share of training.</p>"
    shown = thin[:_GAPS_SHOWN]
    more = f'<p class="note">… and {len(thin) - len(shown):,} more in the JSON report.</p>' \
        if len(thin) > len(shown) else ""
    return "".join(_thin_entry(c, i) for i, c in enumerate(shown)) + more


def _share_chart(r: CoverageReport) -> str:
    """Paired bars: production vs training share, the clusters with the largest differences."""
    if r.queries:
        rows = sorted(r.clusters, key=lambda c: -abs(c.get("share_gap") or 0))[:_CHART_ROWS]
        rows.sort(key=lambda c: -(c.get("share_gap") or 0))
    else:
        rows = sorted(r.clusters, key=lambda c: c["train_share"])[:_CHART_ROWS]
    top = max([max(c["train_share"], c.get("query_share") or 0) for c in rows] + [1e-9])
    body = []
    for c in rows:
        bars = [(c.get("query_share") or 0, top, QUERY, f'production {_pct(c.get("query_share"))}')] \
            if r.queries else []
        bars.append((c["train_share"], top, TRAIN, f'training {_pct(c["train_share"])}'))
        body.append(_bar_row(_clip(c["label"], 80), bars, cls=" gap" if c.get("gap") else ""))
    legend = (f'<div class="legend"><span><i style="background:{QUERY}"></i>production share</span>'
              if r.queries else '<div class="legend">') + \
        f'<span><i style="background:{TRAIN}"></i>training share</span>' \
        f'<span style="color:{GAP}">red name = {"gap cluster" if r.queries else "thin"}</span></div>'
    more = f'<p class="note">The {len(rows)} of {len(r.clusters)} clusters whose shares differ most.</p>' \
        if len(r.clusters) > len(rows) else ""
    return f'{legend}<div class="chart">{"".join(body)}</div>{more}'


def _map(r: CoverageReport) -> str:
    m = r.map
    if not m or not m.get("xy"):
        return ""
    labels = {c["id"]: c["label"] for c in r.clusters}
    size = 640
    n_train = len(m["train"])
    # Queries are coloured by the gaps the page lists; a map without "gap" (older JSON) has none marked.
    in_gap = [-1] * n_train + list(m.get("gap", [-1] * len(m["query"])))
    out = [f'<svg class="map" viewBox="0 0 {size} {size}" role="img" aria-label="map of the embeddings">']
    for i, ((x, y), c) in enumerate(zip(m["xy"], m["cluster"])):
        is_q, g = i >= n_train, in_gap[i]
        col = (GAP if g >= 0 else QUERY) if is_q else TRAIN
        shape_r = 2.6 if is_q else 2.0
        text = m["text"][i] if i < len(m.get("text", [])) else ""
        where = f'gap {g + 1}: {r.gaps[g]["label"]}' if 0 <= g < len(r.gaps) else \
            f'cluster {c}: {labels.get(c, "")}'
        tip = f'{"query" if is_q else "training"} · {where}\n{text}'
        out.append(f'<circle cx="{10 + x * (size - 20):.1f}" cy="{10 + y * (size - 20):.1f}" r="{shape_r}" '
                   f'fill="{col}" fill-opacity="{0.75 if is_q else 0.35}"><title>{_clip(tip, _MAP_TIP + 120)}</title>'
                   f'</circle>')
    out.append("</svg>")
    legend = (f'<div class="legend"><span><i style="background:{TRAIN}"></i>training prompt</span>'
              + (f'<span><i style="background:{QUERY}"></i>production query</span>'
                 f'<span><i style="background:{GAP}"></i>query in a gap</span>' if r.queries else "")
              + "</div>")
    return legend + "".join(out) + f'<p class="note">t-SNE of {len(m["xy"]):,} sampled points; hover for text.</p>'


def _all_clusters(r: CoverageReport) -> str:
    head = ('<tr class="head"><th>#</th><th>topic</th><th>production</th><th>training</th><th>gap score</th>'
            '<th>collect</th></tr>')
    shown = r.clusters[:_CLUSTER_ROWS]
    body = "".join(
        f'<tr><td class="n" data-h="cluster">{c["id"]}</td><td><span class="label">{_clip(c["label"], 80)}</span>'
        f'{" <span class=flag>gap</span>" if c.get("gap") else ""}<div class="terms">'
        f'{_clip(", ".join(c.get("terms") or []), 200)}</div></td>'
        f'<td class="n" data-h="production">{_pct(c.get("query_share"))} ({c.get("n_queries", 0):,})</td>'
        f'<td class="n" data-h="training">{_pct(c["train_share"])} ({c["n_train"]:,})</td>'
        f'<td class="n" data-h="gap score">{c.get("gap_score", 0):.2f}</td>'
        f'<td class="n" data-h="collect">{c.get("suggested_new_examples", 0):,}</td></tr>' for c in shown)
    more = f'<p class="note">The first {len(shown)} of {len(r.clusters)} clusters; the JSON lists all.</p>' \
        if len(r.clusters) > len(shown) else ""
    return (f"<details><summary>All {len(r.clusters)} clusters</summary><table>{head}{body}</table>{more}"
            f"</details>")


def _uncovered(r: CoverageReport) -> str:
    by_cluster: dict[int, list[dict]] = {}
    for u in r.uncovered_queries:
        by_cluster.setdefault(u["cluster"], []).append(u)
    labels = {c["id"]: c["label"] for c in r.clusters}
    parts = [f'<p class="note">{len(r.uncovered_queries):,} queries whose most similar training prompt has cosine '
             f'below {_e(r.params.get("uncovered_similarity", ""))}, by cluster; the JSON report lists all of them.'
             f'</p>']
    for c, items in list(by_cluster.items())[:_UNCOVERED_CLUSTERS]:
        rows = "".join(f'<div class="q">{_clip(u["text"])}</div>'
                       f'<div class="near">→ {_clip(u["nearest_train"]["text"])} '
                       f'<span class="note">(cosine {u["nearest_similarity"]:.2f})</span></div>'
                       for u in items[:_UNCOVERED_PER_CLUSTER])
        more = f'<p class="note">… and {len(items) - _UNCOVERED_PER_CLUSTER} more</p>' \
            if len(items) > _UNCOVERED_PER_CLUSTER else ""
        parts.append(f'<details><summary><b>{_clip(labels.get(c, c), 80)}</b> — {len(items)} queries</summary>'
                     f'{rows}{more}</details>')
    if len(by_cluster) > _UNCOVERED_CLUSTERS:
        parts.append(f'<p class="note">… and {len(by_cluster) - _UNCOVERED_CLUSTERS} more clusters in the JSON.</p>')
    return "".join(parts)


def _sections(r: CoverageReport) -> list[tuple[str, str, str]]:
    """(id, heading, body) of each section after the table of contents, in page order."""
    out = []
    if r.queries:
        out.append(("gaps", f"Gaps: where to collect data ({len(r.gaps):,})", _gaps(r)))
        out.append(("shares", "Production vs training share by topic cluster", _share_chart(r)))
    else:
        out.append(("thin", f"Thin topics ({len(_thin(r)):,})", _thin_list(r)))
    point_map = _map(r)
    if point_map:
        out.append(("map", "Map", point_map))
    if r.uncovered_queries:
        out.append(("uncovered", f"Queries with no close training example ({len(r.uncovered_queries):,})",
                    _uncovered(r)))
    out.append(("clusters", f"All topic clusters ({len(r.clusters):,})", _all_clusters(r)))
    return out


def render(r: CoverageReport) -> str:
    s = r.summary
    title = f"Coverage: {r.train}" + (f" vs {r.queries}" if r.queries else "")
    if r.queries:
        chart_id, chart_title = "chart", "The biggest gaps"
        chart = _gap_chart(r) if r.gaps else '<p class="note">No gap to chart.</p>'
    else:
        chart_id, chart_title, chart = "chart", "Training share by topic cluster", _share_chart(r)
    sections = _sections(r)
    toc = "".join(f'<li><a href="#{sid}">{_e(heading)}</a></li>'
                  for sid, heading, _ in [(chart_id, chart_title, ""), *sections])
    body = "".join(f'<section id="{sid}"><h2>{_e(heading)}</h2>{content}</section>'
                   for sid, heading, content in sections)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{_e(title)}</title>'
            f"<style>{_CSS}</style></head><body><main>"
            f'<header id="summary"><h1>{_e(title)}</h1><p class="sub">{_e(_intro(r))}</p>{_cards(r)}</header>'
            f'<section id="{chart_id}"><h2>{_e(chart_title)}</h2>{chart}</section>'
            f'<nav class="toc" aria-label="contents"><b>Contents</b><ol>{toc}</ol></nav>{body}'
            f'<p class="note">Made by curate coverage. Clusters: k-means over both sides with equal weight, '
            f'k={_e(s.get("clusters", len(r.clusters)))} ({_e(s.get("clusters_chosen_by", ""))}). '
            f'Embeddings: {_e(r.params.get("model", ""))}.</p>'
            f"</main></body></html>")


def write_html(r: CoverageReport, path: str | Path) -> None:
    Path(path).write_text(render(r), encoding="utf-8")
