"""Significance tests between configurations run on the same folds (see docs/statistics.md).

One test for every protocol: the corrected resampled t-test (Nadeau & Bengio 2003; Bouckaert &
Frank 2004 for repeated k-fold). With J paired differences d_j (one per fold, after averaging the
seeds of that fold; see ``UNITS``)::

    se = sqrt((1/J + n_test/n_train) * var(d, ddof=1)),   t = mean(d) / se,   df = J - 1

The ``n_test/n_train`` term accounts for the overlap of the folds' training sets, which makes the
per-fold scores positively correlated; without it (ratio 0) this is the plain paired t-test,
which is too optimistic. The same corrected standard error gives the 95 % intervals, both of a
mean difference and of one configuration's mean. Holm's step-down procedure adjusts the p-values
of a table's family of comparisons.

Pure numpy/scipy; nothing here reads files. Results are frozen dataclasses whose ``to_dict``
is JSON-able (``None`` wherever a value is undefined, never NaN or infinity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence, Union

import numpy as np
from scipy.special import stdtr, stdtrit

from ser_data.errors import SerError
from ser_orch.results.aggregate import axis_sort_key

__all__ = [
    "UNITS",
    "ZERO_SPREAD",
    "Comparison",
    "ComparisonRow",
    "ComparisonTable",
    "MeanCI",
    "PairedDifferences",
    "PairedTest",
    "StatsError",
    "TTest",
    "compare_table",
    "corrected_ttest",
    "holm",
    "mean_ci",
    "paired_differences",
    "paired_test",
    "ratio_from_sizes",
    "runs_of",
]

Key = tuple[Any, Any]  # (fold, seed)
# A configuration's runs: a ConfigStats (anything with ``runs`` of RunValues) or {(fold, seed): value}.
Runs = Union[Any, Mapping[Key, float]]

# "fold": the seeds of one fold are averaged first, J = number of folds (the default, because in
#   this project a trial's seed changes the initialisation, not the split: seeds on one fold are
#   not new train/test resamples). "run": every (fold, seed) is its own resample, J = number of
#   runs (Bouckaert & Frank's r x k-fold, for grids whose repetitions re-partition the data).
UNITS = ("fold", "run")

# Metrics are fractions; differences of equal floats differ by ~1e-16, not by exactly 0. A spread
# below this counts as "all differences equal" (zero variance), so rounding noise never turns
# into t = 1e15.
ZERO_SPREAD = 1e-12

_SEEDS_HINT = "seeds are not resamples; unit='run' treats them as such"


class StatsError(SerError):
    """Runs that cannot be compared (different (fold, seed) pairs) or a bad test parameter."""


# ---------------------------------------------------------------------------------------------
# Inputs


def _key_text(key: Key) -> str:
    return f"fold={key[0]},seed={key[1]}"


def _sort_keys(keys: Iterable[Key]) -> list[Key]:
    return sorted(keys, key=lambda k: (axis_sort_key(k[0]), axis_sort_key(k[1])))


def _name_of(runs: Runs, default: str) -> str:
    cid = getattr(runs, "config_id", None)
    return str(cid) if cid is not None else default


def _number(value: Any) -> float:
    """A metric value as float; anything missing or non-numeric is NaN (then excluded)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        return math.nan
    return float(value)


def runs_of(runs: Runs, metric: str, name: str = "configuration") -> dict[Key, float]:
    """``{(fold, seed): value}`` of one configuration; a run without the metric gives NaN.

    ``runs`` is a ``ConfigStats`` (its done runs; ``metric`` picks the value) or already a
    mapping ``{(fold, seed): value}`` (then ``metric`` is not used).
    """
    out: dict[Key, float] = {}
    if hasattr(runs, "runs"):
        for run in runs.runs:
            key = (run.fold, run.seed)
            if key in out:
                raise StatsError(f"{name}: two runs for {_key_text(key)} (trial {run.trial_id})")
            out[key] = _number(run.values.get(metric))
        return out
    if not isinstance(runs, Mapping):
        kind = type(runs).__name__
        raise StatsError(f"{name}: expected a ConfigStats or a mapping (fold, seed) -> value, got {kind}")
    for key, value in runs.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise StatsError(f"{name}: run key {key!r} is not a (fold, seed) pair")
        out[key] = _number(value)
    return out


