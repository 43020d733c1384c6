"""What every file reader yields: one `RawRow` per input row, good or bad, with its place in the file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

# Called with the number of bytes (or rows) consumed so far; drives progress bars.
ProgressFn = Callable[[int], None]


@dataclass(slots=True)
class RawRow:
    """A row as read. `value` is the parsed record, or None when `error` says why it could not be parsed.

    `raw` is the verbatim text (bytes for JSONL, str otherwise) kept for quarantine;
    `path` may carry a part suffix (``data.json#train``, ``ds_dir[test]``).
    """

    path: str
    line: int
    index: int
    raw: str | bytes
    value: Any = None
    error: tuple[str, str] | None = None

    def stored_raw(self) -> str | bytes:
        """The row for the quarantine: text when it is valid UTF-8, else the exact original bytes."""
        raw = self.raw
        data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogateescape")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data
