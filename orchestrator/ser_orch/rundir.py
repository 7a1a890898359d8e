"""Run folders: where everything of a run lives (the one place that spells the paths), creating a
new folder, or reopening one for --resume, never clobbering results.

```
runs/<grid>-<YYYYmmdd-HHMMSS>/
  run.json  grid.yaml  trials.json      what ran: metadata and options, the grid as run, the trial plan
  trials/<trial_id>.json | .npz         one record per finished or failed trial; its test embeddings
  baseline/baseline__fold=K__seed=S.json the baseline row's records (same folds and seeds)
  data/folds-<key>.npz                  fold index files the trials read
  tune/attempt-<n>/                     Ray Tune's experiment state and checkpoints
  excluded.json                         corpus files left out of the run, with the reason
  logs/ray.log  logs/trials.log         Ray's own messages; trials resumed from a checkpoint
  .lock                                 held by the process running the trials (ser_orch.runlock)
  pretrained/                           weights a task's stage produced (Mocanu)
  slurm/                                job.json, events.jsonl, running.json, logs/, ray/ (Slurm runs)
  tensorboard/<trial_id>/               TensorBoard event files (--track tensorboard)
  mlflow/mlflow.db  mlflow/artifacts/   the run's own MLflow store (--track mlflow without a tracking URI)
  curves/<config_id>.png                learning curves, one per configuration
  results.csv  results.json  report.md  report.html  *.png     the report
```
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ser_data.atomic import atomic_write_text
from ser_data.errors import SerError

from .faults import RunFolderError, describe_os_error, folder_problem
from .grid import Grid

RUN_FILE = "run.json"


class RunDirError(SerError):
    pass


@dataclass
class RunDir:
    """A run folder's paths (and, once opened or created, its metadata)."""

    path: Path
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> RunDir:
        """The paths of a run folder, without reading anything."""
        return cls(Path(path))

    # what ran
    @property
    def run_file(self) -> Path:
        return self.path / RUN_FILE

    @property
    def grid_file(self) -> Path:
        return self.path / "grid.yaml"

    @property
    def trials_file(self) -> Path:
        return self.path / "trials.json"

    # trial records
    @property
    def trials_dir(self) -> Path:
        return self.path / "trials"

    def record_path(self, trial_id: str) -> Path:
        return self.trials_dir / f"{trial_id}.json"

    def arrays_path(self, trial_id: str) -> Path:
        return self.trials_dir / f"{trial_id}.npz"

    @property
    def baseline_dir(self) -> Path:
        """The baseline row's records (one per fold and seed), apart from the trials'."""
        return self.path / "baseline"

    # inputs and machinery
    @property
    def data_dir(self) -> Path:
        return self.path / "data"

    @property
    def tune_dir(self) -> Path:
        return self.path / "tune"

    @property
    def pretrained_dir(self) -> Path:
        return self.path / "pretrained"

    @property
    def slurm_dir(self) -> Path:
        return self.path / "slurm"

    @property
    def lock_file(self) -> Path:
        return self.path / ".lock"

    @property
    def excluded_file(self) -> Path:
        return self.path / "excluded.json"

    @property
    def logs_dir(self) -> Path:
        return self.path / "logs"

    @property
    def ray_log(self) -> Path:
        return self.logs_dir / "ray.log"

    @property
    def trials_log(self) -> Path:
        return self.logs_dir / "trials.log"

    # experiment tracking (--track)
    @property
    def tensorboard_dir(self) -> Path:
        return self.path / "tensorboard"

    @property
    def mlflow_dir(self) -> Path:
        return self.path / "mlflow"

    @property
    def mlflow_db(self) -> Path:
        return self.mlflow_dir / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.mlflow_dir / "artifacts"

    # the report
    @property
    def curves_dir(self) -> Path:
        return self.path / "curves"

    @property
    def results_json(self) -> Path:
        return self.path / "results.json"

    @property
    def results_csv(self) -> Path:
        return self.path / "results.csv"

    @property
    def report_md(self) -> Path:
        return self.path / "report.md"

    @property
    def angles_json(self) -> Path:
        return self.path / "angles_best.json"

    @property
    def report_html(self) -> Path:
        return self.path / "report.html"

    def planned_trials(self) -> list[dict[str, Any]]:
        try:
            return json.loads(self.trials_file.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise RunDirError(f"{self.trials_file}: unreadable trial plan ({type(exc).__name__}: {exc})") from None

    def grid_text(self) -> str:
        return self.grid_file.read_text()


def write_json_atomic(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def default_run_path(grid: Grid, root: Path = Path("runs")) -> Path:
    return root / f"{grid.name}-{time.strftime('%Y%m%d-%H%M%S')}"


def create_run_dir(path: Path, grid: Grid, trials: list[dict[str, Any]], options: dict[str, Any]) -> RunDir:
    """A fresh run folder. Refuses a folder that already holds anything."""
    run = RunDir(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        if run.run_file.exists():
            raise RunDirError(f"{path}: run folder already exists; add --resume to finish it, or choose another --out")
        raise RunDirError(f"{path}: folder exists and is not empty; choose another --out")
    existed = path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
        run.trials_dir.mkdir(exist_ok=True)
        run.data_dir.mkdir(exist_ok=True)
    except OSError as exc:
        raise RunFolderError(path, f"cannot create the run folder: {describe_os_error(exc)}") from None
    problem = folder_problem(path)  # a full disk or a read-only mount: say so before any data work
    if problem is not None:
        _remove_new_folder(run, existed)
        raise RunFolderError(path, problem)
    run.meta = {
        "grid": grid.name,
        "grid_file": str(grid.path) if grid.path else None,
        "grid_sha256": grid.sha256,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "options": options,
        "n_trials": len(trials),
    }
    try:
        atomic_write_text(run.grid_file, grid.text)
        write_json_atomic(run.trials_file, trials)
        write_json_atomic(run.run_file, run.meta)  # last: a folder with run.json is complete
    except OSError as exc:  # no half-made folder that a retry would refuse as "not empty"
        _remove_new_folder(run, existed)
        raise RunFolderError(path, describe_os_error(exc)) from None
    return run


def _remove_new_folder(run: RunDir, existed: bool) -> None:
    """Undo what create_run_dir made: its files and empty folders (never anything else)."""
    for file in (run.run_file, run.trials_file, run.grid_file):
        try:
            file.unlink(missing_ok=True)
        except OSError:
            pass
    for folder in (run.trials_dir, run.data_dir, *([] if existed else [run.path])):
        try:
            folder.rmdir()
        except OSError:
            pass


def open_run_dir(path: Path, grid: Grid | None = None) -> RunDir:
    """Reopen an existing run folder; with `grid`, check that it is the grid the run was made from."""
    run = RunDir(path)
    if not run.run_file.exists():
        raise RunDirError(f"{path}: not a ser-orch run folder (no {RUN_FILE})")
    try:
        run.meta = json.loads(run.run_file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RunDirError(f"{run.run_file}: unreadable run metadata: {exc}") from None
    if grid is not None:
        if run.meta.get("grid") != grid.name:
            raise RunDirError(f"{path}: run folder belongs to grid '{run.meta.get('grid')}', not '{grid.name}' ({grid.path})")
        if run.meta.get("grid_sha256") != grid.sha256:
            raise RunDirError(
                f"{path}: grid file {grid.path} changed since this run started; resume with the grid copy in "
                f"{run.grid_file} or start a new run"
            )
    return run
