"""Everything a trial reads from disk, prepared once in the driver: feature caches and fold indices.

Trials only load these files; they never compute features. The plan computes each distinct
(dataset, features) cache and each distinct protocol's folds once, however many trials share them.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from ser_data.atomic import atomic_write_bytes
from ser_data.datasets import load_manifest, resolve_root
from ser_data.errors import DataError
from ser_data.features import prepare_features
from ser_data.protocols import make_folds

from .rundir import RunDir

Progress = Callable[[str, int, int], None]


class FoldCountError(DataError):
    """The protocol gives another number of folds on this corpus than the grid's protocol.folds
    (the experiment names the grid file and the key)."""


@dataclass(frozen=True)
class TrialInputs:
    """The files one trial reads (typed; the trial config itself stays what the grid says)."""

    features: str  # the feature cache (a ser_data FeatureSet)
    folds: str  # the fold index file in the run folder
    stage: dict[str, str] = field(default_factory=dict)  # paths a task's stage produced (e.g. pretrained)

    def with_stage(self, stage: Mapping[str, str]) -> TrialInputs:
        return replace(self, stage={**self.stage, **stage})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialInputs:
        return cls(str(data["features"]), str(data["folds"]), dict(data.get("stage") or {}))


@dataclass(frozen=True)
class DataSummary:
    """One feature cache the run uses, for the console and the Python API."""

    dataset: str
    root: str
    features: str
    cache: str
    utterances: int
    problems: list[tuple[str, str]]  # (file, reason) of every excluded file


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def loader_options(dataset: Mapping[str, Any]) -> dict[str, Any]:
    """A grid's ``dataset`` section less name and root: the loader's options."""
    return {k: v for k, v in dataset.items() if k not in ("name", "root")}


def open_manifest(dataset: Mapping[str, Any], progress: Progress | None = None) -> Any:
    """The corpus of a grid's ``dataset`` section: its root (given, from the data-roots file, or the
    built-in synthetic corpus, made on first use) read by its loader with the section's options."""
    root = resolve_root(dataset["name"], dataset.get("root"), progress)
    return load_manifest(dataset["name"], root, **loader_options(dataset))


class InputPlan:
    """Feature caches and folds for a list of trials; `write` puts the folds into a run folder."""

    def __init__(self) -> None:
        self.summary: list[DataSummary] = []
        self._trial_keys: dict[str, tuple[str, str]] = {}
        self._features_path: dict[str, str] = {}
        self._folds: dict[str, dict[str, np.ndarray]] = {}

    def write(self, run: RunDir) -> dict[str, TrialInputs]:
        """Write the fold index files (atomically, once) and the list of excluded corpus files
        (``excluded.json``), and return every trial's inputs."""
        run.data_dir.mkdir(parents=True, exist_ok=True)
        excluded = [{"dataset": info.dataset, "root": info.root, "features": info.features, "path": path, "reason": reason}
                    for info in self.summary for path, reason in info.problems]
        if excluded or run.excluded_file.exists():
            atomic_write_bytes(run.excluded_file, (json.dumps(excluded, indent=2) + "\n").encode())
        out: dict[str, TrialInputs] = {}
        for trial_id, (fs_key, folds_key) in self._trial_keys.items():
            path = run.data_dir / f"folds-{folds_key}.npz"
            if not path.exists():
                buf = io.BytesIO()
                np.savez(buf, **self._folds[folds_key])
                atomic_write_bytes(path, buf.getvalue())
            out[trial_id] = TrialInputs(self._features_path[fs_key], str(path.resolve()))
        return out


def plan_inputs(trials: list[dict[str, Any]], progress: Progress | None = None) -> InputPlan:
    """Load manifests, build (or reuse) the feature caches and compute the folds, once per distinct setting."""
    plan = InputPlan()
    manifests: dict[str, Any] = {}
    feature_sets: dict[str, Any] = {}
    checked: set[str] = set()
    for trial in trials:
        ds = trial["dataset"]
        ds_key = _key(ds)
        if ds_key not in manifests:
            manifests[ds_key] = open_manifest(ds, progress)
        manifest = manifests[ds_key]
        prot = trial["protocol"]
        prot_key = _key(ds_key, prot)
        if prot_key not in checked:  # a wrong protocol.folds is known from the manifest: say so before extracting features
            _check_fold_count(prot, len(make_folds(prot["name"], manifest, **dict(prot.get("params") or {}))))
            checked.add(prot_key)
        feat = trial["features"]
        fs_key = _key(ds, feat)
        if fs_key not in feature_sets:
            cb = (lambda done, total, _n=feat["name"]: progress(f"features {_n}", done, total)) if progress else None
            fs = prepare_features(manifest, feat["name"], feat.get("params") or {}, progress=cb)
            feature_sets[fs_key] = fs
            plan._features_path[fs_key] = str(fs.cache_path)
            plan.summary.append(DataSummary(
                dataset=ds["name"], root=str(manifest.root), features=feat["name"], cache=str(fs.cache_path),
                utterances=int(len(fs.y)),
                problems=[(str(p), str(r)) for p, r in list(manifest.problems) + list(getattr(fs, "problems", []))],
            ))  # fmt: skip
        folds_key = _key(fs_key, prot)
        if folds_key not in plan._folds:
            plan._folds[folds_key] = _fold_arrays(manifest, feature_sets[fs_key], prot)
        plan._trial_keys[trial["trial_id"]] = (fs_key, folds_key)
    return plan


def _check_fold_count(prot: dict[str, Any], n_folds: int) -> None:
    if n_folds != prot["folds"]:
        raise FoldCountError(f"is {prot['folds']}, but protocol {prot['name']} gives {n_folds} folds on this dataset; "
                             f"write protocol.folds: {n_folds} (or change protocol.params)")


def _fold_arrays(manifest: Any, fs: Any, prot: dict[str, Any]) -> dict[str, np.ndarray]:
    # Folds index the feature set's rows, which can be fewer than the manifest's (bad files dropped).
    by_id = {u.utt_id: u for u in manifest.utterances}
    kept = replace(manifest, utterances=[by_id[i] for i in fs.utt_ids])
    folds = make_folds(prot["name"], kept, **dict(prot.get("params") or {}))
    _check_fold_count(prot, len(folds))
    arrays: dict[str, np.ndarray] = {}
    for fold in folds:
        for part in ("train", "val", "test"):
            arrays[f"{fold.index}/{part}"] = np.asarray(getattr(fold, part), dtype=np.int64)
    return arrays
