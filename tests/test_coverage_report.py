"""The coverage report's pages from a hand-made CoverageReport: the HTML's order, navigation, collapsing,
escaping and responsiveness (in a real headless browser where one is installed), the Markdown gaps table,
the terminal summary, and the view without production queries. No embedding model: the analysis is not run."""

from __future__ import annotations

import html
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from curate.coverage.analysis import CoverageReport
from curate.coverage.html import GAP
from curate.coverage.html import render as render_html
from curate.coverage.markdown import render as render_md

SCRIPT_QUERY = "<script>alert('x')</script> direct deposit for \"Oslo\" & payroll?"
LONG_WORD = "x" * 300  # one unbreakable word: must wrap, not widen the page


def _gap(i: int, queries: int, collect: int, **extra) -> dict:
    g = {"id": i, "label": f"Gap {i}: how do I set up direct deposit for account {i}?",
         "terms": ["direct deposit", "salary", f"term{i}"], "queries": queries, "query_share": queries / 5000,
         "train_density": round(0.05 * (i % 10), 2), "suggested_new_examples": collect,
         "example_queries": [f"gap {i} query {j}" for j in range(5)],
         "nearest_train": [{"id": f"t{i}{j}", "text": f"training prompt {j} near gap {i}", "similarity": 0.6 - j / 20}
                           for j in range(3)],
         "sub_topics": [],
         "members": [{"id": f"q{i}-{j}", "path": "prod.jsonl", "line": j + 1, "index": None} for j in range(queries)]}
    g.update(extra)
    return g


def _cluster(i: int, gap: bool, queries: bool = True) -> dict:
    n_t, n_q = (2, 40) if gap else (60, 30)
    c = {"id": i, "label": f"cluster {i} · terms", "terms": [f"c{i}", "words"], "n_train": n_t,
         "n_queries": n_q if queries else 0, "train_share": n_t / 500, "gap": gap,
         "gap_score": 0.9 if gap else 0.1, "suggested_new_examples": 30 if gap else 0,
         "example_train": [f"central training prompt of {i}"], "members": {"queries": [], "train": []}}
    if queries:
        c.update(query_share=n_q / 1000, share_gap=n_q / 1000 - n_t / 500, under_covered_queries=n_q if gap else 0,
                 example_queries=[f"query of cluster {i}"], example_pairs=[])
    else:
        c.update(query_share=None, share_gap=None, under_covered_queries=0, example_queries=[], example_pairs=[])
    return c


def _point_map(n_clusters: int) -> dict:
    xy = [[(i * 37 % 100) / 100, (i * 61 % 100) / 100] for i in range(60)]
    return {"train": list(range(30)), "query": list(range(30)), "xy": xy,
            "cluster": [i % n_clusters for i in range(60)], "text": [f"point <{i}>" for i in range(60)],
            "gap": [0 if q % 3 == 0 else -1 for q in range(30)]}


@pytest.fixture()
def report() -> CoverageReport:
    """20 gaps, most examples to collect first; the first has sub-topics and a query holding a script tag,
    the second a 300-letter word."""
    gaps = [_gap(i, queries=80 - 3 * i, collect=240 - 10 * i) for i in range(20)]
    gaps[0]["example_queries"][1] = SCRIPT_QUERY
    gaps[0]["sub_topics"] = [{"label": "Direct deposit form", "terms": ["form"], "queries": 30,
                              "example_queries": ["where is the direct deposit form?"]},
                             {"label": "Salary paid late", "terms": ["late"], "queries": 50,
                              "example_queries": ["my salary is late"]}]
    gaps[1]["example_queries"][0] = LONG_WORD
    gaps[1]["nearest_train"] = []
    clusters = [_cluster(i, gap=i < 4) for i in range(12)]
    summary = {"train_examples": 500, "queries": 5000, "skipped_without_prompt": 0, "clusters": 12,
               "clusters_chosen_by": "silhouette", "gaps": len(gaps),
               "suggested_new_examples": sum(g["suggested_new_examples"] for g in gaps),
               "queries_in_gaps": sum(g["queries"] for g in gaps), "under_covered_queries": 1100,
               "uncovered_queries": 2, "size": 500,
               "cluster_labels": [{"id": c["id"], "label": c["label"], "gap": c["gap"]} for c in clusters]}
    uncovered = [{"source": {"path": "prod.jsonl", "line": 1, "index": None}, "id": "u1", "text": SCRIPT_QUERY,
                  "cluster": 0, "nearest_similarity": 0.31,
                  "nearest_train": {"id": "t", "source": {"path": "t.jsonl", "line": 2, "index": None},
                                    "text": "a training prompt"}},
                 {"source": {"path": "prod.jsonl", "line": 2, "index": None}, "id": "u2", "text": LONG_WORD,
                  "cluster": 1, "nearest_similarity": 0.4,
                  "nearest_train": {"id": "t", "source": {"path": "t.jsonl", "line": 2, "index": None},
                                    "text": "a training prompt"}}]
    params = {"model": "test-model", "uncovered_similarity": 0.6, "queries": "prod"}
    return CoverageReport("train", 7, params, summary, queries="prod", clusters=clusters, gaps=gaps,
                          uncovered_queries=uncovered, map=_point_map(12))


