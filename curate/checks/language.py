"""Language mismatch between prompt and answer (a German question answered in English).

A small, dependency-free detector: the script (Latin, Cyrillic, Greek, Arabic, Hebrew, CJK, Hangul,
Devanagari, Thai) and, for Latin text, the share of each language's commonest function words.
Short texts and code are not judged.
"""

from __future__ import annotations

import re
from collections import Counter

from .base import Check, Flag, register
from .code import is_code

_STOPWORDS = {
    "en": "the and is are of to in that it for you with on this be not have what how do can a an about from by "
          "as at or your my was will there their we they which who would should could been has its into",
    "de": "der die das und ist nicht ich sie es mit für auf wie ein eine den zu sich auch",
    "fr": "le la les et est des une un pas que qui pour dans vous ce sur avec il je",
    "es": "el la los las y es que de en un una por para con no se lo como del",
    "it": "il lo la gli le e è che di un una per non sono con del della come",
    "pt": "o os as e é que de em um uma para com não se do da como",
    "nl": "de het een en is van dat niet ik je met op te zijn voor wat",
}
_STOPS = {lang: set(words.split()) for lang, words in _STOPWORDS.items()}
_SCRIPTS = [("cjk", r"[\u4e00-\u9fff\u3040-\u30ff]"), ("hangul", r"[\uac00-\ud7af]"), ("cyrillic", r"[\u0400-\u04ff]"),
            ("greek", r"[\u0370-\u03ff]"), ("arabic", r"[\u0600-\u06ff]"), ("hebrew", r"[\u0590-\u05ff]"),
            ("devanagari", r"[\u0900-\u097f]"), ("thai", r"[\u0e00-\u0e7f]")]
_CODE = re.compile(r"```.*?```|`[^`]*`", re.S)
_ASKS_OTHER_LANGUAGE = re.compile(r"\btranslat|\b(in|into|to) (english|german|french|spanish|italian|portuguese|"
                                  r"dutch|russian|chinese|japanese|korean|arabic|hindi|greek|hebrew|thai)\b", re.I)
_WORD = re.compile(r"[^\W\d_]+")
_LANGUAGES_OF: dict[str, list[str]] = {}
for _lang, _stops in _STOPS.items():
    for _w in _stops:
        _LANGUAGES_OF.setdefault(_w, []).append(_lang)


_NON_LETTER = str.maketrans({c: " " for c in map(chr, range(128)) if not c.isalpha()})
_ALL_STOPS = set(_LANGUAGES_OF)


def detect(text: str) -> str | None:
    text = text[:3000]  # the opening of a text tells its language
    if "`" in text:
        text = _CODE.sub(" ", text)
    if sum(map(text.count, "{}();=<>[]")) > 0.03 * max(len(text), 1):
        return None  # code, whatever the language of its identifiers
    if text.isascii():  # ASCII letters are Latin script; splitting in C is 2.5x the regex
        words = text.lower().translate(_NON_LETTER).split()
        if len(words) < 6:
            return None
    else:
        letters = _WORD.findall(text)
        if len(letters) < 6:
            return None
        joined = "".join(letters)
        if not joined.isascii():
            for name, pattern in _SCRIPTS:
                if len(re.findall(pattern, joined)) / len(joined) > 0.3:
                    return name
        words = " ".join(letters[:300]).lower().split()
    words = words[:300]  # 300 words decide a language
    counts = Counter(words)  # counted in C; then only the stopwords present are visited
    scores = dict.fromkeys(_STOPS, 0)
    for w in _ALL_STOPS.intersection(counts):
        for lang in _LANGUAGES_OF[w]:
            scores[lang] += counts[w]
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    (lang, best), (_, second) = ranked[0], ranked[1]
    return lang if best / len(words) >= 0.12 and best >= 1.5 * second else None


@register
class LanguageMismatch(Check):
    name = "language"
    description = "an answer in a different language than its prompt (or than the set, for unclear prompts)"
    observes_shares = True  # a majority (measured on a sample of a large collection)

    def __init__(self):
        self.prompt_languages: Counter = Counter()
        self.prompt_language: dict[str, str | None] = {}  # the first pass's answers, reused by `check`

    def observe(self, example, ctx):
        lang = self.prompt_language[example.id] = detect(example.prompt)
        if lang:
            self.prompt_languages[lang] += 1

    def finish(self, ctx):
        total = sum(self.prompt_languages.values())
        lang, n = self.prompt_languages.most_common(1)[0] if total else (None, 0)
        # A set whose identifiable prompts are 90%+ one language is that language, for prompts too short
        # or too code-like to identify ("Fix this: <code>").
        ctx.stats["set_language"] = lang if total >= 20 and n / total >= 0.9 else None

    def check(self, example, ctx):
        if _ASKS_OTHER_LANGUAGE.search(example.prompt):
            return  # "Translate to French: ..." answered in French is right
        prompt_lang = self.prompt_language[example.id] if example.id in self.prompt_language else detect(example.prompt)
        basis = "the prompt"
        if prompt_lang is None:
            prompt_lang, basis = ctx.stats.get("set_language"), "the set's prompts"
            if prompt_lang is None:
                return
        for i, m in enumerate(example.messages):
            if m.role != "assistant" or not m.content:
                continue
            answer_lang = detect(m.content)
            # Unfenced code can read as a language (SQL's `o.order_id` looks Portuguese): checked only for a
            # mismatch, which is rare, since telling code costs more than detecting a language.
            if answer_lang and answer_lang != prompt_lang and not is_code(m.content[:3000]):
                yield Flag("warning", 0.7 if basis == "the prompt" else 0.5,
                           f"turn {i + 1}: {basis} {'is' if basis == 'the prompt' else 'are'} in {prompt_lang}, "
                           f"the answer in {answer_lang}", {"turn": i, "prompt": prompt_lang, "answer": answer_lang})
