"""Coverage: crafted data where the gap is known, the JSON shape, HTML escaping, and the CLI."""

from __future__ import annotations

import csv
import itertools
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from curate.cli import main
from curate.coverage import density
from curate.coverage import run as coverage
from curate.coverage.html import render as render_html
from curate.coverage.markdown import render as render_md
from curate.coverage.neighbours import first_copies
from curate.ingest import ingest
from curate.workspace import Workspace

from .conftest import require

require("sklearn", "embed")

PLACES = ["Berlin", "Paris", "Madrid", "Rome", "Vienna", "Oslo", "Dublin", "Lisbon", "Prague", "Warsaw", "Athens",
          "Zurich"]
TOPICS = {
    "tracking": ["Where is my parcel to {p}?", "My package for {p} has not arrived yet, can you track it?",
                 "The tracking page for my {p} delivery has not updated in days"],
    "refund": ["How do I get a refund for the order I sent to {p}?", "I want my money back for the {p} shipment",
               "Can you refund the delivery fee for my parcel to {p}?"],
    "password": ["I forgot my password, I live in {p}, how do I reset it?", "The password reset email never "
                 "arrives, I am in {p}", "How can I change my account password? (from {p})"],
    "customs": ["Do I have to pay customs duty on a parcel shipped to {p}?", "My parcel is held at customs in {p}, "
                "what forms do I need?", "What import taxes apply when sending a gift to {p}?"],
}


JOBS = ["Are you hiring delivery drivers this summer?", "How do I apply for a job in your warehouse?",
        "Do you offer internships for students?"]


def texts(topic: str) -> list[str]:
    return [t.format(p=p) for t, p in itertools.product(TOPICS[topic], PLACES)]


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture()
def gap_workspace(tmp_path):
    """Training covers tracking, refunds and passwords; production also asks about customs, which training lacks."""
    train = [{"prompt": t, "completion": "Here is how."} for topic in ("tracking", "refund", "password")
             for t in texts(topic)]
    queries = [{"query": t} for topic in TOPICS for t in texts(topic)[::2]]
    queries.append({"query": "<script>alert('x')</script> customs for \"Oslo\" & duty?"})
    ws = Workspace(tmp_path / "ws")
    ingest([write_jsonl(tmp_path / "train.jsonl", train)], "train", workspace=ws)
    ingest([write_jsonl(tmp_path / "prod.jsonl", queries)], "prod", kind="queries", workspace=ws)
    yield ws
    ws.close()


def _topic_of(text: str) -> str:
    for topic in TOPICS:
        if text in texts(topic):
            return topic
    return "customs"  # the script query


def _assert_customs_is_the_gap(data):
    """What must hold for any sound analysis of the gap fixture, whatever the float noise (seeds and embedding
    noise of norm 0 to 0.1 per vector: ONNX int8 and fp32 MiniLM differ by ~0.1)."""
    lines = {i + 1: _topic_of(q) for i, q in enumerate([q for topic in TOPICS for q in texts(topic)[::2]]
                                                        + ["<script>"])}
    in_gap = {m["line"] for g in data["gaps"] for m in g["members"]}
    customs = [line for line, t in lines.items() if t == "customs"]
    assert len(in_gap & set(customs)) >= 0.75 * len(customs)
    assert sum(lines[line] == "customs" for line in in_gap) >= 0.8 * len(in_gap), "the gaps hold customs queries"
    top = data["gaps"][0]
    assert len(data["gaps"]) <= 2 and top["queries"] >= 0.6 * len(customs), "customs is one gap, not many"
    assert _topic_of(top["label"]) == "customs" and "customs" in " ".join(top["terms"])
    assert top["train_density"] < 0.5 and top["nearest_train"] and top["example_queries"]
    # Customs is ~26% of production and 0% of training: about 0.26 * 108 examples are missing.
    assert 15 <= data["summary"]["suggested_new_examples"] <= 40
    assert data["summary"]["queries_in_gaps"] == len(in_gap)
    # The overview: the clusters that hold the customs queries are flagged, and come first.
    flagged = [c for c in data["clusters"] if c["gap"]]
    assert flagged and data["clusters"][0]["gap"] and all(c["train_share"] < c["query_share"] for c in flagged)
    # The customs queries have no close training prompt; covered topics do.
    uncovered = {u["source"]["line"] for u in data["uncovered_queries"]}
    assert uncovered and all(lines[line] == "customs" for line in uncovered)


