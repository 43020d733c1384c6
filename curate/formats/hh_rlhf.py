"""Anthropic HH-RLHF transcripts: `chosen` ("\\n\\nHuman: ... \\n\\nAssistant: ...") becomes the
conversation; `rejected` and any other field stay in metadata verbatim."""

from __future__ import annotations

import re
from typing import Any, Mapping

from ..errors import RowRejected
from ..record import Message
from .base import Converted, rest

NAME = "hh_rlhf"
_SPLIT = re.compile(r"(?:^|\n\n)(Human|Assistant): ?")


def matches(record: Mapping[str, Any]) -> bool:
    chosen = record.get("chosen")
    return isinstance(chosen, str) and chosen.lstrip().startswith("Human:")


def parse_transcript(text: str) -> list[Message]:
    parts = _SPLIT.split(text.lstrip("\n"))
    if parts[0].strip() or len(parts) < 3:
        raise RowRejected("invalid_transcript", "the transcript does not start with 'Human:'")
    roles = {"Human": "user", "Assistant": "assistant"}
    return [Message(roles[parts[i]], parts[i + 1]) for i in range(1, len(parts), 2)]


def convert(record: Mapping[str, Any]) -> list[Converted]:
    return [Converted(parse_transcript(record["chosen"]), rest(record, {"chosen"}))]
