"""`ser-orch sweep`: the named-sweep registry and its errors, through the real CLI."""

from __future__ import annotations

from typer.testing import CliRunner

from ser_orch import sweeps
from ser_orch.cli.app import app

runner = CliRunner()


def test_list_shows_only_sweeps_whose_grid_exists(tmp_path, monkeypatch):
    (tmp_path / "mocanu_margins.yaml").write_text("name: x\n")
    monkeypatch.setattr(sweeps, "grids_dir", lambda: tmp_path)
    result = runner.invoke(app, ["sweep", "--list"])
    assert result.exit_code == 0
    assert "margins" in result.output and "Fig. 11" in result.output
    assert "clusters" not in result.output


def test_unknown_sweep_lists_valid_names_and_exits_2(tmp_path, monkeypatch):
    (tmp_path / "liu_alpha.yaml").write_text("name: x\n")
    (tmp_path / "lian_contrastive.yaml").write_text("name: x\n")
    monkeypatch.setattr(sweeps, "grids_dir", lambda: tmp_path)
    result = runner.invoke(app, ["sweep", "gamma"])
    assert result.exit_code == 2
    assert "unknown sweep 'gamma'; valid sweeps: lambda, alpha" in result.output


def test_sweep_runs_its_grid_like_ablate(tmp_path, monkeypatch, tiny_grid):
    # A named sweep is its grid file: point "alpha" at the tiny Kumar grid and check the run.
    folder = tmp_path / "grids"
    folder.mkdir()
    (folder / "liu_alpha.yaml").write_text(tiny_grid.read_text())
    monkeypatch.setattr(sweeps, "grids_dir", lambda: folder)
    out = tmp_path / "run"
    result = runner.invoke(app, ["sweep", "alpha", "--quick", "--folds", "0", "--out", str(out), "--cpus-per-trial", "0.5"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "trials").glob("*.json")) == [
        "family=fc,depth=6__fold=0__seed=0.json",
        "family=resnet,depth=6__fold=0__seed=0.json",
    ]
    assert (out / "results.csv").exists()



def test_sweep_slurm_only_options_need_slurm():
    result = runner.invoke(app, ["sweep", "alpha", "--nodes", "2"])
    assert result.exit_code == 2 and "need --slurm PROFILE" in result.output