def test_missing_topic_is_the_gap(gap_workspace):
    _assert_customs_is_the_gap(coverage("train", queries="prod", workspace=gap_workspace).to_dict())


@pytest.mark.parametrize("seed,noise", [(3, 0.0), (4, 0.1), (6, 0.1)])
def test_the_gap_holds_on_another_machine(gap_workspace, monkeypatch, seed, noise):
    """Another CPU, ONNX Runtime or BLAS moves every embedding a little: the same gap must come out. (When
    gaps were k-means clusters, these 3 of 20 draws failed with a single k-means start.)"""
    import curate.embed

    exact = curate.embed.embed
    rng = np.random.default_rng(seed)

    def moved(*args, **kwargs):
        v = exact(*args, **kwargs)
        step = rng.normal(size=v.shape)
        v = v + noise * step / np.linalg.norm(step, axis=1, keepdims=True)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    monkeypatch.setattr(curate.embed, "embed", moved)
    _assert_customs_is_the_gap(coverage("train", queries="prod", workspace=gap_workspace, seed=seed).to_dict())


def test_report_shape_and_storage(gap_workspace):
    report = coverage("train", queries="prod", workspace=gap_workspace, k=6, target_size=1000)
    data = report.to_dict()
    assert set(data) >= {"gaps", "clusters", "uncovered_queries", "summary"}
    gap = data["gaps"][0]
    for key in ("id", "label", "terms", "queries", "query_share", "train_density", "suggested_new_examples",
                "example_queries", "nearest_train", "sub_topics", "members"):
        assert key in gap
    assert {"id", "text", "similarity"} <= set(gap["nearest_train"][0])
    assert len(gap["members"]) == gap["queries"] and {"path", "line", "index"} <= set(gap["members"][0])
    # At a target of 1000 examples, a topic with a quarter of production and no training needs ~250.
    assert gap["suggested_new_examples"] >= 150
    c = data["clusters"][0]
    for key in ("id", "label", "terms", "n_train", "n_queries", "train_share", "query_share", "gap", "gap_score",
                "suggested_new_examples", "example_queries", "members"):
        assert key in c
    assert set(c["members"]) == {"queries", "train"}
    assert {"path", "line", "index"} <= set(c["members"]["queries"][0] if c["members"]["queries"] else
                                             c["members"]["train"][0])
    assert len(data["clusters"]) == 6 and data["summary"]["clusters_chosen_by"] == "given"
    assert sum(c["n_train"] for c in data["clusters"]) == 108
    assert sum(c["n_queries"] for c in data["clusters"]) == 73
    assert abs(sum(c["train_share"] for c in data["clusters"]) - 1) < 1e-3
    stored = gap_workspace.run_clusters(report.run_id)
    assert len(stored) == 108 and set(stored.values()) <= set(range(6))
    assert gap_workspace.latest_run("train", "coverage").summary["gaps"] == data["summary"]["gaps"]
    # Embeddings were cached: a second run embeds nothing new.
    n = gap_workspace.conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    coverage("train", queries="prod", workspace=gap_workspace, k=6)
    assert gap_workspace.conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == n


