"""Cluster labels: the terms most distinctive of each cluster, by class-based TF-IDF (as BERTopic does).

A cluster's texts are one document; a term scores by its frequency in the cluster times
log(1 + average words per cluster / the term's frequency over all clusters). Unigrams and bigrams,
English stop words removed; a term already covered by a higher-scoring one ("card" after "card arrival")
is skipped, and a bigram replaces a chosen word it contains, so that labels say more in fewer words.
"""

from __future__ import annotations

import numpy as np

_PER_CLUSTER = 400  # texts per cluster used for terms: plenty for the top terms, bounded for 100K-row sets
_TOKEN = r"(?u)\b[^\W\d_]{2,}\b"  # words of two or more letters: no numbers, ids or underscores
# Contraction stems left by the tokenizer ("isn't" -> "isn") and chat filler that says nothing about a topic.
_EXTRA_STOP = {"isn", "doesn", "don", "didn", "won", "wasn", "aren", "hasn", "haven", "couldn", "shouldn", "wouldn",
               "ve", "ll", "re", "hi", "hello", "hey", "thanks", "thank", "please", "help", "asap", "pls", "plz",
               "ok", "okay", "just", "want", "need", "know", "like", "get", "got", "tell", "does", "did", "can"}


def cluster_terms(texts: list[str], labels: np.ndarray, k: int, top: int = 6, seed: int = 0) -> list[list[str]]:
    from scipy import sparse
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        if len(members) > _PER_CLUSTER:
            members = rng.choice(members, _PER_CLUSTER, replace=False)
        chosen.append(members)
    idx = np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)
    docs = [texts[i] for i in idx]
    if not docs:
        return [[] for _ in range(k)]
    # binary: a word a text repeats counts once, so one verbose text does not name its cluster
    vectorizer = CountVectorizer(stop_words=sorted(ENGLISH_STOP_WORDS | _EXTRA_STOP), ngram_range=(1, 2),
                                 token_pattern=_TOKEN, min_df=2 if len(docs) >= 50 else 1, binary=True)
    try:
        counts = vectorizer.fit_transform(docs)
    except ValueError:  # nothing but stop words and numbers
        return [[] for _ in range(k)]
    member = sparse.csr_matrix((np.ones(len(idx)), (labels[idx], np.arange(len(idx)))), shape=(k, len(idx)))
    per_cluster = (member @ counts).toarray()
    words = per_cluster.sum(axis=1, keepdims=True)
    tf = per_cluster / np.maximum(words, 1)
    idf = np.log1p(words.mean() / np.maximum(per_cluster.sum(axis=0), 1))
    scores = tf * idf
    # A term only one text of a big cluster uses is that text's, not the cluster's.
    n_docs = np.bincount(labels[idx], minlength=k)[:, None]
    scores[per_cluster < np.maximum(2, 0.1 * n_docs)] = 0
    scores[n_docs[:, 0] < 2] = tf[n_docs[:, 0] < 2] * idf  # a one-text cluster: its own words
    vocab = vectorizer.get_feature_names_out()
    out = []
    for c in range(k):
        terms: list[str] = []
        for j in np.argsort(-scores[c], kind="stable")[:top * 4]:  # equal scores: vocabulary order, on any CPU
            if scores[c, j] <= 0:
                break
            term = str(vocab[j])
            words_of = set(term.split())
            if any(words_of <= set(t.split()) for t in terms):
                continue
            # A bigram that extends a chosen word takes its place: "card arrival" says more than "card".
            terms = [t for t in terms if not set(t.split()) < words_of] + [term]
            if len(terms) == top:
                break
        out.append(terms)
    return out


def label(terms: list[str], fallback: str) -> str:
    """>>> label(["card arrival", "delivery", "track"], "q")
    'card arrival · delivery · track'
    >>> label([], "Where is my parcel?")
    'Where is my parcel?'
    """
    return " · ".join(terms[:3]) if terms else fallback[:60]
