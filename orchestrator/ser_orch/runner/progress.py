"""Live progress of a Tune run as a rich progress bar, fed by a tune.Callback.

Custom ProgressReporters are ignored since Ray 2.6, so the display hangs off Callback hooks.
"""

from __future__ import annotations

from typing import Any

from ray import tune
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


from .jobs import failed_members, job_trials, tune_job


class TrialProgress(tune.Callback):
    """Counts finished/failed/running trials (a pack counts its members) and shows the best WA so far."""

    def __init__(self, total: int, console: Console | None = None, already_done: int = 0) -> None:
        self.total = total
        self.done = already_done
        self.failed = 0
        self.running: set[str] = set()
        self.pack_failed: dict[str, int] = {}  # Tune trial -> members its final result reported failed
        self.best_wa: float | None = None
        self.best_id = ""
        self.progress = Progress(
            TextColumn("[bold]trials"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        self.task_id = self.progress.add_task("trials", total=total, completed=already_done, status="")

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles its callbacks with the experiment state; the live display stays behind.
        state = self.__dict__.copy()
        state["progress"] = None
        return state

    def __enter__(self) -> TrialProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._refresh()
        self.progress.stop()

    def _refresh(self) -> None:
        best = f" best WA {100 * self.best_wa:.1f}% ({self.best_id})" if self.best_wa is not None else ""
        failed = f" [red]{self.failed} failed[/]" if self.failed else ""
        status = f"{len(self.running)} running{failed}{best}"
        if self.progress is None:
            return
        self.progress.update(self.task_id, completed=self.done + self.failed, status=status)

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.running.add(trial.trial_id)
        self._refresh()

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        if result.get("phase") != "final":
            return
        self.pack_failed[trial.trial_id] = len(failed_members(result))
        if "wa" in result and (self.best_wa is None or result["wa"] > self.best_wa):
            members = job_trials(tune_job(trial))
            self.best_wa = float(result["wa"])
            self.best_id = result.get("best_config") or (members[0]["config_id"] if members else "")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        # A pack completes all its members at once; the diverged ones among them count as failed.
        self.running.discard(trial.trial_id)
        failed = self.pack_failed.pop(trial.trial_id, 0)
        self.done += len(job_trials(tune_job(trial))) - failed
        self.failed += failed
        self._refresh()

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.running.discard(trial.trial_id)
        self.failed += len(job_trials(tune_job(trial)))
        self._refresh()
