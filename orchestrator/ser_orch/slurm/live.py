"""A Tune callback that keeps `<run>/slurm/running.json` current, for `ser-orch status`.

It holds only a path, so Tune can pickle it with the experiment and a restored run keeps it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ray import tune

from ser_data.atomic import atomic_write_text


class LiveState(tune.Callback):
    """Which trials are running right now (trial id -> start time), written atomically."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.running: dict[str, float] = {}

    def _write(self) -> None:
        atomic_write_text(Path(self.path), json.dumps({"updated": time.time(), "running": self.running}))

    @staticmethod
    def _tid(trial: Any) -> str:
        return trial.config["job"]["trial"]["trial_id"]

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.running[self._tid(trial)] = time.time()
        self._write()

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.running.pop(self._tid(trial), None)
        self._write()

    on_trial_error = on_trial_complete

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self.running.clear()
        self._write()