@pytest.fixture()
def balance_report() -> CoverageReport:
    """No production queries: the training set's balance, two thin clusters."""
    clusters = [_cluster(i, gap=i in (3, 5), queries=False) for i in range(8)]
    summary = {"train_examples": 500, "queries": 0, "skipped_without_prompt": 0, "clusters": 8,
               "clusters_chosen_by": "given", "gaps": 2, "suggested_new_examples": 60, "queries_in_gaps": 0,
               "under_covered_queries": 0, "uncovered_queries": 0, "size": 500, "cluster_labels": []}
    pm = _point_map(8)
    pm["query"], pm["train"] = [], list(range(60))
    return CoverageReport("train", 8, {"model": "test-model", "uncovered_similarity": 0.6}, summary,
                          clusters=clusters, map=pm)


def _pos(page: str, needle: str) -> int:
    i = page.find(needle)
    assert i >= 0, f"{needle!r} not in the page"
    return i


def test_html_reads_top_down(report):
    page = render_html(report)
    # title, sentence and cards, then the gap chart, then the contents, then the gaps, then the rest
    order = ['id="summary"', 'class="cards"', 'id="chart"', 'class="toc"', 'id="gaps"', 'id="shares"', 'id="map"',
             'id="uncovered"', 'id="clusters"']
    positions = [_pos(page, n) for n in order]
    assert positions == sorted(positions), "sections in reading order"
    assert "20 gaps hold" in page and "collect about 2,900" in page
    # The chart: the top 15 gaps, each bar row linking to its entry.
    chart = page[_pos(page, 'id="chart"'):_pos(page, 'class="toc"')]
    assert chart.count('class="row"') == 15
    assert 'href="#gap-0"' in chart and "80 queries" in chart and "collect 240" in chart
    assert 'href="#gap-15"' not in chart and "5 smaller gaps" in chart


def test_html_contents_links_resolve(report):
    page = render_html(report)
    ids = set(re.findall(r'\bid="([^"]+)"', page))
    toc = page[_pos(page, 'class="toc"'):_pos(page, "</nav>")]
    links = re.findall(r'href="#([^"]+)"', toc)
    assert {"chart", "gaps", "shares", "map", "uncovered", "clusters"} <= set(links)
    assert set(re.findall(r'href="#([^"]+)"', page)) <= ids, "every in-page link has its target"
    assert len(ids) == len(re.findall(r'\bid="', page)), "ids are unique"


def test_gap_entries_collapsed_but_the_top_three(report):
    page = render_html(report)
    entries = re.findall(r'<details class="gap" id="gap-(\d+)"( open)?>', page)
    assert [int(i) for i, _ in entries] == list(range(20)), "one entry per gap, in the report's order"
    assert [bool(o) for _, o in entries] == [True] * 3 + [False] * 17
    first = page[_pos(page, 'id="gap-0"'):_pos(page, 'id="gap-1"')]
    summary_line = first[:first.index("</summary>")]
    assert "Gap 0: how do I set up direct deposit" in summary_line
    assert "80 under-covered queries" in summary_line and "collect 240" in summary_line
    for text in ("gap 0 query 4", "training prompt 2 near gap 0", "cosine 0.60", "Sub-topics (2)",
                 "Direct deposit form", "Salary paid late", "direct deposit, salary, term0", "training density 0.00",
                 "1.6% of production"):
        assert text in first, text
    second = page[_pos(page, 'id="gap-1"'):_pos(page, 'id="gap-2"')]
    assert "No training example near this gap" in second and "Sub-topics" not in second


