"""Language mismatch between prompt and answer (a German question answered in English).

A small, dependency-free detector: the script (Latin, Cyrillic, Greek, Arabic, Hebrew, CJK, Hangul,
Devanagari, Thai) and, for Latin text, the share of each language's commonest function words.
Short texts and code are not judged.
"""

from __future__ import annotations

import re
from collections import Counter

from .base import Check, Flag, register

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
_CODE_CHARS = re.compile(r"[{}();=<>\[\]]")


def detect(text: str) -> str | None:
    text = _CODE.sub(" ", text[:3000])  # the opening of a text tells its language
    if len(_CODE_CHARS.findall(text)) > 0.03 * max(len(text), 1):
        return None  # code, whatever the language of its identifiers
    letters = _WORD.findall(text)
    if len(letters) < 6:
        return None
    joined = "".join(letters)
    if not joined.isascii():  # ASCII letters are Latin script: no need to test the others
        for name, pattern in _SCRIPTS:
            if len(re.findall(pattern, joined)) / len(joined) > 0.3:
                return name
    words = Counter(w.lower() for w in letters[:300])  # 300 words decide a language; counting once is cheap
    n = sum(words.values())
    scores = {lang: sum(words[w] for w in stops if w in words) / n for lang, stops in _STOPS.items()}
    lang, best = max(scores.items(), key=lambda kv: kv[1])
    ranked = sorted(scores.values(), reverse=True)
    return lang if best >= 0.12 and best >= 1.5 * ranked[1] else None


@register
class LanguageMismatch(Check):
    name = "language"
    description = "an answer in a different language than its prompt (or than the set, for unclear prompts)"

    def __init__(self):
        self.prompt_languages: Counter = Counter()

    def observe(self, example, ctx):
        lang = detect(example.prompt)
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
        prompt_lang = detect(example.prompt)
        basis = "the prompt"
        if prompt_lang is None:
            prompt_lang, basis = ctx.stats.get("set_language"), "the set's prompts"
            if prompt_lang is None:
                return
        for i, m in enumerate(example.messages):
            if m.role != "assistant" or not m.content:
                continue
            answer_lang = detect(m.content)
            if answer_lang and answer_lang != prompt_lang:
                yield Flag("warning", 0.7 if basis == "the prompt" else 0.5,
                           f"turn {i + 1}: {basis} {'is' if basis == 'the prompt' else 'are'} in {prompt_lang}, "
                           f"the answer in {answer_lang}", {"turn": i, "prompt": prompt_lang, "answer": answer_lang})