def ratio_from_sizes(sizes: Mapping[str, Mapping[str, Any]] | Iterable[Mapping[str, Any]]) -> float:
    """``n_test / n_train`` of a set of runs: mean test size over mean training size.

    ``sizes``: one ``{"train": n, "val": n, "test": n}`` per run, either as a mapping
    ``trial_id -> sizes`` (errors then name the trial) or as a plain sequence. Only ``train``
    (what the model was fitted on) and ``test`` enter; a validation part is in neither.
    """
    items = list(sizes.items()) if isinstance(sizes, Mapping) else [(f"run #{i}", s) for i, s in enumerate(sizes)]
    if not items:
        raise StatsError("ratio_from_sizes: no run sizes given")
    train, test = [], []
    for label, size in items:
        for part, into in (("train", train), ("test", test)):
            value = size.get(part) if isinstance(size, Mapping) else None
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise StatsError(f"{label}: sizes[{part!r}] = {value!r}; expected a positive integer")
            into.append(int(value))
    return float(np.mean(test) / np.mean(train))


@dataclass(frozen=True)
class PairedDifferences:
    """Two configurations' values on the same (fold, seed) pairs, in natural (fold, seed) order."""

    keys: list[Key]  # pairs where both values are finite
    a: np.ndarray
    b: np.ndarray
    excluded: list[Key] = field(default_factory=list)  # pairs with a NaN/missing value on a side

    @property
    def d(self) -> np.ndarray:
        return self.a - self.b

    def per_unit(self, unit: str = "fold") -> np.ndarray:
        """The J differences the test uses: one per fold (seeds averaged) or one per run."""
        return _per_unit(self.keys, self.d, unit)


def _check_unit(unit: str) -> None:
    if unit not in UNITS:
        raise StatsError(f"unit={unit!r}; allowed: {', '.join(UNITS)}")


def _per_unit(keys: Sequence[Key], values: np.ndarray, unit: str) -> np.ndarray:
    _check_unit(unit)
    if unit == "run":
        return np.asarray(values, dtype=float)
    by_fold: dict[Any, list[float]] = {}
    for key, value in zip(keys, values):  # keys are sorted, so folds come out in order
        by_fold.setdefault(key[0], []).append(float(value))
    return np.array([np.mean(v) for v in by_fold.values()], dtype=float)


def _missing_text(keys: list[Key], limit: int = 10) -> str:
    shown = "; ".join(_key_text(k) for k in keys[:limit])
    return shown + (f"; and {len(keys) - limit} more" if len(keys) > limit else "")


def paired_differences(a: Runs, b: Runs, metric: str, names: tuple[str, str] | None = None) -> PairedDifferences:
    """Match the runs of ``a`` and ``b`` by (fold, seed).

    Raises ``StatsError`` when the two sets of (fold, seed) pairs differ, naming the pairs missing
    on each side (a failed or not yet run trial on one side makes the comparison unpaired). A pair
    whose value is NaN or missing on either side is left out of both and listed in ``excluded``.
    """
    name_a, name_b = names or (_name_of(a, "A"), _name_of(b, "B"))
    va, vb = runs_of(a, metric, name_a), runs_of(b, metric, name_b)
    only_a, only_b = _sort_keys(set(va) - set(vb)), _sort_keys(set(vb) - set(va))
    if only_a or only_b:
        parts = [f"missing in {name_b}: {_missing_text(only_a)}"] if only_a else []
        parts += [f"missing in {name_a}: {_missing_text(only_b)}"] if only_b else []
        raise StatsError(f"{name_a} and {name_b} were not run on the same (fold, seed) pairs; " + "; ".join(parts))
    keys, excluded = [], []
    for key in _sort_keys(va):
        (keys if math.isfinite(va[key]) and math.isfinite(vb[key]) else excluded).append(key)
    return PairedDifferences(
        keys, np.array([va[k] for k in keys], dtype=float), np.array([vb[k] for k in keys], dtype=float), excluded
    )


