"""Semantic groups are stars: every duplicate is within the threshold of the example kept for its group."""

import csv
import json

import numpy as np
from click.testing import CliRunner

from curate.cli import main
from curate.dedup import stars as stars_module
from curate.dedup.analysis import class_rank
from curate.dedup.semantic import all_pairs
from curate.dedup.stars import stars

from .conftest import require


def _unit(rows) -> np.ndarray:
    v = np.asarray(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _chain() -> np.ndarray:
    """Five points on an arc, 20 degrees apart: neighbours at cosine 0.94, two apart at 0.77."""
    angles = np.radians(np.arange(5) * 20.0)
    return _unit(np.stack([np.cos(angles), np.sin(angles)], axis=1))


def test_a_chain_splits_into_stars_around_the_best_documents():
    emb = _chain()
    pairs, cos = all_pairs(emb, 0.9)
    assert sorted(map(tuple, pairs.tolist())) == [(0, 1), (1, 2), (2, 3), (3, 4)]  # one chain, as found
    rank = np.array([4, 0, 3, 1, 2])  # document 1 is the best, then 3
    stats: dict = {}
    got, sims = stars(emb, pairs, cos, 0.9, rank, stats=stats)
    assert sorted(map(tuple, got.tolist())) == [(0, 1), (1, 2), (3, 4)]
    assert np.allclose(sims, np.cos(np.radians(20))) and stats["stars"]["left_chained"] == 0
    # Best first in input order instead: 0 takes 1, 2 takes 3, 4 stays alone.
    got, _ = stars(emb, pairs, cos, 0.9, np.arange(5))
    assert sorted(map(tuple, got.tolist())) == [(0, 1), (2, 3)]


def test_a_chain_past_the_budget_stays_a_chain_and_says_so(monkeypatch):
    emb = _chain()
    pairs, cos = all_pairs(emb, 0.9)
    stats: dict = {}
    got, _ = stars(emb, pairs, cos, 0.9, np.arange(5), budget=3, stats=stats)
    assert sorted(map(tuple, got.tolist())) == sorted(map(tuple, pairs.tolist()))
    assert stats["stars"] == {"chains": 1, "cosines": 0, "left_chained": 5}
    monkeypatch.setattr(stars_module, "_MAX_CHAIN_BYTES", 8)  # nor may a chain's rows pass the memory cap
    got, _ = stars(emb, pairs, cos, 0.9, np.arange(5), stats=stats)
    assert len(got) == 4 and stats["stars"]["left_chained"] == 5


def test_chains_given_up_on_count_against_the_budget():
    """Four chains of 2,000 on arcs, a budget of 0.95 of one chain's cosines: the work stays within it."""
    arc = np.linspace(0, 1.5, 2000)
    emb = np.zeros((4 * 2000, 8), dtype=np.float32)
    for i in range(4):
        emb[i * 2000:(i + 1) * 2000, 2 * i], emb[i * 2000:(i + 1) * 2000, 2 * i + 1] = np.cos(arc), np.sin(arc)
    threshold = float(np.cos(1.5 / 1999 * 2.5))
    pairs, cos = all_pairs(emb, threshold)
    stats: dict = {}
    stars(emb, pairs, cos, threshold, np.arange(len(emb)), stats=stats)
    one_chain = stats["stars"]["cosines"] // 4
    got, _ = stars(emb, pairs, cos, threshold, np.arange(len(emb)), budget=int(one_chain * 0.95), stats=stats)
    assert 0 < stats["stars"]["cosines"] <= one_chain * 0.95 and stats["stars"]["left_chained"] == 8000
    assert sorted(map(tuple, got.tolist())) == sorted(map(tuple, pairs.tolist()))  # every chain as found


def test_a_class_ranks_by_the_member_a_group_keeps():
    """--key prompt: documents 0 and 1 share a prompt (one class, embedded as 0), 1 has the longest answer.
    Ranked by 0's quality, document 2 became a centre and took 3, which is not within the threshold of the
    kept document 1's prompt; ranked by the class's best member, 0 is the centre and 3 stays alone."""
    quality = np.array([(1.0, 5, 2), (1.0, 50, 2), (1.0, 20, 2), (1.0, 1, 2)])
    class_of, reps = np.array([0, 0, 2, 3]), np.array([0, 2, 3])
    angles = np.radians([0, 20, 40])
    emb = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    pairs, cos = all_pairs(emb, 0.9)
    got, _ = stars(emb, pairs, cos, 0.9, class_rank(quality, class_of, reps))
    assert got.tolist() == [[0, 1]]  # rows of emb: class 0 takes document 2; document 3 (row 2) is alone


def test_long_chains_give_the_stars_of_every_pair():
    """Blocks of candidate centres and the gathering of free rows give what one centre at a time gives, on
    chains longer than a block (1,063 documents in one, 432 centres in all)."""
    rng = np.random.default_rng(0)
    centres = _unit(rng.normal(size=(3, 8)))
    emb = _unit(np.repeat(centres, 400, axis=0) + rng.normal(scale=0.3, size=(1200, 8)))
    pairs, cos = all_pairs(emb, 0.9)
    rank = rng.permutation(len(emb))
    got, sims = stars(emb, pairs, cos, 0.9, rank)
    taken: dict[int, int] = {}
    for c in np.argsort(rank).tolist():  # the greedy rule, one centre at a time over every document
        if c in taken:
            continue
        taken[c] = c
        for j in np.flatnonzero(emb @ emb[c] >= 0.9).tolist():
            taken.setdefault(j, c)
    want = {(min(c, j), max(c, j)) for j, c in taken.items() if j != c}
    assert set(map(tuple, got.tolist())) == want
    assert (sims >= 0.9 - 1e-6).all() and len(want) > 700 and len(set(taken.values())) > 400


def test_banking77_duplicates_share_the_intent_of_the_example_kept(shared_data, tmp_path):
    """banking77 as conversations (query, then its intent as the answer), static embedder, default threshold:
    the chains the search finds joined up to 21 intents (2,575 examples in one group, 0.49 of duplicates
    sharing the kept example's intent); as stars each duplicate is within the threshold of the one kept."""
    require("model2vec", "embed")
    ws, run = str(tmp_path / "ws"), CliRunner()
    train = shared_data / "banking77" / "train.csv"
    ingest = ["-w", ws, "--no-progress", "ingest", str(train), "--as", "b", "--map", "text=instruction",
              "--map", "category=output"]
    assert run.invoke(main, ingest).exit_code == 0
    args = ["-w", ws, "--no-progress", "dedup", "-c", "b", "--methods", "semantic", "--embedder", "static"]
    report = json.loads(run.invoke(main, [*args, "--preview", "--json"]).stdout)
    with train.open(newline="") as fh:
        intent = [row["category"] for row in csv.DictReader(fh)]
    same = total = 0
    for g in report["groups"]:
        row_of = {m["id"]: m["source"]["index"] for m in g["members"]}
        kept = intent[row_of[g["representative"]]]
        others = [intent[row_of[m["id"]]] for m in g["members"] if m["id"] != g["representative"]]
        same += sum(i == kept for i in others)
        total += len(others)
    assert total > 3000 and same / total >= 0.95, (same, total)
    assert max(len(g["members"]) for g in report["groups"]) < 300
    stats = report["summary"]["semantic"]["stars"]
    assert stats["chains"] > 50 and stats["left_chained"] == 0
    # Each duplicate's link is to the example kept, at the threshold or above.
    for g in report["groups"]:
        for e in (e for e in g["evidence"] if e["method"] == "semantic"):
            assert g["representative"] in (e["a"], e["b"]) and e["score"] >= 0.9 - 1e-4
    # The preview counts its groups the same way: at 0.9, every pair (10K < its sample) gives dedup's count.
    at = {row["threshold"]: row for row in report["preview"]["semantic"]["thresholds"]}
    assert abs(at[0.9]["duplicates"] - report["summary"]["duplicates"]) <= 2


def test_the_table_says_when_chains_stay_chains(tmp_path, monkeypatch):
    require("model2vec", "embed")
    ws, run = str(tmp_path / "ws"), CliRunner()
    rows = [{"instruction": f"How do I reset my password, step {i}?", "output": "Use the reset link."}
            for i in range(12)]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert run.invoke(main, ["-w", ws, "ingest", str(tmp_path / "d.jsonl"), "--as", "d"]).exit_code == 0
    args = ["-w", ws, "--no-progress", "dedup", "-c", "d", "--methods", "semantic", "--embedder", "static",
            "--semantic-threshold", "0.5"]
    assert "chains too long" not in run.invoke(main, args).stdout
    monkeypatch.setattr(stars_module, "STAR_BUDGET", 1)
    shown = " ".join(run.invoke(main, args).stdout.split())
    assert "semantic groups: 12 examples are in chains too long to split into stars" in shown, shown

