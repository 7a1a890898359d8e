"""Through the real CLI: a tiny S1/S5 run (Ray Train pre-training once, reused), a named sweep,
and bad input (exit code 2, one message naming the key, nothing started)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from ser_orch import sweeps
from ser_orch.cli.app import app
from ser_orch.grid import load_grid
from ser_orch.grid.expand import expand
from ser_orch.tasks import get_task

from mocanu_tiny_grid import TINY
from browser_page import CHROMIUM, check_report_page

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SER_ORCH_CACHE", str(tmp_path_factory.getbasetemp() / "mocanu-cache"))


def test_ablate_s1_s5_then_sweep_reuses_pretrained(tmp_path: Path, tiny_mocanu: Path, monkeypatch):
    out = tmp_path / "run"
    # --pretrain-workers 2 overrides the grid's train.pretrain.workers (1): a 2-worker DDP job.
    result = runner.invoke(app, ["ablate", "--grid", str(tiny_mocanu), "--quick", "--out", str(out), "--cpus-per-trial", "1", "--pretrain-workers", "2"])
    assert result.exit_code == 0, result.output
    assert "on 2 worker(s)" in result.output
    records = sorted((out / "trials").glob("*.json"))
    assert [p.name for p in records] == ["strategy=S1__fold=0__seed=0.json", "strategy=S5__fold=0__seed=0.json"]
    s5 = json.loads(records[1].read_text())
    assert s5["status"] == "done" and s5["extra"]["recipe"]["train.classifier"] == "svm"
    weights = list((out / "pretrained").glob("*.pt"))
    assert len(weights) == 1  # produced once, only S5 needs it
    assert torch.load(weights[0], weights_only=True)["workers"] == 2  # Ray Train's world size
    assert "paper min" in result.output and "paper std" in result.output
    for name in ("confusion_strategy=S1.png", "tsne_strategy=S5.png", "tsne_per_config.png", "results.csv"):
        assert (out / name).exists(), name
    assert "paper_std_pct" in (out / "results.csv").read_text().splitlines()[0]
    if CHROMIUM:  # report.html in a real browser: S1, S5 and the baseline row, every plot embedded
        check_report_page(out, tmp_path, n_rows=3)

    # The same grid as a named sweep: the pre-trained trunk comes from the cache, not a new job.
    folder = tmp_path / "grids"
    folder.mkdir()
    (folder / "mocanu_margins.yaml").write_text(tiny_mocanu.read_text().replace("[S1, S5]", "[S5]"))
    monkeypatch.setattr(sweeps, "grids_dir", lambda: folder)
    out2 = tmp_path / "sweep"
    result = runner.invoke(app, ["sweep", "margins", "--quick", "--out", str(out2)])
    assert result.exit_code == 0, result.output
    assert "reused" in result.output
    assert not (out2 / "pretrained" / "ray").exists()  # no Ray Train job the second time
    assert (out2 / "pretrained" / weights[0].name).exists()


BAD = [
    ("clusters: 2,", "clusters: 0,", "model.overrides.clusters"),
    ("ghost_clusters: 1,", "ghost_clusters: -1,", "model.overrides.ghost_clusters"),
    ("alpha: 0.1,", "alpha: 0,", "loss.alpha"),
    ("beta: 0.15}", "beta: -0.2}", "loss.beta"),
    ("beta: 0.15}", "beta: 0.15, polarity: {happy: positive}}", "loss.polarity"),
    ("beta: 0.15}", "beta: 0.15, mining: hardest}", "loss.mining"),
    ("pretrain: {", "pretrain: {weights: /nonexistent/trunk.pt, ", "train.pretrain.weights"),
    ("pretrain: {epochs: 1,", "pretrain: {epochs: 0,", "train.pretrain.weights"),
]


@pytest.mark.parametrize("old,new,key", BAD)
def test_bad_input_exit_2_naming_the_key(tmp_path: Path, old: str, new: str, key: str):
    text = TINY.format(root=tmp_path / "no-corpus", strategies="[S5]")
    assert old in text
    grid = tmp_path / "bad.yaml"
    grid.write_text(text.replace(old, new, 1))
    out = tmp_path / "run"
    result = runner.invoke(app, ["ablate", "--grid", str(grid), "--quick", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert key in result.output
    assert not out.exists()  # nothing started


def test_pretrain_workers_bad_use_exit_2(tmp_path: Path):
    # A task without a pre-training stage
    out = tmp_path / "run"
    result = runner.invoke(app, ["ablate", "--grid", str(REPO / "grids" / "kumar_arch.yaml"), "--quick", "--out", str(out), "--pretrain-workers", "2"])
    assert result.exit_code == 2 and "no pre-training stage" in result.output and not out.exists()
    # More workers than this machine has CPUs: refused before any data or folder
    grid = tmp_path / "tiny.yaml"
    grid.write_text(TINY.format(root=tmp_path / "no-corpus", strategies="[S5]"))
    result = runner.invoke(app, ["ablate", "--grid", str(grid), "--quick", "--out", str(out), "--pretrain-workers", "4096"])
    assert result.exit_code == 2, result.output
    assert "--pretrain-workers" in result.output and "could never start" in result.output
    assert not out.exists()
    # Only trials that pre-train count: S1 starts from scratch
    loaded = load_grid(grid)
    task = get_task("mocanu")
    assert task.stage_workers(expand(loaded, quick=True, overrides={"train.pretrain.workers": 3})) == 3
    assert task.stage_workers(expand(loaded, quick=True, overrides={"train.strategy": "S1", "train.pretrain.workers": 3})) == 0


def test_unknown_sweep_lists_the_mocanu_sweeps():
    result = runner.invoke(app, ["sweep", "nope"])
    assert result.exit_code == 2
    assert "margins" in result.output and "clusters" in result.output
    listing = runner.invoke(app, ["sweep", "--list"])
    assert "Fig. 11" in listing.output and "Fig. 10" in listing.output