def test_html_escapes_and_stays_self_contained(report):
    page = render_html(report)
    assert "<script" not in page.lower()
    assert html.escape(SCRIPT_QUERY, quote=True) in page
    assert "point &lt;3&gt;" in page  # map hover text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "no network request"
    assert "<link" not in page and "@import" not in page and "<img" not in page


def test_html_is_made_for_narrow_screens(report):
    page = render_html(report)
    assert '<meta name="viewport" content="width=device-width,initial-scale=1">' in page
    assert re.search(r"@media \(max-width:\s*(4[2-9]\d|[5-9]\d\d)px\)", page), "a rule for phones at 420 px"
    assert "overflow-wrap:anywhere" in page
    assert re.search(r'<svg class="map" viewBox="0 0 \d+ \d+"', page) and "max-width:640px" in page
    assert not re.search(r'<svg[^>]*\bwidth="\d+"', page), "no SVG of fixed pixel width"


def test_map_colours_queries_by_gap(report):
    page = render_html(report)
    svg = page[page.index('<svg class="map"'):page.index("</svg>", page.index('<svg class="map"'))]
    assert svg.count(f'fill="{GAP}"') == 10, "the 10 mapped queries in gap 1, and no other point"
    assert svg.count("query · gap 1: Gap 0: how do I set up direct deposit") == 10


def test_html_size_is_bounded(report):
    """10,000 gaps of 20 long queries each, 5,000 clusters: the page stays small."""
    long_text = "word " * 2000
    report.gaps = [_gap(i, queries=5, collect=5, example_queries=[long_text] * 20,
                        nearest_train=[{"id": "t", "text": long_text, "similarity": 0.5}] * 10,
                        sub_topics=[{"label": long_text, "terms": ["a"] * 50, "queries": 1,
                                     "example_queries": [long_text] * 10}] * 30) for i in range(10_000)]
    report.clusters = [_cluster(i, gap=True) for i in range(5000)]
    report.uncovered_queries = report.uncovered_queries * 5000
    page = render_html(report)
    assert len(page) < 3_000_000
    assert page.count('<details class="gap"') == 60 and "9,940 smaller gaps in the JSON report" in page


def test_html_without_gaps_says_so(report):
    report.gaps = []
    page = render_html(report)
    assert "No gap" in page and 'class="gap"' not in page


def test_html_without_queries_shows_thin_clusters(balance_report):
    page = render_html(balance_report)
    assert "thin" in page and 'id="gaps"' not in page and "production share" not in page
    order = ['id="summary"', 'id="chart"', 'class="toc"', 'id="thin"', 'id="map"', 'id="clusters"']
    positions = [_pos(page, n) for n in order]
    assert positions == sorted(positions)
    entries = re.findall(r'<details class="gap" id="thin-(\d+)"( open)?>', page)
    assert entries == [("3", " open"), ("5", " open")]
    assert set(re.findall(r'href="#([^"]+)"', page)) <= set(re.findall(r'\bid="([^"]+)"', page))


def test_markdown_gaps_table(report):
    report.gaps[0]["label"] = "<b>deposit</b> | pay"
    md = render_md(report)
    assert "**20 gaps**" in md and "2,900" in md
    header = next(line for line in md.splitlines() if line.startswith("| gap"))
    assert [h.strip() for h in header.strip("|").split("|")] == ["gap", "queries", "training density", "collect",
                                                                 "e.g."]
    rows = [line for line in md.splitlines() if line.startswith("| ") and line != header]
    assert len(rows) == 15 and "5 more gaps" in md
    assert rows[0].startswith("| &lt;b&gt;deposit&lt;/b&gt; \\| pay | 80 | 0.00 | **240** | gap 0 query 0 |")
    report.gaps[0]["example_queries"] = [SCRIPT_QUERY]
    md = render_md(report)
    assert "<script>" not in md and "&lt;script&gt;" in md


def test_markdown_without_queries(balance_report):
    md = render_md(balance_report)
    assert "thin" in md and "| topic | training |" in md and md.count("\n| cluster ") == 2


