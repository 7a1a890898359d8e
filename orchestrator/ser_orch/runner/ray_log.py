"""Ray's own messages of a run go to ``<run>/logs/ray.log``, not to the console.

The console carries our lines only (progress, tables, one-line errors). Ray still has things to
say (a worker killed by the OOM killer, a node lost, Tune's warnings); they are worth keeping, so
they are written to the run's log and the console gets one line saying where.

Two sources: Ray's Python loggers (``ray``, ``ray.tune``, ...) and the driver's error thread,
which prints messages such as ``(raylet) A worker died ...`` in colour straight to the standard
streams. The second has no public hook: ``ray._private.worker.print_to_stdstream`` is replaced
while the log is open (looked up by name on every call, so the running thread picks it up); if a
Ray version renames it, its messages simply reach the console again.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LOGGERS = ("ray", "ray.tune", "ray.train", "ray.air", "ray.data")
# Tune's own words for a failing trial: our failed records and table already say it, with the reason.
_TRIAL_FAILURES = ("Trial task failed for trial", "Trials did not complete")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class _Handler(logging.Handler):
    def __init__(self, log: RayLog) -> None:
        super().__init__(logging.WARNING)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            notable = record.levelno >= logging.ERROR and not text.startswith(_TRIAL_FAILURES)
            self.log.write(f"{record.name} {record.levelname}", text, notable=notable)
        except Exception:  # noqa: BLE001 - a log line must never break the run
            pass


class RayLog:
    """``with RayLog(path): ...`` while Ray runs. ``count``: messages worth a console line (errors,
    the raylet's reports such as a killed worker); Tune's routine warnings are only written."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.count = 0
        self.first: str | None = None  # the first notable message, shortened
        self._file: TextIO | None = None
        self._lock = threading.Lock()
        self._saved: list[tuple[logging.Logger, list[logging.Handler], int, bool]] = []
        self._print: Any = None

    def write(self, source: str, text: str, notable: bool = True) -> None:
        with self._lock:
            self.count += int(notable)
            if notable and self.first is None:
                self.first = strip_ansi(text).strip().splitlines()[0][:120] if text.strip() else source
            if self._file is None:
                return
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            try:
                self._file.write(f"{stamp} {source}: {strip_ansi(text).rstrip()}\n")
                self._file.flush()
            except OSError:
                pass  # a full run folder: the run itself reports that; Ray's thread must not die of it

    def _print_to_stdstream(self, data: dict[str, Any], ignore_prefix: bool = False) -> None:
        source = f"({data.get('actor_name') or data.get('task_name') or data.get('pid') or 'ray'})"
        for line in data.get("lines", []):
            self.write(source, str(line))

    def __enter__(self) -> RayLog:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        except OSError:
            self._file = None  # a read-only or full run folder: the run reports that itself
        handler = _Handler(self)
        for i, name in enumerate(_LOGGERS):
            logger = logging.getLogger(name)
            self._saved.append((logger, list(logger.handlers), logger.level, logger.propagate))
            if i == 0:  # the family's root: ours is its only handler
                logger.handlers = [handler]
                logger.setLevel(logging.WARNING)
                logger.propagate = False
            else:  # the others pass their records up to it
                logger.handlers = []
                logger.setLevel(logging.NOTSET)
                logger.propagate = True
        try:
            import ray._private.worker as ray_worker

            self._print = getattr(ray_worker, "print_to_stdstream", None)
            if self._print is not None:
                ray_worker.print_to_stdstream = self._print_to_stdstream
        except ImportError:
            self._print = None
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._print is not None:
            import ray._private.worker as ray_worker

            ray_worker.print_to_stdstream = self._print
        for logger, handlers, level, propagate in reversed(self._saved):
            logger.handlers = handlers
            logger.setLevel(level)
            logger.propagate = propagate
        self._saved.clear()
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
