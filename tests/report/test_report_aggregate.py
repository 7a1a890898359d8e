from __future__ import annotations

import numpy as np
import pytest

from ser_orch.results import STD_DDOF, aggregate, best_per_series, failures_of


def _by_id(stats):
    return {s.config_id: s for s in stats}


def test_stats_match_numpy(records, wa_values):
    stats = _by_id(aggregate(records))
    for fam, by_depth in wa_values.items():
        for depth, values in by_depth.items():
            s = stats[f"family={fam},depth={depth}"]
            wa = np.array(values)
            assert s.metrics["wa"].mean == pytest.approx(wa.mean())
            assert s.metrics["wa"].min == pytest.approx(wa.min())
            assert s.metrics["wa"].max == pytest.approx(wa.max())
            # Population std (ddof=0), the documented choice.
            assert STD_DDOF == 0
            assert s.metrics["wa"].std == pytest.approx(np.std(wa))
            assert s.metrics["ua"].mean == pytest.approx((wa - 0.02).mean())
            assert s.n == 3 and s.metrics["wa"].n == 3
            assert s.folds == [0, 1, 2] and s.seeds == [0]
            assert s.axes == {"model.family": fam, "model.depth": depth}


def test_single_run_has_zero_std(record_factory):
    (s,) = aggregate([record_factory("resnet", 6, 0, wa=0.7)])
    assert s.metrics["wa"].std == 0.0 and s.metrics["wa"].mean == pytest.approx(0.7)


def test_failed_trials_excluded_and_counted(records):
    s = _by_id(aggregate(records))["family=resnet,depth=11"]
    assert s.n == 3 and s.n_failed == 1
    assert s.metrics["wa"].mean == pytest.approx(np.mean([0.60, 0.62, 0.64]))
    assert s.failed[0].error == "CUDA out of memory [GPU 0]"
    assert s.failed[0].fold == 3
    assert s.count_text() == "3/4, 1 failed"
    assert [f.trial_id for f in failures_of(aggregate(records))] == ["family=resnet,depth=11__fold=3__seed=0"]


def test_missing_trials_shown_with_plan(records, plan):
    stats = aggregate(records, planned=plan)
    # Plan order is kept: resnet-6, resnet-11, lstm-6, lstm-11.
    assert [s.config_id for s in stats] == [
        "family=resnet,depth=6",
        "family=resnet,depth=11",
        "family=lstm,depth=6",
        "family=lstm,depth=11",
    ]
    s = _by_id(stats)["family=resnet,depth=11"]
    assert s.expected == 5
    assert s.missing == ["family=resnet,depth=11__fold=4__seed=0"]
    assert s.count_text() == "3/5, 1 failed, 1 missing"
    assert _by_id(stats)["family=lstm,depth=6"].count_text() == "3/5, 2 missing"


def test_planned_config_without_any_record_still_listed(plan):
    stats = aggregate([], planned=plan)
    assert len(stats) == 4
    assert all(s.n == 0 and s.expected == 5 and len(s.missing) == 5 for s in stats)
    assert np.isnan(stats[0].metrics["wa"].mean)
    assert best_per_series(stats, "model.family") == {}


def test_grouping_ignores_fold_and_seed(record_factory):
    recs = [record_factory("resnet", 6, fold, seed=seed, wa=0.1 * (fold + 1) + 0.01 * seed)
            for fold in range(2) for seed in range(3)]
    (s,) = aggregate(recs)
    values = [0.1 * (f + 1) + 0.01 * sd for f in range(2) for sd in range(3)]
    assert s.n == 6 and s.folds == [0, 1] and s.seeds == [0, 1, 2]
    assert s.metrics["wa"].mean == pytest.approx(np.mean(values))
    assert s.metrics["wa"].std == pytest.approx(np.std(values))


def test_natural_order_without_plan(record_factory):
    recs = [record_factory("resnet", d, 0) for d in (15, 6, 11, 8)]
    assert [s.axes["model.depth"] for s in aggregate(recs)] == [6, 8, 11, 15]


def test_confusion_summed_over_done_runs(records):
    s = _by_id(aggregate(records))["family=resnet,depth=11"]
    one = np.array([[3, 1, 0, 0], [0, 4, 0, 0], [1, 0, 2, 1], [0, 0, 0, 4]])
    np.testing.assert_array_equal(s.confusion, 3 * one)
    assert s.confusion_n == 3 and s.labels == ["neutral", "happy", "sad", "angry"]


def test_missing_metric_and_nan_values_skipped(record_factory):
    recs = [record_factory("resnet", 6, 0, wa=0.5), record_factory("resnet", 6, 1, wa=None),
            record_factory("resnet", 6, 2, wa=float("nan"))]
    (s,) = aggregate(recs)
    assert s.n == 3 and s.metrics["wa"].n == 1 and s.metrics["wa"].mean == pytest.approx(0.5)


def test_best_per_series(records):
    stats = aggregate(records)
    best = best_per_series(stats, "model.family")
    assert best["resnet"].config_id == "family=resnet,depth=11"
    # Means: lstm-6 0.44 > lstm-11 0.4367.
    assert best["lstm"].config_id == "family=lstm,depth=6"
    assert set(best) == {"resnet", "lstm"}
    (overall,) = best_per_series(stats, None).values()
    assert overall.config_id == "family=resnet,depth=11"


def test_best_per_series_tie_goes_to_first(record_factory):
    recs = [record_factory("resnet", d, 0, wa=0.5) for d in (6, 11)]
    assert best_per_series(aggregate(recs), "model.family")["resnet"].axes["model.depth"] == 6
