"""Atomic file writes: a fresh temp file in the target's folder, fsync, then os.replace.

Readers (a resuming runner, a report beside a live run, a trial loading a feature cache) never
see half a file; a crash leaves at most a hidden ``.<name>.*.tmp`` file. One helper for the three
packages (ser_orch imports it from here; ser_data must not import ser_orch).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text"]


def _temp_path_for(path: Path) -> Path:
    """A fresh hidden temp file next to ``path`` (same file system, so os.replace is atomic)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    return Path(tmp)


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(fh)`` on a binary temp file next to ``path``, fsync, then rename it over ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path_for(target)
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    # Encode ourselves so the bytes (and line endings) are the same on every platform.
    return atomic_write_bytes(path, text.encode("utf-8"))