def test_without_queries_shows_thin_topics(tmp_path):
    train = [{"prompt": t, "completion": "ok"} for topic in ("tracking", "refund", "password")
             for t in texts(topic)] + [{"prompt": t, "completion": "ok"} for t in JOBS]
    with Workspace(tmp_path / "ws") as ws:
        ingest([write_jsonl(tmp_path / "t.jsonl", train)], "train", workspace=ws)
        report = coverage("train", workspace=ws, k=10)  # nine templates of 12 examples, and customs
    jobs_lines = {109, 110, 111}
    home = [c for c in report.clusters if jobs_lines & {m["line"] for m in c["members"]["train"]}]
    assert len(home) == 1 and home[0]["gap"], "the three job questions form one thin cluster"
    assert {m["line"] for m in home[0]["members"]["train"]} == jobs_lines
    assert home[0]["suggested_new_examples"] > 0 and home[0]["query_share"] is None
    assert sum(c["gap"] for c in report.clusters) <= 2
    assert "thin" in render_html(report) and "thin" in render_md(report)


def test_the_map_marks_the_queries_in_gaps(gap_workspace):
    """The map colours a query red exactly when it is a member of a listed gap, and names that gap."""
    report = coverage("train", queries="prod", workspace=gap_workspace)
    m = report.map
    assert len(m["gap"]) == len(m["query"]) and any(g >= 0 for g in m["gap"])
    q_ids = [r.id for r in gap_workspace.iter_examples("prod")]
    members = {mem["id"]: g for g, gap in enumerate(report.gaps) for mem in gap["members"]}
    assert m["gap"] == [members.get(q_ids[i], -1) for i in m["query"]]
    page = render_html(report)
    assert f'gap 1: {report.gaps[0]["label"]}'.replace("'", "&#x27;").replace('"', "&quot;")[:40] in page


def test_html_escapes_dataset_text_and_needs_no_network(gap_workspace):
    report = coverage("train", queries="prod", workspace=gap_workspace)
    page = render_html(report)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "no network request"
    assert "<link" not in page and "@import" not in page
    # the gap chart, the share chart by cluster (HTML bars) and the map (the one SVG)
    assert 'id="chart"' in page and 'id="shares"' in page and page.count('<svg class="map"') == 1
    # Markdown shows dataset text only in gap rows, and only each gap's most central query, so the script query
    # above never reaches it: put it, with a pipe, in a gap row so that the escaping itself is what is tested.
    report.gaps[:1] = [{"id": 0, "label": "<b>label</b>", "terms": [], "queries": 3, "query_share": 0.04,
                        "train_density": 0.1, "suggested_new_examples": 5,
                        "example_queries": ["<script>alert('x')</script> a|b"]}]
    md = render_md(report)
    assert "<script>" not in md and "<b>" not in md and "&lt;script&gt;" in md and "a\\|b" in md


