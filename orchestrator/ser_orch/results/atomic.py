"""Atomic file writes: a temp file in the target's folder, then os.replace.

Readers (a resuming runner, a report running beside a live run) never see half a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text", "temp_path_for"]


def temp_path_for(path: Path) -> Path:
    """A fresh hidden temp file next to ``path`` (same file system, so os.replace is atomic)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    return Path(tmp)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    target = Path(path)
    tmp = temp_path_for(target)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    # Encode ourselves so the bytes (and line endings) are the same on every platform.
    return atomic_write_bytes(path, text.encode("utf-8"))
