"""Scratch directories inside a workspace: files a step writes and reads back within one run (documents'
words waiting on disk while other arrays hold the memory). Removed when the run ends; those of runs that
were killed (their process is gone) are removed by the next run that makes one, since at 10M examples
they hold gigabytes."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import WorkspaceError


def running(pid: int) -> bool:
    """Whether a process with this id exists (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner(path: Path) -> int | None:
    """The process id in a name ending `-PID-RANDOM`, else None."""
    try:
        return int(path.name.rsplit("-", 2)[-2])
    except (ValueError, IndexError):
        return None


@contextmanager
def scratch_dir(workspace_dir: Path, step: str) -> Iterator[Path]:
    """A private directory `.STEP-PID-RANDOM` in the workspace, removed after (stale ones first)."""
    for old in workspace_dir.glob(f".{step}-*"):
        pid = owner(old)
        if pid is not None and pid != os.getpid() and not running(pid):
            shutil.rmtree(old, ignore_errors=True)
    path = Path(tempfile.mkdtemp(prefix=f".{step}-{os.getpid()}-", dir=workspace_dir))
    try:
        yield path
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        raise WorkspaceError(f"the disk holding the workspace {workspace_dir} is full: {step} keeps words of every "
                             "example there while it runs (about 0.5 GB per million conversations); free space "
                             "there and run it again") from exc
    finally:
        shutil.rmtree(path, ignore_errors=True)
