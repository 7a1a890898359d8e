"""Experiment tracking (``--track tensorboard|mlflow|none``): which tracker a run uses, and its Tune callbacks.

The choice is made once, when a run is planned (the ``--track`` flag, else the grid's ``track:``
key, else none), checked against the installed packages before anything is created, and kept in
run.json with the other options, so a ``--resume`` or a Slurm job tracks the same way.

The trackers are Tune callbacks in the driver (``runner.trackers``, ``runner.tensorboard_tracker``,
``runner.mlflow_tracker``): one process writes, however many nodes train, which is what a shared
filesystem without a server needs. This module does not import Ray; ``tracking_callbacks``
imports the trackers when a run starts.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ser_data.errors import SerError

from ..grid.schema import TRACKERS
from ..rundir import RunDir

EXTRA = "pip install -e '.[tracking]'"
# What each tracker needs to write (the extra also brings TensorBoard itself, to read and view).
NEEDS = {"tensorboard": ("tensorboardX",), "mlflow": ("mlflow", "sqlalchemy", "alembic")}
URI_ENV = "MLFLOW_TRACKING_URI"


class TrackingError(SerError):
    """An unknown tracker, a tracker whose packages are missing, or tracking options that do not fit."""


@dataclass(frozen=True)
class Tracking:
    """A run's tracker: ``backend`` in TRACKERS; ``uri`` (MLflow only) a tracking URI, None = the
    run folder's own SQLite store (``RunDir.mlflow_db``)."""

    backend: str = "none"
    uri: str | None = None

    @classmethod
    def of(cls, options: Mapping[str, Any] | Any) -> Tracking:
        """The tracking of stored run options (run.json's ``options``, or a RunOptions)."""
        get = options.get if isinstance(options, Mapping) else (lambda k: getattr(options, k, None))
        return cls(get("track") or "none", get("tracking_uri"))


def require_backend(backend: str) -> None:
    """Refuse a tracker whose packages are not installed, with the one line that installs them."""
    for module in NEEDS.get(backend, ()):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise TrackingError(f"--track {backend} needs the tracking extra ({exc}): {EXTRA}") from None


def choose_tracking(flag: str | None, grid_value: str | None, uri: str | None) -> Tracking:
    """The tracking of a new run: ``flag`` (--track) wins over the grid's ``track:``; for MLflow the
    tracking URI is ``uri`` (--tracking-uri), else $MLFLOW_TRACKING_URI, else the run folder's own store."""
    backend = flag if flag is not None else (grid_value or "none")
    if backend not in TRACKERS:
        raise TrackingError(f"--track {backend}: unknown tracker; valid: {', '.join(TRACKERS)}")
    if uri is not None and backend != "mlflow":
        raise TrackingError(f"--tracking-uri is for --track mlflow (this run tracks with: {backend})")
    if backend == "mlflow" and uri is None:
        uri = os.environ.get(URI_ENV) or None
    require_backend(backend)
    return Tracking(backend, uri)


def check_resume_tracking(stored: Tracking, flag: str | None, uri: str | None) -> None:
    """A resume tracks like the run was started; a different --track/--tracking-uri is refused
    (half of a run's curves in one place and half in another would help nobody)."""
    if (flag is not None and flag != stored.backend) or (uri is not None and uri != stored.uri):
        raise TrackingError(f"this run was started with --track {stored.backend}"
                            + (f" --tracking-uri {stored.uri}" if stored.uri else "")
                            + "; a --resume keeps it (leave out --track/--tracking-uri)")
    require_backend(stored.backend)


def tracking_callbacks(tracking: Tracking, run: RunDir) -> list[Any]:
    """The Tune callbacks that write a run's tracking data (none for ``none``)."""
    if tracking.backend == "tensorboard":
        from .tensorboard_tracker import TensorBoardTracker

        return [TensorBoardTracker(str(run.path.resolve()))]
    if tracking.backend == "mlflow":
        from .mlflow_tracker import MlflowTracker

        return [MlflowTracker(str(run.path.resolve()), tracking.uri)]
    return []


__all__ = ["EXTRA", "Tracking", "TrackingError", "check_resume_tracking", "choose_tracking", "require_backend",
           "tracking_callbacks"]
