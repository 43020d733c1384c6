"""Examples and collections as people name them: an id, a unique start of one, or the FILE:LINE a report
gives; a file by any spelling of its path; the one collection there is when none is named.

Used by `curate show` and the commands that take a collection; public so that scripts and tests resolve
names exactly as the CLI does.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import UsageError
from .secrets import shown

if TYPE_CHECKING:
    from .findings import Finding
    from .record import Example, Source
    from .workspace import Decision, Workspace


def stored_path(ws: Workspace, path: str) -> str:
    """A file as the workspace names it (see readers.source_path), with any '#list' or '#split' part kept."""
    from .readers import source_path

    file, part = re.match(r"(.*?)((?:#[^/]*|\[[^/\]]*\])?)$", path).groups()  # type: ignore[union-attr]
    return source_path(file, ws.dir.absolute().parent) + part


def default_collection(ws: Workspace, collection: str | None, kind: str | None = "examples",
                       param: str = "collection") -> str:
    """`collection` if it exists (else the error naming those there are), or the only one of `kind` (None: any).

    `param` is the caller's parameter that names it, for the message when there is no single one to choose.
    """
    if collection:
        ws.collection_id(collection)
        return collection
    names = [n for n, c in ws.collections().items() if kind is None or c.kind == kind]
    if len(names) == 1:
        return names[0]
    raise UsageError(f"name the collection with {{{param}}} (" + (", ".join(names) or "none ingested yet") + ")",
                     params=(param,))


@dataclass
class Found:
    """The examples a reference names, in every collection that holds them."""

    matches: list[tuple[str, Example]]
    by_place: bool  # named by FILE:LINE, where one line may hold several examples (an OASST tree, a list)

    @property
    def ambiguous(self) -> bool:
        return len({e.id for _, e in self.matches}) > 1

    def choices(self) -> list[dict[str, Any]]:
        """What to tell apart when the reference is ambiguous: each example's collection, id and source."""
        return [{"collection": c, "id": e.id, "source": e.source.to_dict()} for c, e in self.matches]


def find(ws: Workspace, ref: str) -> Found:
    """The examples `ref` names: 'FILE:LINE' (the file by any spelling) or an id or unique start of one."""
    path, sep, line = ref.rpartition(":")
    if sep and line.isdigit():
        stored = stored_path(ws, path)
        matches = ws.find_by_source(stored, int(line))
        if not matches:
            held = next((r for r in ws.iter_quarantine(path=stored) if r.line == int(line)), None)
            if held is not None:
                raise UsageError(f"{path} line {line} was quarantined in '{held.collection}' ({held.code}: "
                                 f"{shown(held.message)}); see it with: curate quarantine --file {path}")
            raise UsageError(f"no example was read from {path} line {line}")
        return Found(matches, True)
    matches = ws.find_examples(ref)
    if not matches:
        raise UsageError(f"no example with id {ref!r}")
    return Found(matches, False)


@dataclass
class Details:
    """One example with what the workspace knows about it: findings (with the run kind), decisions, repeats."""

    collection: str
    example: Example
    findings: list[tuple[str, Finding]]
    decisions: list[Decision]
    repeats: list[Source]

    def to_dict(self) -> dict[str, Any]:
        """The example as `curate show --json` gives it, secrets masked."""
        from .secrets import redact_value

        return {"collection": self.collection, **redact_value(self.example.to_dict()),
                "findings": [dict(f.to_dict(), run=kind) for kind, f in self.findings],
                "decisions": [redact_value(dataclasses.asdict(d)) for d in self.decisions],
                "repeats": [s.to_dict() for s in self.repeats]}


def details(ws: Workspace, found: Found) -> list[Details]:
    return [Details(c, e, ws.findings_for(e.id), ws.decisions_in_force(c, example_id=e.id), ws.repeats_of(c, e.id))
            for c, e in found.matches]
