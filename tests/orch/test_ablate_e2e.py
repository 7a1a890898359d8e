"""`ser-orch ablate` end to end on a real local Ray cluster, real WAV files and the real CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from ser_orch.cli.app import app
from ser_orch.results.records import scan_records

from browser_page import CHROMIUM, check_report_page

runner = CliRunner()


def _ablate(*args: str):
    return runner.invoke(app, ["ablate", *args, "--cpus-per-trial", "0.5"], catch_exceptions=False)


def test_ablate_reports_resumes_without_rerunning_and_reproduces(tmp_path, tiny_grid):
    out = tmp_path / "run"
    result = _ablate("--grid", str(tiny_grid), "--out", str(out), "--quick")
    assert result.exit_code == 0, result.output
    records = {r.trial_id: r for r in scan_records(out).records}
    assert sorted(records) == [
        f"family={f},depth=6__fold={k}__seed=0" for f in ("fc", "resnet") for k in (0, 1)
    ]
    assert all(r.status == "done" and r.device == "cpu" and r.node for r in records.values())
    for r in records.values():
        confusion = np.asarray(r.confusion)
        # WA recomputed from the stored confusion matrix must equal the reported WA.
        assert r.metrics["wa"] == pytest.approx(np.trace(confusion) / confusion.sum())
        assert confusion.shape == (8, 8) and len(r.labels) == 8
        assert r.metrics["epochs"] >= 2

    # The aggregated JSON is the mean/min/max of the per-fold records.
    data = json.loads((out / "results.json").read_text())
    by_id = {c["config_id"]: c for c in data["configs"]}
    wa = [records[f"family=resnet,depth=6__fold={k}__seed=0"].metrics["wa"] for k in (0, 1)]
    stats = by_id["family=resnet,depth=6"]["metrics"]["wa"]
    assert stats["mean"] == pytest.approx(np.mean(wa))
    assert stats["min"] == pytest.approx(min(wa)) and stats["max"] == pytest.approx(max(wa))
    assert stats["std"] == pytest.approx(np.std(wa))
    assert "61.11" in result.output  # the paper's value next to ours
    for png in ("wa_vs_depth.png", "confusion_best.png", "tsne_best.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "results.csv").read_text().count("\n") == 4  # header + 2 configurations + the baseline
    assert data["baseline"]["n"] == 2 and data["baseline"]["folds"] == [0, 1]  # same folds as the trials
    assert sorted(p.name for p in (out / "curves").iterdir()) == ["family=fc,depth=6.png", "family=resnet,depth=6.png"]
    for r in records.values():  # per-epoch history: one entry per epoch run, both phases
        assert len(r.history) == r.metrics["epochs"] and {h["phase"] for h in r.history} == {1, 2}

    if CHROMIUM:  # the same run as one page in a real browser: 2 configurations + the baseline row
        check_report_page(out, tmp_path, n_rows=3)

    # Resume after losing one trial: only that trial runs, the others are untouched, and the
    # rerun reproduces the lost result exactly (fixed seed, CPU).
    lost = "family=fc,depth=6__fold=1__seed=0"
    lost_record = json.loads((out / "trials" / f"{lost}.json").read_text())
    (out / "trials" / f"{lost}.json").unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in (out / "trials").glob("*.json")}
    result = _ablate("--grid", str(tiny_grid), "--out", str(out), "--resume")
    assert result.exit_code == 0, result.output
    assert "3 trial(s) already complete, not rerun" in result.output
    assert {p.name: p.stat().st_mtime_ns for p in (out / "trials").glob("*.json") if p.name in kept} == kept
    rerun = json.loads((out / "trials" / f"{lost}.json").read_text())
    assert rerun["metrics"]["wa"] == lost_record["metrics"]["wa"]
    assert rerun["confusion"] == lost_record["confusion"]

    # Nothing left to do: a second resume runs no trial and the report is unchanged.
    before = (out / "results.json").read_text()
    result = _ablate("--grid", str(tiny_grid), "--out", str(out), "--resume")
    assert result.exit_code == 0 and "4 trial(s) already complete" in result.output
    assert (out / "results.json").read_text() == before

    # `ser-orch report --json` gives the same figures as the run wrote.
    result = runner.invoke(app, ["report", str(out), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["configs"] == data["configs"]


def test_run_folder_is_never_overwritten_or_mixed(tmp_path, tiny_grid, tiny_corpus):
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"grid": "other_grid", "grid_sha256": "x"}))
    (out / "trials").mkdir()
    (out / "trials" / "keep.json").write_text("{}")
    result = _ablate("--grid", str(tiny_grid), "--out", str(out))
    assert result.exit_code == 2
    assert "run folder already exists; add --resume" in result.output
    result = _ablate("--grid", str(tiny_grid), "--out", str(out), "--resume")
    assert result.exit_code == 2
    assert "belongs to grid 'other_grid', not 'tiny_kumar'" in result.output
    assert (out / "trials" / "keep.json").read_text() == "{}"
    assert sorted(p.name for p in out.iterdir()) == ["run.json", "trials"]


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("model.depth: [6]", "model.depth: [6, 16]", "grid.model.depth: 'fc-16': depth must be in 6..15"),
        ("train: {", "loss: {margin: -1}\ntrain: {", "loss.margin: must be a number > 0"),
        ("root: ", "root: /nonexistent", "data root /nonexistent"),
    ],
)
def test_bad_input_exits_2_and_creates_nothing(tmp_path, tiny_grid, old, new, message):
    lines = tiny_grid.read_text().splitlines()
    if old == "root: ":  # point the dataset at a folder that does not exist
        lines = ["dataset: {name: ravdess, root: /nonexistent}" if line.startswith("dataset:") else line for line in lines]
    else:
        lines = [line.replace(old, new, 1) for line in lines]
    tiny_grid.write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    result = _ablate("--grid", str(tiny_grid), "--out", str(out))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_impossible_resources_exit_2_before_anything(tmp_path, tiny_grid):
    import torch

    out = tmp_path / "run"
    if torch.cuda.device_count() == 0:
        result = runner.invoke(app, ["ablate", "--grid", str(tiny_grid), "--out", str(out), "--gpus-per-trial", "0.25"])
        assert result.exit_code == 2
        assert "--gpus-per-trial 0.25: the Ray cluster has 0 GPU(s) in all" in result.output
        assert not out.exists()
    result = runner.invoke(app, ["ablate", "--grid", str(tiny_grid), "--out", str(out), "--cpus-per-trial", "999"])
    assert result.exit_code == 2 and "--cpus-per-trial 999" in result.output
    assert not out.exists()
