"""One process at a time runs the trials of a run folder: ``<run>/.lock``.

Two ``--resume`` of one folder would both restore the Tune experiment and train every missing
trial twice. The process that runs the trials (``Experiment.execute``: a local run, or rank 0 of
the Slurm job) holds the lock; a second one gets ``RunLocked`` (exit 2) naming the holder.

How a holder is known to be gone:
- The lock file is also held with ``flock``, which the kernel drops when the process dies
  (even on SIGKILL): on the same host a lock without a live flock holder is stale and is taken
  over. Where the file system has no ``flock``, the same-host test is "that pid no longer runs".
- A lock written on another host is never taken over automatically: this host cannot see that
  process. The message names the host and pid; delete the lock file once that run is gone.
- Exception: a lock of the same Slurm job (``SLURM_JOB_ID``) is taken over, whatever the host:
  a job runs one driver at a time, so it is the job's own earlier run before a requeue.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

from ser_data.errors import SerError

from .rundir import RunDir


class RunLocked(SerError):
    """The run folder is being run by another live process."""

    def __init__(self, lock: Path, owner: dict[str, Any], detail: str) -> None:
        self.lock = lock
        self.owner = owner
        super().__init__(f"{lock.parent}: {describe_owner(owner)}; {detail}")


def describe_owner(owner: dict[str, Any]) -> str:
    job = f", Slurm job {owner['slurm_job']}" if owner.get("slurm_job") else ""
    return f"already running in process {owner.get('pid')} on host {owner.get('host')}{job} since {owner.get('started')}"


def _host() -> str:
    return os.environ.get("SER_ORCH_NODE") or socket.gethostname()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, belongs to someone else
        return True
    return True


def _read_owner(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class RunLock:
    """``with RunLock(run_dir): ...`` holds the run folder's lock (see the module doc)."""

    def __init__(self, run_dir: str | os.PathLike[str], purpose: str = "run") -> None:
        self.path = RunDir.at(run_dir).lock_file
        self.purpose = purpose
        self._fd: int | None = None
        self.took_over: dict[str, Any] | None = None  # the stale owner replaced, if any

    def acquire(self) -> RunLock:
        me = {"pid": os.getpid(), "host": _host(), "slurm_job": os.environ.get("SLURM_JOB_ID"),
              "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "purpose": self.purpose, "token": uuid.uuid4().hex}
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                flocked = self._flock(fd)
                if not flocked:
                    raise RunLocked(self.path, _read_owner(self.path), "wait for it to finish, or stop it first")
                if not _same_file(fd, self.path):  # released (unlinked) by its holder meanwhile: retry
                    os.close(fd)
                    continue
                owner = _read_owner(self.path)
                if owner and owner.get("token"):
                    self._check_stale(owner, flocked)
                    self.took_over = owner
                os.ftruncate(fd, 0)
                os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
                os.fsync(fd)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            self._token = me["token"]
            return self

    @staticmethod
    def _flock(fd: int) -> bool | None:
        """True: we hold it; False: someone else does; None: the file system has no flock."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno in (errno.ENOLCK, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                return None
            raise

    def _check_stale(self, owner: dict[str, Any], flocked: bool | None) -> None:
        """A lock file left with an owner in it (its process did not release it): may we take it?"""
        job = os.environ.get("SLURM_JOB_ID")
        if job and owner.get("slurm_job") == job:
            return  # this job's own run before a requeue
        if owner.get("host") == _host():
            pid = int(owner.get("pid") or 0)
            if flocked or not _pid_alive(pid) or pid == os.getpid():
                return  # the kernel dropped its flock (or the pid is gone): it died
            raise RunLocked(self.path, owner, "wait for it to finish, or stop it first")
        raise RunLocked(self.path, owner, f"another host, so it cannot be checked from here; if that run is gone, delete {self.path}")

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            if _read_owner(self.path).get("token") == self._token:
                self.path.unlink(missing_ok=True)  # unlink while still holding the flock (see _same_file)
        except OSError:
            pass  # a read-only or full folder: the flock still goes with the descriptor
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


def check_unlocked(run_dir: str | os.PathLike[str]) -> None:
    """Raise RunLocked now if another live process holds the folder (a --resume checks this before
    preparing any data); takes nothing."""
    if not RunDir.at(run_dir).lock_file.exists():
        return
    RunLock(run_dir, purpose="check").acquire().release()


__all__ = ["RunLock", "RunLocked", "check_unlocked", "describe_owner"]
