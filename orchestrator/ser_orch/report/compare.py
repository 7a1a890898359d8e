"""`ser-orch compare RUN_A RUN_B`: the paired comparison of the same configurations in two runs.

Two runs are comparable when their trials used the same dataset and protocol (the same folds)
and each compared configuration has the same (fold, seed) pairs in both; then every pair of
runs is a paired difference, tested like the table's comparisons (corrected resampled t-test,
seeds averaged per fold, Holm over the configurations compared).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..grid import parse_grid
from ..results.aggregate import ConfigStats, aggregate
from ..results.comparison import CONFIDENCE
from ..results.records import scan_records
from ..results.stats import PairedTest, StatsError, holm, paired_test, ratio_from_sizes
from ..rundir import open_run_dir
from .format import MISSING, metric_name, pct
from .rows import TableRows


@dataclass
class RunResults:
    path: Path
    name: str
    stats: dict[str, ConfigStats]
    data: dict[str, Any]  # dataset and protocol of the trials
    sizes: dict[str, dict[str, int]]


def _load(path: Path, metric: str) -> RunResults:
    run = open_run_dir(path)
    grid = parse_grid(run.grid_text(), run.grid_file)
    records = scan_records(run.path).records
    planned = run.planned_trials()
    data = {json.dumps({"dataset": t["dataset"], "protocol": t["protocol"]}, sort_keys=True) for t in planned}
    if len(data) != 1:
        raise StatsError(f"{path}: its trials use several datasets or protocols; compare runs of one dataset and protocol")
    stats = {s.config_id: s for s in aggregate(records, metrics=[metric]) if s.n}
    sizes = {r.trial_id: r.sizes for r in records if r.done and r.sizes}
    return RunResults(run.path, grid.name, stats, json.loads(data.pop()), sizes)


@dataclass
class Comparison:
    metric: str
    a: RunResults
    b: RunResults
    tests: list[tuple[str, PairedTest, float | None]]  # config id, test (b - a), Holm-adjusted p
    ratio: float


def compare_runs(run_a: Path, run_b: Path, *, config: str | None = None, metric: str = "wa") -> Comparison:
    """``b - a`` for every configuration in both runs (or only ``config``); StatsError (exit 2)
    when the runs used other data or folds, or a configuration's (fold, seed) pairs differ."""
    a, b = _load(Path(run_a), metric), _load(Path(run_b), metric)
    if a.data != b.data:
        diff = [k for k in ("dataset", "protocol") if a.data[k] != b.data[k]]
        raise StatsError(f"{run_a} and {run_b} differ in {' and '.join(diff)}: {a.data} vs {b.data}; their folds are not the same")
    common = [cid for cid in a.stats if cid in b.stats]
    if config is not None:
        if config not in common:
            where = [str(p) for p, r in ((run_a, a), (run_b, b)) if config not in r.stats]
            raise StatsError(f"--config {config}: no finished trial of it in {', '.join(where)}")
        common = [config]
    if not common:
        raise StatsError(f"{run_a} and {run_b} have no configuration in common (by config id); nothing to compare")
    if not a.sizes or not b.sizes:
        raise StatsError("the runs' records have no fold sizes (made before ser-orch recorded them): rerun the report's trials")
    ratio = ratio_from_sizes({**{f"A:{k}": v for k, v in a.sizes.items()}, **{f"B:{k}": v for k, v in b.sizes.items()}})
    tests = []
    for cid in common:
        # Raises StatsError naming the (fold, seed) pairs one run has and the other lacks.
        tests.append((cid, paired_test(b.stats[cid], a.stats[cid], metric, test_train_ratio=ratio,
                                       confidence=CONFIDENCE, names=(f"{cid} in B", f"{cid} in A"))))
    adjusted = holm([t.test.p for _, t in tests])
    return Comparison(metric, a, b, [(cid, t, p) for (cid, t), p in zip(tests, adjusted)], ratio)


def comparison_rows(cmp: Comparison) -> TableRows:
    name = metric_name(cmp.metric)
    headers = ["config", f"{name} A", f"{name} B", "B - A", "95% CI", "p", "p (Holm)", "folds"]
    rows = []
    for cid, t, p_holm in cmp.tests:
        test = t.test
        ci = MISSING if test.ci_low is None else f"{100 * test.ci_low:+.2f} to {100 * test.ci_high:+.2f}"
        rows.append([cid, pct(cmp.a.stats[cid].metrics[cmp.metric].mean), pct(cmp.b.stats[cid].metrics[cmp.metric].mean),
                     MISSING if test.mean is None else f"{100 * test.mean:+.2f}", ci,
                     MISSING if test.p is None else f"{test.p:.3f}", MISSING if p_holm is None else f"{p_holm:.3f}",
                     str(test.n)])
    return TableRows(headers, rows, [False] * len(rows), [False, True, True, True, True, True, True, True])


def comparison_notes(cmp: Comparison) -> Sequence[str]:
    return [f"{cid}: {t.test.note}" for cid, t, _ in cmp.tests if t.test.note]
