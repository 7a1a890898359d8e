"""`ser-orch compare RUN_A RUN_B`: paired differences of the same configurations, checked against
a corrected t-test computed here with numpy/scipy; runs on other folds are refused (exit 2)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from typer.testing import CliRunner

from ser_orch.cli.app import app
from ser_orch.grid import parse_grid
from ser_orch.results.records import write_record
from ser_orch.rundir import create_run_dir


GRID = """
name: cmp
task: kumar
features: {name: mfcc39}
protocol: {name: kumar_70_30, folds: 4}
model: {family: fc, depth: 6}
grid:
  model.family: [fc]
"""
SIZES = {"train": 700, "val": 0, "test": 300}
runner = CliRunner()


def make_run(folder: Path, wa: list[float], *, protocol_seed: int = 0, folds: list[int] | None = None) -> Path:
    from ser_orch.results import TrialRecord
    folds = folds if folds is not None else list(range(len(wa)))
    grid = parse_grid(GRID, folder / "cmp.yaml")
    plan = [{"trial_id": f"family=fc,depth=6__fold={k}__seed=0", "config_id": "family=fc,depth=6",
             "axes": {"model.family": "fc", "model.depth": 6}, "fold": k, "seed": 0,
             "dataset": {"name": "ravdess", "root": None},
             "protocol": {"name": "kumar_70_30", "folds": 4, "params": {"seed": protocol_seed}}} for k in folds]
    run = create_run_dir(folder, grid, plan, {})
    for k, value in zip(folds, wa):
        rec = TrialRecord(trial_id=f"family=fc,depth=6__fold={k}__seed=0", config_id="family=fc,depth=6",
                          axes={"model.family": "fc", "model.depth": 6}, fold=k, seed=0, metrics={"wa": value},
                          sizes=dict(SIZES))
        write_record(run.path, rec)
    return run.path


def test_compare_gives_the_corrected_paired_test(tmp_path: Path):
    a = make_run(tmp_path / "a", [0.50, 0.55, 0.52, 0.58])
    b = make_run(tmp_path / "b", [0.56, 0.57, 0.60, 0.61])
    result = runner.invoke(app, ["compare", str(a), str(b)])
    assert result.exit_code == 0, result.output
    d = np.array([0.06, 0.02, 0.08, 0.03])  # B - A per fold
    j, ratio = 4, 300 / 700
    se = math.sqrt((1 / j + ratio) * d.var(ddof=1))
    t = d.mean() / se
    p = 2 * scipy.stats.t.sf(abs(t), j - 1)
    half = scipy.stats.t.ppf(0.975, j - 1) * se
    row = next(line for line in result.output.splitlines() if "family=fc,depth=6" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[1:4] == ["53.75", "58.50", f"{100 * d.mean():+.2f}"]
    assert cells[4] == f"{100 * (d.mean() - half):+.2f} to {100 * (d.mean() + half):+.2f}"
    assert cells[5] == f"{p:.3f}" and cells[6] == f"{p:.3f}"  # one comparison: Holm changes nothing
    assert cells[7] == "4"
    assert f"n_test/n_train = {ratio:.2f}" in result.output


@pytest.mark.parametrize("case", ["other protocol", "other folds", "unknown config"])
def test_compare_refuses_runs_that_cannot_be_paired(tmp_path: Path, case: str):
    a = make_run(tmp_path / "a", [0.50, 0.55, 0.52, 0.58])
    args = []
    if case == "other protocol":
        b = make_run(tmp_path / "b", [0.56, 0.57, 0.60, 0.61], protocol_seed=1)
        message = "differ in protocol"
    elif case == "other folds":
        b = make_run(tmp_path / "b", [0.56, 0.57, 0.60], folds=[0, 1, 3])
        message = "missing in family=fc,depth=6 in B: fold=2,seed=0"
    else:
        b = make_run(tmp_path / "b", [0.56, 0.57, 0.60, 0.61])
        args = ["--config", "family=gru,depth=9"]
        message = "--config family=gru,depth=9: no finished trial of it in"
    result = runner.invoke(app, ["compare", str(a), str(b), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
