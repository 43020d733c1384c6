"""What every file reader yields: one `RawRow` per input row, good or bad, with its place in the file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..record import Issue

# Called with the number of bytes (or rows) consumed so far; drives progress bars.
ProgressFn = Callable[[int], None]


@dataclass(slots=True)
class RawRow:
    """A row as read. `value` is the parsed record, or None when `error` says why it could not be parsed.

    `raw` is the verbatim text (bytes for JSONL, str otherwise) kept for quarantine;
    `notes` are what reading changed or noticed, carried onto the examples as warnings;
    `path` may carry a part suffix (``data.json#train``, ``ds_dir#test``).
    """

    path: str
    line: int
    index: int
    raw: str | bytes
    value: Any = None
    error: tuple[str, str] | None = None
    notes: tuple[Issue, ...] = ()  # warnings for the examples made from this row (a number kept as text)

    def stored_raw(self) -> str | bytes:
        """The row for the quarantine: text when it is valid UTF-8, else the exact original bytes."""
        raw = self.raw
        data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogateescape")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data


def too_large(path: str, line: int, index: int, head: bytes | str, size: int, limit: int) -> RawRow:
    """The row for a record over the size limit: its first bytes are kept, and the message says how to read it."""
    from .limits import QUARANTINE_HEAD, human

    return RawRow(path, line, index, head[:QUARANTINE_HEAD], None,
                  ("record_too_large", f"the record is {human(size)}, over the limit of {human(limit)}; its first "
                                       f"{human(min(len(head), QUARANTINE_HEAD))} are kept here"))
