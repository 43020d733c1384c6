"""Group-aware, stratified, reproducible train/val/test splits.

Units: examples joined by a duplicate group or a conflict pair (union-find) move together, so no
near-copy or relabelled twin sits on both sides of a split. Each unit belongs to the stratum of its
first member. Within a stratum, units are placed largest first (ties broken by a seeded hash of the
unit's first id) into the split furthest below its target count; a stratum's targets are floor(size x
ratio), with the one or two examples left over going to the splits furthest behind overall. With
single-example units every stratum lands within one example of its target share in every split, and
the whole export within a few examples of the ratios even when strata are tiny. Everything depends on
ids and the seed only, never on dictionary or set order, so the same inputs and seed give the same splits.
"""

from __future__ import annotations

import hashlib
import math
from typing import Iterable

from ..errors import UsageError

SPLITS = ("train", "val", "test")


def parse_ratios(text: str) -> tuple[float, float, float]:
    """>>> parse_ratios("80/10/10")
    (0.8, 0.1, 0.1)
    >>> parse_ratios("0.9/0.1/0")
    (0.9, 0.1, 0.0)

    Shares sum to 100 (or to 1): 70/20/20 is refused, not rescaled to 64/18/18 without a word.
    """
    parts = text.replace(",", "/").split("/")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 3 or any(v < 0 for v in values) or sum(values) <= 0 or values[0] <= 0:
        raise UsageError(f"{{split}} {text!r}: give three shares train/val/test such as 80/10/10 (train above 0)",
                         params=("split",))
    total = sum(values)
    if not (abs(total - 100) < 1e-6 or abs(total - 1) < 1e-9):
        raise UsageError(f"{{split}} {text!r}: the shares sum to {total:g}; give shares that sum to 100 (e.g. "
                         f"{_suggest(values)}) or to 1", params=("split",))
    return tuple(round(v / total, 6) for v in values)  # type: ignore[return-value]


def _suggest(values: list[float]) -> str:
    """The shares scaled to 100, as the user might have meant them.

    >>> _suggest([70, 20, 20])
    '64/18/18'
    """
    total = sum(values)
    return "/".join(f"{round(v * 100 / total):g}" for v in values)


def seeded_key(seed: int, text: str) -> bytes:
    return hashlib.blake2b(f"{seed}:{text}".encode("utf-8", "surrogatepass"), digest_size=8).digest()


def units(ids: list[str], links: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Connected components of `ids` under `links` (links to ids not in the list are ignored), each in
    the order of `ids`, listed by first member."""
    index = {eid: i for i, eid in enumerate(ids)}
    parent = list(range(len(ids)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        if a in index and b in index:
            ra, rb = find(index[a]), find(index[b])
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    comps: dict[int, list[str]] = {}
    for i, eid in enumerate(ids):
        comps.setdefault(find(i), []).append(eid)
    return list(comps.values())


def _stratum_targets(n: int, ratios: tuple[float, ...], expected: list[float], placed: list[int]) -> list[int]:
    """Targets for one stratum of n: floor(n * ratio) each, and the one or two examples left over go to the
    splits furthest behind their share of everything placed so far. Every stratum stays within one example
    of its share, and small strata do not all round the same way (which would starve val and test).

    >>> _stratum_targets(3, (0.8, 0.1, 0.1), [0.0, 0.0, 0.0], [0, 0, 0])
    [3, 0, 0]
    >>> _stratum_targets(3, (0.8, 0.1, 0.1), [8.0, 1.0, 1.0], [9, 1, 0])
    [2, 0, 1]
    """
    out = [math.floor(n * r) for r in ratios]
    behind = sorted((i for i in range(len(ratios)) if ratios[i] > 0),
                    key=lambda i: (-(expected[i] + n * ratios[i] - placed[i] - out[i]), i))
    for i in behind[:n - sum(out)]:
        out[i] += 1
    return out


def assign(unit_list: list[list[str]], stratum_of: dict[str, str], ratios: tuple[float, float, float],
           seed: int, keys: dict[str, bytes] | None = None) -> dict[str, str]:
    """example id -> split name. `keys`: seeded_key of each unit's first id, where the caller has them."""
    keys = keys if keys is not None else {u[0]: seeded_key(seed, u[0]) for u in unit_list}
    by_stratum: dict[str, list[list[str]]] = {}
    for u in unit_list:
        by_stratum.setdefault(stratum_of.get(u[0], ""), []).append(u)
    out: dict[str, str] = {}
    expected, placed = [0.0, 0.0, 0.0], [0, 0, 0]
    for stratum in sorted(by_stratum, key=lambda s: seeded_key(seed, s)):
        group = sorted(by_stratum[stratum], key=lambda u: (-len(u), keys[u[0]]))
        n = sum(len(u) for u in group)
        targets = _stratum_targets(n, ratios, expected, placed)
        filled = [0, 0, 0]
        deficit = [targets[s] if ratios[s] > 0 else -math.inf for s in range(3)]
        for u in group:
            # The split furthest below its target; ties go to the earlier split (train first). Written out,
            # not max() with a key: this runs once per unit, a million times at 1M.
            d0, d1, d2 = deficit
            best = 0 if d0 >= d1 and d0 >= d2 else (1 if d1 >= d2 else 2)
            deficit[best] -= len(u)
            filled[best] += len(u)
            name = SPLITS[best]
            for eid in u:
                out[eid] = name
        for i in range(3):
            expected[i] += n * ratios[i]
            placed[i] += filled[i]
    return out
