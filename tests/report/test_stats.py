"""Corrected resampled t-test, confidence intervals and Holm, checked against scipy and by hand."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import scipy.stats

from ser_data.errors import SerError
from ser_orch.results import TrialRecord, aggregate
from ser_orch.results.stats import (
    StatsError,
    compare_table,
    corrected_ttest,
    holm,
    mean_ci,
    paired_differences,
    paired_test,
    ratio_from_sizes,
)


def _runs(values, seeds=(0,)):
    """{(fold, seed): value} from per-fold lists (one value per seed)."""
    out = {}
    for fold, per_seed in enumerate(values):
        per_seed = per_seed if isinstance(per_seed, (list, tuple)) else [per_seed]
        for seed, v in zip(seeds, per_seed):
            out[(fold, seed)] = v
    return out


def _json(obj) -> str:
    return json.dumps(obj, allow_nan=False)  # raises on NaN/inf


# --- the t statistic ---------------------------------------------------------------------------


def test_ratio_zero_is_scipy_paired_ttest():
    rng = np.random.default_rng(7)
    a = rng.uniform(0.5, 0.7, size=10)
    b = a - rng.normal(0.01, 0.02, size=10)
    res = paired_test(_runs(a), _runs(b), "wa", test_train_ratio=0.0)
    ref = scipy.stats.ttest_rel(a, b)
    assert res.test.t == pytest.approx(ref.statistic, rel=1e-12)
    assert res.test.p == pytest.approx(ref.pvalue, rel=1e-10)
    assert res.test.df == ref.df == 9
    lo, hi = ref.confidence_interval(0.95)
    assert (res.test.ci_low, res.test.ci_high) == (pytest.approx(lo, rel=1e-10), pytest.approx(hi, rel=1e-10))
    assert res.test.mean == pytest.approx(np.mean(a - b))


def test_corrected_statistic_by_hand():
    # d = (0.02, 0.04, 0.06, 0.08), J = 4, n_test/n_train = 25/75 = 1/3 (4-fold CV).
    # mean = 0.05; squared deviations 9e-4 + 1e-4 + 1e-4 + 9e-4 = 2e-3; var(ddof=1) = 2e-3 / 3.
    # se^2 = (1/4 + 1/3) * 2e-3/3 = 7/12 * 2e-3/3 = 14e-3/36;  t^2 = 0.0025 * 36000 / 14 = 45/7.
    # (Plain paired t: se^2 = 2e-3/3/4 = 1/6000, t^2 = 15.)
    d = [0.02, 0.04, 0.06, 0.08]
    res = corrected_ttest(d, test_train_ratio=1 / 3)
    assert res.n == 4 and res.df == 3
    assert res.mean == pytest.approx(0.05)
    assert res.std_err == pytest.approx(math.sqrt(14e-3 / 36))
    assert res.t == pytest.approx(math.sqrt(45 / 7))
    assert corrected_ttest(d, test_train_ratio=0).t == pytest.approx(math.sqrt(15))
    # Two-sided p for df = 3 in closed form: with theta = atan(t / sqrt 3),
    # CDF(t) = 1/2 + (theta + sin(theta) cos(theta)) / pi, so p = 1 - 2 (theta + sin cos) / pi.
    # tan(theta) = sqrt(15/7), cos^2(theta) = 1 / (1 + 15/7) = 7/22.
    theta = math.atan(math.sqrt(15 / 7))
    p = 1 - 2 * (theta + math.sqrt(15 / 7) * 7 / 22) / math.pi
    assert res.p == pytest.approx(p, rel=1e-9)
    assert 0.08 < res.p < 0.09  # significant without the correction (p ~ 0.03), not with it
    # CI: mean +- t_{0.975, 3} * se; t_{0.975, 3} = 3.1824 (printed t tables).
    q = scipy.stats.t.ppf(0.975, 3)
    assert q == pytest.approx(3.1824, abs=1e-4)
    assert res.ci_low == pytest.approx(0.05 - q * math.sqrt(14e-3 / 36))
    assert res.ci_high == pytest.approx(0.05 + q * math.sqrt(14e-3 / 36))


def test_corrected_matches_scipy_t_with_inflated_variance():
    rng = np.random.default_rng(3)
    d = rng.normal(0.02, 0.03, size=5)
    ratio = 0.25
    res = corrected_ttest(d, test_train_ratio=ratio, confidence=0.9)
    se = math.sqrt((1 / 5 + ratio) * np.var(d, ddof=1))
    assert res.t == pytest.approx(d.mean() / se)
    assert res.p == pytest.approx(2 * scipy.stats.t.sf(abs(d.mean() / se), 4))
    lo, hi = scipy.stats.t.interval(0.9, 4, loc=d.mean(), scale=se)
    assert (res.ci_low, res.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    # The correction only widens: the plain test on the same d is more confident.
    plain = corrected_ttest(d, test_train_ratio=0)
    assert plain.p < res.p and plain.ci_high - plain.ci_low < res.ci_high - res.ci_low


# --- seeds, pairing, NaN -------------------------------------------------------------------------


def test_seeds_are_averaged_per_fold_by_default():
    # d per (fold, seed): fold 0: 0.1, 0.3; fold 1: 0.0, 0.2; fold 2: 0.3, 0.3.
    # unit="fold": fold means (0.2, 0.1, 0.3), mean 0.2, var(ddof=1) = (0 + 0.01 + 0.01) / 2 = 0.01,
    #   se^2 = (1/3 + 1/4) * 0.01, df = 2.
    # unit="run": six differences, mean 0.2, squared deviations .01+.01+.04+0+.01+.01 = .08,
    #   var = .016, se^2 = (1/6 + 1/4) * .016, df = 5.
    b = _runs([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]], seeds=(0, 1))
    a = _runs([[0.6, 0.8], [0.5, 0.7], [0.8, 0.8]], seeds=(0, 1))
    by_fold = paired_test(a, b, "wa", test_train_ratio=0.25)
    assert by_fold.n_runs == 6 and by_fold.test.n == 3 and by_fold.test.df == 2
    assert by_fold.test.std_err == pytest.approx(math.sqrt(7 / 12 * 0.01))
    assert by_fold.test.t == pytest.approx(0.2 / math.sqrt(7 / 12 * 0.01))
    by_run = paired_test(a, b, "wa", test_train_ratio=0.25, unit="run")
    assert by_run.test.n == 6 and by_run.test.df == 5
    assert by_run.test.std_err == pytest.approx(math.sqrt(5 / 12 * 0.016))
    # unit="run" with ratio 0 is the plain paired t-test over all runs.
    keys = sorted(a)
    ref = scipy.stats.ttest_rel([a[k] for k in keys], [b[k] for k in keys])
    assert paired_test(a, b, "wa", test_train_ratio=0, unit="run").test.p == pytest.approx(ref.pvalue)


def test_mismatched_pairs_name_what_is_missing_where():
    a = _runs([0.6, 0.6, 0.6, 0.6])  # folds 0-3
    b = {(0, 0): 0.5, (1, 0): 0.5, (2, 0): 0.5, (4, 0): 0.5, (4, 1): 0.5}
    with pytest.raises(StatsError) as err:
        paired_test(a, b, "wa", test_train_ratio=0.25, names=("resnet-11", "lstm-7"))
    msg = str(err.value)
    assert isinstance(err.value, SerError)
    assert "missing in lstm-7: fold=3,seed=0" in msg
    assert "missing in resnet-11: fold=4,seed=0; fold=4,seed=1" in msg


def test_nan_pairs_are_excluded_from_both_sides():
    a = _runs([0.60, float("nan"), 0.66, 0.70, 0.64])
    b = _runs([0.55, 0.58, 0.61, 0.69, None])
    pairs = paired_differences(a, b, "wa")
    assert pairs.excluded == [(1, 0), (4, 0)] and pairs.keys == [(0, 0), (2, 0), (3, 0)]
    res = paired_test(a, b, "wa", test_train_ratio=0)
    ref = scipy.stats.ttest_rel([0.60, 0.66, 0.70], [0.55, 0.61, 0.69])
    assert res.n_runs == 3 and res.test.p == pytest.approx(ref.pvalue)
    assert res.to_dict()["excluded"] == [[1, 0], [4, 0]]


def test_config_stats_input_pairs_by_fold_and_seed():
    def rec(cid, fold, seed, wa):
        return TrialRecord(f"{cid}__fold={fold}__seed={seed}", cid, {"m": cid}, fold, seed, metrics={"wa": wa})

    wa_a = {(0, 0): 0.61, (0, 1): 0.63, (1, 0): 0.58, (1, 1): 0.60, (2, 0): 0.66, (2, 1): float("nan")}
    wa_b = {(0, 0): 0.55, (0, 1): 0.57, (1, 0): 0.56, (1, 1): 0.54, (2, 0): 0.60, (2, 1): 0.62}
    records = [rec("a", f, s, v) for (f, s), v in wa_a.items()] + [rec("b", f, s, v) for (f, s), v in wa_b.items()]
    sa, sb = aggregate(records)
    res = paired_test(sa, sb, "wa", test_train_ratio=0.5)
    assert (res.a, res.b) == ("a", "b")
    assert res.excluded == [(2, 1)]  # aggregate drops the NaN value, the run stays
    # Fold means of a - b: fold 0 (0.06 + 0.06)/2, fold 1 (0.02 + 0.06)/2, fold 2 0.06 (seed 1 excluded).
    d = np.array([0.06, 0.04, 0.06])
    se = math.sqrt((1 / 3 + 0.5) * d.var(ddof=1))
    assert res.test.mean == pytest.approx(d.mean()) and res.test.t == pytest.approx(d.mean() / se)


# --- degenerate cases -----------------------------------------------------------------------------


def test_zero_variance_is_defined_and_json_safe():
    a, b = [0.6, 0.7, 0.8], [0.5, 0.6, 0.7]  # every difference is 0.1 up to float rounding
    assert np.ptp(np.subtract(a, b)) > 0  # the rounding noise: scipy's ttest_rel gives t ~ 3e15
    with warnings.catch_warnings():  # scipy warns about the cancellation; that is the point here
        warnings.simplefilter("ignore", RuntimeWarning)
        assert abs(scipy.stats.ttest_rel(a, b).statistic) > 1e12
    res = paired_test(_runs(a), _runs(b), "wa", test_train_ratio=0.25)
    assert res.test.p is None and res.test.t is None and res.test.std_err == 0.0  # not declared significant
    assert not res.test.testable
    assert res.test.ci_low == pytest.approx(0.1) and res.test.ci_high == pytest.approx(0.1)
    assert "zero variance" in res.test.note
    same = paired_test(_runs(b), _runs(b), "wa", test_train_ratio=0.25)
    assert same.test.p == 1.0 and same.test.t == 0.0 and same.test.mean == 0.0
    _json(res.to_dict())
    _json(same.to_dict())


def test_single_difference_is_not_testable():
    res = paired_test({(0, 0): 0.7}, {(0, 0): 0.6}, "wa", test_train_ratio=0.25)
    assert not res.test.testable
    assert res.test.n == 1 and res.test.mean == pytest.approx(0.1)
    assert res.test.p is None and res.test.t is None and res.test.ci_low is None
    assert "one difference" in res.test.note
    # Three seeds on one fold are still one resample; the note says why.
    seeds = paired_test(_runs([[0.7, 0.72, 0.71]], (0, 1, 2)), _runs([[0.6, 0.6, 0.6]], (0, 1, 2)), "wa",
                        test_train_ratio=0.25)
    assert seeds.test.n == 1 and not seeds.test.testable and "seeds are not resamples" in seeds.test.note
    empty = corrected_ttest([float("nan")], test_train_ratio=0.25)
    assert empty.n == 0 and empty.mean is None and not empty.testable
    _json(res.to_dict())


def test_bad_parameters_raise():
    bad = ({"test_train_ratio": -0.1}, {"test_train_ratio": float("nan")}, {"test_train_ratio": 0.2, "confidence": 1.0})
    for kw in bad:
        with pytest.raises(StatsError):
            corrected_ttest([0.1, 0.2], **kw)
    with pytest.raises(StatsError, match="unit='folds'"):
        paired_test(_runs([0.1, 0.2]), _runs([0.1, 0.3]), "wa", test_train_ratio=0.2, unit="folds")


# --- mean CI and sizes ------------------------------------------------------------------------------


def test_mean_ci_uses_corrected_variance():
    x = np.array([0.61, 0.58, 0.66, 0.63, 0.60, 0.57, 0.64, 0.62, 0.59, 0.65])
    ratio = 30 / 70
    ci = mean_ci(_runs(x), "wa", test_train_ratio=ratio)
    se = math.sqrt((1 / 10 + ratio) * x.var(ddof=1))
    lo, hi = scipy.stats.t.interval(0.95, 9, loc=x.mean(), scale=se)
    assert ci.n == 10 and ci.mean == pytest.approx(x.mean())
    assert (ci.ci_low, ci.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    plain = mean_ci(_runs(x), "wa", test_train_ratio=0)
    lo0, hi0 = scipy.stats.t.interval(0.95, 9, loc=x.mean(), scale=scipy.stats.sem(x))
    assert (plain.ci_low, plain.ci_high) == (pytest.approx(lo0), pytest.approx(hi0))
    one = mean_ci({(0, 0): 0.6}, "wa", test_train_ratio=ratio)
    assert one.mean == pytest.approx(0.6) and one.ci_low is None and "one fold" in one.note


def test_ratio_from_sizes():
    assert ratio_from_sizes([{"train": 70, "val": 0, "test": 30}] * 3) == pytest.approx(30 / 70)
    # Unequal folds: mean test (20 + 24) / 2 = 22 over mean train (80 + 76) / 2 = 78; val not counted.
    sizes = {"t0": {"train": 80, "val": 10, "test": 20}, "t1": {"train": 76, "val": 9, "test": 24}}
    assert ratio_from_sizes(sizes) == pytest.approx(22 / 78)
    with pytest.raises(StatsError, match=r"t1: sizes\['train'\] = None"):
        ratio_from_sizes({"t0": {"train": 80, "test": 20}, "t1": {"test": 20}})


# --- Holm ---------------------------------------------------------------------------------------


def test_holm_by_hand():
    # Sorted: 0.005 (#3), 0.01 (#0), 0.03 (#2), 0.04 (#1); m = 4.
    # 4 * 0.005 = 0.02; 3 * 0.01 = 0.03; 2 * 0.03 = 0.06; 1 * 0.04 = 0.04 -> max(0.06, 0.04) = 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # Capped at 1: 2 * 0.5 = 1.0, then max(1.0, 0.6) = 1.0.
    assert holm([0.6, 0.5]) == pytest.approx([1.0, 1.0])
    # Untestable entries are not in the family (m = 2 here): 2 * 0.02 = 0.04, max(0.04, 0.04).
    out = holm([None, 0.02, float("nan"), 0.04])
    assert out[0] is None and out[2] is None and out[1:4:2] == pytest.approx([0.04, 0.04])
    assert holm([]) == []
    for bad in (1.5, -0.1, "0.2"):
        with pytest.raises(StatsError, match="p-value #1"):
            holm([0.2, bad])


def test_holm_agrees_with_the_sequential_rejection_rule():
    # Holm (1979): reject H_(1..k) while p_(j) <= alpha / (m - j + 1). An adjusted p is <= alpha
    # exactly when its hypothesis is rejected at alpha.
    rng = np.random.default_rng(11)
    p = list(rng.uniform(0, 0.08, size=7))
    adjusted = holm(p)
    order = np.argsort(p)
    for alpha in np.linspace(0.001, 0.2, 60):
        rejected = set()
        for j, i in enumerate(order):
            if p[i] > alpha / (len(p) - j):
                break
            rejected.add(int(i))
        assert {i for i, a in enumerate(adjusted) if a <= alpha} == rejected


# --- the table function -------------------------------------------------------------------------


def test_compare_table_against_best_and_baseline():
    rng = np.random.default_rng(5)
    base = rng.uniform(0.5, 0.6, size=5)
    configs = {
        "best": _runs(base + 0.08 + rng.normal(0, 0.01, 5)),
        "close": _runs(base + 0.075 + rng.normal(0, 0.02, 5)),
        "far": _runs(base + rng.normal(0, 0.01, 5)),
        "broken": {(f, 0): 0.6 for f in range(4)},  # fold 4 failed
    }
    baseline = _runs(base)
    ratio = 0.25
    table = compare_table(configs, "wa", "best", test_train_ratio=ratio, baseline=baseline, baseline_id="paper")
    assert [r.config_id for r in table.rows] == ["best", "close", "far", "broken"]
    best = table.row("best")
    assert best.is_best and best.vs_best is None and best.indistinguishable_from_best is True

    raw = {c: paired_test(configs[c], configs["best"], "wa", test_train_ratio=ratio).test.p for c in ("close", "far")}
    # Holm over the two testable rows ("broken" is not testable): m = 2.
    lo, hi = sorted(raw, key=raw.get)
    expect = {lo: min(1, 2 * raw[lo])}
    expect[hi] = max(expect[lo], min(1, raw[hi]))
    for c in ("close", "far"):
        cmp = table.row(c).vs_best
        assert cmp.p == pytest.approx(raw[c]) and cmp.p_holm == pytest.approx(expect[c])
        assert cmp.significant == (expect[c] < 0.05)
        d = np.array([configs[c][k] - configs["best"][k] for k in sorted(configs[c])])
        assert cmp.mean_diff == pytest.approx(d.mean())
    assert table.row("far").vs_best.mean_diff < -0.05 and table.row("far").indistinguishable_from_best is False

    broken = table.row("broken")
    assert broken.vs_best.p is None and broken.indistinguishable_from_best is None
    assert "missing in broken: fold=4,seed=0" in broken.vs_best.note
    assert broken.mean.n == 4  # its own CI still uses its four folds

    # Against the baseline: row - baseline, Holm over best/close/far (broken untestable).
    raw_b = [paired_test(configs[c], baseline, "wa", test_train_ratio=ratio).test.p for c in ("best", "close", "far")]
    got = [table.row(c).vs_baseline.p_holm for c in ("best", "close", "far")]
    assert got == pytest.approx(holm(raw_b))
    assert table.row("best").vs_baseline.other == "paper" and table.row("best").vs_baseline.mean_diff > 0

    d = table.to_dict()
    _json(d)
    assert d["rows"][3]["vs_best"]["p"] is None and d["baseline_id"] == "paper"
    assert d["rows"][0]["mean"]["ci_low"] == pytest.approx(
        scipy.stats.t.interval(0.95, 4, loc=np.mean(list(configs["best"].values())),
                               scale=math.sqrt((1 / 5 + ratio) * np.var(list(configs["best"].values()), ddof=1)))[0]
    )


def test_compare_table_rejects_unknown_best():
    with pytest.raises(StatsError, match="best_id 'nope'"):
        compare_table({"a": _runs([0.5, 0.6])}, "wa", "nope", test_train_ratio=0.25)
