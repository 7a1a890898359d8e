"""`ser-orch grid show|validate` through the real CLI; every grid file in grids/ is covered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ser_orch.cli.app import app
from ser_orch.experiment import compile_grid

REPO = Path(__file__).resolve().parents[2]
GRIDS = sorted((REPO / "grids").glob("*.yaml"))
runner = CliRunner()


def test_show_json_lists_600_kumar_trials():
    result = runner.invoke(app, ["grid", "show", str(REPO / "grids" / "kumar_arch.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["n_trials"] == 600 and data["n_configs"] == 60
    assert len(data["trials"]) == 600
    assert {t["fold"] for t in data["trials"]} == set(range(10))


def test_show_table_and_quick_counts():
    result = runner.invoke(app, ["grid", "show", str(REPO / "grids" / "kumar_arch.yaml"), "--quick"])
    assert result.exit_code == 0, result.output
    assert "60 configurations x folds x seeds = 120 trials" in result.output
    assert "resnet" in result.output and "kumar_70_30" in result.output


@pytest.mark.parametrize("grid_file", GRIDS, ids=[g.stem for g in GRIDS])
def test_every_grid_file_validates_and_quick_covers_every_configuration(grid_file):
    result = runner.invoke(app, ["grid", "validate", str(grid_file)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok ")
    _, full = compile_grid(grid_file)
    _, quick = compile_grid(grid_file, quick=True)
    assert {t["config_id"] for t in quick} == {t["config_id"] for t in full}
    assert len(quick) <= len(full)


def test_validate_reports_each_bad_file_and_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((REPO / "grids" / "kumar_arch.yaml").read_text().replace("model.depth: {range: [6, 15]}", "model.depth: {range: [6, 17]}"))
    result = runner.invoke(app, ["grid", "validate", str(REPO / "grids" / "kumar_arch.yaml"), str(bad)])
    assert result.exit_code == 2
    assert "ok " in result.output
    assert "bad.yaml: grid.model.depth: 'fc-16': depth must be in 6..15 for family fc" in result.output
    assert "Traceback" not in result.output
