"""How much of an input curate holds at once, so that no file, however hostile, takes the machine's memory.

A record (a line, an array element, a CSV record) longer than `record_bytes` is quarantined with its first
bytes; a compressed file stops with one clear error once it has inflated past `decompressed_bytes`, or
past `ratio` times its compressed size (checked after `RATIO_GRACE` bytes, so small files of repetitive
text never trip it). Each limit has an ingest flag to raise it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UsageError

RATIO_GRACE = 64 << 20
QUARANTINE_HEAD = 64 << 10  # what the quarantine keeps of a record over the limit

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.I)


@dataclass(frozen=True)
class Limits:
    record_bytes: int = 64 << 20
    decompressed_bytes: int = 64 << 30
    ratio: float = 200.0

    def __post_init__(self) -> None:
        if self.ratio < 1:  # every compressed file would stop at once
            raise UsageError("{ratio} must be at least 1", params={"ratio": "limits.ratio"})


def parse_size(text: str, what: str) -> int:
    """Bytes from '64M', '1.5G', '4096' (powers of 1024).

    >>> parse_size("64M", "x"), parse_size("1.5k", "x"), parse_size("10", "x")
    (67108864, 1536, 10)
    """
    m = _SIZE.match(text)
    if not m:
        raise UsageError(f"{what}: {text!r} is not a size; write e.g. 64M, 2G or 4096")
    value = float(m.group(1)) * 1024 ** " kmgt".index(m.group(2).lower() or " ")
    if value < 1:
        raise UsageError(f"{what}: must be at least one byte")
    return int(value)


def human(n: float) -> str:
    """
    >>> human(2_600_000), human(512), human(3 << 30)
    ('2.5 MB', '512 B', '3.0 GB')
    """
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
