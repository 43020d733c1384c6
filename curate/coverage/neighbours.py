"""Each production query's nearest points past exact size, through inverted lists and BLAS.

Coverage needs, per query, its `K` nearest points (training prompts and other queries: how many of each,
ties at the K-th place counted as exact search counts them), its K nearest queries and its nearest
training prompt. The lists are dedup's (curate/dedup/ivf.py): centred spherical k-means over both sides,
about 2 sqrt(n) of them, each point a member of its nearest list. Each query probes its `probes` nearest
lists, as many as a sample of queries' exact neighbours needs for RECALL of them (and of their nearest
training prompts). Every list's members are multiplied by the queries that probe it as one matrix
product, and each query keeps a running best K of what it has met:
- the first `_SEED` probes come first, each block cut to its own best K per query, so each query starts
  with a K-th similarity (a threshold) from its own neighbourhood;
- then the other probes, list by list, keep only what reaches the query's current thresholds, and the
  thresholds rise as the kept candidates are merged in.
So a query meets only its own probes' points, and the merges handle little past its first lists. The
search can only miss neighbours, never invent them. bench/coverage_search.py measures it against exact
search.

Copies of a vector (a query asked many times) share a list and take one value in every product they meet
(tie_copies), so they tie at the K-th as exactly as they are equal. Copies that a list of more than
`_COLS` members splits across two products are not tied: those products may round them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..dedup import ivf
from ..dedup.ivf import WORTH

K = 10  # nearest points and nearest queries per query (density.NEIGHBOURS, QUERY_NEIGHBOURS)
_SEED = 2  # probes searched first, pruned by each block's own best K
_ROWS = 4096  # queries per matrix product
_COLS = 8192  # members per matrix product
_FLUSH = 1 << 22  # candidates gathered before they are merged into the running best
BUDGET = 5e10  # products past which the probes stop short of RECALL (about 10 minutes on 2 cores)
FAR_BUDGET = 1e10  # ... and for the nearest training prompt of queries far from all (_nearest_prompts)
_PROBE_ENTRIES = 1 << 25  # queries x probes grouped by list at once (256 MB of indices, twice)
_KEY = 8  # entries of a vector sorted on to find its copies


@dataclass
class Best:
    """Per query, the running best K points of all, the best K queries, the best training prompt."""

    n_train: int
    val: np.ndarray  # (n_q, K) similarities of the best K points, best first
    pid: np.ndarray  # (n_q, K) their point ids: training prompts first, then queries (n_train + query index)
    ties_train: np.ndarray  # points past the K-th with its similarity exactly, training prompts
    ties_query: np.ndarray  # ... and queries
    q_val: np.ndarray  # (n_q, K) the best K queries
    q_pid: np.ndarray
    t_val: np.ndarray  # (n_q,) the best training prompt
    t_pid: np.ndarray

    @classmethod
    def empty(cls, n_q: int, n_train: int) -> Best:
        def vals(*shape):
            return np.full(shape, -np.inf, dtype=np.float32)

        def pids(*shape):
            return np.full(shape, -1, dtype=np.int64)

        return cls(n_train, vals(n_q, K), pids(n_q, K), np.zeros(n_q, np.int64), np.zeros(n_q, np.int64),
                   vals(n_q, K), pids(n_q, K), vals(n_q), pids(n_q))

    def thresholds(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What a training prompt and a query must reach to matter to these queries (ties matter too)."""
        return np.minimum(self.val[rows, -1], self.t_val[rows]), self.q_val[rows, -1]

    def merge(self, r: np.ndarray, p: np.ndarray, v: np.ndarray) -> None:
        """Fold candidates (query row, point id, similarity) into the running best; each (row, point) pair
        arrives once, as every point is a member of one list and a query probes each list once."""
        if not len(r):
            return
        self._merge_all(r, p, v)
        q = p >= self.n_train
        _merge_top(self.q_val, self.q_pid, r[q], p[q], v[q])
        t = ~q
        order = np.lexsort((p[t], -v[t], r[t]))
        rt, pt, vt = r[t][order], p[t][order], v[t][order]
        first = np.r_[True, rt[1:] != rt[:-1]] if len(rt) else np.zeros(0, bool)
        rt, pt, vt = rt[first], pt[first], vt[first]
        better = (vt > self.t_val[rt]) | ((vt == self.t_val[rt]) & (pt < self.t_pid[rt]))
        self.t_val[rt[better]], self.t_pid[rt[better]] = vt[better], pt[better]

    def _merge_all(self, r: np.ndarray, p: np.ndarray, v: np.ndarray) -> None:
        rows, old_kth, pos, rs, ps, vs = _merge_top(self.val, self.pid, r, p, v)
        same = self.val[rows, -1] == old_kth  # ties counted before still tie
        self.ties_train[rows] = np.where(same, self.ties_train[rows], 0)
        self.ties_query[rows] = np.where(same, self.ties_query[rows], 0)
        past = (pos >= K) & (vs == self.val[rs, -1])
        np.add.at(self.ties_train, rs[past & (ps < self.n_train)], 1)
        np.add.at(self.ties_query, rs[past & (ps >= self.n_train)], 1)


