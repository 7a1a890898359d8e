"""``--track mlflow``: one MLflow experiment per run folder, one parent MLflow run per configuration,
one child run per trial, written with MLflow's own client (``MlflowClient``).

- experiment: named by the run folder's absolute path (unique on a shared tracking server);
  with a local store (SQLite, files), artifacts go to ``<run>/mlflow/artifacts``.
- parent run (``ser_orch.kind=config``): the configuration's parameters; when all its trials are
  done, the mean/std/min/max of WA and UA over them (``results.aggregate``) and status FINISHED.
- child run (``ser_orch.kind=trial``, tag ``mlflow.parentRunId``): every parameter of the trial
  config, per-epoch metrics at step ``global_epoch``, the final metrics, and the trial's record
  files (``trials/<id>.json`` and ``.npz``) as artifacts under ``record/``.

Cost: every client call is a database commit or a request (milliseconds), an epoch of a small
model not many more, and Tune's driver hands a trial its next epoch only after the callbacks
ran. So the callbacks only queue work for one writer thread, which makes the calls in order:
the store's set-up, the runs, and per trial one batch of the epochs of the last FLUSH_SECONDS.
The callbacks wait for that thread only where it matters: at a trial checkpoint (everything up
to it is stored before Tune records the checkpoint, so a restore from it misses no step), at a
trial's end and failure, and at the end of the experiment.

Resumes: a later driver (a restored experiment, a --resume) finds the runs by their tags and
the steps each already holds, and skips those: each step is logged once. The final metrics go
with the tag ``ser_orch.final``. (MLflow cannot delete a value; on CPU a resumed trial
recomputes exactly the values it had, see ``ser_models.training.loop``.)
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from ..results.aggregate import aggregate
from ..results.records import TrialRecord, scan_records
from ..rundir import RunDir
from .trackers import NOT_PARAMS, TrialTracker, flat_params, logged_values
from .tracking import TrackingError

KIND, TRIAL, CONFIG, FINAL = "ser_orch.kind", "ser_orch.trial_id", "ser_orch.config_id", "ser_orch.final"
FLUSH_SECONDS = 2.0  # how stale a trial's curves in MLflow may be while it trains
PARENT_METRICS = ("wa", "ua")
PER_TRIAL = frozenset({"fold", "seed"})
MAX_PARAM_CHARS = 6000  # MLflow's limits: a parameter value; parameters and metrics in one log_batch
PARAMS_PER_BATCH = 100
METRICS_PER_BATCH = 1000


@dataclass
class _Run:
    """An MLflow run this tracker writes to, as far as it knows."""

    run_id: str
    stored: set[int] | None = field(default_factory=set)  # steps it holds; None = not looked up yet
    keys: tuple[str, ...] = ()  # its metric names when found (where to look the steps up)
    final: bool = False
    running: bool = True
    pending: list[Any] = field(default_factory=list)  # Metrics not sent yet
    flushed: float = 0.0  # time.monotonic() of the last send


@dataclass
class _Store:
    client: Any
    experiment_id: str
    trials: dict[str, _Run] = field(default_factory=dict)  # trial id -> child run
    parents: dict[str, _Run] = field(default_factory=dict)  # config id -> parent run
    touched: set[str] = field(default_factory=set)  # config ids with a trial in this driver
    failed: set[str] = field(default_factory=set)  # config ids with a failed trial in this driver


def default_uri(run: RunDir) -> str:
    return f"sqlite:///{run.mlflow_db.resolve()}"


def _is_local(uri: str) -> bool:
    return urlparse(uri).scheme in ("", "file", "sqlite")


def _now_ms() -> int:
    return int(time.time() * 1000)


class MlflowTracker(TrialTracker):
    """Tune callback writing a run's trials to MLflow (``uri`` None = the run folder's own store)."""

    def __init__(self, run_dir: str, uri: str | None = None) -> None:
        super().__init__(run_dir)
        self.uri = uri

    # ---- the writer thread: everything below ``_store`` runs on it, in order ----
    def _queue(self, fn: Callable[..., None], *args: Any) -> Any:
        if "thread" not in self._live:
            self._live["thread"] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ser-orch-mlflow")
        return self._live["thread"].submit(self._guarded, fn, *args)

    def _guarded(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - kept and raised in the driver at the next wait
            self._live.setdefault("errors", []).append(exc)

    def _wait(self, fn: Callable[..., None], *args: Any) -> None:
        """Queue ``fn`` and return once it and everything queued before it ran."""
        self._queue(fn, *args).result()
        errors = self._live.pop("errors", [])
        if errors:
            raise TrackingError(f"MLflow tracking at {self.uri or default_uri(RunDir.at(self.run_dir))} failed: "
                                f"{type(errors[0]).__name__}: {errors[0]} (the trial records are not affected)") from errors[0]

    # ---- what the base class calls (in the driver) ----
    def setup(self, **info: Any) -> None:
        self._queue(self._store)  # the store's tables and the index of existing runs, while trials start

    def epoch(self, trial: dict[str, Any], step: int, values: dict[str, float]) -> None:
        self._queue(self._epoch, trial, step, values)

    def final(self, trial: dict[str, Any], record: TrialRecord) -> None:
        # Waited for: once this returns, Tune may record the trial as finished and never show it again.
        self._wait(self._final, trial, record)

    def replay(self, trial: dict[str, Any], record: TrialRecord) -> None:
        self.final(trial, record)  # the steps already stored are skipped, the rest come from the record

    def durable(self, trial: dict[str, Any]) -> None:
        self._wait(self._flush, trial["trial_id"])

    def failed(self, trial: dict[str, Any]) -> None:
        self._wait(self._failed, trial)

    def close(self) -> None:
        if "thread" in self._live:
            try:
                self._wait(self._close)
            finally:
                self._live.pop("thread").shutdown()
                self._live.pop("store", None)

    # ---- connection and the runs a previous driver left ----
    def _store(self) -> _Store:
        if "store" not in self._live:
            self._live["store"] = self._connect()
        return self._live["store"]

    def _connect(self) -> _Store:
        # No usage telemetry from a cluster job unless the user asked for it; no INFO lines from
        # the SQLite store's migrations in the middle of the progress display.
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        for name in ("mlflow", "alembic"):
            logging.getLogger(name).setLevel(logging.WARNING)
        from mlflow.tracking import MlflowClient

        run = RunDir.at(self.run_dir)
        if self.uri is None:
            run.mlflow_dir.mkdir(parents=True, exist_ok=True)
        uri = self.uri or default_uri(run)
        client = MlflowClient(tracking_uri=uri)
        name = str(run.path.resolve())
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            artifacts = run.mlflow_artifacts.resolve().as_uri() if _is_local(uri) else None
            experiment_id = client.create_experiment(name, artifact_location=artifacts, tags={"ser_orch.run_dir": name})
        else:
            experiment_id = experiment.experiment_id
            if experiment.lifecycle_stage == "deleted":
                client.restore_experiment(experiment_id)
        store = _Store(client, experiment_id)
        token = None
        while True:  # every run of this experiment, page by page
            page = client.search_runs([experiment_id], max_results=1000, page_token=token)
            for found in page:
                tags = found.data.tags
                entry = _Run(found.info.run_id, None, tuple(found.data.metrics), FINAL in tags, running=False)
                if tags.get(KIND) == "trial":
                    store.trials[tags[TRIAL]] = entry
                elif tags.get(KIND) == "config":
                    store.parents[tags[CONFIG]] = entry
            token = page.token
            if not token:
                return store

    # ---- runs ----
    def _params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:MAX_PARAM_CHARS]) for k, v in params.items()]
        for i in range(0, len(items), PARAMS_PER_BATCH):
            self._store().client.log_batch(run_id, params=items[i:i + PARAMS_PER_BATCH])

    def _parent(self, trial: dict[str, Any]) -> _Run:
        store = self._store()
        cid = trial["config_id"]
        if cid not in store.parents:
            created = store.client.create_run(store.experiment_id, run_name=cid, tags={KIND: "config", CONFIG: cid})
            self._params(created.info.run_id, flat_params(trial, NOT_PARAMS | PER_TRIAL))
            store.parents[cid] = _Run(created.info.run_id)
        store.touched.add(cid)
        return store.parents[cid]

    def _child(self, trial: dict[str, Any]) -> _Run:
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

        store = self._store()
        tid = trial["trial_id"]
        parent = self._parent(trial)
        entry = store.trials.get(tid)
        if entry is None:
            created = store.client.create_run(store.experiment_id, run_name=tid, tags={
                KIND: "trial", TRIAL: tid, CONFIG: trial["config_id"], MLFLOW_PARENT_RUN_ID: parent.run_id})
            self._params(created.info.run_id, flat_params(trial))
            entry = store.trials[tid] = _Run(created.info.run_id)
        elif not entry.running:  # a run an earlier driver wrote: this one carries it on
            store.client.update_run(entry.run_id, status="RUNNING")
            entry.running = True
        if entry.stored is None:  # every batch is one transaction: a step with any metric has them all
            entry.stored = {m.step for key in entry.keys for m in store.client.get_metric_history(entry.run_id, key)}
        return entry

    def _add_steps(self, entry: _Run, steps: list[tuple[int, dict[str, float]]]) -> None:
        from mlflow.entities import Metric

        assert entry.stored is not None
        now = _now_ms()
        for step, values in steps:
            if step in entry.stored:
                continue  # stored already (a restored trial repeats the epochs after its checkpoint)
            entry.pending += [Metric(k, v, now, step) for k, v in values.items()]
            entry.stored.add(step)

    def _send(self, entry: _Run) -> None:
        client = self._store().client
        for i in range(0, len(entry.pending), METRICS_PER_BATCH):
            client.log_batch(entry.run_id, metrics=entry.pending[i:i + METRICS_PER_BATCH])
        entry.pending = []
        entry.flushed = time.monotonic()

    # ---- the writer thread's work ----
    def _epoch(self, trial: dict[str, Any], step: int, values: dict[str, float]) -> None:
        entry = self._child(trial)
        self._add_steps(entry, [(step, values)])
        if time.monotonic() - entry.flushed >= FLUSH_SECONDS:
            self._send(entry)

    def _flush(self, trial_id: str) -> None:
        entry = self._store().trials.get(trial_id)
        if entry is not None:
            self._send(entry)

    def _final(self, trial: dict[str, Any], record: TrialRecord) -> None:
        from mlflow.entities import Metric, RunTag

        store = self._store()
        entry = self._child(trial)
        steps = self.history_steps(record)
        self._add_steps(entry, steps)  # epochs this driver did not see (none, unless replaying)
        self._send(entry)
        if not entry.final:
            step, now = (steps[-1][0] if steps else 0), _now_ms()
            store.client.log_batch(entry.run_id, tags=[RunTag(FINAL, "1")],
                                   metrics=[Metric(k, v, now, step) for k, v in logged_values(record.metrics).items()])
            entry.final = True
        run = RunDir.at(self.run_dir)
        for path in (run.record_path(record.trial_id), run.arrays_path(record.trial_id)):
            if path.is_file():
                store.client.log_artifact(entry.run_id, str(path), artifact_path="record")
        store.client.set_terminated(entry.run_id, "FINISHED")
        entry.running = False

    def _failed(self, trial: dict[str, Any]) -> None:
        store = self._store()
        entry = store.trials.get(trial["trial_id"])
        if entry is not None and entry.running:
            self._send(entry)
            store.client.set_terminated(entry.run_id, "FAILED")
            entry.running = False
        store.failed.add(trial["config_id"])

    def _close(self) -> None:
        """End of the Tune experiment: a configuration whose planned trials are all done gets
        its aggregate metrics (once) and FINISHED; one with a failed trial FAILED."""
        from mlflow.entities import Metric, RunTag

        store = self._store()
        for entry in store.trials.values():
            if entry.pending:
                self._send(entry)
        run = RunDir.at(self.run_dir)
        planned = [t for t in run.planned_trials() if t["config_id"] in store.touched]
        records = [r for r in scan_records(run.path).records if r.config_id in store.touched]
        for stats in aggregate(records, metrics=PARENT_METRICS, planned=planned):
            parent = store.parents.get(stats.config_id)
            if parent is None:
                continue
            if not stats.missing and not stats.failed:
                if not parent.final:
                    now = _now_ms()
                    metrics = [Metric(f"{name}_{part}", float(value), now, 0)
                               for name, m in stats.metrics.items() for part in ("mean", "std", "min", "max")
                               if math.isfinite(value := getattr(m, part))]
                    store.client.log_batch(parent.run_id, metrics=metrics, tags=[RunTag(FINAL, "1")])
                    parent.final = True
                store.client.set_terminated(parent.run_id, "FINISHED")
            elif stats.config_id in store.failed:
                store.client.set_terminated(parent.run_id, "FAILED")
