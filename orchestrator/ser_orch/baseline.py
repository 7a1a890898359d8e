"""The baseline row of every report (grid `report.baseline: logreg`, the default): a logistic
regression on utterance-level MFCC statistics (`mfcc_stats`: mean and std of 13 MFCC + deltas),
fitted on the training part and tested on the test part of exactly the folds of the grid's
trials, one record per (fold, seed) so the paired statistics can pair it with every
configuration. A deep model that does not beat it on the same folds has not learnt much.

Features are standardised with the training part's mean and std; scikit-learn's L-BFGS
multinomial logistic regression (C = 1) is deterministic, so every seed of a fold gets the same
record. Records live in `<run>/baseline/`, apart from the trials; they are computed once, when
the run is prepared, and reused by a resume.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ser_data.features import FeatureSet, prepare_features

from .inputs import TrialInputs, open_manifest
from .results.records import TrialRecord, scan_records, write_record
from .rundir import RunDir

BASELINE_ID = "baseline"
FEATURES = {"name": "mfcc_stats", "params": {}}
DESCRIPTION = "logistic regression on utterance MFCC mean+std (mfcc_stats)"

Progress = Callable[[str, int, int], None]


def baseline_trial_id(fold: int, seed: int) -> str:
    return f"{BASELINE_ID}__fold={fold}__seed={seed}"


def _data_key(trial: dict[str, Any]) -> str:
    return json.dumps([trial["dataset"], trial["protocol"]], sort_keys=True)


def ensure_baseline(
    trials: list[dict[str, Any]], inputs: Mapping[str, TrialInputs], run: RunDir, progress: Progress | None = None,
) -> str | None:
    """Write the missing baseline records of the run's (fold, seed) pairs. Returns None, or why
    there is no baseline (trials on several datasets or protocols have no single baseline row)."""
    keys = {_data_key(t) for t in trials}
    if len(keys) != 1:
        return "the trials use several datasets or protocols: no single baseline row"
    have = {r.trial_id for r in scan_records(run.path, baseline=True).records if r.done}
    seeds_of: dict[int, set[int]] = {}
    first_of: dict[int, dict[str, Any]] = {}
    for t in trials:
        seeds_of.setdefault(t["fold"], set()).add(int(t["seed"]))
        first_of.setdefault(t["fold"], t)
    todo = {f: s for f, s in seeds_of.items() if any(baseline_trial_id(f, seed) not in have for seed in s)}
    if not todo:
        return None
    trial = trials[0]
    ds = trial["dataset"]
    manifest = open_manifest(ds, progress)
    cb = (lambda done, total: progress("features mfcc_stats (baseline)", done, total)) if progress else None
    stats = prepare_features(manifest, FEATURES["name"], FEATURES["params"], progress=cb)
    for fold, seeds in sorted(todo.items()):
        rec = _fit_fold(first_of[fold], inputs[first_of[fold]["trial_id"]], stats)
        for seed in sorted(seeds):
            rec.trial_id, rec.seed = baseline_trial_id(fold, seed), seed
            write_record(run.path, rec, baseline=True)
    return None


def _rows(fs: FeatureSet, trial_fs: FeatureSet, idx: np.ndarray) -> np.ndarray:
    """Rows of the baseline's feature set for rows `idx` of the trial's (matched by utterance id;
    an utterance either set excluded is left out)."""
    index = {u: i for i, u in enumerate(fs.utt_ids.tolist())}
    return np.array([index[u] for u in trial_fs.utt_ids[idx].tolist() if u in index], dtype=np.int64)


def _fit_fold(trial: dict[str, Any], inputs: TrialInputs, stats: FeatureSet) -> TrialRecord:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from ser_models.metrics import confusion, unweighted_accuracy, weighted_accuracy

    trial_fs = FeatureSet.load(inputs.features)
    with np.load(inputs.folds) as folds:
        train_idx, test_idx = folds[f"{trial['fold']}/train"], folds[f"{trial['fold']}/test"]
    train, test = _rows(stats, trial_fs, train_idx), _rows(stats, trial_fs, test_idx)
    x = np.asarray(stats.x, dtype=np.float64)
    y = np.asarray(stats.y, dtype=np.int64)
    scaler = StandardScaler().fit(x[train])
    model = LogisticRegression(max_iter=2000, C=1.0).fit(scaler.transform(x[train]), y[train])
    pred = model.predict(scaler.transform(x[test]))
    n = len(stats.labels)
    return TrialRecord(
        trial_id="", config_id=BASELINE_ID, axes={}, fold=trial["fold"], seed=trial["seed"], status="done",
        metrics={"wa": float(weighted_accuracy(y[test], pred)), "ua": float(unweighted_accuracy(y[test], pred))},
        labels=list(stats.labels), confusion=np.asarray(confusion(y[test], pred, n)).astype(int).tolist(),
        extra={"model": DESCRIPTION}, config={"baseline": "logreg", "features": FEATURES,
                                              "dataset": trial["dataset"], "protocol": trial["protocol"]},
        sizes={"train": int(len(train)), "val": 0, "test": int(len(test))},
    )