def test_list_search_matches_exact_with_duplicated_queries_and_ties(monkeypatch):
    """Six topics; production repeats some queries word for word (ties at the K-th place, which exact search
    counts all of). Probing every list, the lists' running best gives exact search's counts, neighbours and
    nearest training prompts; with the calibrated probes, >= 0.95 of them (ties everywhere here)."""
    from curate.coverage import neighbours

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 16))
    pts = [centres[c] + rng.normal(scale=0.5, size=(n, 16)) for c, n in zip(range(6), (80, 60, 70, 50, 40, 30))]
    # entries of +-0.25 in 16 dimensions: unit vectors whose cosines are exact in float32 on any CPU, so
    # copies tie exactly (BLAS kernels may round one pair differently in products of different shapes)
    x = np.where(np.vstack(pts) >= 0, 0.25, -0.25)
    train, queries = x[::2].astype(np.float32), x[1::2].astype(np.float32)
    queries = np.vstack([queries, np.repeat(queries[:3], 15, axis=0), train[:2], train[:2]])  # copies of both
    exact = density.query_coverage(train, queries)
    monkeypatch.setattr(density, "_EXACT_LIMIT", 0)
    monkeypatch.setattr(neighbours, "WORTH", 2.0)  # the lists even where all against all would be cheaper
    ticks = []
    near = density.query_coverage(train, queries, lambda d, t: ticks.append((d, t)))
    assert near.search is not None and near.search.sample_recall >= 0.99 and ticks[-1][0] == ticks[-1][1]
    assert near.how_searched().startswith("inverted lists") and near.search.probes < near.search.lists
    same = (exact.n_train == near.n_train) & (exact.n_query == near.n_query) & (exact.nearest == near.nearest)
    assert same.mean() >= 0.95 and (exact.neighbours == near.neighbours).all(axis=1).mean() >= 0.95
    monkeypatch.setattr(neighbours, "BUDGET", 1.0)  # past the budget: the fewest probes, and it says so
    capped = density.query_coverage(train, queries)
    assert capped.search.probes < capped.search.needed and "budget" in capped.how_searched()
    assert capped.search.sample_recall < near.search.sample_recall
    monkeypatch.setattr(neighbours, "BUDGET", 2e10)
    monkeypatch.setattr(neighbours.ivf, "calibrated", lambda need, partners, k: (k, 1.0))  # every list
    every = density.query_coverage(train, queries)
    assert every.search.probes == every.search.lists
    assert np.array_equal(exact.n_train, every.n_train) and np.array_equal(exact.n_query, every.n_query)
    assert exact.n_query.max() > density.NEIGHBOURS, "the copies tie past the K-th place"
    assert np.array_equal(exact.neighbours, every.neighbours)
    assert np.array_equal(exact.nearest, every.nearest) and np.allclose(exact.ratio, every.ratio)
    assert 0.5 < np.median(exact.ratio) < 2, "evenly mixed sides: ratios around 1"


def test_list_search_reaches_exact_neighbours_on_real_queries(shared_data, monkeypatch):
    """Past exact size, inverted lists with calibrated probes. On banking77 (static embeddings), forced onto
    the lists: >= 0.99 of each query's nearest queries, of its nearest points by kind and of its nearest
    training prompt, and the under-covered verdicts of exact search."""
    from curate.coverage import neighbours
    from curate.embed import Embedder

    def texts(split):
        with open(shared_data / "banking77" / f"{split}.csv", encoding="utf-8", newline="") as fh:
            return [r["text"] for r in csv.DictReader(fh)]

    encoder = Embedder(backend="static")
    train, queries = encoder.encode(texts("train")[::2]), encoder.encode(texts("test"))
    exact = density.query_coverage(train, queries)
    monkeypatch.setattr(density, "_EXACT_LIMIT", 0)
    monkeypatch.setattr(neighbours, "WORTH", 2.0)
    near = density.query_coverage(train, queries)
    assert near.search is not None and near.search.probes < near.search.lists
    recall = np.mean([len(set(a[1:]) & set(b[1:])) / density.QUERY_NEIGHBOURS
                      for a, b in zip(near.neighbours, exact.neighbours)])
    assert recall >= 0.99
    points = (np.minimum(near.n_train, exact.n_train) + np.minimum(near.n_query, exact.n_query)).sum()
    assert points / (exact.n_train + exact.n_query).sum() >= 0.99
    assert (near.nearest == exact.nearest).mean() >= 0.99
    assert (near.under_covered == exact.under_covered).mean() >= 0.99
    assert (near.nearest_similarity <= exact.nearest_similarity + 1e-5).all(), "lists only miss neighbours"


def test_cli_coverage(gap_workspace, tmp_path):
    gap_workspace.close()
    ws = str(tmp_path / "ws")
    runner = CliRunner()
    html_path, md_path, json_path = tmp_path / "c.html", tmp_path / "c.md", tmp_path / "c.json"
    result = runner.invoke(main, ["-w", ws, "coverage", "--train", "train", "--queries", "prod", "--html",
                                  str(html_path), "--markdown", str(md_path), "--json", str(json_path)])
    assert result.exit_code == 0, result.output
    assert "collect about" in result.output and html_path.exists() and md_path.exists()
    assert json.loads(json_path.read_text())["summary"]["gaps"] >= 1
    result = runner.invoke(main, ["-w", ws, "coverage", "--queries", "prod", "--clusters", "5", "--json", "-"])
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)["clusters"]) == 5
    result = runner.invoke(main, ["-w", ws, "coverage", "--train", "nope"])
    assert result.exit_code == 2 and "nope" in result.output and "Traceback" not in result.output
    result = runner.invoke(main, ["-w", ws, "coverage", "--train", "train", "--clusters", "0"])
    assert result.exit_code == 2 and "--clusters" in result.output


