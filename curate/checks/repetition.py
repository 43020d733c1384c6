"""Repetition loops: a sentence or line repeated over and over ("Eat a banana!" x 2,000).

Code, fenced or not, is exempt from the line test (a code answer legitimately repeats lines like `}`,
`return x` or `<div class="cell"></div>`),
and short answers from the compression test.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter

from .base import Check, Flag, answers, register
from .code import FENCED_BLOCK, is_code

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


@register
class Repetition(Check):
    name = "repetition"
    description = "an answer that repeats one sentence, line or phrase many times"

    def check(self, example, ctx):
        for i, text in answers(example):
            prose = FENCED_BLOCK.sub(" ", text) if "```" in text else text
            sentences = [s for s in map(str.strip, _SENTENCE.findall(prose.lower())) if len(s) >= 8]
            if len(sentences) >= 6:
                top, n = Counter(sentences).most_common(1)[0]
                if n >= 4 and n / len(sentences) >= 0.4 and not is_code(prose):  # markup repeats <div>s
                    yield Flag("error", min(1.0, n / len(sentences) + 0.3),
                               f"turn {i + 1}: \"{top[:60]}\" repeated {n} times", {"turn": i, "repeats": n})
                    continue
            tokens = prose.split()
            # The distinct words of the first quarter bound the whole's from below: most texts are cleared
            # on a quarter of the work.
            if (len(tokens) >= 16 and len(set(tokens[:len(tokens) // 4])) < 0.15 * len(tokens)
                    and len(set(tokens)) / len(tokens) < 0.15):
                yield Flag("error", 0.9, f"turn {i + 1}: {len(tokens)} words but only {len(set(tokens))} distinct "
                           f"(\"{' '.join(tokens[:4])} ...\")", {"turn": i, "distinct_words": len(set(tokens))})
                continue
            if len(prose) >= 400:
                ratio = len(prose.encode()) / len(zlib.compress(prose.encode(), 6))
                if ratio >= 6:
                    yield Flag("error", min(1.0, ratio / 12), f"turn {i + 1}: highly repetitive text "
                               f"(compresses {ratio:.0f}x)", {"turn": i, "compression_ratio": round(ratio, 1)})
