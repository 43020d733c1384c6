"""Did training help: the same measures before and after, on the same test conversations.

- test loss (and perplexity) on the trained tokens, as the trainer computes it;
- generation: greedy answers to the test prompts (each conversation up to its last answer with text),
  scored against the reference by ROUGE-L F1 (word overlap in order; written here: 15 lines, where the
  rouge-score package would add nltk for a stemmer curate does not want), by cosine similarity of the
  two in all-MiniLM-L6-v2 (offline; meaning, not wording) where the embed extra is installed, and by
  exact match (whitespace and case ignored; nearly always 0 for free text, kept for short answers).
"""

from __future__ import annotations

from typing import Any

from curate.secrets import redact

from .data import Conversation
from .masks import RenderError, render


def rouge_l(candidate: str, reference: str) -> float:
    """>>> rouge_l("the cat sat on the mat", "the cat is on the mat"), rouge_l("", "x")
    (0.8333, 0.0)
    """
    a, b = candidate.lower().split(), reference.lower().split()
    if not a or not b:
        return 0.0
    row = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], prev + 1 if x == y else max(row[j], row[j - 1])
    lcs = row[-1]
    if not lcs:
        return 0.0
    p, r = lcs / len(a), lcs / len(b)
    return round(2 * p * r / (p + r), 4)


def prompts(conversations: list[Conversation], n: int) -> list[tuple[Conversation, int]]:
    """(conversation, index of its last trained answer with text), for the first n that have one."""
    out: list[tuple[Conversation, int]] = []
    if n <= 0:
        return out
    for conv in conversations:
        last = next((i for i in range(len(conv.messages) - 1, 0, -1)
                     if conv.trained[i] and (conv.messages[i].get("content") or "").strip()
                     and not conv.messages[i].get("tool_calls")), None)
        if last is not None:
            out.append((conv, last))
        if len(out) == n:
            break
    return out


def _similarity(pairs: list[tuple[str, str]]) -> float | None:
    try:
        from curate.embed import Embedder

        embedder = Embedder()
        a = embedder.encode([p for p, _ in pairs])
        b = embedder.encode([r for _, r in pairs])
    except Exception:  # the embed extra is optional: the other measures stand without it
        return None
    return round(float((a * b).sum(axis=1).mean()), 4)


def generation(model, tokenizer, cases: list[tuple[Conversation, int]]) -> dict[str, Any]:
    import torch

    model.eval()
    answers: list[tuple[str, str]] = []
    shown: list[dict[str, Any]] = []
    for conv, i in cases:
        try:
            prompt = render(tokenizer, conv, i, generation_prompt=True)
        except RenderError:
            continue
        reference = conv.messages[i]["content"]
        enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
        budget = len(tokenizer(reference, add_special_tokens=False)["input_ids"]) + 16
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=min(512, budget), do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
        answer = tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()
        answers.append((answer, reference))
        if len(shown) < 3:  # the training manifest is shared like a report: masked, then cut
            shown.append({"id": conv.id, "prompt": redact(conv.messages[i - 1].get("content") or "")[:200],
                          "answer": redact(answer)[:200], "reference": redact(reference)[:200]})
    if not answers:
        return {"samples": 0}
    norm = [(" ".join(a.split()).lower(), " ".join(r.split()).lower()) for a, r in answers]
    return {"samples": len(answers), "rouge_l": round(sum(rouge_l(a, r) for a, r in answers) / len(answers), 4),
            "similarity": _similarity(answers), "exact_match": round(sum(a == r for a, r in norm) / len(norm), 4),
            "examples": shown}