USERNAME = ["How can I change my account username? (from {p})", "I want a new user name for my account, I live in {p}",
            "Can I rename the login name of my account? I am in {p}"]


def test_a_missing_topic_next_to_a_covered_one_is_found(tmp_path):
    """Changing a username reads almost like changing a password: in one cluster, the password examples
    would cover both. Per-query neighbourhoods, pooled over each query's fellow queries, tell them apart."""
    train = [{"prompt": t, "completion": "Here is how."} for topic in ("tracking", "refund", "password")
             for t in texts(topic)]
    username = [t.format(p=p) for t, p in itertools.product(USERNAME, PLACES)]
    queries = [t for topic in ("tracking", "refund", "password") for t in texts(topic)[::2]] + username[::2]
    with Workspace(tmp_path / "ws") as ws:
        ingest([write_jsonl(tmp_path / "train.jsonl", train)], "train", workspace=ws)
        ingest([write_jsonl(tmp_path / "prod.jsonl", [{"query": q} for q in queries])], "prod", kind="queries",
               workspace=ws)
        report = coverage("train", queries="prod", workspace=ws)
    in_gap = [queries[m["line"] - 1] for g in report.gaps for m in g["members"]]
    asked = set(username[::2])
    assert len(asked & set(in_gap)) >= 0.75 * len(asked), "most username queries are in a gap"
    assert sum(q in asked for q in in_gap) >= 0.8 * len(in_gap), "password queries are not"
    assert report.gaps[0]["label"] in asked
    assert any("password" in t["text"] for t in report.gaps[0]["nearest_train"]), "its nearest training: passwords"


def test_neighbours_at_a_tie_go_to_the_lower_index():
    """numpy's partition picks among equal values by its SIMD kernel (AVX-512 or not), so ties must be broken
    by index, or the gaps depend on the CPU (the golden files did, before)."""
    from curate.coverage.density import _top

    sims = np.array([[0.5, 0.9, 0.5, 0.5, -np.inf], [0.1, 0.2, 0.3, 0.4, 0.5]], dtype=np.float32)
    assert _top(sims, 2).tolist() == [[0, 1], [3, 4]]
    assert _top(np.ones((3, 40), dtype=np.float32), 5).tolist() == [[0, 1, 2, 3, 4]] * 3


