"""Semantic duplicates: precision/recall on MSRP, and embedding throughput vs sentence-transformers.

    python bench/semantic.py [--split test]

1. MSRP (Microsoft Research Paraphrase Corpus, ../shared/data/msrp): every labelled pair is scored by
   the cosine of its two sentences' embeddings (all-MiniLM-L6-v2, the offline default). A pair counts as
   predicted duplicate when cosine >= threshold; precision and recall are against the paraphrase label,
   at several thresholds and at curate's default.
2. The same pairs through `semantic_links` and `stars` (what `curate dedup --methods semantic` runs), to
   check that grouping finds what the pairwise cosine says; and self-dedup against semhash, same encoder.
3. Throughput: curate's `Embedder` (length-sorted batches) vs `SentenceTransformer.encode` defaults, same
   model, same texts, in one run; mean cosine between the two sets of embeddings.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

from curate.dedup import DEFAULT_SEMANTIC_THRESHOLD  # noqa: E402
from curate.dedup.semantic import semantic_links  # noqa: E402
from curate.dedup.stars import stars  # noqa: E402
from curate.embed import Embedder, _resolve  # noqa: E402


def msrp(split: str) -> tuple[list[str], list[str], np.ndarray]:
    a, b, y = [], [], []
    with open(SHARED / "msrp" / f"msr-para-{split}.tsv", encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)
        for row in reader:
            y.append(int(row[0]))
            a.append(row[3])
            b.append(row[4])
    return a, b, np.array(y)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="test", choices=["train", "val", "test"])
    args = ap.parse_args()
    a, b, y = msrp(args.split)
    texts = a + b
    embedder = Embedder()
    embedder.encode(["warm up"])
    t = time.perf_counter()
    emb = embedder.encode(texts)
    curate_s = time.perf_counter() - t
    cos = (emb[:len(a)] * emb[len(a):]).sum(axis=1)
    print(f"MSRP {args.split}: {len(y):,} pairs, {y.sum():,} paraphrases ({y.mean():.0%})")
    print(f"{'threshold':>10}{'precision':>11}{'recall':>9}{'F1':>7}{'flagged':>9}")
    for thr in (0.7, 0.75, 0.8, 0.85, 0.9, 0.95):
        pred = cos >= thr
        p = (pred & (y == 1)).sum() / max(pred.sum(), 1)
        r = (pred & (y == 1)).sum() / y.sum()
        mark = "  <- default" if abs(thr - DEFAULT_SEMANTIC_THRESHOLD) < 1e-9 else ""
        print(f"{thr:>10.2f}{p:>11.3f}{r:>9.3f}{2 * p * r / max(p + r, 1e-9):>7.3f}{pred.sum():>9,}{mark}")

    pairs, cos = semantic_links(emb, DEFAULT_SEMANTIC_THRESHOLD)
    group = np.arange(len(emb))  # a star's members point at its centre (the first of them: input order here)
    star_pairs, _ = stars(emb, pairs, cos, DEFAULT_SEMANTIC_THRESHOLD, np.arange(len(emb)))
    group[star_pairs[:, 1]] = star_pairs[:, 0]
    grouped = group[:len(a)] == group[len(a):]
    print(f"\nsemantic dedup at {DEFAULT_SEMANTIC_THRESHOLD}: {grouped.sum():,} labelled pairs end in one group "
          f"(precision {(grouped & (y == 1)).sum() / max(grouped.sum(), 1):.3f}, "
          f"recall {(grouped & (y == 1)).sum() / y.sum():.3f}; a group is a kept sentence and those within the "
          "threshold of it)")

    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(_resolve(None), device="cpu")
    st.encode(["warm up"])
    t = time.perf_counter()
    ref = st.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    st_s = time.perf_counter() - t
    agree = (ref * emb).sum(axis=1).mean()
    print(f"\nembedding {len(texts):,} sentences on CPU:")
    print(f"  sentence-transformers encode (defaults): {len(texts) / st_s:,.0f} texts/s")
    print(f"  curate Embedder ({embedder.backend}):{' ' * max(1, 19 - len(embedder.backend))}{len(texts) / curate_s:,.0f} texts/s  "
          f"({st_s / curate_s:.2f}x; target >= 3x), mean cosine to the default embeddings {agree:.4f} "
          f"(min {(ref * emb).sum(axis=1).min():.4f}; target >= 0.99)")
    versus_semhash(texts, embedder)


def versus_semhash(texts: list[str], embedder: Embedder) -> None:
    """Self-deduplication of the same texts at the default threshold, curate vs semhash, same encoder."""
    try:
        from semhash import SemHash
    except ImportError:
        print("\nsemhash not installed (pip install semhash): comparison skipped")
        return

    class SameEncoder:  # semhash calls encode(); hand it curate's encoder so only the search differs
        def encode(self, batch, **_):
            return embedder.encode(list(batch))

    texts = list(dict.fromkeys(texts))
    t = time.perf_counter()
    emb = embedder.encode(texts)
    pairs, cos = semantic_links(emb, DEFAULT_SEMANTIC_THRESHOLD)
    # Stars in input order, as semhash keeps the first of its duplicates (curate ranks by quality instead).
    pairs, _ = stars(emb, pairs, cos, DEFAULT_SEMANTIC_THRESHOLD, np.arange(len(texts)))
    curate_s = time.perf_counter() - t
    ours, ours_removed = set(pairs.ravel().tolist()), set(pairs[:, 1].tolist())
    t = time.perf_counter()
    result = SemHash.from_records(texts, model=SameEncoder()).self_deduplicate(threshold=DEFAULT_SEMANTIC_THRESHOLD)
    semhash_s = time.perf_counter() - t
    index = {text: i for i, text in enumerate(texts)}
    theirs = {index[d.record] for d in result.filtered} | {index[d.duplicate_of] for d in result.filtered
                                                            if d.duplicate_of in index}
    theirs_removed = {index[d.record] for d in result.filtered}
    both = len(ours & theirs) / max(len(ours | theirs), 1)
    removed = len(ours_removed & theirs_removed) / max(len(ours_removed | theirs_removed), 1)
    print(f"\nself-dedup of {len(texts):,} distinct sentences at cosine {DEFAULT_SEMANTIC_THRESHOLD}, same encoder:")
    print(f"  curate (embed + blockwise links): {curate_s:.1f}s, {len(ours):,} sentences in duplicate groups")
    print(f"  semhash (embed + usearch ANN):    {semhash_s:.1f}s, {len(theirs):,} sentences in duplicate groups")
    print(f"  agreement (Jaccard of the two sets): {both:.3f}")
    print(f"  sentences removed (all but each group's first): curate {len(ours_removed):,}, semhash "
          f"{len(theirs_removed):,}, Jaccard {removed:.3f}")


if __name__ == "__main__":
    main()