# ---------------------------------------------------------------------------------------------
# The corrected t machinery


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN/inf to None, recursing into lists/dicts/tuples."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _check_params(test_train_ratio: float, confidence: float) -> None:
    if isinstance(test_train_ratio, bool) or not isinstance(test_train_ratio, (int, float)) or not (
        math.isfinite(test_train_ratio) and test_train_ratio >= 0
    ):
        raise StatsError(f"test_train_ratio={test_train_ratio!r}; expected a finite number >= 0 (n_test / n_train)")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise StatsError(f"confidence={confidence!r}; expected a number strictly between 0 and 1")


@dataclass(frozen=True)
class _Corrected:
    n: int
    mean: float | None
    std_err: float | None
    df: int | None
    half_width: float | None
    zero_spread: bool
    note: str | None


def _corrected(values: np.ndarray, test_train_ratio: float, confidence: float, what: str) -> _Corrected:
    """Mean, corrected standard error and CI half-width of J values (the shared core)."""
    _check_params(test_train_ratio, confidence)
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    j = int(x.size)
    if j == 0:
        return _Corrected(0, None, None, None, None, False, f"no {what}s with a value: no test, no interval")
    mean = float(x.mean())
    if j == 1:
        note = f"one {what}: no variance estimate (needs at least 2), so no test and no interval"
        return _Corrected(1, mean, None, None, None, False, note)
    df = j - 1
    if float(np.ptp(x)) <= ZERO_SPREAD:
        # Degenerate but well defined: the interval is the point itself (see ``corrected_ttest``).
        note = f"all {j} {what}s equal: zero variance"
        return _Corrected(j, mean, 0.0, df, 0.0, True, note)
    se = math.sqrt((1.0 / j + test_train_ratio) * float(x.var(ddof=1)))
    half = float(stdtrit(df, 0.5 + confidence / 2.0)) * se
    return _Corrected(j, mean, se, df, half, False, None)


@dataclass(frozen=True)
class TTest:
    """Corrected resampled t-test of H0: mean(d) = 0, with the CI of mean(d)."""

    n: int  # J, the number of differences used
    mean: float | None
    std_err: float | None  # sqrt((1/J + ratio) * var(d, ddof=1))
    t: float | None
    df: int | None
    p: float | None  # two-sided
    ci_low: float | None
    ci_high: float | None
    confidence: float
    test_train_ratio: float
    note: str | None = None  # why something is None, or that the variance was zero

    @property
    def testable(self) -> bool:
        return self.p is not None

    def to_dict(self) -> dict[str, Any]:
        return _clean({f: getattr(self, f) for f in self.__dataclass_fields__} | {"testable": self.testable})


