"""Faults of the environment, not of the input: a run folder that cannot be written (disk full,
read-only, no permission, quota) and an interrupted run. The CLI maps each to its exit code
(docs/failure-behaviour.md); bad input stays ``SerError`` (exit 2).
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from pathlib import Path

# Below this much free space a run folder counts as full: Tune's state file, a checkpoint or a
# record would be cut short, and a half-written Tune state breaks the next --resume.
MIN_FREE_BYTES = 1 << 20
_PROBE_BYTES = 64 << 10  # written and removed by the probe: more than one block on any file system


class RunFolderError(Exception):
    """The run folder cannot be written. ``path``: the folder; ``cause``: e.g. 'No space left on device'."""

    def __init__(self, path: str | os.PathLike[str], cause: str) -> None:
        self.path = Path(path)
        self.cause = cause
        super().__init__(f"{self.path}: {cause}")


class RunInterrupted(Exception):
    """The run was stopped (Ctrl-C / SIGINT) before every trial had a record; what ran is kept.

    ``done``: trials of the run with a done record; ``left``: the others (a --resume runs them;
    a trial cut short continues from its last checkpoint)."""

    def __init__(self, run_dir: str | os.PathLike[str], done: int, left: int) -> None:
        self.run_dir = Path(run_dir)
        self.done = done
        self.left = left
        super().__init__(f"interrupted: {done} done, {left} left")


def describe_os_error(exc: OSError) -> str:
    """'No space left on device (ENOSPC)': the cause of an OSError in one short phrase."""
    name = errno.errorcode.get(exc.errno or 0)
    text = exc.strerror or str(exc) or type(exc).__name__
    return f"{text} ({name})" if name else text


def folder_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` (an existing folder) cannot take more files, or None when it can.

    Checks the free space, then writes, syncs and removes a small probe file: a read-only mount,
    a missing permission or an exhausted quota only show up when writing."""
    folder = Path(path)
    try:
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        return describe_os_error(exc)
    if free < MIN_FREE_BYTES:
        return f"No space left on device (ENOSPC; {free} bytes free)"
    probe = folder / f".write-probe-{uuid.uuid4().hex}"
    try:
        with open(probe, "wb") as fh:
            fh.write(b"\0" * _PROBE_BYTES)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        return describe_os_error(exc)
    finally:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass
    return None


def check_folder(path: str | os.PathLike[str]) -> None:
    """Raise RunFolderError if ``path`` cannot take more files."""
    problem = folder_problem(path)
    if problem is not None:
        raise RunFolderError(path, problem)


__all__ = ["MIN_FREE_BYTES", "RunFolderError", "RunInterrupted", "check_folder", "describe_os_error", "folder_problem"]
