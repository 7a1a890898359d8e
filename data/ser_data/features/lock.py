"""One builder per feature cache: an exclusive flock on `<cache>.lock`.

The kernel drops a flock when its process exits, however it dies (Ctrl-C, SIGKILL, OOM), so a
dead builder never holds a cache forever; the lock file itself stays (deleting lock files races
with the next locker). The file says who holds it (pid, host, since), for the waiting message.
On a file system without flock support the build goes ahead unlocked: still correct (every
piece is written atomically), two builders then just duplicate work.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("ser_data.features")


class BuildLock:
    def __init__(self, path: Path, on_wait: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.on_wait = on_wait
        self._fd: int | None = None
        self.waited = False

    def __enter__(self) -> "BuildLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        if fcntl is None:
            self._fd = fd
            return self
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.waited = True
            holder = _read_holder(fd)
            message = f"waiting for another process building {self.path.with_suffix('')} ({holder})"
            (self.on_wait or log.info)(message)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # blocks until the holder finishes or dies
            except BaseException:
                os.close(fd)
                raise
        except OSError as exc:  # ENOLCK/EOPNOTSUPP: e.g. a network file system without locks
            log.warning("cannot lock %s (%s); building without a lock", self.path, exc)
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%H:%M:%S')}\n".encode(), 0)
        except OSError:
            pass
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._fd is None:
            return
        try:
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode(errors="replace").strip() or "holder unknown"
    except OSError:
        return "holder unknown"
