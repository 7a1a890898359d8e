"""Learning curves: per-epoch histories of a configuration's runs aggregated epoch by epoch (numbers
checked by hand), plotted per configuration, and printed by `ser-orch report RUN --curve ID`."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from ser_orch.cli.app import app
from ser_orch.grid import parse_grid
from ser_orch.report.build import build_report
from ser_orch.results.curves import config_curve
from ser_orch.results.records import write_record
from ser_orch.rundir import create_run_dir


GRID = """
name: curves
task: kumar
features: {name: mfcc39}
protocol: {name: kumar_70_30, folds: 2}
model: {family: fc, depth: 6}
grid:
  model.family: [fc, lstm]
report: {series: model.family}
"""


def history(phase_lengths: list[int], acc0: float, stop_last: bool, val: bool = True) -> list[dict]:
    """Phase p, epoch e: train_acc = acc0 + 0.1 p + 0.01 e, val_acc 0.05 lower, loss 1 / e."""
    out, g = [], 0
    for phase, n in enumerate(phase_lengths, start=1):
        for e in range(1, n + 1):
            g += 1
            entry = {"phase": phase, "epoch": e, "global_epoch": g, "loss": 1.0 / e,
                     "train_acc": acc0 + 0.1 * phase + 0.01 * e, "lr": 0.05, "stop": stop_last and e == n}
            if val:
                entry["val_acc"] = entry["train_acc"] - 0.05
            out.append(entry)
    return out


@pytest.fixture
def run_folder(tmp_path, record_factory):
    make_record = record_factory
    grid = parse_grid(GRID, tmp_path / "curves.yaml")
    plan = [{"trial_id": f"family={f},depth=6__fold={k}__seed=0", "config_id": f"family={f},depth=6",
             "axes": {"model.family": f, "model.depth": 6}, "fold": k, "seed": 0} for f in ("fc", "lstm") for k in (0, 1)]
    run = create_run_dir(tmp_path / "run", grid, plan, {})
    for family, k, lengths, acc0, stop in (("fc", 0, [3, 2], 0.2, True), ("fc", 1, [2, 4], 0.3, False)):
        rec = make_record(family, 6, k, wa=0.5)
        rec.history = history(lengths, acc0, stop)
        write_record(run.path, rec)
    write_record(run.path, make_record("lstm", 6, 0, wa=0.4))  # a record without history (older run)
    return run


def test_runs_are_aligned_by_phase_and_epoch(run_folder):
    from ser_orch.results.records import scan_records

    curve = config_curve("family=fc,depth=6", scan_records(run_folder.path).records)
    assert curve.runs == 2
    # Phase 1 is 3 epochs long at most, so phase 2 starts at x = 4.
    assert curve.phase_starts == [4]
    assert [(p.phase, p.epoch, p.x, p.n) for p in curve.points] == [
        (1, 1, 1, 2), (1, 2, 2, 2), (1, 3, 3, 1), (2, 1, 4, 2), (2, 2, 5, 2), (2, 3, 6, 1), (2, 4, 7, 1)]
    p = curve.points[1]  # phase 1 epoch 2: runs 0.2+0.1+0.02 and 0.3+0.1+0.02
    assert p.values["train_acc"].mean == pytest.approx((0.32 + 0.42) / 2)
    assert (p.values["train_acc"].min, p.values["train_acc"].max) == pytest.approx((0.32, 0.42))
    assert p.values["val_acc"].mean == pytest.approx((0.27 + 0.37) / 2)
    assert p.values["loss"].mean == pytest.approx(0.5)
    # Run 0 stopped early at the last epoch of each phase.
    assert [(q.phase, q.epoch) for q in curve.points if q.stopped] == [(1, 3), (2, 2)]
    assert config_curve("family=lstm,depth=6", scan_records(run_folder.path).records).points == []


def test_report_writes_a_curve_per_configuration_with_history(run_folder):
    built = build_report(run_folder.path)
    curves = sorted(p.name for p in (run_folder.path / "curves").iterdir())
    assert curves == ["family=fc,depth=6.png"]  # lstm has no history
    image = (run_folder.path / "curves" / curves[0]).read_bytes()
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    assert run_folder.path / "curves" / curves[0] in built.files
    from matplotlib.image import imread

    pixels = imread(run_folder.path / "curves" / curves[0])
    assert pixels.shape[0] > 300 and np.std(pixels[..., :3]) > 0.05  # a real drawing, not a blank canvas


def test_report_curve_prints_the_table_and_refuses_unknown_ids(run_folder):
    runner = CliRunner()
    result = runner.invoke(app, ["report", str(run_folder.path), "--curve", "family=fc,depth=6"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    assert len(rows) == 7  # one row per aligned epoch (the header row is drawn with heavier lines)
    assert "37.0 (32.0-42.0)" in rows[1]  # phase 1 epoch 2: train acc mean (min-max) in %
    assert not (run_folder.path / "results.csv").exists()  # printing a curve writes nothing
    result = runner.invoke(app, ["report", str(run_folder.path), "--curve", "family=gru,depth=6"])
    assert result.exit_code == 2 and "no configuration 'family=gru,depth=6'" in result.output
    assert "family=fc,depth=6" in result.output
    result = runner.invoke(app, ["report", str(run_folder.path), "--curve", "family=lstm,depth=6"])
    assert result.exit_code == 2 and "no finished trial with a history" in result.output
