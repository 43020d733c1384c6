"""Input formats: detection per record and conversion into conversations.

Detection order matters: the most specific shapes are tried first (chat formats, then
instruction formats, then prompt/completion). Production queries fall back to plain text.
"""

from __future__ import annotations

import difflib
from types import ModuleType
from typing import Any, Mapping

from ..errors import RowRejected, UsageError
from . import alpaca, dolly, hh_rlhf, oasst_tree, openai, prompt_completion, query, sharegpt
from .base import Converted
from .validate import validate_example, validate_query

# Order of detection; `query` is only auto-detected for collections of kind "queries".
FORMATS: dict[str, ModuleType] = {
    m.NAME: m for m in (sharegpt, openai, oasst_tree, hh_rlhf, dolly, alpaca, prompt_completion, query)
}
KINDS = ("examples", "queries")

__all__ = ["FORMATS", "KINDS", "Converted", "detect", "convert_record", "apply_mapping", "parse_mapping"]


def detect(record: Mapping[str, Any], kind: str = "examples") -> str | None:
    # Fast path for the flat instruction formats, which make up most large files.
    if "instruction" in record and not ("messages" in record or "conversations" in record):
        if dolly.matches(record):
            return dolly.NAME
        if alpaca.matches(record):
            return alpaca.NAME
    for name, module in FORMATS.items():
        if name == "query" and kind != "queries":
            continue
        if module.matches(record):
            return name
    return None


def is_record(value: Any) -> bool:
    """Whether a parsed JSON object is itself one record of a known format (not a container of records)."""
    return isinstance(value, dict) and detect(value, "queries") is not None


def parse_mapping(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`["question=instruction", ...]` -> {"question": "instruction"}; raises UsageError on bad pairs."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        src, sep, dst = pair.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise UsageError(f"{{mapping}} {pair!r}: expected SOURCE_FIELD=TARGET_FIELD, "
                             "e.g. {mapping} question=instruction",
                             params=("mapping",))
        mapping[src.strip()] = dst.strip()
    return mapping


# The fields the formats read, for a --map that names none of them (a typo, most often); the query format's
# own list is its FIELDS.
READ_FIELDS = tuple(dict.fromkeys(("instruction", "input", "output", "history", "system", "instances", "context",
                                   "response", "messages", "conversations", "conversation", "tools", "prompt",
                                   "completion", "chosen", "rejected") + query.FIELDS))


def mapping_hint(mapping: Mapping[str, str], record: Any) -> str:
    """What a row that no format reads says of --map: a source field the row lacks, a target no format reads."""
    if not mapping or not isinstance(record, dict):
        return ""
    notes = []
    for src, dst in mapping.items():
        if src not in record:
            notes.append(f"--map {src}={dst}: the row has no field {src!r}")
        elif dst not in READ_FIELDS:
            close = difflib.get_close_matches(dst, READ_FIELDS, n=1)
            notes.append(f"--map {src}={dst}: no format reads a field {dst!r}"
                         + (f" (did you mean {close[0]}?)" if close else ""))
    return "; " + "; ".join(notes) if notes else ""


def apply_mapping(record: dict[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """A renamed copy of the record; the caller's dict is never touched."""
    if not mapping:
        return record
    return {mapping.get(k, k): v for k, v in record.items()}


def _unknown(record: Mapping[str, Any], kind: str) -> RowRejected:
    fields = ", ".join(list(record)[:8]) or "(none)"
    hint = ""
    if kind == "examples" and query.matches(record):
        hint = "; if these are production queries, ingest them with --kind queries"
    return RowRejected("unknown_format", f"no known format has the fields {fields}{hint}")


_JSON_TYPES = {type(None): "null", str: "string", int: "number", float: "number", bool: "boolean", list: "array"}


def convert_record(record: Any, kind: str, fmt: str | None = None) -> tuple[str, list[Converted]]:
    """Detect (or use `fmt`), convert and validate one record; raises RowRejected for a bad row."""
    if not isinstance(record, dict):
        raise RowRejected("not_an_object", f"the record is a JSON {_JSON_TYPES.get(type(record), 'value')}, "
                                           "not an object")
    name = fmt or detect(record, kind)
    if name is None:
        raise _unknown(record, kind)
    if name not in FORMATS:
        raise UsageError(f"unknown format {name!r}; choose from {', '.join(FORMATS)}")
    converted = FORMATS[name].convert(record)
    check = validate_query if kind == "queries" else validate_example
    for conv in converted:
        conv.warnings.extend(check(conv.messages))
    return name, converted
