"""Truncation on held-out seeds: overall recall and false flags, and what each rule earns.

    python bench/truncation.py [--half held|fit] [--old 499ae6a] [--rules]

Base: the final answers of real conversations in ../shared/data (Alpaca GPT-4, Code Alpaca, OASST
paths, Glaive tool calls, HH-RLHF harmless). Each base example falls in the fit or the held-out half
by a stable hash of its text; seeds 0-9 split the same way (even: fit, odd: held-out). For each seed,
every answer of 20+ words of the half is cut once, in a style drawn from those that apply to it: mid-
word, after a word, mid-sentence, at a clause, mid-list, mid-code, before the closing fence, mid-table,
after a heading, at a token-limit-like point (sub-word pieces). Rules are written and pruned on the fit
half; the numbers worth quoting are the held-out half's.

A cut that leaves a whole sentence (the text ends on ".", "!" or "?") is not planted: nothing in the
text shows it was cut, and no rule can be asked to see it.

False flags: untouched answers of the half that the check flags, less those listed in
bench/real_faults.tsv (answers of the data that are really cut; bench/checks.py labels them). HH-RLHF's
answers were cut in its source, often mid-sentence, and are not labelled: its flags are shown apart.

`--old COMMIT` also runs the same bench against the truncation code at COMMIT (extracted with `git
archive` into a temporary folder, run in a subprocess) and prints both side by side. `--rules` prints
the per-rule table: hits (planted cuts the rule flags when run alone), unique hits (flagged by no other
rule), false flags (untouched answers it flags alone).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SEEDS = range(10)


def load_base() -> list[tuple[str, str, tuple[str, int]]]:
    """(prompt, answer, (file, record)) for every distinct final exchange; the key matches real_faults.tsv."""
    out, seen = [], set()

    def add(prompt: str, answer: str, key: tuple[str, int]) -> None:
        if answer.strip() and (prompt, answer) not in seen:  # OASST paths repeat their first exchange
            seen.add((prompt, answer))
            out.append((prompt, answer, key))

    for rel in ("alpaca_gpt4_en_demo/alpaca_en_demo.json", "code_alpaca_2k/code_alpaca_2k.json"):
        for k, r in enumerate(json.loads((SHARED / rel).read_text())):
            add((r["instruction"] + "\n\n" + r["input"]).strip(), r["output"], (rel, k))
    for rel in ("oasst_en100/oasst_en100_paths.messages.jsonl",
                "hh_rlhf_harmless_test/harmless-base_test.chosen.messages.jsonl"):
        for k, line in enumerate((SHARED / rel).open()):
            m = json.loads(line)["messages"]
            if "oasst" in rel:
                add(m[0]["content"], m[1]["content"], (rel, k))  # as bench/checks.py reads OASST
            elif m[-1]["role"] == "assistant" and len(m) >= 2:
                add(m[-2]["content"], m[-1]["content"], (rel, k))
    rel = "glaive_toolcall_demo/glaive_toolcall_en_demo.json"
    for k, r in enumerate(json.loads((SHARED / rel).read_text())):
        turns = r["conversations"]
        if turns[-1]["from"] == "gpt" and len(turns) >= 2:
            add(turns[-2]["value"], turns[-1]["value"], (rel, k))
    return out


def half_of(prompt: str, answer: str) -> str:
    return "fit" if zlib.crc32((prompt + "\0" + answer).encode()) % 2 == 0 else "held"


# HH-RLHF's answers were cut in the source, often mid-sentence ("I'd be happy to have this conversation
# again if"), and none of them is labelled in real_faults.tsv: its flags are counted apart, not as false.
UNLABELLED = "hh_rlhf"


def real_faults() -> set[tuple[str, int]]:
    rows = (ROOT / "bench" / "real_faults.tsv").read_text().splitlines()
    rows = [r.split("\t") for r in rows if r and not r.startswith("#")][1:]
    return {(path, int(record)) for check, path, record, _ in rows if check == "truncation"}


# --- cut styles: each returns where to cut the text, or None when the style does not apply ---------

_WORD = re.compile(r"\S+")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*•+]|\d{1,2}[.)])[ \t]+", re.M)
_TABLE_ROW = re.compile(r"^[ \t]*\|?[^|\n]*\|[^|\n]*\|.*$", re.M)
_HEADING = re.compile(r"^(?:#{1,6} \S.*|\*\*[^*\n]+\*\*:?|[A-Z][^.!?\n]{2,50}:)[ \t]*$", re.M)
_PIECE = re.compile(r"\s*\w{1,5}|\s*[^\w\s]")  # a sub-word token, as a BPE vocabulary splits words
_FENCE = re.compile(r"```[^\n]*\n(.*?)```", re.S)


def _inner_words(text: str) -> list[re.Match]:
    """Words past the first six and before the last two: a cut there leaves a text and loses some."""
    return list(_WORD.finditer(text))[6:-2]


def mid_word(text: str, rng: random.Random) -> int | None:
    words = [w for w in _inner_words(text) if re.fullmatch(r"[A-Za-z]{4,}", w.group())]
    if not words:
        return None
    w = rng.choice(words)
    return w.start() + rng.randint(1, len(w.group()) - 1)


def after_word(text: str, rng: random.Random) -> int | None:
    words = _inner_words(text)
    return rng.choice(words).end() if words else None


def mid_sentence(text: str, rng: random.Random) -> int | None:
    words = [w for w in _inner_words(text) if w.group()[-1].isalnum() and text[w.end():w.end() + 1] == " "]
    return rng.choice(words).end() if words else None


def at_clause(text: str, rng: random.Random) -> int | None:
    words = [w for w in _inner_words(text) if w.group()[-1] in ",;"
             or w.group().lower() in ("and", "but", "or", "which", "that", "because", "while", "so")]
    return rng.choice(words).end() if words else None


def mid_list(text: str, rng: random.Random) -> int | None:
    items = [m for m in _LIST_ITEM.finditer(text) if m.start() > 0]
    if len(items) < 2:
        return None
    item = rng.choice(items[1:])
    line_end = text.find("\n", item.end())
    words = list(_WORD.finditer(text, item.end(), len(text) if line_end < 0 else line_end))
    k = rng.randint(0, max(0, len(words) - 1))  # 0: the marker alone
    return words[k - 1].end() if k else item.end()


def mid_code(text: str, rng: random.Random) -> int | None:
    blocks = list(_FENCE.finditer(text))
    if blocks:
        block = rng.choice(blocks)
        start, end = block.start(1), block.end(1)
    elif re.search(r"[;{}=()]\s*$", text, re.M) and text.count("\n") >= 2:  # unfenced code
        start, end = 0, len(text)
    else:
        return None
    tokens = [m.end() for m in re.finditer(r"\w+|[^\w\s]", text[start:end])][3:-1]
    return start + rng.choice(tokens) if tokens else None


def before_closing_fence(text: str, rng: random.Random) -> int | None:
    blocks = list(_FENCE.finditer(text))
    return rng.choice(blocks).end(1) if blocks else None


def mid_table(text: str, rng: random.Random) -> int | None:
    rows = [m for m in _TABLE_ROW.finditer(text) if not re.fullmatch(r"[\s|:-]+", m.group())][1:]
    if not rows:
        return None
    row = rng.choice(rows)
    stops = [m.end() for m in re.finditer(r"[^\s|]+", row.group())]
    return row.start() + rng.choice(stops) if stops else None


def after_heading(text: str, rng: random.Random) -> int | None:
    heads = [m for m in _HEADING.finditer(text) if m.start() > 0 and text[m.end():].strip()]
    return rng.choice(heads).end() if heads else None


def token_limit(text: str, rng: random.Random) -> int | None:
    pieces = [m.end() for m in _PIECE.finditer(text)]
    if len(pieces) < 20:
        return None
    return pieces[rng.randint(int(0.3 * len(pieces)), int(0.95 * len(pieces)))]


STYLES: dict[str, Callable[[str, random.Random], int | None]] = {
    f.__name__: f for f in (mid_word, after_word, mid_sentence, at_clause, mid_list, mid_code,
                            before_closing_fence, mid_table, after_heading, token_limit)}


def plant(answer: str, rng: random.Random) -> tuple[str, str] | None:
    """(style, cut answer), or None when no style leaves a text that shows a cut."""
    styles = list(STYLES)
    rng.shuffle(styles)
    for style in styles:
        at = STYLES[style](answer, rng)
        if at is None:
            continue
        cut = answer[:at].rstrip()
        if len(cut.split()) >= 6 and cut != answer.rstrip() and not re.search(r"[.!?][\"')\]]?$", cut):
            return style, cut
    return None


def planted(base, half: str) -> list[tuple[str, str, str]]:
    """(style, prompt, cut answer) for each seed of the half and each long answer of the half."""
    out = []
    for seed in SEEDS:
        if (seed % 2 == 0) != (half == "fit"):
            continue
        for prompt, answer, _ in base:
            if half_of(prompt, answer) == half and len(answer.split()) >= 20:
                got = plant(answer, random.Random(seed * 1_000_003 + zlib.crc32(answer.encode())))
                if got:
                    out.append((got[0], prompt, got[1]))
    return out


# --- measuring ---------------------------------------------------------------------------------------

def measure(half: str, per_rule: bool) -> dict:
    """Recall and false flags of the `curate` on sys.path; per rule too when it has a rule table."""
    from curate.checks.truncation import find_cut

    base = load_base()
    cuts = planted(base, half)
    real = real_faults()
    ours = [(p, a, key[0]) for p, a, key in base if half_of(p, a) == half and key not in real]
    untouched = [(p, a) for p, a, path in ours if not path.startswith(UNLABELLED)]
    unlabelled = [(p, a) for p, a, path in ours if path.startswith(UNLABELLED)]
    found = [find_cut(answer, prompt) is not None for _, prompt, answer in cuts]
    flagged = sum(find_cut(a.rstrip(), p) is not None for p, a in untouched)
    styles: dict[str, list[bool]] = {}
    for (style, _, _), hit in zip(cuts, found):
        styles.setdefault(style, []).append(hit)
    out = {"planted": len(cuts), "recall": sum(found) / len(cuts), "untouched": len(untouched),
           "false_flags": flagged, "unlabelled": len(unlabelled),
           "unlabelled_flagged": sum(find_cut(a.rstrip(), p) is not None for p, a in unlabelled), "styles": {s: sum(h) / len(h) for s, h in sorted(styles.items())}}
    if per_rule:
        out["rules"] = rule_table(cuts, untouched)
    return out


def rule_table(cuts, untouched) -> list[dict]:
    """Each rule run alone: the planted cuts it flags, those no other rule flags, the untouched it flags."""
    from curate.checks.truncation_rules import RULES, fired

    hits = [fired(answer, prompt) for _, prompt, answer in cuts]
    flags = [fired(a.rstrip(), p) for p, a in untouched]
    return [{"rule": r.name, "family": r.family, "severity": r.severity,
             "hits": sum(r.name in h for h in hits), "unique": sum(h == {r.name} for h in hits),
             "false_flags": sum(r.name in f for f in flags)} for r in RULES]


def measure_old(commit: str, half: str) -> dict:
    """The same bench against the truncation code at `commit`, in a subprocess that imports it."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", "--format=tar", commit, "curate"], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tmp)
        run = subprocess.run([sys.executable, __file__, "--half", half, "--impl", tmp, "--json"], check=True,
                             capture_output=True, text=True)
    return json.loads(run.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--half", choices=("held", "fit"), default="held")
    ap.add_argument("--old", metavar="COMMIT", help="also measure the truncation code at COMMIT")
    ap.add_argument("--rules", action="store_true", help="print the per-rule table")
    ap.add_argument("--impl", help=argparse.SUPPRESS)  # the folder holding the `curate` to measure
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sys.path.insert(0, args.impl or str(ROOT))
    if args.json:
        print(json.dumps(measure(args.half, per_rule=False)))
        return
    new = measure(args.half, per_rule=args.rules)
    runs = {"new (this tree)": new}
    if args.old:
        runs[f"old ({args.old})"] = measure_old(args.old, args.half)
    print(f"{args.half} half: {new['planted']:,} planted cuts over seeds "
          f"{[s for s in SEEDS if (s % 2 == 0) == (args.half == 'fit')]}; {new['untouched']:,} untouched answers, "
          f"and {new['unlabelled']:,} of HH-RLHF (unlabelled)")
    print(f"\n{'':<18}" + "".join(f"{name:>18}" for name in runs))
    rows = {"recall": lambda r: f"{r['recall']:.4f} ({round(r['recall'] * r['planted']):,})",
            "false flags": lambda r: f"{r['false_flags']} ({r['false_flags'] / r['untouched']:.2%})",
            "flagged, HH-RLHF": lambda r: f"{r['unlabelled_flagged']} ({r['unlabelled_flagged'] / r['unlabelled']:.2%})"}
    for label, cell in rows.items():
        print(f"{label:<18}" + "".join(f"{cell(r):>18}" for r in runs.values()))
    for style in new["styles"]:
        print(f"  {style:<16}" + "".join(f"{r['styles'].get(style, 0):>18.3f}" for r in runs.values()))
    if args.rules:
        print("\n| rule | family | severity | hits | unique hits | false flags |\n|---|---|---|---:|---:|---:|")
        for r in new["rules"]:
            print(f"| {r['rule']} | {r['family']} | {r['severity']} | {r['hits']} | {r['unique']} | "
                  f"{r['false_flags']} |")


if __name__ == "__main__":
    main()
