"""Near-duplicate benchmark: curate vs the naive datasketch loop vs rensa, same shingles, same threshold.

    python bench/dedup.py [--threshold 0.7] [--scale 1000000]

Corpus: real texts from ../shared/data (Alpaca GPT-4, Code Alpaca, OASST, HH-RLHF, Dolly-style seed
tasks) with near-duplicates planted here: copies with up to 3% of words edited (substituted, dropped or
inserted), and format-only variants (case, punctuation, whitespace, line breaks). Every tool gets the
same word 3-gram shingles: datasketch and rensa get shingle strings built from `curate.dedup.text.words`,
curate hashes the same words with its compiled tokenizer (identical hashes, tested); tokenising is timed
for all of them.

Reports docs/s per tool and the ratio to each peer, and planted-pair recall at the threshold (a pair
counts when the tool reports it, directly or through its group for curate). `--scale N` also runs
exact + near over N short documents built from the same texts and reports time and peak RSS.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

from curate.dedup.groups import UnionFind  # noqa: E402
from curate.dedup.lsh import near_duplicates  # noqa: E402
from curate.dedup.shingles import shingle_ids, shingle_words  # noqa: E402
from curate.dedup.signatures import NUM_PERM  # noqa: E402
from curate.dedup.text import words  # noqa: E402
from curate.dedup.tokens import word_ids  # noqa: E402


def real_texts() -> list[str]:
    texts = []
    for rel in ("alpaca_gpt4_en_demo/alpaca_en_demo.json", "code_alpaca_2k/code_alpaca_2k.json"):
        texts += [f"{r['instruction']} {r['input']} {r['output']}" for r in json.loads((SHARED / rel).read_text())]
    for line in (SHARED / "oasst_en100/oasst_en100_paths.messages.jsonl").open():
        texts += [m["content"] for m in json.loads(line)["messages"]]
    with gzip.open(SHARED / "hh_rlhf_harmless_test/harmless-base_test.jsonl.gz", "rt") as fh:
        texts += [json.loads(line)["chosen"] for line in fh]
    for line in (SHARED / "alpaca/seed_tasks.jsonl").open():
        r = json.loads(line)
        texts += [f"{r['instruction']} {i['input']} {i['output']}" for i in r["instances"]]
    seen, out = set(), []
    for t in texts:  # distinct texts only, so planted pairs are the only intended duplicates
        key = " ".join(words(t))
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out


def edit(text: str, rng: random.Random, rate: float) -> str:
    tokens = text.split()
    n = max(1, int(len(tokens) * rate))
    for _ in range(n):
        i = rng.randrange(len(tokens))
        op = rng.random()
        if op < 0.4:
            tokens[i] = rng.choice(["the", "a", "very", "quite", "also", "then", "it"])
        elif op < 0.7 and len(tokens) > 2:
            del tokens[i]
        else:
            tokens.insert(i, rng.choice(["really", "indeed", "just", "so"]))
    return " ".join(tokens)


def reformat(text: str, rng: random.Random) -> str:
    variants = [str.upper, str.lower, lambda t: t.replace(". ", ".\n\n"), lambda t: t.replace(",", " ,"),
                lambda t: "  ".join(t.split()), lambda t: t.rstrip(".!?") + "!!", lambda t: t.title()]
    for f in rng.sample(variants, 2):
        text = f(text)
    return text


def build(seed: int = 0) -> tuple[list[str], list[tuple[int, int, str]]]:
    rng = random.Random(seed)
    base = real_texts()
    docs = list(base)
    planted = []
    long_ids = [i for i, t in enumerate(base) if len(t.split()) >= 30]
    for i in rng.sample(long_ids, min(1500, len(long_ids))):
        docs.append(edit(base[i], rng, rng.choice([0.01, 0.02, 0.03])))
        planted.append((i, len(docs) - 1, "edit<=3%"))
    for i in rng.sample(range(len(base)), min(800, len(base))):
        docs.append(reformat(base[i], rng))
        planted.append((i, len(docs) - 1, "format-only"))
    return docs, planted


def shingle_strings(w: list[str]) -> list[str]:
    return [" ".join(w[i:i + 3]) for i in range(max(1, len(w) - 2))] if w else []


def run_curate(docs: list[str], threshold: float, num_perm: int,
               engine: str = "oph") -> tuple[float, set[tuple[int, int]], UnionFind]:
    t = time.perf_counter()
    sets = shingle_ids(word_ids(docs))  # curate's tokenizer: the same words, hashed without Python strings
    res = near_duplicates(sets, threshold, num_perm=num_perm, engine=engine)
    seconds = time.perf_counter() - t
    uf = UnionFind(len(docs))
    for a, b in res.pairs.tolist():
        uf.union(a, b)
    return seconds, {tuple(p) for p in res.pairs.tolist()}, uf


def run_datasketch(docs: list[str], threshold: float, limit: int) -> tuple[float, set[tuple[int, int]], int]:
    from datasketch import MinHash, MinHashLSH

    docs = docs[:limit]
    t = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    sigs = []
    for i, d in enumerate(docs):
        m = MinHash(num_perm=128)
        m.update_batch([s.encode() for s in shingle_strings(words(d))])
        lsh.insert(i, m)
        sigs.append(m)
    pairs = {(min(i, j), max(i, j)) for i, m in enumerate(sigs) for j in lsh.query(m) if j != i}
    return time.perf_counter() - t, pairs, len(docs)


def run_rensa(docs: list[str], threshold: float) -> tuple[float, set[tuple[int, int]]]:
    from rensa import RMinHash, RMinHashLSH

    t = time.perf_counter()
    lsh = RMinHashLSH(threshold=threshold, num_perm=128, num_bands=16)
    sigs = []
    for i, d in enumerate(docs):
        m = RMinHash(num_perm=128, seed=42)
        m.update(shingle_strings(words(d)))
        lsh.insert(i, m)
        sigs.append(m)
    pairs = {(min(i, j), max(i, j)) for i, m in enumerate(sigs) for j in lsh.query(m) if j != i}
    return time.perf_counter() - t, pairs


def engine_only(title: str, docs: list[str], args) -> None:
    """The same comparison from pre-tokenised input: each tool gets its shingles (curate: the word lists,
    which it hashes itself; datasketch and rensa: the shingle strings), so only the engines are timed."""
    from datasketch import MinHash, MinHashLSH
    from rensa import RMinHash, RMinHashLSH

    wl = [words(d) for d in docs]
    strs = [shingle_strings(w) for w in wl]
    enc = [[s.encode() for s in x] for x in strs[:args.datasketch_docs]]
    t = time.perf_counter()
    near_duplicates(shingle_words(wl), args.threshold, num_perm=args.num_perm)
    c_s = time.perf_counter() - t
    t = time.perf_counter()
    lsh = RMinHashLSH(threshold=args.threshold, num_perm=128, num_bands=16)
    sigs = []
    for i, sh in enumerate(strs):
        m = RMinHash(num_perm=128, seed=42)
        m.update(sh)
        lsh.insert(i, m)
        sigs.append(m)
    for i, m in enumerate(sigs):
        lsh.query(m)
    r_s = time.perf_counter() - t
    t = time.perf_counter()
    dlsh = MinHashLSH(threshold=args.threshold, num_perm=128)
    dsigs = []
    for i, sh in enumerate(enc):
        m = MinHash(num_perm=128)
        m.update_batch(sh)
        dlsh.insert(i, m)
        dsigs.append(m)
    for m in dsigs:
        dlsh.query(m)
    d_s = time.perf_counter() - t
    c_rate, r_rate, d_rate = len(docs) / c_s, len(docs) / r_s, len(enc) / d_s
    print(f"  engines only (pre-tokenised): curate {c_rate:,.0f} docs/s, rensa {r_rate:,.0f}, datasketch "
          f"{d_rate:,.0f}  ->  curate vs datasketch {c_rate / d_rate:.1f}x, vs rensa {c_rate / r_rate:.2f}x")


_WARM: dict[str, float] = {}


def warm_up(docs: list[str], args) -> None:
    """Each tool once on 200 documents before timing: imports, and curate's compiled kernels loading from
    numba's cache (a one-time cost per process, reported apart)."""
    if _WARM:
        return
    t = time.perf_counter()
    run_curate(docs[:200], args.threshold, args.num_perm)
    _WARM["curate"] = time.perf_counter() - t
    run_curate(docs[:200], args.threshold, args.num_perm, engine="minhash")
    run_rensa(docs[:200], args.threshold)
    run_datasketch(docs[:200], args.threshold, 200)
    print(f"warm-up (not timed below): curate's first call in a process, loading its compiled kernels, "
          f"{_WARM['curate']:.2f} s")