def test_terminal_summary_lists_gaps(report, balance_report, capsys):
    from curate import render

    report.gaps[0]["label"] = "[red]markup[/] deposit"
    render.coverage_summary(report, [])
    text = capsys.readouterr().out
    assert "[red]markup[/] deposit" in text, "dataset text is shown, not read as markup"
    assert "20 gaps" in text and "collect about 2,900" in text and "240" in text
    render.coverage_summary(balance_report, [])
    text = capsys.readouterr().out
    assert "thin" in text and "cluster 3" in text


# --- a real browser --------------------------------------------------------------------------------------

_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

# Loads the report into a 420 px iframe (srcdoc: same origin, so the harness can look inside) and writes
# what it measures into its own DOM for --dump-dom. The report itself stays script-free.
_HARNESS = """<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0">
<iframe id="f" style="width:420px;height:900px;border:0" srcdoc="{page}"></iframe>
<script>
document.getElementById("f").onload = function () {{
  var w = this.contentWindow, d = w.document, root = d.documentElement, wide = [];
  var closed = d.querySelectorAll("details:not([open])").length;
  d.querySelectorAll("details").forEach(function (el) {{ el.open = true; }});  // measure what a reader opens
  d.querySelectorAll("body *").forEach(function (el) {{
    var r = el.getBoundingClientRect();
    var spills = el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1;  // text wider than its box
    if (r.right > root.clientWidth + 1 || spills)
      wide.push(el.tagName + "." + el.className + "=" + Math.round(Math.max(r.right, el.scrollWidth)));
  }});
  var out = document.createElement("pre");
  out.id = "result";
  out.textContent = JSON.stringify({{scrollWidth: root.scrollWidth, clientWidth: root.clientWidth,
    resources: w.performance.getEntriesByType("resource").length, wide: wide.slice(0, 10),
    closed: closed}});
  document.body.appendChild(out);
}};
</script></body></html>"""


def _browser() -> str:
    for name in _BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no headless Chromium-family browser installed (chromium, google-chrome); "
                "apt-get install chromium to run the layout check")


def _chromium(browser: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-extensions", f"--user-data-dir={cwd / 'profile'}", "--enable-logging=stderr",
                           "--v=0", "--virtual-time-budget=3000", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "a PNG"
    return struct.unpack(">II", head[16:24])


@pytest.mark.parametrize("which", ["gaps", "balance"])
def test_in_a_headless_browser_at_420px(report, balance_report, tmp_path, which):
    import json

    browser = _browser()
    page = render_html(report if which == "gaps" else balance_report)
    # The console check must be able to fail: a page that logs an error shows up in what is read.
    probe = tmp_path / "probe.html"
    probe.write_text("<!doctype html><script>console.error('curate-probe-error')</script>")
    assert any("curate-probe-error" in line for line in _console(
        _chromium(browser, "--dump-dom", probe.as_uri(), cwd=tmp_path).stderr)), "console messages are logged"

    report_file = tmp_path / "coverage.html"
    report_file.write_text(page, encoding="utf-8")
    shot = tmp_path / "shot.png"
    run = _chromium(browser, "--window-size=420,900", f"--screenshot={shot}", "--hide-scrollbars",
                    report_file.as_uri(), cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert not _console(run.stderr), "no console message from a script-free page"
    assert shot.exists() and _png_size(shot) == (420, 900)
    assert 10_000 < shot.stat().st_size < 5_000_000, "a drawn page, not a blank one"

    harness = tmp_path / "harness.html"
    harness.write_text(_HARNESS.format(page=html.escape(page, quote=True)), encoding="utf-8")
    run = _chromium(browser, "--dump-dom", harness.as_uri(), cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.search(r'<pre id="result">(.*?)</pre>', run.stdout, re.S)
    assert found, "the harness measured the page"
    result = json.loads(html.unescape(found.group(1)))
    assert result["clientWidth"] <= 420
    assert result["scrollWidth"] <= result["clientWidth"], f"scrolls sideways at 420 px: {result['wide']}"
    assert not result["wide"]
    assert result["resources"] == 0, "loads nothing"
    assert result["closed"] >= (17 if which == "gaps" else 1), "collapsed entries were there to open"
