"""Trial records: one JSON file per finished or failed trial under ``<run>/trials/``.

The format is fixed by docs/design.md ("Run folders and trial records"). Reading is tolerant:
a record cut short by a killed process, or otherwise unreadable, is reported as a
``RecordProblem`` and skipped, so one bad file never hides the rest of a run.
"""

from __future__ import annotations

import json
import logging
import math
import os
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ser_data.atomic import atomic_write_text

from ..rundir import RunDir

__all__ = [
    "json_safe",
    "RecordProblem",
    "RecordScan",
    "RecordWarning",
    "TrialRecord",
    "completed_trial_ids",
    "read_records",
    "read_trial_arrays",
    "scan_records",
    "write_record",
]

log = logging.getLogger(__name__)

STATUS_DONE = "done"
STATUS_FAILED = "failed"


class RecordWarning(UserWarning):
    """Emitted by ``read_records`` for each record file it had to skip."""


@dataclass
class TrialRecord:
    """One trial's outcome, field for field the JSON record of the design doc."""

    trial_id: str
    config_id: str
    axes: dict[str, Any] = field(default_factory=dict)
    fold: int | None = None
    seed: int | None = None
    status: str = STATUS_DONE
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    node: str | None = None
    device: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    # One entry per epoch (phase, epoch, global_epoch, loss, train_acc, [val_acc], lr, stop, ...).
    history: list[dict[str, Any]] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)  # utterances in the fold's train/val/test parts

    @property
    def done(self) -> bool:
        return self.status == STATUS_DONE

    @property
    def failed(self) -> bool:
        return self.status == STATUS_FAILED

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def for_trial(cls, trial: Mapping[str, Any], status: str, **fields: Any) -> TrialRecord:
        """A record for an expanded trial config (ids, axes, fold, seed and config copied from it)."""
        return cls(
            trial_id=trial["trial_id"],
            config_id=trial["config_id"],
            axes=dict(trial["axes"]),
            fold=trial["fold"],
            seed=trial["seed"],
            status=status,
            config=dict(trial),
            **fields,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialRecord:
        """Build a record from parsed JSON; raises ``ValueError`` when it is not a record."""
        if not isinstance(data, Mapping):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        missing = [k for k in ("trial_id", "config_id", "status") if k not in data]
        if missing:
            raise ValueError(f"missing key(s): {', '.join(missing)}")
        known = set(cls.__dataclass_fields__)
        # Unknown keys are dropped rather than rejected so newer writers stay readable.
        kwargs = {k: v for k, v in data.items() if k in known}
        for key in ("axes", "metrics", "extra", "config", "sizes"):
            if kwargs.get(key) is None:
                kwargs[key] = {}
        for key in ("labels", "history"):
            if kwargs.get(key) is None:
                kwargs[key] = []
        return cls(**kwargs)


@dataclass(frozen=True)
class RecordProblem:
    """A record file that could not be read, and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class RecordScan:
    records: list[TrialRecord]
    problems: list[RecordProblem]


def _folder(run_dir: str | os.PathLike[str], baseline: bool) -> Path:
    run = RunDir.at(run_dir)
    return run.baseline_dir if baseline else run.trials_dir


def scan_records(run_dir: str | os.PathLike[str], *, baseline: bool = False) -> RecordScan:
    """Read every ``trials/*.json`` (``baseline/*.json`` with ``baseline``); bad files go to
    ``problems`` instead of raising.

    Records come back sorted by trial id so every consumer sees the same order.
    """
    records: list[TrialRecord] = []
    problems: list[RecordProblem] = []
    folder = _folder(run_dir, baseline)
    if not folder.is_dir():
        return RecordScan(records, problems)
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith("."):  # temp files of an interrupted write_record
            continue
        try:
            text = path.read_text(encoding="utf-8")
            records.append(TrialRecord.from_dict(json.loads(text)))
        except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
            # json.JSONDecodeError is a ValueError: a truncated file lands here.
            problems.append(RecordProblem(path, f"{type(exc).__name__}: {exc}"))
    records.sort(key=lambda r: r.trial_id)
    return RecordScan(records, problems)


def read_records(run_dir: str | os.PathLike[str]) -> list[TrialRecord]:
    """Records of a run; each unreadable file is logged and warned about (``RecordWarning``).

    Use ``scan_records`` to get the problems as data (e.g. to print them in a table).
    """
    scan = scan_records(run_dir)
    for problem in scan.problems:
        log.warning("skipping unreadable trial record %s", problem)
        warnings.warn(f"skipping unreadable trial record {problem}", RecordWarning, stacklevel=2)
    return scan.records


def json_safe(value: Any) -> Any:
    """Plain JSON values: numpy scalars/arrays and paths converted, NaN and infinities as null
    (JSON has no NaN; a bare ``NaN`` in a file breaks strict readers)."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_record(run_dir: str | os.PathLike[str], record: TrialRecord | Mapping[str, Any], *, baseline: bool = False) -> Path:
    """Write ``trials/<trial_id>.json`` (``baseline/`` with ``baseline``) atomically (temp file
    in the same folder + os.replace). A reader never sees half a record, even if the writing
    process is killed.
    """
    rec = record if isinstance(record, TrialRecord) else TrialRecord.from_dict(record)
    folder = _folder(run_dir, baseline)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{rec.trial_id}.json"
    text = json.dumps(json_safe(rec.to_dict()), indent=2, allow_nan=False) + "\n"
    atomic_write_text(target, text)
    return target


def completed_trial_ids(run_dir: str | os.PathLike[str]) -> set[str]:
    """Ids of trials with status ``done``: what a resumed run may skip.

    Failed or unreadable records are not complete, so those trials run again.
    """
    return {r.trial_id for r in scan_records(run_dir).records if r.done}


def read_trial_arrays(run_dir: str | os.PathLike[str], trial_id: str) -> dict[str, np.ndarray] | None:
    """The arrays of ``trials/<trial_id>.npz`` (embeddings, labels, predictions), or None."""
    path = RunDir.at(run_dir).arrays_path(trial_id)
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
