"""Named exceptions for the library, and the catalogue of row error codes.

The library raises `CurateError` subclasses; the CLI turns each into one clear line
and a non-zero exit. A bad *row* is never an exception that escapes: it becomes a
quarantined row with one of the codes below.

A message names the parameters it is about as placeholders, so that one message serves
both callers: `UsageError(f"{{prune_bottom}} must be a share, got {x}", params=("prune_bottom",))`
reads "prune_bottom must be a share, got 1.5" to a library caller (`str(exc)`), and
"--prune-bottom must be a share, got 1.5" where the CLI renders it with its flags.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class CurateError(Exception):
    """Base class: a problem the user can fix; the message says what and how.

    `params`: the placeholders in `message` that stand for parameters, as names (the library's parameter
    name is the text) or as a mapping name -> library text (when the library spells it differently from
    the flag's sense, e.g. {"no_header": "header_row=False"}). Only these placeholders are replaced, so a
    value quoted in the message that happens to hold braces is left alone.
    """

    def __init__(self, message: str = "", *, params: Iterable[str] | Mapping[str, str] = ()):
        super().__init__(message)
        self.template = message
        self.params: dict[str, str] = dict(params) if isinstance(params, Mapping) else {p: p for p in params}

    def render(self, flag: Callable[[str], str | None]) -> str:
        """The message with each parameter named by `flag(name)`, or by its library text where that is None."""

        def name(m: re.Match[str]) -> str:
            if m[1] not in self.params:
                return m[0]
            return flag(m[1]) or self.params[m[1]]

        return _PLACEHOLDER.sub(name, self.template)

    def __str__(self) -> str:
        return self.render(lambda _name: None)


class InputFileError(CurateError):
    """An input file cannot be opened or read at all."""


class WorkspaceError(CurateError):
    """The workspace is missing, locked, from a newer version, or asked for something it lacks."""


class WorkspaceBusy(WorkspaceError):
    """Another process held the workspace's write lock for longer than this one would wait."""


class StaleInputs(CurateError):
    """A step asked to be strict (--strict) found a run it uses stale or missing; the CLI exits 1."""


class UsageError(CurateError):
    """Arguments that contradict each other or name things that do not exist."""


class MissingDependency(CurateError):
    """An optional dependency is needed for this operation."""

    def __init__(self, package: str, extra: str, purpose: str):
        super().__init__(
            f"{purpose} needs the '{package}' package: pip install 'ftcurate[{extra}]'"
        )


class RowRejected(Exception):
    """Raised by a format converter or validator for a row that cannot become an Example."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        if code not in ROW_ERRORS:
            raise ValueError(f"unregistered row error code {code!r}")
        self.code = code
        self.message = message

    @property
    def hint(self) -> str:
        return ROW_ERRORS[self.code]


# code -> one-line fix hint. Codes are stable: scripts and tests match on them.
ROW_ERRORS: dict[str, str] = {
    "invalid_json": "fix the JSON syntax on this line (a missing quote, comma or bracket is typical)",
    "encoding_error": "re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
    "not_an_object": "each record must be a JSON object ({...}), not a list, string or number",
    "unknown_format": "no known format matches these fields; pass --format, or --map your columns "
    "(e.g. --map question=instruction --map answer=output)",
    "missing_field": "add the missing field, or --map the column that holds it",
    "missing_messages": "give a non-empty list of turns under 'messages' (OpenAI) or 'conversations' (ShareGPT)",
    "not_a_turn": "each turn must be an object with role/content (OpenAI) or from/value (ShareGPT)",
    "unknown_role": "use one of system, user, assistant, tool (ShareGPT: human, gpt, system, "
    "function_call, observation)",
    "non_string_content": "content must be a string (or a list of text parts); "
    "non-text parts such as images are not supported",
    "empty_content": "write the missing text, or delete the turn",
    "no_user_turn": "add the user turn the answer responds to",
    "no_assistant_turn": "add the assistant's answer; a prompt without one cannot be trained on "
    "(ingest production queries with --kind queries)",
    "last_turn_not_assistant": "end the conversation with an assistant turn, or drop the trailing turn",
    "roles_not_alternating": "merge consecutive turns of the same role, or add the missing turn between them",
    "system_not_first": "move the system message to the start of the conversation",
    "invalid_tool_call": "a tool call needs a function name and JSON arguments",
    "invalid_weight": "weight must be 0 or 1 and only on assistant turns",
    "wrong_column_count": "this row has a different number of columns than the header; quote fields "
    "that contain the delimiter",
    "invalid_transcript": "a transcript must alternate '\\n\\nHuman: ' and '\\n\\nAssistant: ' turns",
    "invalid_csv": "fix the quoting: a field with a quote, comma or line break is quoted, and a quote inside "
    "it is doubled (\"\")",
    "unclosed_quote": "close the quote that opens on this line (or double it if it is text); the lines after it "
    "were read as rows of their own",
    "record_too_large": "split the record, or raise the limit with --max-record-bytes if it is real data",
    "nested_too_deep": "flatten the record: lists and objects nested over 200 levels deep are not training data",
}

# Accepted-with-warning codes: the example is kept, the fault is recorded on it.
ROW_WARNINGS: dict[str, str] = {
    "empty_system_prompt": "the system message is empty; remove it or fill it in",
    "tools_not_json": "the tool definitions are not valid JSON and were kept as text in metadata",
    "tool_call_unanswered": "an assistant tool call has no tool result after it",
    "no_trainable_turn": "every assistant turn has weight 0, so nothing in this example is trained on",
    "number_as_text": "a number JSON tools cannot hold exactly (over 64 bits, NaN, Infinity, 1e400) was kept "
    "as the text written; write it as a string in the source to silence this",
    "duplicate_key": "a key appears twice in one object; delete the copy you do not mean (the last one was used)",
}
