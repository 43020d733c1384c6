"""Quality-check benchmark: plant each defect into real examples and measure recall and false flags.

    python bench/checks.py [--per-check 200] [--speed 100000]

Base: real conversations from ../shared/data (Alpaca GPT-4, Code Alpaca, OASST paths). For each check,
`--per-check` examples get that check's defect planted (a truncated answer, a refusal, a repetition loop,
a placeholder, an e-mail / phone / card / key, mojibake, an answer in another language, ...). Recall is
the share of planted examples the check flags; "flagged" is the share of untouched examples it flags.
Real data holds true faults too (GPT-4 answers cut at a length limit, "As an AI language model"), so
every flagged untouched example was read: those holding a real fault of the check's kind are listed
with what is wrong in bench/real_faults.tsv, and "false flags" counts the rest. `--show-flags CHECK`
prints a check's flags with their label, to read new ones. `--speed N`
times every check over N examples (the base, repeated) and prints examples/s per check.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

from curate.checks import REGISTRY, Context  # noqa: E402
from curate.checks.tokenizer import load  # noqa: E402
from curate.record import Example, Issue, Message, Source  # noqa: E402

SYSTEM = "You are a helpful assistant."
REFUSALS = ["I'm sorry, but I can't help with that.", "As an AI language model, I cannot provide that.",
            "I cannot assist with this request.", "I'm not able to help with that request, sorry.",
            "I must decline to answer this.", "Sorry, I won't help with that."]
PLACEHOLDERS = ["{customer_name}", "<insert date here>", "[Your Name]", "TODO", "Lorem ipsum dolor sit amet",
                "{{company}}"]
PII = ["jane.doe@example-mail.com", "+44 20 7946 0958", "4111 1111 1111 1111", "sk-proj-Ab3dEfGh1jKlMn0pQrStUvWx",
       "AKIAIOSFODNN7EXAMPLE", "GB82 WEST 1234 5698 7654 32",
       # added with the secrets work: the kinds and formats the hostile-input review found missed
       "hf_QpZkXbTrVwYmNc4sLdHg8JfRa2eKuWiOtE", "sk-ant-api03-Zr7Kq2Lm9Xv4Bn1Wc8Hd5Tg3Yp6Fs0Ja",
       "glpat-x7Kq2Lm9Xv4Bn1Wc8Hd5", "+1 (415) 867-5309", "(415) 867-5309", "06 12 34 56 78",
       'api_key = "Zx8Kq2Lm9Xv4Bn1Wc8Hd5Tg3"', "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey="
       "q9Zr7Kq2Lm9Xv4Bn1Wc8Hd5Tg3Yp6Fs0Ja4Ue2Oi1Pl8Mk7Nj6Hb5Gv4Fc3Dx2Sz1Aw==",
       "github_pat_11ABCDEFG0123456789abcdefghijklmnopqrstuvwxyz"]
FOREIGN = ["Das ist eine sehr gute Frage, und ich werde versuchen, sie so klar wie möglich zu beantworten.",
           "C'est une très bonne question, et je vais essayer d'y répondre aussi clairement que possible.",
           "Es una muy buena pregunta, y voy a intentar responderla de la forma más clara posible.",
           "Это очень хороший вопрос, и я постараюсь ответить на него как можно яснее."]


def base_examples() -> list[Example]:
    out = []

    seen = set()

    def add(prompt: str, answer: str, source: Source, system: str | None = SYSTEM) -> None:
        # Each distinct exchange once: OASST's paths repeat their tree's first exchange (up to 8 times),
        # which would weigh one answer, its cuts and its flags 8 times over.
        if (prompt, answer) in seen:
            return
        seen.add((prompt, answer))
        msgs = ([Message("system", system)] if system else []) + [Message("user", prompt),
                                                                  Message("assistant", answer)]
        out.append(Example.create(msgs, source))

    # Each example keeps its file and record index, so that a flag can be looked up and labelled.
    for rel in ("alpaca_gpt4_en_demo/alpaca_en_demo.json", "code_alpaca_2k/code_alpaca_2k.json"):
        for k, r in enumerate(json.loads((SHARED / rel).read_text())):
            if r["output"].strip():
                add((r["instruction"] + "\n\n" + r["input"]).strip(), r["output"], Source(rel, k + 1, k, "alpaca"))
    rel = "oasst_en100/oasst_en100_paths.messages.jsonl"
    for k, line in enumerate((SHARED / rel).open()):
        m = json.loads(line)["messages"]
        add(m[0]["content"], m[1]["content"], Source(rel, k + 1, k, "openai"))
    return out


def replace_answer(e: Example, answer: str, prompt: str | None = None, system: str | None = SYSTEM,
                   warnings=()) -> Example:
    msgs = ([Message("system", system)] if system else []) + [Message("user", prompt or e.prompt),
                                                              Message("assistant", answer)]
    return Example.create(msgs, e.source, warnings=warnings)


def truncate(text: str, rng: random.Random) -> str:
    if "```" in text and text.count("```") >= 2:
        return text[:text.rfind("```")].rstrip()  # drop the closing fence
    # Cut at a word boundary of the original text, keeping its line breaks, as a length limit does.
    ends = [m.end() for m in re.finditer(r"\S+", text)]
    cut = rng.randint(max(6, len(ends) // 3), max(7, len(ends) - 2))
    kept = ends[:cut]
    while kept and text[kept[-1] - 1] in ".!?:":
        kept = kept[:-1]
    return text[:kept[-1]] if kept else ""


PLANT = {
    "empty_answer": lambda e, r: replace_answer(e, "   "),
    "short_answer": lambda e, r: replace_answer(e, r.choice(["Yes.", "Sure", "No.", "Maybe"]),
                                                prompt="Explain in detail how to " + e.prompt[:200]),
    "truncation": lambda e, r: replace_answer(e, truncate(e.response, r)),
    "refusal": lambda e, r: replace_answer(e, r.choice(REFUSALS)),
    "repetition": lambda e, r: replace_answer(e, (e.response.split(".")[0].strip() + ". ") * r.randint(8, 60)),
    "placeholders": lambda e, r: replace_answer(e, f"{r.choice(PLACEHOLDERS)} {e.response}"),
    "pii": lambda e, r: replace_answer(e, f"{e.response} Contact: {r.choice(PII)}."),
    "encoding": lambda e, r: replace_answer(e, e.response + " Donâ€™t miss the cafÃ©."),
    "language": lambda e, r: replace_answer(e, " ".join([r.choice(FOREIGN)] * 2)),  # one language, not a mix
    "json_format": lambda e, r: replace_answer(e, e.response, prompt=e.prompt + "\n\nReturn the answer as JSON."),
    "token_length": lambda e, r: replace_answer(e, (e.response + " ") * (1 + 1600 // len(e.response.split()))),
    "system_prompt": lambda e, r: replace_answer(e, e.response, system="You are a pirate. Answer in pirate speak."),
    "ingest_warnings": lambda e, r: replace_answer(e, e.response, warnings=(Issue("empty_system_prompt", "turn 1"),)),
}
NEEDS_LONG = {"truncation", "token_length", "repetition"}
# Where a cut lands varies from one planting to the next: over 200 plantings the recall moved by 2 to 4
# points from one seed to another, so truncation is planted in every answer long enough, in 5 rounds
# with their own seeds: rules written while reading one round's misses fit that round best (0.950 on
# it, 0.928-0.945 on the others when that was tried), and the mean over all rounds is what is reported.
PLANT_EVERY = {"truncation"}
ROUNDS = {"truncation": 5}


def real_faults() -> dict[str, dict[tuple[str, int], str]]:
    """check -> {(file, record): what is wrong} for base examples read and found to hold that fault."""
    out: dict[str, dict[tuple[str, int], str]] = {}
    rows = [r for r in (ROOT / "bench" / "real_faults.tsv").read_text().splitlines() if r and not r.startswith("#")]
    for row in rows[1:]:
        check, path, record, why = row.split("\t")
        out.setdefault(check, {})[(path, int(record))] = why
    return out


def where(e: Example) -> tuple[str, int]:
    return e.source.path, e.source.index


def cut_where(check, ctx, originals: list[Example], planted: list[Example]) -> None:
    """Truncation's recall split by where the cut landed: inside a line; at the end of a line, where a cut
    leaves a text that can read as a whole answer (a list item, a line of code) and most misses are; or
    just before the closing ``` of a fenced answer (`truncate` cuts those there)."""
    found: dict[str, list[bool]] = {"inside a line": [], "at a line's end": [], "before the closing fence": []}
    for original, cut in zip(originals, planted):
        after = original.response[len(cut.response):].lstrip()
        where = ("before the closing fence" if after.startswith("```") and original.response.count("```") % 2 == 0
                 and cut.response.count("```") % 2 == 1 else
                 "at a line's end" if after[:1] and original.response[len(cut.response)] in "\r\n" else "inside a line")
        found[where].append(bool(list(check.check(cut, ctx))))
    print("  " + ", ".join(f"cut {where}: {sum(hits) / len(hits):.3f} of {len(hits):,}" for where, hits in found.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-check", type=int, default=200)
    ap.add_argument("--speed", type=int, default=0)
    ap.add_argument("--show-flags", metavar="CHECK", help="print the untouched examples CHECK flags, to read them")
    ap.add_argument("--only", metavar="CHECK", help="measure this check only")
    args = ap.parse_args()
    base = base_examples()
    _, count = load(None)
    ctx = Context(max_length=1024, tokenizer=count)
    print(f"base: {len(base):,} real examples; {args.per_check} planted per check (truncation: every answer of 20+ "
          f"words, 5 times); token limit {ctx.max_length}")
    real = real_faults()
    print(f"\n{'check':<17}{'recall':>8}{'flagged (untouched)':>21}{'real faults':>13}{'false flags':>13}"
          f"   target: recall >= 0.95, false flags <= 1%")
    for name, plant in PLANT.items():
        if args.only and name != args.only:
            continue
        pool = [e for e in base if len(e.response.split()) >= 20] if name in NEEDS_LONG else base
        chosen, planted = [], []
        for r in range(ROUNDS.get(name, 1)):
            rng = random.Random(zlib.crc32(name.encode()) + r)  # a stream per check and round: none moves another
            picks = rng.sample(range(len(pool)), len(pool) if name in PLANT_EVERY else min(args.per_check, len(pool)))
            chosen += picks
            planted += [plant(pool[i], rng) for i in picks]
        untouched = [e for k, e in enumerate(base) if k not in set(chosen)] if pool is base else base
        check = REGISTRY[name]()
        check.prepare(untouched + planted, ctx)
        found = [bool(list(check.check(e, ctx))) for e in planted]
        hit = sum(found) / len(planted)
        flagged = [e for e in untouched if list(check.check(e, ctx))]
        known = sum(where(e) in real.get(name, {}) for e in flagged)
        false = (len(flagged) - known) / len(untouched)
        ok = "ok" if hit >= 0.95 and false <= 0.01 else "MISSED TARGET"
        print(f"{name:<17}{hit:>8.3f}{len(flagged) / len(untouched):>21.2%}{known:>13}{false:>13.2%}   {ok}")
        hits = {where(e) for e in flagged}
        missed = [where(e) for e in untouched if where(e) in real.get(name, {}) and where(e) not in hits]
        if missed:
            print(f"  real faults no longer flagged: {', '.join(f'{f} #{i}' for f, i in missed)}")
        if ROUNDS.get(name, 1) > 1:
            size = len(planted) // ROUNDS[name]
            rounds = [sum(found[k:k + size]) / size for k in range(0, len(found), size)]
            print(f"  {len(rounds)} rounds of {size:,}: " + " ".join(f"{r:.3f}" for r in rounds))
        if name == "truncation":
            cut_where(check, ctx, [pool[i] for i in chosen], planted)
        if name == args.show_flags:
            for e in flagged:
                label = real.get(name, {}).get(where(e), "NOT LABELLED: read it, then list it or fix the check")
                for flag in check.check(e, ctx):
                    print(f"    {e.source.path} #{e.source.index}: {flag.message[:100]}\n      [{label}]\n"
                          f"      prompt: {e.prompt[:80]!r}\n      answer: ...{e.response[-120:]!r}")
    if args.speed:
        examples = (base * (args.speed // len(base) + 1))[:args.speed]
        print(f"\nspeed over {len(examples):,} examples:")
        total = 0.0
        for name in PLANT:
            check = REGISTRY[name]()
            t = time.perf_counter()
            check.prepare(examples, ctx)
            for e in examples:
                for _ in check.check(e, ctx):
                    pass
            dt = time.perf_counter() - t
            total += dt
            print(f"  {name:<17}{len(examples) / dt:>12,.0f} examples/s")
        print(f"  all checks, one core: {total:.1f}s -> {total * 1_000_000 / len(examples) / 60:.1f} min per 1M "
              f"examples")
        end_to_end(examples)


def end_to_end(examples: list[Example]) -> None:
    """`curate check` as users run it: from the workspace, every check, all cores, findings stored."""
    import tempfile

    import curate
    from curate.checks import run as run_checks

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.jsonl"
        with open(path, "w") as fh:
            for k, e in enumerate(examples):
                # A distinct marker per copy, so repeats do not collapse into one stored example; in the
                # prompt, so that answers keep their own endings (the truncation rules read those).
                msgs = [m.to_dict() for m in e.messages]
                next(m for m in msgs if m["role"] == "user")["content"] += f" [{k}]"
                fh.write(json.dumps({"messages": msgs}) + "\n")
        curate.ingest([path], "d", workspace=Path(tmp) / "ws")
        t = time.perf_counter()
        report = run_checks("d", workspace=Path(tmp) / "ws", max_length=1024)
        dt = time.perf_counter() - t
    print(f"  end to end (run_checks over the workspace, {report.summary['examples']:,} examples, all cores): "
          f"{dt:.1f}s -> {dt * 1_000_000 / len(examples) / 60:.1f} min per 1M (target <= 2 min on 2 cores)")


if __name__ == "__main__":
    main()