def test_copies_of_a_query_tie_whatever_the_product_rounds(monkeypatch):
    """A query asked 30 times has 29 neighbours at cosine 1, however BLAS rounds each product (a copy's cosine
    can read 0.99999994 in one column and 1.0000005 in another of the same product, and then only the copies
    that rounded up counted: 8 of 30 such sets miscounted in the lists' search before copies were tied).
    Real-valued vectors of 16 to 384 dimensions, copies within production and across the sides."""
    from curate.coverage import neighbours

    for seed in range(12):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(int(rng.integers(300, 1500)), int(rng.choice([16, 64, 384])))).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        train, queries = x[:len(x) // 2], x[len(x) // 2:]
        asked = np.repeat(queries[:8], int(rng.integers(12, 40)), axis=0)
        queries = rng.permutation(np.vstack([queries, asked, train[:5], train[:5]]))
        copies = (queries[:, None, :] == queries[None, :, :]).all(axis=2).sum(axis=1) - 1
        in_train = (queries[:, None, :] == train[None, :, :]).all(axis=2).sum(axis=1)
        many = copies >= density.NEIGHBOURS
        exact = density.query_coverage(train, queries)
        with monkeypatch.context() as m:
            m.setattr(density, "_EXACT_LIMIT", 0)
            m.setattr(neighbours, "WORTH", 2.0)
            lists = density.query_coverage(train, queries)
        assert exact.search is None and lists.search is not None
        for cov in (exact, lists):
            assert np.array_equal(cov.n_query[many], copies[many]), seed
            assert np.array_equal(cov.n_train[many], in_train[many]), seed


def test_first_copies_finds_identical_rows_only():
    x = np.array([[1, 2, 3], [4, 5, 6], [1, 2, 3], [1, 2, 4], [4, 5, 6], [1, 2, 3]], dtype=np.float32)
    x = np.hstack([np.zeros((6, 9), np.float32), x])  # equal in the sorted-on entries, apart past them
    assert first_copies(x).tolist() == [0, 1, 0, 3, 1, 0]


def test_queries_far_from_all_training_get_their_nearest_prompt_apart(shared_data, monkeypatch):
    """Production in a gap has no training prompt among its nearest points, and its nearest prompt may lie
    in any list. The probes serve the neighbourhoods; those queries' nearest prompt is searched apart:
    among all while that fits FAR_BUDGET, past it in the nearest lists that fit (not n_far x n_train
    products: hours at a million queries), and the summary says how many queries and what share of a
    sample was reached. Training on banking77, production banking77's and hwu64's home assistant queries."""
    from curate.coverage import neighbours
    from curate.embed import Embedder

    def texts(name, split):
        with open(shared_data / name / f"{split}.csv", encoding="utf-8", newline="") as fh:
            return [r["text"] for r in csv.DictReader(fh)]

    encoder = Embedder(backend="static")
    train = encoder.encode(texts("banking77", "train")[::2])
    queries = encoder.encode(texts("banking77", "test")[::2] + texts("hwu64", "test"))
    exact = density.query_coverage(train, queries)
    monkeypatch.setattr(neighbours, "WORTH", 2.0)
    monkeypatch.setattr(density, "_EXACT_LIMIT", 0)
    seen = {"products": 0}
    candidates, nearest_prompts = neighbours._candidates, neighbours._nearest_prompts

    def counted(points, n_t, rows, cols, *rest):
        seen["products"] += len(rows) * len(cols)
        return candidates(points, n_t, rows, cols, *rest)

    def spied(points, n_t, best, *rest):
        seen["far"] = np.flatnonzero((best.t_pid < 0) | (best.t_val < best.val[:, -1]))
        monkeypatch.setattr(neighbours, "_candidates", counted)
        return nearest_prompts(points, n_t, best, *rest)

    monkeypatch.setattr(neighbours, "_nearest_prompts", spied)
    near = density.query_coverage(train, queries)
    s, far = near.search, seen["far"]
    assert s.sample_recall >= 0.99
    assert s.far == len(far) >= 300 and s.far_all and "searched among all" in near.how_searched()
    assert (near.nearest[far] == exact.nearest[far]).mean() >= 0.99
    assert (near.nearest == exact.nearest).mean() >= 0.99

    budget = 0.2 * len(far) * len(train)
    monkeypatch.setattr(neighbours, "FAR_BUDGET", budget)
    monkeypatch.setattr(neighbours, "_candidates", candidates)
    seen["products"] = 0
    capped = density.query_coverage(train, queries)
    s = capped.search
    assert np.array_equal(seen["far"], far) and s.far == len(far) and not s.far_all
    assert f"{s.far_recall:.4f} of a sample's reached" in capped.how_searched()
    sample_products = min(s.far, neighbours.ivf.SAMPLE_DOCS) * len(train)  # the sample's exact nearest
    assert seen["products"] - sample_products <= 1.5 * budget
    assert (capped.nearest_similarity <= exact.nearest_similarity + 1e-5).all(), "lists only miss neighbours"
    reached = (capped.nearest[far] == exact.nearest[far]).mean()
    assert 0.1 < s.far_recall < 1 and reached >= s.far_recall - 0.05