def corrected_ttest(d: Sequence[float] | np.ndarray, *, test_train_ratio: float, confidence: float = 0.95) -> TTest:
    """The corrected resampled t-test on J differences ``d`` (NaNs dropped).

    ``test_train_ratio = 0`` gives the plain one-sample/paired t-test (``scipy.stats.ttest_rel``).
    Zero variance (all differences equal, within ``ZERO_SPREAD``): the CI is the point ``[m, m]``;
    p = 1 when m = 0 (t = 0), else not testable (t and p None; the note says why). J < 2: t, p and the CI are None and ``note`` says why.
    """
    c = _corrected(np.asarray(d, dtype=float), test_train_ratio, confidence, "difference")
    test_train_ratio, confidence = float(test_train_ratio), float(confidence)
    if c.std_err is None or c.mean is None:
        return TTest(c.n, c.mean, None, None, c.df, None, None, None, confidence, test_train_ratio, c.note)
    assert c.half_width is not None and c.df is not None
    lo, hi = c.mean - c.half_width, c.mean + c.half_width
    if c.zero_spread:
        # Every difference the same: no difference at all is a sure p = 1; a constant non-zero one
        # has no spread to weigh it against, and with few folds and small test sets that happens by
        # chance (accuracies are multiples of 1/n_test), so it is not declared significant.
        if abs(c.mean) <= ZERO_SPREAD:
            return TTest(c.n, c.mean, 0.0, 0.0, c.df, 1.0, lo, hi, confidence, test_train_ratio, f"{c.note}: no difference")
        note = f"{c.note}: no spread to test the difference against"
        return TTest(c.n, c.mean, 0.0, None, c.df, None, lo, hi, confidence, test_train_ratio, note)
    t = c.mean / c.std_err
    p = float(2.0 * stdtr(c.df, -abs(t)))
    return TTest(c.n, c.mean, c.std_err, t, c.df, p, lo, hi, confidence, test_train_ratio)


@dataclass(frozen=True)
class MeanCI:
    """A configuration's mean over its folds with the corrected-variance confidence interval."""

    mean: float | None
    n: int  # J: folds (seeds averaged) or runs, per ``unit``
    std_err: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _clean({f: getattr(self, f) for f in self.__dataclass_fields__})


def mean_ci(
    runs: Runs, metric: str, *, test_train_ratio: float, unit: str = "fold", confidence: float = 0.95
) -> MeanCI:
    """Mean of ``metric`` over the folds of one configuration and its corrected CI.

    The interval is ``mean +- t_{df, (1+confidence)/2} * sqrt((1/J + ratio) * var(x, ddof=1))``:
    the fold scores are correlated through overlapping training sets, so ``var/J`` would make the
    interval too narrow (Nadeau & Bengio 2003 derive the correction for one algorithm's error as
    well as for differences). With ``unit="fold"`` the mean is the mean of the fold means, which
    equals ``ConfigStats``'s mean whenever every fold has the same seeds.
    """
    values = runs_of(runs, metric, _name_of(runs, "configuration"))
    keys = [k for k in _sort_keys(values) if math.isfinite(values[k])]
    x = _per_unit(keys, np.array([values[k] for k in keys], dtype=float), unit)
    c = _corrected(x, test_train_ratio, confidence, unit)
    if c.n == 1 and len(keys) > 1:
        c = replace(c, note=f"{c.note}; the {len(keys)} runs share one fold ({_SEEDS_HINT})")
    if c.half_width is None or c.mean is None:
        return MeanCI(c.mean, c.n, c.std_err, None, None, confidence, c.note)
    return MeanCI(c.mean, c.n, c.std_err, c.mean - c.half_width, c.mean + c.half_width, confidence, c.note)


@dataclass(frozen=True)
class PairedTest:
    """``a - b`` over their common (fold, seed) pairs, tested with the corrected t-test."""

    a: str
    b: str
    metric: str
    unit: str
    n_runs: int  # matched pairs with both values finite
    excluded: list[Key]
    test: TTest

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "metric": self.metric,
            "unit": self.unit,
            "n_runs": self.n_runs,
            "excluded": [_clean(list(k)) for k in self.excluded],
            "test": self.test.to_dict(),
        }


