"""Run folders: create a new one, or reopen one for --resume, never clobbering results."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ser_data.errors import SerError

from .grid import Grid
from ser_data.atomic import atomic_write_text

RUN_FILE = "run.json"


class RunDirError(SerError):
    pass


@dataclass
class RunDir:
    path: Path
    meta: dict[str, Any]

    @property
    def trials_dir(self) -> Path:
        return self.path / "trials"

    @property
    def data_dir(self) -> Path:
        return self.path / "data"

    def planned_trials(self) -> list[dict[str, Any]]:
        return json.loads((self.path / "trials.json").read_text())


def write_json_atomic(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def default_run_path(grid: Grid, root: Path = Path("runs")) -> Path:
    return root / f"{grid.name}-{time.strftime('%Y%m%d-%H%M%S')}"


def create_run_dir(path: Path, grid: Grid, trials: list[dict[str, Any]], options: dict[str, Any]) -> RunDir:
    """A fresh run folder. Refuses a folder that already holds anything."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        if (path / RUN_FILE).exists():
            raise RunDirError(f"{path}: run folder already exists; add --resume to finish it, or choose another --out")
        raise RunDirError(f"{path}: folder exists and is not empty; choose another --out")
    try:
        path.mkdir(parents=True, exist_ok=True)
        (path / "trials").mkdir(exist_ok=True)
        (path / "data").mkdir(exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"{path}: cannot create run folder: {exc.strerror}") from None
    if not os.access(path, os.W_OK):
        raise RunDirError(f"{path}: run folder is not writable")
    meta = {
        "grid": grid.name,
        "grid_file": str(grid.path) if grid.path else None,
        "grid_sha256": grid.sha256,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "options": options,
        "n_trials": len(trials),
    }
    (path / "grid.yaml").write_text(grid.text)
    write_json_atomic(path / "trials.json", trials)
    write_json_atomic(path / RUN_FILE, meta)
    return RunDir(path, meta)


def open_run_dir(path: Path, grid: Grid | None = None) -> RunDir:
    """Reopen an existing run folder; with `grid`, check that it is the grid the run was made from."""
    run_file = path / RUN_FILE
    if not run_file.exists():
        raise RunDirError(f"{path}: not a ser-orch run folder (no {RUN_FILE})")
    try:
        meta = json.loads(run_file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RunDirError(f"{run_file}: unreadable run metadata: {exc}") from None
    if grid is not None:
        if meta.get("grid") != grid.name:
            raise RunDirError(f"{path}: run folder belongs to grid '{meta.get('grid')}', not '{grid.name}' ({grid.path})")
        if meta.get("grid_sha256") != grid.sha256:
            raise RunDirError(
                f"{path}: grid file {grid.path} changed since this run started; resume with the grid copy in "
                f"{path / 'grid.yaml'} or start a new run"
            )
    return RunDir(path, meta)