def _merge_top(val: np.ndarray, pid: np.ndarray, r: np.ndarray, p: np.ndarray, v: np.ndarray):
    """Keep, per row, the best K of its current entries and these candidates (ties: the lower point id).
    Returns the rows touched, their K-th values before, and the merged entries in order with each one's
    place in its row."""
    rows = np.unique(r)
    old_kth = val[rows, -1]
    held = val[rows] > -np.inf
    hr = np.repeat(rows, K)[held.ravel()]
    rs, ps, vs = (np.concatenate(x) for x in ((hr, r), (pid[rows][held], p), (val[rows][held], v)))
    order = np.lexsort((ps, -vs, rs))
    rs, ps, vs = rs[order], ps[order], vs[order]
    pos = np.arange(len(rs)) - np.searchsorted(rs, rs)
    keep = pos < K
    val[rows], pid[rows] = -np.inf, -1
    val[rs[keep], pos[keep]], pid[rs[keep], pos[keep]] = vs[keep], ps[keep]
    return rows, old_kth, pos, rs, ps, vs


def first_copies(x: np.ndarray) -> np.ndarray:
    """Each row's first identical row (itself where none comes before it). Rows are sorted by the bits of
    their first `_KEY` entries and only rows with equal keys are compared whole, so this costs one sort."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    order = np.lexsort(bits[:, :_KEY].T[::-1])  # stable: among equal keys, the lowest row first
    key = bits[order, :_KEY]
    new = np.r_[True, (key[1:] != key[:-1]).any(axis=1)]
    run = np.maximum.accumulate(np.where(new, np.arange(len(x)), 0))
    first = np.arange(len(x))
    maybe = np.flatnonzero(~new)
    same = np.concatenate([(bits[order[m]] == bits[order[run[m]]]).all(axis=1)
                           for m in np.array_split(maybe, max(1, len(maybe) // _ROWS))])
    first[order[maybe[same]]] = order[run[maybe[same]]]
    for start in np.unique(run[maybe[~same]]).tolist():  # keys alike, rows apart: sort those rows whole
        rows = order[start:start + int(np.searchsorted(run[start:], start, side="right"))]
        _, one, inverse = np.unique(bits[rows], axis=0, return_index=True, return_inverse=True)
        first[rows] = rows[one[inverse.ravel()]]
    return first


def tie_copies(sims: np.ndarray, copies: np.ndarray, cols: np.ndarray) -> None:
    """Give every copy of a vector among the columns (the points `cols`; `copies`: each point's first copy)
    the value of its first column: BLAS may round the same cosine differently in two columns of one product
    (0.99999994 and 1.0000005), and then only the copies that rounded up would count as tied."""
    firsts = copies[cols]
    if np.array_equal(firsts, cols):  # no copies here: most products, and a sort spared
        return
    _, first, inverse = np.unique(firsts, return_index=True, return_inverse=True)
    if len(first) < len(firsts):
        src = first[inverse]
        moved = np.flatnonzero(src != np.arange(len(src)))
        sims[:, moved] = sims[:, src[moved]]


def search(points: np.ndarray, n_train: int, lists: tuple[np.ndarray, np.ndarray], probes: np.ndarray,
           best: Best, copies: np.ndarray, first: int = 0, tick: Callable[[], None] | None = None) -> None:
    """Fold into `best` queries first, first + 1, ... (points[n_train + first:]) over the lists each probes.
    `lists` is (members, bounds) as ivf.runs gives them; `probes` (queries, p) their lists, nearest first;
    `copies` each point's first copy (first_copies)."""
    members, bounds = lists
    for ranks, seed in ((slice(0, _SEED), True), (slice(_SEED, None), False)):
        part = probes[:, ranks]
        if part.size:
            probers, prober_bounds = ivf.runs(part.ravel(), len(bounds) - 1)
            probers = probers // part.shape[1] + first
            _scan(points, n_train, (members, bounds, copies), (probers, prober_bounds), best, seed)
        if tick:
            tick()


def _scan(points: np.ndarray, n_train: int, lists: tuple[np.ndarray, np.ndarray, np.ndarray],
          probing: tuple[np.ndarray, np.ndarray], best: Best, seed: bool) -> None:
    members, bounds, copies = lists
    probers, prober_bounds = probing
    found: list[tuple[np.ndarray, ...]] = []
    size = 0
    for c in range(len(bounds) - 1):
        mine, rows = members[bounds[c]:bounds[c + 1]], probers[prober_bounds[c]:prober_bounds[c + 1]]
        for m in range(0, len(mine), _COLS):
            for s in range(0, len(rows), _ROWS):
                got = _candidates(points, n_train, rows[s:s + _ROWS], mine[m:m + _COLS], best, seed, copies)
                found.append(got)
                size += len(got[0])
                if size >= _FLUSH:  # merging raises the thresholds: what follows keeps less
                    best.merge(*(np.concatenate(x) for x in zip(*found)))
                    found, size = [], 0
    if found:
        best.merge(*(np.concatenate(x) for x in zip(*found)))


def _candidates(points: np.ndarray, n_train: int, rows: np.ndarray, cols: np.ndarray, best: Best,
                seed: bool, copies: np.ndarray, at: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """(row of best, point id, similarity) of these members (sorted ids: training prompts first) that can
    still matter to these queries (`rows`: their query indices; `at`: their rows in best, if not those)."""
    at = rows if at is None else at
    sims = points[n_train + rows] @ points[cols].T
    tie_copies(sims, copies, cols)
    own = np.minimum(np.searchsorted(cols, n_train + rows), len(cols) - 1)
    mine = cols[own] == n_train + rows
    sims[np.flatnonzero(mine), own[mine]] = -np.inf  # a query is not its own neighbour
    split = int(np.searchsorted(cols, n_train))
    t_thr, q_thr = best.thresholds(at)
    if seed:  # no threshold yet: this block's own best bound what can matter
        t_thr = np.maximum(t_thr, _local_threshold(sims, split))
        q_thr = np.maximum(q_thr, _kth(sims[:, split:]))
    it, jt = np.nonzero(sims[:, :split] >= t_thr[:, None])
    iq, jq = np.nonzero(sims[:, split:] >= q_thr[:, None])
    jq += split
    i, j = np.concatenate([it, iq]), np.concatenate([jt, jq])
    v = sims[i, j]
    keep = v > -np.inf
    return at[i[keep]], cols[j[keep]], v[keep]


def _kth(sims: np.ndarray) -> np.ndarray:
    """Each row's K-th largest value (-inf where the row is shorter)."""
    if sims.shape[1] < K:
        return np.full(len(sims), -np.inf, dtype=np.float32)
    return np.partition(sims, sims.shape[1] - K, axis=1)[:, sims.shape[1] - K]


def _local_threshold(sims: np.ndarray, split: int) -> np.ndarray:
    """A training prompt below this block's K-th of all points and below its best training prompt matters
    neither to the counts nor as the nearest one."""
    if not split:
        return np.full(len(sims), np.inf, dtype=np.float32)
    return np.minimum(_kth(sims), sims[:, :split].max(axis=1))


@dataclass
class Searched:
    best: Best
    lists: int
    probes: int  # lists each query probes
    needed: int  # the probes RECALL needs: more than `probes` where they would cost over BUDGET
    sample_recall: float  # share of the sampled queries' exact neighbours `probes` reach
    exact_share: float  # products compared, as a share of all against all's
    far: int = 0  # queries whose probes found no training prompt among their K nearest points
    far_recall: float = 1.0  # share of a sample of them whose nearest training prompt was found
    far_all: bool = True  # ... searched among all training prompts (within FAR_BUDGET), else in lists


def nearest_points(train: np.ndarray, queries: np.ndarray, seed: int = 0,
                   progress: Callable[[int, int], None] | None = None) -> Searched | None:
    """Every query's running best over its probed lists; None where the probes RECALL needs would cost
    over WORTH of all against all (then exact search is the cheaper way). Past BUDGET products the probes
    are the most that fit, and the recall they reach on the sample is what the report states. Queries are
    probed a chunk at a time (`_PROBE_ENTRIES` probes), never n_q x p indices at once."""
    points = np.vstack([train, queries]).astype(np.float32, copy=False)
    n_t, n_q = len(train), len(queries)
    rng = np.random.default_rng(seed)
    copies = first_copies(points)
    centroids, shift = ivf.centred_centroids(points, rng)
    needs, sample = _needs(points, n_t, (centroids, shift), copies, rng)
    needed = max((ivf.calibrated(need, np.full(len(need), K), len(centroids))[0] for need in needs if len(need)),
                 default=min(ivf.PROBES, len(centroids)))  # a lone query has no query neighbours
    # copies share their first copy's list: the rounding of two products could part them
    label = ivf.nearest(points, centroids, shift, 1)[copies, 0]
    members, bounds = ivf.runs(label, len(centroids))
    # products per query for 1, 2, ... probes, on the sample
    cost = np.cumsum(np.diff(bounds)[ivf.nearest(queries[sample], centroids, shift, needed)], axis=1).mean(axis=0)
    p = max(1, int(np.searchsorted(cost, BUDGET / n_q, side="right")), min(needed, ivf.PROBES))
    p = min(p, needed)
    share = float(cost[p - 1]) / len(points)
    if share >= WORTH:
        return None
    best = Best.empty(n_q, n_t)
    step = max(1, _PROBE_ENTRIES // p)
    done, total = 0, 2 * -(-n_q // step)

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    for s in range(0, n_q, step):
        probes = ivf.nearest(queries[s:s + step], centroids, shift, p)
        search(points, n_t, (members, bounds), probes, best, copies, s, tick)
    far = _nearest_prompts(points, n_t, best, copies, (label, centroids, shift), rng)
    recall = min(float(np.mean(need <= p)) if len(need) else 1.0 for need in needs)
    return Searched(best, len(centroids), p, needed, recall, share, *far)


def _needs(points: np.ndarray, n_t: int, lists: tuple[np.ndarray, np.ndarray], copies: np.ndarray,
           rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
    """The probes a random sample of queries' exact neighbours need (1 + the rank of the neighbour's list for
    the query), for each kind apart: their K nearest points, K nearest queries, nearest training prompt
    where it is one of those points, so each reaches RECALL (pooled, the nearest queries, which lie
    farthest, reached only 0.9899 at 300K).
    Returns them and the sample."""
    n_q = len(points) - n_t
    size = min(n_q, max(ivf.SAMPLE_DOCS, ivf.SAMPLE_WORK // len(points)))
    sample = np.sort(rng.choice(n_q, size, replace=False))
    centroids, shift = lists
    exact = _exact(points, n_t, sample, copies)
    needs = []
    # a nearest prompt past the K nearest points is searched apart (_nearest_prompts): in a gap it would
    # ask for most lists, and the counts would pay for it
    within = np.where(exact.t_val >= exact.val[:, -1], exact.t_pid, -1)
    for pid in (exact.pid, exact.q_pid, within[:, None]):
        row, col = np.nonzero(pid >= 0)
        x, y = points[n_t + sample[row]], points[pid[row, col]]
        needs.append(ivf.rank(x, y, centroids, shift) + 1)
    return needs, sample


def _exact(points: np.ndarray, n_t: int, rows: np.ndarray, copies: np.ndarray,
           cols: np.ndarray | None = None) -> Best:
    """The best of these queries over all points (or the points `cols`), a block of points at a time."""
    cols = np.arange(len(points)) if cols is None else cols
    best = Best.empty(len(rows), n_t)
    at = np.arange(len(rows))
    for s in range(0, len(cols), _COLS):
        for r in range(0, len(rows), _ROWS):
            best.merge(*_candidates(points, n_t, rows[r:r + _ROWS], cols[s:s + _COLS], best, True, copies,
                                    at[r:r + _ROWS]))
    return best


def _nearest_prompts(points: np.ndarray, n_t: int, best: Best, copies: np.ndarray,
                     lists: tuple[np.ndarray, ...], rng: np.random.Generator) -> tuple[int, float, bool]:
    """The nearest training prompt of queries where the probes found none among their K nearest points
    (production far from training: a gap). Among all prompts while that costs under FAR_BUDGET products;
    past it (100K queries in a gap of a 1M-prompt set: hours), in the nearest lists holding prompts, as
    many as a sample of them needs for RECALL, or as fit the budget. A far query's nearest lists tell
    little of where its nearest prompt is (of hwu64's queries against banking77's prompts, 0.96 found it
    only within the nearest half of the lists), which is why these are not the main probes' concern.
    Returns how many queries these were, the share of the sample reached, and whether all were searched."""
    far = np.flatnonzero((best.t_pid < 0) | (best.t_val < best.val[:, -1]))
    if not len(far) or not n_t:
        return 0, 1.0, True
    if len(far) * n_t <= FAR_BUDGET:
        found = _exact(points, n_t, far, copies, np.arange(n_t))
        _keep_nearer(best, far, found)
        return len(far), 1.0, True
    label, centroids, shift = lists
    members, bounds = ivf.runs(label[:n_t], len(centroids))
    holding = np.flatnonzero(np.diff(bounds))
    sample = np.sort(rng.choice(len(far), min(len(far), ivf.SAMPLE_DOCS), replace=False))
    truth = _exact(points, n_t, far[sample], copies, np.arange(n_t))
    need = ivf.rank(points[n_t + far[sample]], points[truth.t_pid], centroids[holding], shift[holding]) + 1
    cost = np.cumsum(np.diff(bounds)[holding[ivf.nearest(points[n_t + far[sample]], centroids[holding],
                                                         shift[holding], len(holding))]], axis=1).mean(axis=0)
    p = max(1, min(int(np.searchsorted(cost, FAR_BUDGET / len(far), side="right")),
                   ivf.calibrated(need, np.ones(len(need)), len(holding))[0]))
    found = Best.empty(len(far), n_t)
    step = max(1, _PROBE_ENTRIES // p)
    for s in range(0, len(far), step):
        rows = far[s:s + step]
        probes = holding[ivf.nearest(points[n_t + rows], centroids[holding], shift[holding], p)]
        probers, prober_bounds = ivf.runs(probes.ravel(), len(centroids))
        probers = probers // p + s
        for c in holding.tolist():
            mine, at = members[bounds[c]:bounds[c + 1]], probers[prober_bounds[c]:prober_bounds[c + 1]]
            for m in range(0, len(mine), _COLS):
                for r in range(0, len(at), _ROWS):
                    found.merge(*_candidates(points, n_t, far[at[r:r + _ROWS]], mine[m:m + _COLS], found, True,
                                             copies, at[r:r + _ROWS]))
    _keep_nearer(best, far, found)
    return len(far), float(np.mean(need <= p)), False


def _keep_nearer(best: Best, rows: np.ndarray, found: Best) -> None:
    nearer = found.t_val > best.t_val[rows]
    best.t_val[rows[nearer]], best.t_pid[rows[nearer]] = found.t_val[nearer], found.t_pid[nearer]
