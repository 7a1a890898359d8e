"""How many times each trial failed, for its failed record ("NonFiniteLoss: ... (2 attempts)")."""

from __future__ import annotations

from typing import Any

from ray import tune

from .jobs import job_trials, tune_job


class AttemptCounter(tune.Callback):
    """Tune retries a failing trial ``--max-failures`` times; its record says how often it ran."""

    def __init__(self) -> None:
        self.failures: dict[str, int] = {}

    def _count(self, trial: Any) -> None:
        for member in job_trials(tune_job(trial)):
            self.failures[member["trial_id"]] = int(getattr(trial, "num_failures", 0) or 0)

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._count(trial)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._count(trial)

    def suffix(self, trial_id: str) -> str:
        n = self.failures.get(trial_id)
        return f" ({n} attempt{'s' if n > 1 else ''})" if n else ""
