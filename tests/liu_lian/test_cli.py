"""Through the real CLI: bad grid values stop before anything starts; the two named sweeps run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ser_orch import sweeps
from ser_orch.cli.app import app

runner = CliRunner()

TINY_LIU = """
name: tiny_liu
task: liu
dataset: {{name: iemocap, root: {root}, label_set: 4class, improvised_only: true}}
features: {{name: mfcc_seg}}
protocol: {{name: liu_random_80_20, folds: 2, params: {{folds: 2}}}}
model: {{name: liu-cnn-lstm, overrides: {{channels: [2, 4, 4], freq_channels: 8, lstm_hidden: 8}}}}
loss: {{alpha: 0.3, margin: 1.0, triplet_pool: 2000}}
train: {{epochs: 1, batch_size: 32, lr: 0.003, augment: true}}
grid:
  loss.alpha: [0.0, 0.5]
seeds: [0, 1]
quick: {{folds: [0]}}
report:
  x: loss.alpha
  paper:
    - {{where: {{loss.alpha: 0.5}}, wa: 77.85, ua: 76.78, source: "Table 2"}}
"""

TINY_LIAN = """
name: tiny_lian
task: lian
dataset: {{name: iemocap, root: {root}, label_set: 4class, improvised_only: true}}
features: {{name: mfcc13_fixed, params: {{seconds: 2}}}}
protocol: {{name: lian_loso, folds: 2}}
model: {{name: lian-cnn1d, overrides: {{filters: 8}}}}
loss: {{lambda: 0.8, type: 1, margin: 0.5, position: pos_1, loader: loader_1, aux_task: dominance, aux_weight: 0.1}}
train: {{epochs: 1, batch_size: 16, lr: 0.002}}
grid:
  loss.lambda: [0.6, 1.0]
  loss.type: [1, 2]
quick: {{folds: [0]}}
report:
  x: loss.lambda
"""


def write_grid(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path

NO_ROOT = "/nonexistent/iemocap"  # validation must fail before any data is touched


@pytest.mark.parametrize(
    ("template", "old", "new", "key"),
    [
        (TINY_LIU, "loss.alpha: [0.0, 0.5]", "loss.alpha: [0.0, 1.5]", "grid.loss.alpha"),
        (TINY_LIU, "alpha: 0.3, margin: 1.0", "alpha: -0.1, margin: 1.0", None),  # axis overrides base: no error
        (TINY_LIU, "margin: 1.0", "margin: 0", "loss.margin"),
        (TINY_LIU, "features: {{name: mfcc_seg}}", "features: {{name: mfcc_seg, params: {{train_overlap_seconds: 2.5}}}}",
         "features.params.train_overlap_seconds"),
        (TINY_LIAN, "loss.lambda: [0.6, 1.0]", "loss.lambda: [0.6, 1.2]", "grid.loss.lambda"),
        (TINY_LIAN, "margin: 0.5", "margin: -0.5", "loss.margin"),
        (TINY_LIAN, "train: {{epochs: 1,", "train: {{segment_seconds: 3, epochs: 1,", "train.segment_seconds"),
        (TINY_LIAN, "name: iemocap, root: {root}, label_set: 4class, improvised_only: true", "name: ravdess, root: {root}", "loss.aux_task"),
        (TINY_LIAN, "aux_task: dominance", "aux_task: arousal", "loss.aux_task"),
    ],
)
def test_bad_values_exit_2_naming_the_key_and_start_nothing(tmp_path, template, old, new, key):
    assert old in template
    grid = write_grid(tmp_path, "bad.yaml", template.replace(old, new).format(root=NO_ROOT))
    out = tmp_path / "run"
    result = runner.invoke(app, ["ablate", "--grid", str(grid), "--quick", "--out", str(out)])
    if key is None:
        # A base value replaced by every axis value never reaches a trial: nothing to complain about
        # at validation, so check with `grid validate` only (no run).
        assert runner.invoke(app, ["grid", "validate", str(grid)]).exit_code == 0
        return
    assert result.exit_code == 2, result.output
    assert key in result.output and "bad.yaml" in result.output
    assert not out.exists()


def test_aux_task_missing_from_the_data_fails_the_trial_clearly(tmp_path):
    from ser_orch.tasks import TaskConfigError
    from ser_orch.tasks.lian import aux_targets

    class NoVad:
        meta = {"gender": __import__("numpy").array(["M", "F"])}

    with pytest.raises(TaskConfigError, match="loss.aux_task.*valence"):
        aux_targets(NoVad(), "valence")


def _run_sweep(name: str, grid_text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, corpus: Path) -> Path:
    folder = tmp_path / "grids"
    write_grid(folder, {"alpha": "liu_alpha.yaml", "lambda": "lian_contrastive.yaml"}[name], grid_text.format(root=corpus))
    monkeypatch.setattr(sweeps, "grids_dir", lambda: folder)
    out = tmp_path / "run"
    result = runner.invoke(app, ["sweep", name, "--quick", "--out", str(out), "--cpus-per-trial", "1"])
    assert result.exit_code == 0, result.output
    return out


def test_sweep_alpha_and_lambda_end_to_end(tmp_path, monkeypatch, tiny_iemocap):
    out = _run_sweep("alpha", TINY_LIU, tmp_path / "liu", monkeypatch, tiny_iemocap)
    records = sorted((out / "trials").glob("*.json"))
    assert [p.name for p in records] == [f"alpha={a}__fold=0__seed={s}.json" for a in ("0.0", "0.5") for s in (0, 1)]
    rec = json.loads(records[0].read_text())
    assert rec["status"] == "done" and 0 <= rec["metrics"]["wa"] <= 1 and rec["metrics"]["augmented_segments"] > 0
    assert len(set(rec["extra"]["train_class_counts"])) == 1  # SpecAugment balanced the classes
    results = json.loads((out / "results.json").read_text())
    assert "2" in (out / "report.md").read_text()  # runs per configuration are reported
    assert (out / "wa_vs_alpha.png").exists() and (out / "confusion_best.png").exists()
    assert results

    out = _run_sweep("lambda", TINY_LIAN, tmp_path / "lian", monkeypatch, tiny_iemocap)
    records = sorted((out / "trials").glob("*.json"))
    assert len(records) == 4
    rec = json.loads(records[0].read_text())
    assert rec["status"] == "done", rec.get("error")
    assert {"wa_average", "wa_crop", "ua_average", "ua_crop"} <= set(rec["metrics"])
    assert (out / "ua_vs_lambda.png").exists()