def best_of(runs: int, f):
    """The fastest of `runs` calls (each tool gets the same number): the machine is shared and noisy."""
    results = [f() for _ in range(runs)]
    return min(results, key=lambda r: r[0])


def throughput(title: str, docs: list[str], args) -> tuple[float, set, UnionFind]:
    warm_up(docs, args)
    c_s, c_pairs, uf = best_of(args.runs, lambda: run_curate(docs, args.threshold, args.num_perm))
    m_s, _, _ = best_of(args.runs, lambda: run_curate(docs, args.threshold, args.num_perm, engine="minhash"))
    r_s, _ = best_of(args.runs, lambda: run_rensa(docs, args.threshold))
    d_s, _, d_n = best_of(args.runs, lambda: run_datasketch(docs, args.threshold, args.datasketch_docs))
    c_rate, r_rate, d_rate = len(docs) / c_s, len(docs) / r_s, d_n / d_s
    print(f"\n{title}: {len(docs):,} docs, tokenising included for every tool, best of {args.runs} runs each")
    print(f"{'tool':<40}{'docs/s':>12}{'seconds':>10}")
    print(f"{'curate (one-permutation hashing)':<40}{c_rate:>12,.0f}{c_s:>10.2f}")
    print(f"{'curate, classic MinHash engine':<40}{len(docs) / m_s:>12,.0f}{m_s:>10.2f}")
    print(f"{'rensa RMinHash + RMinHashLSH':<40}{r_rate:>12,.0f}{r_s:>10.2f}")
    print(f"{'datasketch MinHash + MinHashLSH':<40}{d_rate:>12,.0f}{d_s:>10.2f}  (first {d_n:,} docs)")
    print(f"curate vs datasketch: {c_rate / d_rate:.1f}x (target >= 20x);  curate vs rensa: {c_rate / r_rate:.2f}x "
          f"(target > 1x)")
    engine_only(title, docs, args)
    return c_s, c_pairs, uf


