"""The report's statistics: a 95 % CI per mean, paired differences to the best and the baseline
with Holm, the baseline row in the table, CSV, JSON and Markdown; numbers checked by hand."""

from __future__ import annotations

import csv
import html
import io
import json
import math

import numpy as np
import pytest
import scipy.stats
from rich.console import Console

from ser_orch.grid import parse_grid
from ser_orch.report.build import build_report
from ser_orch.results.records import write_record
from ser_orch.rundir import create_run_dir


GRID = """
name: stats
task: kumar
features: {name: mfcc39}
protocol: {name: kumar_70_30, folds: 3}
model: {family: fc, depth: 6}
grid:
  model.family: [fc, resnet, lstm]
report: {series: model.family, baseline: {baseline}}
"""
WA = {"fc": [0.50, 0.56, 0.53], "resnet": [0.60, 0.66, 0.61], "lstm": [0.59, 0.64, 0.62]}
BASE = [0.40, 0.46, 0.42]
SIZES = {"train": 600, "val": 0, "test": 300}


def corrected(x: np.ndarray, ratio: float = 0.5) -> tuple[float, float, float]:
    """Mean, CI half-width and two-sided p of the corrected resampled t-test (written out here)."""
    j = len(x)
    se = math.sqrt((1 / j + ratio) * x.var(ddof=1))
    return x.mean(), scipy.stats.t.ppf(0.975, j - 1) * se, 2 * scipy.stats.t.sf(abs(x.mean() / se), j - 1)


@pytest.fixture
def run(tmp_path, record_factory):
    make_record = record_factory
    def make(baseline: str = "logreg", base: list[float] = BASE):
        folder = tmp_path / baseline
        grid = parse_grid(GRID.replace("{baseline}", baseline), folder / "g.yaml")
        plan = [{"trial_id": f"family={f},depth=6__fold={k}__seed=0", "config_id": f"family={f},depth=6",
                 "axes": {"model.family": f, "model.depth": 6}, "fold": k, "seed": 0} for f in WA for k in range(3)]
        run = create_run_dir(folder, grid, plan, {})
        for family, values in WA.items():
            for k, v in enumerate(values):
                rec = make_record(family, 6, k, wa=v)
                rec.sizes = dict(SIZES)
                write_record(run.path, rec)
        for k, v in enumerate(base):
            rec = make_record("fc", 6, k, wa=v)
            rec.trial_id, rec.config_id, rec.axes, rec.sizes = f"baseline__fold={k}__seed=0", "baseline", {}, dict(SIZES)
            write_record(run.path, rec, baseline=True)
        return run.path
    return make


def test_intervals_and_comparisons_match_the_hand_computed_test(run):
    folder = run()
    console = Console(record=True, width=250)
    built = build_report(folder, console=console)
    data = json.loads((folder / "results.json").read_text())
    by_id = {c["config_id"]: c for c in data["configs"]}
    assert data["statistics"]["best"] == "family=resnet,depth=6" and data["statistics"]["test_train_ratio"] == 0.5

    mean, half, _ = corrected(np.array(WA["fc"]))
    stats = by_id["family=fc,depth=6"]["stats"]
    assert stats["wa_ci_low"] == pytest.approx(mean - half) and stats["wa_ci_high"] == pytest.approx(mean + half)
    # vs the best (resnet): fc - resnet and lstm - resnet, Holm over these two
    diffs = {f: np.subtract(WA[f], WA["resnet"]) for f in ("fc", "lstm")}
    raw = {f: corrected(d)[2] for f, d in diffs.items()}
    order = sorted(raw, key=raw.get)
    holm = {order[0]: min(1.0, 2 * raw[order[0]])}
    holm[order[1]] = max(holm[order[0]], min(1.0, raw[order[1]]))
    for f in ("fc", "lstm"):
        s = by_id[f"family={f},depth=6"]["stats"]
        assert s["wa_diff_best"] == pytest.approx(diffs[f].mean())
        assert s["wa_p_best_holm"] == pytest.approx(holm[f])
        assert s["wa_same_as_best"] == (holm[f] >= 0.05)
    # vs the baseline: every configuration, Holm over three
    base_p = {f: corrected(np.subtract(WA[f], BASE))[2] for f in WA}
    ranked = sorted(base_p, key=base_p.get)
    adj, running = {}, 0.0
    for i, f in enumerate(ranked):
        running = max(running, min(1.0, (3 - i) * base_p[f]))
        adj[f] = running
    for f in WA:
        assert by_id[f"family={f},depth=6"]["stats"]["wa_p_baseline_holm"] == pytest.approx(adj[f])

    # The baseline is its own entry, last in the CSV, and marked in every table.
    assert data["baseline"]["metrics"]["wa"]["mean"] == pytest.approx(np.mean(BASE))
    rows = list(csv.DictReader(io.StringIO((folder / "results.csv").read_text())))
    assert [r["config_id"] for r in rows][-1] == "baseline" and float(rows[-1]["wa_mean"]) == pytest.approx(np.mean(BASE))
    md = (folder / "report.md").read_text()
    assert "| baseline |" in md and "corrected resampled t-test" in md
    text = console.export_text()
    assert "WA 95% CI" in text and "baseline" in text and "best" in text
    assert built.baseline is not None and built.table_stats.comparison.best_id == "family=resnet,depth=6"
    lstm_row = next(line for line in text.splitlines() if "lstm" in line)
    assert ("≈" in lstm_row) == (holm["lstm"] >= 0.05)


