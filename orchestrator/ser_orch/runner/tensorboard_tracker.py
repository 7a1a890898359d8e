"""``--track tensorboard``: one TensorBoard run per trial, ``<run>/tensorboard/<trial_id>/``.

Written with tensorboardX's SummaryWriter: per epoch every logged value of the history entry at
step ``global_epoch`` (loss, train_acc, val_acc, lr, ...); at the end the final metrics as
``final/<name>`` and the trial's config as hparams (TensorBoard's HParams tab).

Steps are written once as TensorBoard reads them: a trial's writer opens at its first result in
this driver with ``purge_step`` = that result's step, which tells TensorBoard's reader to drop
whatever an earlier writer had written from that step on (the epochs a restore replays). A
writer is closed at every checkpoint, so its events are on disk before Tune can restore from it.
"""

from __future__ import annotations

from typing import Any

from tensorboardX import SummaryWriter
from tensorboardX.summary import hparams

from ..results.records import TrialRecord
from ..rundir import RunDir
from .trackers import TrialTracker, flat_params, logged_values

FINAL = "final/"
FLUSH_SECONDS = 10  # how stale the event files may be while a trial trains (closing a writer flushes it)


class TensorBoardTracker(TrialTracker):
    """Tune callback writing TensorBoard event files, one folder per trial."""

    def _writer(self, trial_id: str, step: int) -> SummaryWriter:
        writers = self._live.setdefault("writers", {})
        if trial_id not in writers:
            folder = RunDir.at(self.run_dir).tensorboard_dir / trial_id
            # Files are read in name order (time in seconds, host, suffix): a running number keeps
            # two writers of one second apart and in order.
            n = len(list(folder.glob("events.out.tfevents.*"))) if folder.is_dir() else 0
            writers[trial_id] = SummaryWriter(str(folder), purge_step=step, flush_secs=FLUSH_SECONDS, filename_suffix=f".{n:04d}")
        return writers[trial_id]

    def _close(self, trial_id: str) -> None:
        writer = self._live.get("writers", {}).pop(trial_id, None)
        if writer is not None:
            writer.close()

    def epoch(self, trial: dict[str, Any], step: int, values: dict[str, float]) -> None:
        tid = trial["trial_id"]
        last = self._live.setdefault("last", {})
        if tid in last and step <= last[tid]:
            self._close(tid)  # Tune restarted the trial: a new writer purges the steps it repeats
        writer = self._writer(tid, step)
        for key, value in values.items():
            writer.add_scalar(key, value, global_step=step)
        last[tid] = step

    def final(self, trial: dict[str, Any], record: TrialRecord) -> None:
        tid = trial["trial_id"]
        steps = self.history_steps(record)
        step = steps[-1][0] if steps else 0
        fresh = tid not in self._live.get("writers", {})
        writer = self._writer(tid, step)
        if fresh and steps:
            # No writer was open (closed at a checkpoint on the last epoch, or restored right at
            # the end): the new one purges from the last epoch, so that epoch is written again.
            for key, value in steps[-1][1].items():
                writer.add_scalar(key, value, global_step=step)
        metrics = {FINAL + k: v for k, v in logged_values(record.metrics).items()}
        for key, value in metrics.items():
            writer.add_scalar(key, value, global_step=step)
        # The HParams tab: the config beside the final metrics (the scalars of the same tags).
        for summary in hparams(hparam_dict=flat_params(trial), metric_dict=metrics):
            writer.file_writer.add_summary(summary, global_step=step)
        self._close(tid)
        self._live.get("last", {}).pop(tid, None)

    def replay(self, trial: dict[str, Any], record: TrialRecord) -> None:
        """A trial complete before this driver started (a restored experiment listed it as
        running): its record is the truth, written again whole over whatever was there."""
        tid = trial["trial_id"]
        self._close(tid)
        writer = self._writer(tid, 0)
        for step, values in self.history_steps(record):
            for key, value in values.items():
                writer.add_scalar(key, value, global_step=step)
        self.final(trial, record)

    def durable(self, trial: dict[str, Any]) -> None:
        self._close(trial["trial_id"])

    def failed(self, trial: dict[str, Any]) -> None:
        self._close(trial["trial_id"])

    def close(self) -> None:
        for tid in list(self._live.get("writers", {})):
            self._close(tid)
