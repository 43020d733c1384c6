"""Every pair of unit vectors with cosine >= a threshold, found through inverted lists (IVF) and BLAS.

The embeddings are cut into lists around k-means centroids: each document is a *member* of its nearest
centroid's list and *probes* the `PROBES` nearest lists. Each list's members are compared, as matrix
products, with every document that probes it, and pairs at or above the threshold are kept with their exact
cosines. A pair is missed only when neither document probes the other's list: on real embeddings at 0.9
that is under 1% of pairs (bench/ann.py, tests/test_semantic.py).

Two choices keep the lists even, which is what the scan costs (members x probers per list):
- centroids come from the *mean-centred* vectors. Sentence embeddings share a common direction (the mean
  of 1M static embeddings has norm 0.63): around it plain k-means makes a few huge lists that everyone
  probes. Ranking centroids by x.c - mean.c is ranking by the centred cosine, with no centred copy;
- spherical k-means (unit centroids), and lists over twice the average on the sample are split again.
Measured at 1M static embeddings of chat prompts: the scan did 2.3x fewer products for it.

The lists are built on the head; `scan` covers a range of lists and returns a spanning forest of its pairs
(so a group of thousands of near-copies returns thousands of links, not millions of pairs). The ranges are
cut by the data alone, so every engine scans the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..vectors import mean as mean_of
from ..vectors import rows as unit_rows
from .forest import Links

PROBES = 4  # the fewest lists a document probes (0.994 of the exact pairs of real embeddings at 0.9)
RECALL = 0.995  # share of a sample's exact pairs the probes must reach (the issue asks >= 0.99)
_PROBE_ENTRIES = 1 << 27  # documents x probes held at once (1.5 GB of indices): past it, all against all
WORTH = 0.5  # the lists are used while their scan costs under this share of all against all's products
SAMPLE_DOCS = 512  # documents whose exact pairs set the probes, at least
SAMPLE_WORK = 1 << 27  # ... and up to this many products of them with the collection (1,342 at 100K)
_SAMPLE_PAIRS = 32  # of each, at most this many partners (a group of near-copies would swamp the rest)
_SAMPLE_PER_LIST = 16  # k-means sample: documents per list
_ROUNDS = 8  # k-means rounds: the lists only need to be even, not optimal
_SPLIT_OVER = 2  # lists holding more than this many times the average sample are split again
_ROWS = 4096  # probers per matrix product
_COLS = 8192  # members per matrix product (a list of near-copies can be large)
_ARGMAXES = 16  # up to this many probes, repeated argmaxes; past it a partition and a sort (measured)
_ASSIGN_ROWS = 8192  # documents per block when finding their nearest lists
_FLUSH_PAIRS = 65_536  # pairs gathered before they are joined into the forest


@dataclass
class Lists:
    """Which documents are members of each list and which probe it, as sorted runs of document indices."""

    centroids: np.ndarray  # unit, of the mean-centred vectors
    probes: int  # lists each document probes (all against all: the probes the threshold would need)
    sample_recall: float  # share of the sampled documents' exact partners those probes reach
    members: np.ndarray  # document indices, list by list
    member_bounds: np.ndarray  # list c's members: members[member_bounds[c]:member_bounds[c + 1]]
    probers: np.ndarray
    prober_bounds: np.ndarray
    exhaustive: bool = False  # all against all: list c's members meet the members of lists c, c + 1, ...

    def __len__(self) -> int:
        return len(self.centroids)

    def work(self) -> np.ndarray:
        """Products each list costs: its members times its probers."""
        if self.exhaustive:
            return np.diff(self.member_bounds) * (self.member_bounds[-1] - self.member_bounds[:-1])
        return np.diff(self.member_bounds) * np.diff(self.prober_bounds)

    def prober_run(self, c: int) -> np.ndarray:
        """The documents compared with list c's members."""
        if self.exhaustive:
            return self.members[self.member_bounds[c]:]
        return self.probers[self.prober_bounds[c]:self.prober_bounds[c + 1]]

    def ranges(self, parts: int) -> list[tuple[int, int]]:
        """`parts` runs of consecutive lists of about equal work (fewer where lists are few)."""
        cum = np.cumsum(self.work(), dtype=np.float64)
        if not len(cum) or cum[-1] == 0:
            return [(0, len(self))] if len(self) else []
        cuts = np.searchsorted(cum, cum[-1] * np.arange(1, parts) / parts, side="right")
        edges = np.unique(np.concatenate([[0], cuts, [len(self)]]))
        return list(zip(edges[:-1].tolist(), edges[1:].tolist()))