def paired_test(
    a: Runs,
    b: Runs,
    metric: str,
    *,
    test_train_ratio: float,
    unit: str = "fold",
    confidence: float = 0.95,
    names: tuple[str, str] | None = None,
) -> PairedTest:
    """Compare two configurations (``ser-orch compare``); ``StatsError`` if their pairs differ."""
    _check_unit(unit)
    name_a, name_b = names or (_name_of(a, "A"), _name_of(b, "B"))
    pairs = paired_differences(a, b, metric, (name_a, name_b))
    test = corrected_ttest(pairs.per_unit(unit), test_train_ratio=test_train_ratio, confidence=confidence)
    if test.n == 1 and len(pairs.keys) > 1:
        # Several seeds on one fold: they repeat the initialisation, not the train/test split.
        test = replace(test, note=f"{test.note}; the {len(pairs.keys)} runs share one fold ({_SEEDS_HINT})")
    return PairedTest(name_a, name_b, metric, unit, len(pairs.keys), list(pairs.excluded), test)


# ---------------------------------------------------------------------------------------------
# Multiple comparisons


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values, in the input order (as statsmodels' ``"holm"``).

    Sorted ascending p_(1) <= ... <= p_(m): adj_(i) = max_{k <= i} min(1, (m - k + 1) p_(k)), so
    the adjusted values are monotone in the raw ones. ``None`` or NaN entries (untestable
    comparisons) are not part of the family and stay ``None``.
    """
    family: dict[int, float] = {}
    for i, p in enumerate(pvalues):
        if p is None:
            continue
        value = float(p) if isinstance(p, (int, float, np.number)) and not isinstance(p, bool) else -1.0
        if math.isnan(value):
            continue
        if not 0.0 <= value <= 1.0:
            raise StatsError(f"holm: p-value #{i} = {p!r} is not a probability")
        family[i] = value
    out: list[float | None] = [None] * len(pvalues)
    m = len(family)
    running = 0.0
    for rank, i in enumerate(sorted(family, key=family.__getitem__)):  # stable: ties keep input order
        running = max(running, min(1.0, (m - rank) * family[i]))
        out[i] = running
    return out


# ---------------------------------------------------------------------------------------------
# A table's comparisons


@dataclass(frozen=True)
class Comparison:
    """One row against the best (or the baseline): ``row - other``."""

    other: str
    n: int
    mean_diff: float | None
    ci_low: float | None
    ci_high: float | None
    p: float | None
    p_holm: float | None
    significant: bool | None  # p_holm < alpha; None when not testable
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _clean({f: getattr(self, f) for f in self.__dataclass_fields__})


@dataclass(frozen=True)
class ComparisonRow:
    config_id: str
    is_best: bool
    mean: MeanCI
    vs_best: Comparison | None  # None for the best itself
    vs_baseline: Comparison | None  # None without a baseline, or for the baseline itself

    @property
    def indistinguishable_from_best(self) -> bool | None:
        """True for the best and for rows whose Holm-adjusted p is >= alpha; None if untestable."""
        if self.is_best:
            return True
        if self.vs_best is None or self.vs_best.significant is None:
            return None
        return not self.vs_best.significant

    def to_dict(self) -> dict[str, Any]:
        return {
            "config_id": self.config_id,
            "is_best": self.is_best,
            "indistinguishable_from_best": self.indistinguishable_from_best,
            "mean": self.mean.to_dict(),
            "vs_best": None if self.vs_best is None else self.vs_best.to_dict(),
            "vs_baseline": None if self.vs_baseline is None else self.vs_baseline.to_dict(),
        }


@dataclass(frozen=True)
class ComparisonTable:
    metric: str
    best_id: str
    baseline_id: str | None
    unit: str
    test_train_ratio: float
    alpha: float
    confidence: float
    rows: list[ComparisonRow]  # in the order the configurations were given

    def row(self, config_id: str) -> ComparisonRow:
        for r in self.rows:
            if r.config_id == config_id:
                return r
        raise KeyError(config_id)

    def to_dict(self) -> dict[str, Any]:
        head = {f: getattr(self, f) for f in self.__dataclass_fields__ if f != "rows"}
        return _clean(head) | {"rows": [r.to_dict() for r in self.rows]}


def _table_input(configs: Sequence[Any] | Mapping[str, Runs]) -> list[tuple[str, Runs]]:
    if isinstance(configs, Mapping):
        return [(str(cid), runs) for cid, runs in configs.items()]
    items = [(_name_of(c, ""), c) for c in configs]
    if any(not cid for cid, _ in items):
        raise StatsError("compare_table: every configuration needs a config_id (pass a mapping id -> runs)")
    return items


def _family(
    items: list[tuple[str, Runs]],
    other: Runs,
    other_id: str,
    skip: str | None,
    metric: str,
    alpha: float,
    **test_kw: Any,
) -> dict[str, Comparison]:
    """Every row against ``other``, Holm-adjusted as one family.

    A row whose (fold, seed) pairs differ from ``other``'s is not testable: its ``note`` carries
    the ``StatsError`` message instead of failing the whole table.
    """
    tests: dict[str, TTest | str] = {}
    for cid, runs in items:
        if cid == skip:
            continue
        try:
            tests[cid] = paired_test(runs, other, metric, names=(cid, other_id), **test_kw).test
        except StatsError as exc:
            tests[cid] = str(exc)
    adjusted = holm([t.p if isinstance(t, TTest) else None for t in tests.values()])
    out = {}
    for (cid, t), p_holm in zip(tests.items(), adjusted):
        if isinstance(t, str):
            out[cid] = Comparison(other_id, 0, None, None, None, None, None, None, t)
            continue
        significant = None if p_holm is None else p_holm < alpha
        out[cid] = Comparison(other_id, t.n, t.mean, t.ci_low, t.ci_high, t.p, p_holm, significant, t.note)
    return out


def compare_table(
    configs: Sequence[Any] | Mapping[str, Runs],
    metric: str,
    best_id: str,
    *,
    test_train_ratio: float,
    baseline: Runs | None = None,
    baseline_id: str | None = None,
    unit: str = "fold",
    alpha: float = 0.05,
    confidence: float = 0.95,
) -> ComparisonTable:
    """Each configuration's mean CI, and its difference to the best (and to a baseline).

    ``configs``: a list of ``ConfigStats`` or a mapping ``config_id -> {(fold, seed): value}``;
    rows keep that order. Differences are ``row - best`` (<= 0 when best is the highest) and
    ``row - baseline``; each family (vs best, vs baseline) is Holm-adjusted over its testable
    rows, and ``significant`` is ``p_holm < alpha``. The best row is not tested against itself,
    nor is a row whose id equals ``baseline_id`` tested against the baseline (give the baseline
    another id when it comes from another run).
    """
    _check_unit(unit)
    _check_params(test_train_ratio, confidence)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise StatsError(f"alpha={alpha!r}; expected a number strictly between 0 and 1")
    items = _table_input(configs)
    ids = [cid for cid, _ in items]
    if len(set(ids)) != len(ids):
        raise StatsError(f"compare_table: duplicate config ids {sorted({c for c in ids if ids.count(c) > 1})}")
    if best_id not in ids:
        raise StatsError(f"compare_table: best_id {best_id!r} is not one of the {len(ids)} configurations")
    test_kw = {"test_train_ratio": test_train_ratio, "unit": unit, "confidence": confidence}
    runs_by_id = dict(items)
    vs_best = _family(items, runs_by_id[best_id], best_id, best_id, metric, alpha, **test_kw)
    vs_base: dict[str, Comparison] = {}
    if baseline is not None:
        baseline_id = baseline_id or _name_of(baseline, "baseline")
        vs_base = _family(items, baseline, baseline_id, baseline_id, metric, alpha, **test_kw)
    rows = [
        ComparisonRow(
            config_id=cid,
            is_best=cid == best_id,
            mean=mean_ci(runs, metric, **test_kw),
            vs_best=vs_best.get(cid),
            vs_baseline=vs_base.get(cid),
        )
        for cid, runs in items
    ]
    return ComparisonTable(
        metric, best_id, baseline_id if baseline is not None else None, unit, test_train_ratio, alpha, confidence, rows
    )
