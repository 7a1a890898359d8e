"""How many times each trial failed, for its failed record ("NonFiniteLoss: ... (2 attempts)")."""

from __future__ import annotations

from typing import Any

from ray import tune


class AttemptCounter(tune.Callback):
    """Tune retries a failing trial ``--max-failures`` times; its record says how often it ran."""

    def __init__(self) -> None:
        self.failures: dict[str, int] = {}

    def _count(self, trial: Any) -> None:
        job = (getattr(trial, "config", None) or {}).get("job") or {}
        trial_id = (job.get("trial") or {}).get("trial_id")
        if trial_id is not None:
            self.failures[trial_id] = int(getattr(trial, "num_failures", 0) or 0)

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._count(trial)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._count(trial)

    def suffix(self, trial_id: str) -> str:
        n = self.failures.get(trial_id)
        return f" ({n} attempt{'s' if n > 1 else ''})" if n else ""
