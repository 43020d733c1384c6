"""curate: turn raw fine-tuning data into a clean, reviewed, leakage-free training set.

The library is the product; the `curate` command is a thin layer over it::

    import curate
    report = curate.ingest(["data.jsonl"], "support")
    with curate.Workspace() as ws:
        for example in ws.iter_examples("support"):
            ...
"""

__version__ = "0.1.0"

from .errors import CurateError, InputFileError, RowRejected, UsageError, WorkspaceError
from .ingest import IngestReport, ingest
from .record import Example, Message, Source, ToolCall
from .workspace import Workspace

__all__ = [
    "__version__", "ingest", "IngestReport", "Workspace", "Example", "Message", "Source", "ToolCall",
    "CurateError", "InputFileError", "UsageError", "WorkspaceError", "RowRejected",
]
