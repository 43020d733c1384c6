"""The bytes of an input file as every text reader sees them: UTF-8, lines ending in LF, within limits.

What the file really is gets detected from its first bytes and named in the ingest report: UTF-16 and
UTF-32 (by byte-order mark, or by the zero bytes their ASCII text leaves), and CR-only line endings (old
Mac OS exports). Both are converted on the fly, so the readers and the row numbers stay the same.
Compressed input is counted as it inflates, and stops with one clear error past the limits.
"""

from __future__ import annotations

import codecs
import io
from typing import BinaryIO, Callable, Iterator

from ..errors import InputFileError
from . import limits as limits_module  # RATIO_GRACE read at each check, so a test can lower it
from .limits import Limits, human

_BOMS = (  # longest first: the UTF-32 LE mark begins with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32 LE"), (codecs.BOM_UTF32_BE, "utf-32", "UTF-32 BE"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16 LE"), (codecs.BOM_UTF16_BE, "utf-16", "UTF-16 BE"),
)


# ASCII text in these encodings: which byte offsets (in each group of `step`) are zero
_ZERO_PATTERNS = (("utf-32-le", "UTF-32 LE", (1, 2, 3), 4), ("utf-32-be", "UTF-32 BE", (0, 1, 2), 4),
                  ("utf-16-le", "UTF-16 LE", (1,), 2), ("utf-16-be", "UTF-16 BE", (0,), 2))


def sniff_encoding(head: bytes) -> tuple[str | None, str | None]:
    """(codec to read the file with, or None for UTF-8; what was seen, for the report).

    >>> sniff_encoding("[1]".encode("utf-16"))[1]
    'UTF-16 LE (byte-order mark)'
    >>> sniff_encoding("text,label\\n".encode("utf-16-be"))
    ('utf-16-be', 'UTF-16 BE (no byte-order mark: every other byte is zero)')
    >>> sniff_encoding(b"plain")
    (None, None)
    """
    for bom, codec, name in _BOMS:
        if head.startswith(bom):
            return codec, f"{name} (byte-order mark)"
    sample = head[:4096]
    if len(sample) < 8 or sample.count(0) < len(sample) // 4:
        return None, None
    for codec, name, offsets, step in _ZERO_PATTERNS:
        zero_share = min(sample[o::step].count(0) / max(1, len(sample[o::step])) for o in offsets)
        if zero_share > 0.9:
            return codec, f"{name} (no byte-order mark: {_zero_note(step)})"
    return None, None


def _zero_note(step: int) -> str:
    return "every other byte is zero" if step == 2 else "three bytes in four are zero"


def cr_only(head: bytes) -> bool:
    """Lines that end in CR alone (classic Mac OS): no LF anywhere in the first bytes, and a CR.

    >>> cr_only(b"a,b\\r1,2\\r"), cr_only(b"a,b\\r\\n1,2\\r\\n"), cr_only(b"one line")
    (True, False, False)
    """
    return b"\r" in head and b"\n" not in head


class Inflating(io.RawIOBase):
    """A decompressing stream that counts what it inflates and stops past the limits.

    `compressed` tells how many compressed bytes have been read so far.
    """

    def __init__(self, inner: io.BufferedIOBase, compressed: Callable[[], int], limits: Limits, display: str):
        super().__init__()
        self._inner, self._compressed, self._limits, self._display = inner, compressed, limits, display
        self.inflated = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._inner.readinto(buffer)
        self.inflated += n
        self._check()
        return n

    def _check(self) -> None:
        limits, inflated = self._limits, self.inflated
        if inflated > limits.decompressed_bytes:
            raise InputFileError(f"{self._display}: stopped after inflating {human(inflated)}, over the limit of "
                                 f"{human(limits.decompressed_bytes)}; raise it with {{decompressed_bytes}}",
                                 params={"decompressed_bytes": "limits.decompressed_bytes"})
        if inflated > limits_module.RATIO_GRACE:
            ratio = inflated / max(1, self._compressed())
            if ratio > limits.ratio:
                raise InputFileError(
                    f"{self._display}: stopped after inflating {human(self._compressed())} into {human(inflated)} "
                    f"({ratio:,.0f} times its size; the limit is {limits.ratio:,.0f}): a compression bomb, or "
                    "very repetitive data; raise the limit with {ratio}", params={"ratio": "limits.ratio"})


class Recoding(io.RawIOBase):
    """UTF-16/32 to UTF-8, and CR line ends to LF, as a byte stream.

    UTF-8 keeps bytes that are not UTF-8 (the readers quarantine their rows); UTF-16/32 that does not
    decode stops the file with one clear error (its rows before are kept), since no row can be told apart.
    """

    def __init__(self, inner: BinaryIO, codec: str | None, cr: bool, display: str = ""):
        super().__init__()
        self._inner, self._codec, self._display = inner, codec, display
        self._decoder = codecs.getincrementaldecoder(codec or "utf-8")(errors="strict" if codec else "surrogateescape")
        self._cr = cr
        self._out = b""
        self._eof = False
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._out and not self._eof:
            chunk = self._inner.read(1 << 16)
            self._eof = not chunk
            try:
                text = self._decoder.decode(chunk, final=self._eof)
            except UnicodeDecodeError as exc:
                raise InputFileError(f"{self._display}: read as {self._codec} from its first bytes, but it is not "
                                     f"valid {self._codec} near byte {self._read + exc.start:,} ({exc.reason}); "
                                     "re-save it as UTF-8") from None
            self._read += len(chunk)
            if self._cr:
                text = text.replace("\r\n", "\n").replace("\r", "\n")
            self._out = text.encode("utf-8", "surrogateescape")
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        return n


def read_lines(stream: BinaryIO, limit: int) -> Iterator[tuple[int, bytes, int]]:
    """(line number, line, its full length in bytes), without ever holding more than `limit` bytes of one line.

    A longer line comes back cut to its first `limit` bytes, with its full length; the rest of it is read
    past, not kept.
    """
    lineno = 0
    readline = stream.readline
    while True:
        line = readline(limit + 1)
        if not line:
            return
        lineno += 1
        if len(line) <= limit or line.endswith(b"\n"):
            yield lineno, line, len(line)
            continue
        size = len(line)
        while True:
            more = readline(1 << 20)
            size += len(more)
            if not more or more.endswith(b"\n"):
                break
        yield lineno, line[:limit], size