def build(emb: np.ndarray, threshold: float, seed: int = 0) -> Lists:
    """Lists for these unit vectors: about 2 sqrt(n) centroids (the scan shrinks as they grow, finding each
    document's nearest grows with them; this balances the two at 100K-1M), each document probing as many
    as `probes` finds necessary at this threshold. Where that many probes would cost more than comparing
    all against all (low thresholds), or hold too many indices, the lists serve all against all instead:
    exact, and still cut into ranges of lists for the workers."""
    n = len(emb)
    rng = np.random.default_rng(seed)
    centroids, shift = centred_centroids(emb, rng)
    p, recall = probes(emb, centroids, shift, threshold, rng)
    top = nearest(emb, centroids, shift, p if p * n <= _PROBE_ENTRIES else 1)
    members, member_bounds = runs(top[:, 0], len(centroids))  # the nearest list comes first either way
    if top.shape[1] == p:
        probers, prober_bounds = runs(top.ravel(), len(centroids))
        lists = Lists(centroids, p, recall, members, member_bounds, (probers // p).astype(np.int32),
                      prober_bounds)
        if lists.work().sum() < WORTH * n * n / 2:
            return lists
        del probers, lists
    del top
    return Lists(centroids, p, 1.0, members, member_bounds, np.zeros(0, np.int32), np.zeros(1, np.int64), True)


def centred_centroids(emb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """About 2 sqrt(n) unit centroids of the mean-centred rows, and each one's shift (centroid . mean):
    ranking centroids by x . c - shift is ranking them by the centred cosine."""
    mean = mean_of(emb)
    centroids = _centroids(emb, mean, max(1, min(len(emb), round(2 * np.sqrt(len(emb))))), rng)
    return centroids, centroids @ mean


def probes(emb: np.ndarray, centroids: np.ndarray, shift: np.ndarray, threshold: float,
           rng: np.random.Generator) -> tuple[int, float]:
    """How many lists each document must probe for the scan to find RECALL of the exact pairs of a random
    sample of documents (at least PROBES), and the share it finds. A pair is found when
    either document probes the other's list, so each needs 1 + the lower of the two ranks. RECALL must hold
    two ways: of the pairs (the documents with many partners weigh more; the measure recall is quoted in)
    and of the documents (each weighs the same: by pairs alone, 800 identical vectors, whose pairs need one
    probe, set the probes for everyone else). On real embeddings 0.9 needs 4-8, 0.8 about 23."""
    n, k = len(emb), len(centroids)
    size = min(n, max(SAMPLE_DOCS, SAMPLE_WORK // n))  # more where exact search is cheap: less noise
    a, b, partners = sample_pairs(emb, threshold, rng.choice(n, size, replace=False), rng)
    if not len(a):
        return min(PROBES, k), 1.0
    x, y = unit_rows(emb, a), unit_rows(emb, b)
    return calibrated(np.minimum(rank(x, y, centroids, shift), rank(y, x, centroids, shift)) + 1, partners, k)


def calibrated(need: np.ndarray, partners: np.ndarray, k: int) -> tuple[int, float]:
    """The probes (of k lists, at least PROBES) that reach RECALL of the sampled pairs, each needing `need`
    probes and kept from its sampled row's `partners`, by pairs and by rows; and the share they reach."""
    kept = np.minimum(partners, _SAMPLE_PAIRS)
    weights = (partners / kept, 1 / kept)  # by pairs, by rows
    p = int(min(k, max(PROBES, *(_quantile(need, w, RECALL) for w in weights))))
    return p, min(float(w[need <= p].sum() / w.sum()) for w in weights)


def _quantile(values: np.ndarray, weight: np.ndarray, q: float) -> int:
    order = np.argsort(values, kind="stable")
    return int(values[order][np.argmax(np.cumsum(weight[order]) >= q * weight.sum())])


def sample_pairs(emb: np.ndarray, threshold: float, rows: np.ndarray, rng: np.random.Generator,
                 of: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """These rows' partners in emb at cosine >= threshold by exact search, at most _SAMPLE_PAIRS each (drawn
    at random: the first ones would follow the input's order), with the row's number of partners in all
    beside each pair kept. The rows are emb's own (a row is not its own partner), or `of`'s for matches
    across two sides. emb is read a block of columns at a time: each block is converted once."""
    rows = np.sort(rows)
    x = unit_rows(emb if of is None else of, rows)
    step = max(1, (1 << 24) // len(rows))  # columns per product: about 64 MB of similarities
    partners = np.zeros(len(rows), dtype=np.int64)
    kept = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    for s in range(0, len(emb), step):
        sims = x @ unit_rows(emb, slice(s, s + step)).T
        if of is None:
            mine = np.flatnonzero((rows >= s) & (rows < s + sims.shape[1]))
            sims[mine, rows[mine] - s] = -np.inf
        r, c = np.nonzero(sims >= threshold)
        partners += np.bincount(r, minlength=len(rows))
        kept = _fewest_keys(*(np.concatenate(p) for p in zip(kept, (r, c + s, rng.random(len(r))))))
    r, c, _ = kept
    return rows[r], c, partners[r]


def _fewest_keys(r: np.ndarray, c: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of each row's pairs, the _SAMPLE_PAIRS with the lowest random keys: a uniform draw, block after block."""
    order = np.lexsort((key, r))
    r, c, key = r[order], c[order], key[order]
    keep = np.arange(len(r)) - np.searchsorted(r, r) < _SAMPLE_PAIRS
    return r[keep], c[keep], key[keep]


def rank(x: np.ndarray, y: np.ndarray, centroids: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """For each row, how many centroids x is nearer to than to y's nearest (y's list)."""
    out = np.empty(len(x), dtype=np.int64)
    for s in range(0, len(x), _ASSIGN_ROWS):
        sx = x[s:s + _ASSIGN_ROWS] @ centroids.T - shift
        mine = nearest(y[s:s + _ASSIGN_ROWS], centroids, shift, 1)[:, 0]
        out[s:s + len(sx)] = (sx > sx[np.arange(len(sx)), mine][:, None]).sum(axis=1)
    return out


def runs(labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(labels, kind="stable")
    return order, np.searchsorted(labels[order], np.arange(k + 1))


def nearest(x: np.ndarray, centroids: np.ndarray, shift: np.ndarray, p: int) -> np.ndarray:
    """Each row's p nearest centroids by centred cosine, nearest first (ties: lower centroid, except at the
    last place past `_ARGMAXES`, where the partition picks one; the same input picks the same one)."""
    out = np.empty((len(x), p), dtype=np.int64)
    for s in range(0, len(x), _ASSIGN_ROWS):
        scores = unit_rows(x, slice(s, s + _ASSIGN_ROWS)) @ centroids.T
        scores -= shift
        out[s:s + len(scores)] = _top(scores, p)
    return out


def _top(scores: np.ndarray, p: int) -> np.ndarray:
    rows = np.arange(len(scores))
    if p > _ARGMAXES:
        top = np.argpartition(-scores, p - 1, axis=1)[:, :p]
        return np.take_along_axis(top, np.lexsort((top, -scores[rows[:, None], top]), axis=1), axis=1)
    out = np.empty((len(scores), p), dtype=np.int64)
    for j in range(p):  # p argmaxes beat a partition and a sort at p = 4
        best = scores.argmax(axis=1)
        out[:, j] = best
        scores[rows, best] = -np.inf
    return out


def _centroids(emb: np.ndarray, mean: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    picked = np.sort(rng.choice(len(emb), min(len(emb), k * _SAMPLE_PER_LIST), replace=False))
    sample = unit_rows(emb, picked) - mean
    sample /= np.maximum(np.linalg.norm(sample, axis=1, keepdims=True), 1e-12)
    centroids = spherical_kmeans(sample, k, rng)
    label = nearest(sample, centroids, np.zeros(len(centroids), dtype=np.float32), 1)[:, 0]
    size = np.bincount(label, minlength=len(centroids))
    big = size > _SPLIT_OVER * _SAMPLE_PER_LIST
    parts = [centroids[~big]]
    for c in np.flatnonzero(big).tolist():
        parts.append(spherical_kmeans(sample[label == c], -(-int(size[c]) // _SAMPLE_PER_LIST), rng))
    return np.concatenate(parts)


def spherical_kmeans(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k unit centroids of unit rows x by Lloyd rounds on cosine. Written here because scikit-learn's k-means
    is Euclidean: on these vectors its lists were 2.7x as uneven (sum of squared sizes), and MiniBatchKMeans
    took 16 s where this takes 2 s (32K x 256, k = 2,048)."""
    centroids = x[rng.choice(len(x), min(k, len(x)), replace=False)].astype(np.float32)
    zero = np.zeros(len(centroids), dtype=np.float32)
    for _ in range(_ROUNDS):
        label = nearest(x, centroids, zero, 1)[:, 0]
        sums = np.zeros_like(centroids)
        np.add.at(sums, label, x)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        empty = norms[:, 0] == 0
        centroids = np.where(empty[:, None], centroids, sums / np.maximum(norms, 1e-12))
    return centroids.astype(np.float32)


def scan(span: tuple[int, int], lists: Lists, emb: np.ndarray, threshold: float,
         every_pair: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(pairs, cosines) at >= threshold between the members of lists [a, b) and their probers, reduced to a
    spanning forest (strongest first) as they come, so memory stays bounded; or, to measure recall, every
    pair (lower index first, sorted)."""
    links = Links(len(emb))
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    size = 0
    for rows, cols in _blocks(span, lists):
        sims = unit_rows(emb, rows) @ unit_rows(emb, cols).T
        i, j = np.nonzero(sims >= threshold)
        a, b, cos = rows[i], cols[j], sims[i, j]
        keep = (a != b) & (every_pair | (links.parent[a] != links.parent[b]))
        found.append((np.minimum(a, b)[keep], np.maximum(a, b)[keep], cos[keep]))
        size += int(keep.sum())
        if size >= _FLUSH_PAIRS and not every_pair:  # the forest's union is O(n): join pairs in batches
            links.add(*(np.concatenate(col) for col in zip(*found)))
            found, size = [], 0
    if every_pair:
        a, b, cos = (np.concatenate(col) for col in zip(*found)) if found else (np.zeros(0, np.int64),) * 3
        _, first = np.unique(a * len(emb) + b, return_index=True)
        return np.stack([a[first], b[first]], axis=1), cos[first]
    if size:
        links.add(*(np.concatenate(col) for col in zip(*found)))
    return links.result()


def _blocks(span: tuple[int, int], lists: Lists) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(probers, members) blocks of lists [a, b), small enough for one matrix product each."""
    for c in range(*span):
        mine = lists.members[lists.member_bounds[c]:lists.member_bounds[c + 1]]
        probing = lists.prober_run(c)
        for m in range(0, len(mine), _COLS):
            for r in range(0, len(probing), _ROWS):
                yield probing[r:r + _ROWS], mine[m:m + _COLS]