def test_no_baseline_row_when_the_grid_says_none(run):
    folder = run("none")
    build_report(folder)
    data = json.loads((folder / "results.json").read_text())
    assert data["baseline"] is None
    assert all(row["config_id"] != "baseline" for row in csv.DictReader(io.StringIO((folder / "results.csv").read_text())))
    assert all(c["stats"]["wa_diff_baseline"] is None for c in data["configs"])


def holm_vs_baseline(base: list[float]) -> dict[str, float]:
    """Holm-adjusted p of every configuration against `base`, by hand."""
    raw = {f: corrected(np.subtract(WA[f], base))[2] for f in WA}
    adj, running = {}, 0.0
    for i, f in enumerate(sorted(raw, key=raw.get)):
        running = max(running, min(1.0, (len(raw) - i) * raw[f]))
        adj[f] = running
    return adj


@pytest.mark.parametrize("base, expected", [
    (BASE, "beats the baseline row by {points} points of WA (Holm-adjusted p {p} < 0.05)."),
    ([0.55, 0.70, 0.58], "is {points} points of WA above the baseline row, but not beyond fold noise (Holm-adjusted p {p} >= 0.05)."),
    ([0.70, 0.72, 0.69], "is {points} points of WA below the baseline row: no configuration beats it, so this table says little"),
    # the same difference on every fold: var(d) = 0, so there is no t statistic and no p
    ([v - 0.05 for v in WA["resnet"]], "is {points} points of WA above the baseline row; these folds give no test"),
])
def test_a_sentence_says_whether_the_best_beats_the_baseline(run, base, expected):
    folder = run(base=base)
    console = Console(record=True, width=400)
    build_report(folder, console=console)
    diff = np.mean(np.subtract(WA["resnet"], base))  # resnet has the best mean
    p = f'{holm_vs_baseline(base)["resnet"]:.3f}' if "{p}" in expected else None
    sentence = "The best configuration (family=resnet,depth=6) " + expected.format(points=f"{abs(100 * diff):.2f}", p=p)
    data = json.loads((folder / "results.json").read_text())
    assert data["statistics"]["baseline_verdict"].startswith(sentence)
    assert sentence in (folder / "report.md").read_text()
    assert sentence in console.export_text()
    assert f'<p class="verdict">{html.escape(sentence)}' in (folder / "report.html").read_text()


def test_no_sentence_without_a_baseline(run):
    folder = run("none")
    console = Console(record=True, width=400)
    build_report(folder, console=console)
    assert json.loads((folder / "results.json").read_text())["statistics"]["baseline_verdict"] is None
    assert "baseline row" not in (folder / "report.md").read_text() + console.export_text()
