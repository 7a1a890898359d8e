"""Bad grid values through the real CLI: one line naming the grid file and the dotted key, exit
code 2, no traceback, nothing started, for each task's every settings group (train, loss, model,
features) and for the two inputs that used to end in a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from ser_orch.cli.app import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def patched_grid(tmp_path: Path, name: str, changes: dict[str, Any]) -> Path:
    """A copy of grids/<name>.yaml with dotted `changes` applied (a value of None deletes the key)."""
    data = yaml.safe_load((REPO / "grids" / f"{name}.yaml").read_text())
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    path = tmp_path / f"{name}-bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def assert_one_line_error(result: Any, grid: Path, key: str, text: str) -> None:
    out = result.output
    assert result.exit_code == 2, out
    assert "Traceback" not in out
    (line,) = [line for line in out.splitlines() if line.strip()]
    assert line.startswith(("error: ", "invalid ")) and str(grid) in line, line
    assert f"{key}: " in line and text in line, line


CASES = [
    # task grid, group, changes, dotted key reported, message part
    ("kumar_arch", "train", {"train.batch_size": 1}, "train.batch_size", "must be an integer >= 2, got 1"),
    ("kumar_arch", "loss", {"loss.margin": float("inf")}, "loss.margin", "must be a finite number"),
    ("kumar_arch", "model", {"model.overrides": {"hidden": -5}}, "model.overrides", "negative dimension"),
    ("kumar_arch", "features", {"features.params.window_reduce": "median"}, "features.params", "window_reduce='median' not allowed"),
    ("mocanu_strategies", "train", {"train.lr_step": 0}, "train.lr_step", "must be an integer >= 1, got 0"),
    ("mocanu_strategies", "loss", {"loss.mining": "hardest"}, "loss.mining", "'hardest' not allowed; allowed: semihard, hard"),
    ("mocanu_strategies", "model", {"model.overrides": {"clusters": 0}}, "model.overrides.clusters", "must be an integer >= 1, got 0"),
    ("mocanu_strategies", "features", {"features.params": {"n_fft": "x"}}, "features.params", "n_fft='x' should be int"),
    ("liu_alpha", "train", {"train.epochs": -1}, "train.epochs", "must be an integer >= 0, got -1"),
    ("liu_alpha", "loss", {"loss.selection": "easy"}, "loss.selection", "'easy' not allowed; allowed: semihard+hard, semihard, hard"),
    ("liu_alpha", "model", {"model.overrides": {"lstm_hidden": 0}}, "model.overrides", "hidden_size must be greater than zero"),
    ("liu_alpha", "features", {"features.params.train_overlap_seconds": 5.0}, "features.params.train_overlap_seconds", "must be shorter than params.segment_seconds"),
    ("lian_contrastive", "train", {"train.test": "mean"}, "train.test", "'mean' not allowed; allowed: average, crop"),
    ("lian_contrastive", "loss", {"loss.margin": 0}, "loss.margin", "must be a number > 0, got 0"),
    ("lian_contrastive", "model", {"model.overrides": {"kernel": 3}}, "model.overrides", "unexpected keyword argument 'kernel'"),
    ("lian_contrastive", "features", {"features.params.seconds": 20}, "features.params", "seconds=20 not allowed"),
]


@pytest.mark.parametrize("grid_name, group, changes, key, text", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_bad_value_in_each_settings_group(tmp_path: Path, grid_name: str, group: str, changes: dict, key: str, text: str):
    grid = patched_grid(tmp_path, grid_name, changes)
    assert_one_line_error(runner.invoke(app, ["grid", "validate", str(grid)]), grid, key, text)


def test_every_task_and_group_is_covered():
    tasks = {yaml.safe_load((REPO / "grids" / f"{c[0]}.yaml").read_text())["task"] for c in CASES}
    assert tasks == {"kumar", "mocanu", "liu", "lian"}
    assert {(c[0], c[1]) for c in CASES} == {(g, s) for g in {c[0] for c in CASES} for s in ("train", "loss", "model", "features")}


def test_misspelt_task_with_epochs_is_one_line_and_starts_nothing(tmp_path: Path):
    # --epochs needs the task's epoch keys: this used to raise a bare KeyError traceback.
    grid = patched_grid(tmp_path, "kumar_arch", {"task": "kumarr"})
    out = tmp_path / "run"
    result = runner.invoke(app, ["ablate", "--grid", str(grid), "--epochs", "3", "--out", str(out)])
    assert_one_line_error(result, grid, "task", "unknown task 'kumarr'; allowed: kumar, lian, liu, mocanu")
    assert not out.exists()


def test_unknown_model_override_in_grid_validate(tmp_path: Path):
    # The model builder's ValueError used to escape `grid validate` as a traceback.
    grid = patched_grid(tmp_path, "kumar_arch", {"model.overrides": {"hiden": 32}})
    result = runner.invoke(app, ["grid", "validate", str(grid)])
    assert_one_line_error(result, grid, "model.overrides", "unknown model argument(s) ['hiden']")


def test_bad_value_through_ablate_creates_nothing(tmp_path: Path):
    grid = patched_grid(tmp_path, "liu_alpha", {"train.weight_decay": -1e-6})
    out = tmp_path / "run"
    result = runner.invoke(app, ["ablate", "--grid", str(grid), "--quick", "--out", str(out)])
    assert_one_line_error(result, grid, "train.weight_decay", "must be a number >= 0, got -1e-06")
    assert not out.exists()