def recall(planted, found) -> dict[str, float]:
    out = {}
    for kind in sorted({k for _, _, k in planted}):
        ps = [(a, b) for a, b, k in planted if k == kind]
        out[kind] = sum(found(a, b) for a, b in ps) / len(ps)
    return out


def short_docs(n: int, seed: int = 1) -> list[str]:
    """Short documents (8-30 words) cut from the real texts: the size of prompts and queries."""
    base = [" ".join(words(t)[:40]) for t in real_texts()]
    rng = random.Random(seed)
    docs = []
    while len(docs) < n:
        t = rng.choice(base).split()
        start = rng.randrange(max(1, len(t) - 12))
        doc = t[start:start + rng.randint(8, 30)] + [f"x{rng.randrange(10**9)}"]
        docs.append(" ".join(doc))
    return docs


def scale(n: int, threshold: float) -> None:
    from curate.dedup.corpus import exact_classes as _exact_classes  # the same steps `curate dedup` runs

    docs = short_docs(n)
    t0 = time.perf_counter()
    ids = word_ids(docs)
    class_of, classes = _exact_classes(ids)
    reps = np.flatnonzero(class_of == np.arange(len(class_of)))
    sets = shingle_ids(ids.take(reps))
    res = near_duplicates(sets, threshold)
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nscale: {n:,} short docs, exact + near in {seconds:.1f}s ({n / seconds:,.0f} docs/s), "
          f"{len(classes):,} exact groups, {len(res.pairs):,} near pairs, peak RSS {rss:,.0f} MB "
          f"[target <= 180 s, <= 4 GB: {'PASS' if seconds <= 180 and rss <= 4096 else 'FAIL'}]")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--num-perm", type=int, default=NUM_PERM)
    ap.add_argument("--datasketch-docs", type=int, default=6000, help="datasketch is slow: time it on a prefix")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per tool; the fastest counts")
    ap.add_argument("--scale", type=int, default=0, help="also run exact+near on N short docs")
    args = ap.parse_args()
    docs, planted = build()
    print(f"corpus: {len(docs):,} real docs, median {int(np.median([len(d.split()) for d in docs]))} words "
          f"({len(planted):,} planted pairs), threshold {args.threshold}")
    c_s, c_pairs, uf = throughput("real texts with planted near-duplicates", docs, args)
    _, _, muf = run_curate(docs, args.threshold, args.num_perm, engine="minhash")
    _, r_pairs = run_rensa(docs, args.threshold)
    throughput("short documents (8-30 words, prompt-sized)", short_docs(20_000), args)
    cr = recall(planted, lambda a, b: uf.find(a) == uf.find(b))
    mr = recall(planted, lambda a, b: muf.find(a) == muf.find(b))
    rr = recall(planted, lambda a, b: (min(a, b), max(a, b)) in r_pairs)
    print("\nplanted-pair recall at the threshold (target >= 0.98):")
    for kind in cr:
        print(f"  {kind:<12} curate {cr[kind]:.3f}   curate/minhash {mr[kind]:.3f}   rensa {rr[kind]:.3f}")
    false_pairs = sum(1 for a, b in c_pairs if (a, b) not in {(x, y) for x, y, _ in planted})
    print(f"curate pairs reported: {len(c_pairs):,} ({false_pairs:,} beyond the planted ones, each verified "
          f">= {args.threshold} true Jaccard)")
    if args.scale:
        scale(args.scale, args.threshold)


if __name__ == "__main__":
    main()
