"""Profiles, overrides and the dry run; no cluster needed unless marked."""

from __future__ import annotations


import pytest
from typer.testing import CliRunner

from ser_orch.cli.app import app
from ser_orch.slurm.errors import SlurmError
from ser_orch.slurm.profiles import _gpus_in_gres, load_profile, profile_names, time_minutes

from .conftest import jobs_in_queue, ser_orch

runner = CliRunner()


def test_shipped_profiles_load():
    assert {"local-dev", "example-gpu-cluster"} <= set(profile_names())
    gpu = load_profile("example-gpu-cluster")
    assert (gpu.partition, gpu.nodes, gpu.gpus_per_node) == ("gpu", 2, 4)
    assert gpu.setup and gpu.setup[0].startswith("module load")
    assert load_profile("local-dev", nodes=1, time="5").timeout_min == 5


@pytest.mark.parametrize("text, minutes", [("90", 90), ("01:30:00", 90), ("45:00", 45), ("1-00:00:00", 1440), ("0:30", 1)])
def test_time_limits(text, minutes):
    assert time_minutes(text) == minutes


def test_gres_parsing():
    assert _gpus_in_gres("gpu:4") == 4
    assert _gpus_in_gres("gpu:a100:4(S:0-1),shard:8") == 4
    assert _gpus_in_gres("(null)") == 0


def test_bad_profiles(tmp_path):
    with pytest.raises(SlurmError, match="unknown Slurm profile 'nope'.*local-dev"):
        load_profile("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: 0\n")
    with pytest.raises(SlurmError, match="nodes"):
        load_profile(str(bad))
    bad.write_text("gpus: 4\n")  # a typo of gpus_per_node is an error, not silently ignored
    with pytest.raises(SlurmError, match="gpus"):
        load_profile(str(bad))
    bad.write_text("time: soon\n")
    with pytest.raises(SlurmError, match="time"):
        load_profile(str(bad))


def test_unknown_profile_exits_2_before_anything(tmp_path, make_grid):
    out = tmp_path / "run"
    result = runner.invoke(app, ["ablate", "--grid", str(make_grid()), "--slurm", "nope", "--out", str(out)])
    assert result.exit_code == 2
    assert "unknown Slurm profile 'nope'" in result.output
    assert not out.exists()


def test_slurm_options_need_slurm(make_grid):
    result = runner.invoke(app, ["ablate", "--grid", str(make_grid()), "--dry-run"])
    assert result.exit_code == 2 and "need --slurm" in result.output


@pytest.mark.slurm
def test_dry_run_shows_the_plan_and_submits_nothing(tmp_path, make_grid, slurm_cluster):
    out = tmp_path / "run"
    result = ser_orch("submit", "--grid", str(make_grid()), "--slurm", "local-dev", "--out", str(out), "--dry-run", "--time", "00:07:00")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "trials 4" in text and "nodes 2 x (1 CPU, 0 GPU" in text
    assert f"Tune storage {out.resolve() / 'tune'}" in text
    assert "#SBATCH --nodes=2" in text and "#SBATCH --ntasks-per-node=1" in text and "#SBATCH --time=7" in text
    assert "#SBATCH --signal=USR2@90" in text and "--kill-on-bad-exit=1" in text
    assert "nothing was submitted" in text
    assert not out.exists() and not jobs_in_queue()


@pytest.mark.slurm
def test_sweep_dry_run_goes_through_the_same_slurm_path(tmp_path, make_grid, slurm_cluster, monkeypatch):
    from ser_orch import sweeps

    folder = tmp_path / "grids"
    folder.mkdir()
    (folder / "liu_alpha.yaml").write_text(make_grid().read_text())
    monkeypatch.setattr(sweeps, "grids_dir", lambda: folder)
    out = tmp_path / "run"
    result = runner.invoke(app, ["sweep", "alpha", "--slurm", "local-dev", "--dry-run", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "trials 4" in result.output and "nothing was submitted" in result.output
    assert not out.exists() and not jobs_in_queue()


@pytest.mark.slurm
@pytest.mark.parametrize(
    "args, message",
    [
        (["--nodes", "3"], "asks for 3 nodes but partition 'debug' has 2"),
        (["--gpus-per-node", "1"], "only 0 node(s) of partition 'debug' have that"),
        (["--partition", "gpu"], "partition 'gpu' does not exist"),
    ],
)
def test_more_than_the_partition_has_exits_2_and_submits_nothing(tmp_path, make_grid, slurm_cluster, args, message):
    out = tmp_path / "run"
    result = ser_orch("ablate", "--grid", str(make_grid()), "--slurm", "local-dev", "--out", str(out), *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert not out.exists() and not jobs_in_queue()


@pytest.mark.slurm
def test_unwritable_run_folder_exits_2(tmp_path, make_grid, slurm_cluster):
    blocker = tmp_path / "file"  # a path below a plain file: nobody (root included) can create it
    blocker.write_text("x")
    result = ser_orch("ablate", "--grid", str(make_grid()), "--slurm", "local-dev", "--out", str(blocker / "run"))
    assert result.returncode == 2 and "not a writable folder" in result.stderr
    assert not jobs_in_queue()
