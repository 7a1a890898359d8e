"""The baseline row is computed when a run is prepared: a logistic regression on `mfcc_stats`,
on exactly the trials' folds (one record per fold and seed); checked against a refit here."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import StandardScaler

from ser_data.datasets import load_manifest
from ser_data.features import FeatureSet, prepare_features
from ser_orch.experiment import Experiment, RunOptions
from ser_orch.results.records import scan_records


def test_baseline_records_follow_the_trials_folds_and_seeds(tmp_path, tiny_grid, tiny_corpus):
    text = tiny_grid.read_text().replace("seeds", "seeds_unused") + "seeds: [0, 7]\n"
    tiny_grid.write_text(text)
    exp = Experiment.from_grid(tiny_grid, RunOptions(quick=True))
    run = exp.prepare(tmp_path / "run")
    records = {r.trial_id: r for r in scan_records(run.path, baseline=True).records}
    assert sorted(records) == [f"baseline__fold={k}__seed={s}" for k in (0, 1) for s in (0, 7)]

    stats = prepare_features(load_manifest("ravdess", tiny_corpus), "mfcc_stats")
    for fold in (0, 1):
        trial = next(t for t in exp.trials if t["fold"] == fold)
        inputs = exp.inputs[trial["trial_id"]]
        trial_fs = FeatureSet.load(inputs.features)
        with np.load(inputs.folds) as f:
            train_ids = set(trial_fs.utt_ids[f[f"{fold}/train"]].tolist())
            test_ids = set(trial_fs.utt_ids[f[f"{fold}/test"]].tolist())
        ids = stats.utt_ids.tolist()
        train = [i for i, u in enumerate(ids) if u in train_ids]
        test = [i for i, u in enumerate(ids) if u in test_ids]
        scaler = StandardScaler().fit(stats.x[train])
        pred = LogisticRegression(max_iter=2000).fit(scaler.transform(stats.x[train]), stats.y[train]).predict(
            scaler.transform(stats.x[test]))
        for seed in (0, 7):
            rec = records[f"baseline__fold={fold}__seed={seed}"]
            assert rec.metrics["wa"] == pytest.approx(np.mean(pred == stats.y[test]))
            assert rec.metrics["ua"] == pytest.approx(balanced_accuracy_score(stats.y[test], pred))
            assert rec.sizes == {"train": len(train), "val": 0, "test": len(test)}
            assert np.trace(rec.confusion) == np.sum(pred == stats.y[test])

    # Reopened for a resume, nothing is recomputed.
    mtimes = {p.name: p.stat().st_mtime_ns for p in (run.path / "baseline").iterdir()}
    again = Experiment.resume(run.path)
    again.prepare()
    assert {p.name: p.stat().st_mtime_ns for p in (run.path / "baseline").iterdir()} == mtimes


def test_no_baseline_when_the_grid_turns_it_off(tmp_path, tiny_grid):
    tiny_grid.write_text(tiny_grid.read_text().replace("report:\n", "report:\n  baseline: none\n"))
    exp = Experiment.from_grid(tiny_grid, RunOptions(quick=True))
    run = exp.prepare(tmp_path / "run")
    assert not (run.path / "baseline").exists()
