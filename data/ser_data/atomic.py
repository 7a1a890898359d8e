"""Atomic file writes: a fresh temp file in the target's folder, fsync, then os.replace.

Readers (a resuming runner, a report beside a live run, a trial loading a feature cache) never
see half a file; a crash leaves at most a hidden ``.<name>.*.tmp`` file. One helper for the three
packages (ser_orch imports it from here; ser_data must not import ser_orch).

Permissions follow the user's umask (as ``open(path, "w")`` would), so results and caches on a
shared file system stay readable for colleagues; ``private=True`` keeps a file 0600 (tokens,
secrets). ``tempfile.mkstemp``/``mkdtemp`` are not used: they always create 0600/0700.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_dir", "atomic_write", "atomic_write_bytes", "atomic_write_text", "fsync_dir"]

_PUBLIC_FILE = 0o666  # the kernel applies the umask to these, exactly as for open()
_PRIVATE_FILE = 0o600
_PUBLIC_DIR = 0o777


def _open_temp_for(path: Path, mode: int) -> tuple[int, Path]:
    """A fresh hidden temp file next to ``path`` (same file system, so os.replace is atomic)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(5)}.tmp"
        try:
            return os.open(tmp, flags, mode), tmp
        except FileExistsError:  # 40 random bits: practically never, but never overwrite
            continue


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make a rename inside ``folder`` durable (no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any], *, private: bool = False
) -> Path:
    """Call ``write(fh)`` on a binary temp file next to ``path``, fsync, then rename it over ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _open_temp_for(target, _PRIVATE_FILE if private else _PUBLIC_FILE)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, private: bool = False) -> Path:
    return atomic_write(path, lambda fh: fh.write(data), private=private)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, private: bool = False) -> Path:
    # Encode ourselves so the bytes (and line endings) are the same on every platform.
    return atomic_write_bytes(path, text.encode("utf-8"), private=private)


@contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Fill a hidden sibling folder, then rename it to ``path`` in one step.

    Yields the temp folder. On success it becomes ``path`` (FileExistsError if ``path`` exists
    and is not an empty folder: a concurrent writer won, the caller decides). On any exception
    the temp folder is removed. The folder gets the umask's permissions (not mkdtemp's 0700).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = target.parent / f".{target.name}.{secrets.token_hex(5)}.tmp"
        try:
            os.mkdir(tmp, _PUBLIC_DIR)
            break
        except FileExistsError:
            continue
    try:
        yield tmp
        try:
            os.rename(tmp, target)  # atomic; also replaces an empty folder
        except OSError as exc:
            if target.exists():
                raise FileExistsError(f"{target} already exists") from exc
            raise
        fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
