"""Hostile input through the real CLI, no Ray needed (issue 13): duplicate axis values, trial ids
that sanitising or length would break, a grid of a million trials, a corrupt trial plan, a wrong
protocol.folds, pre-trained weights that are no weights file, a report over NaN embeddings, a run
folder locked by another host or a dead process. Each asserts the exit code, the one-line
message and that nothing of an earlier run changed."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from ser_orch.cli.app import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()

GRID = """
name: rel_kumar
task: kumar
dataset: {{name: ravdess, root: {root}}}
features: {{name: mfcc39}}
protocol: {{name: kumar_70_30, folds: 3, params: {{folds: 3}}}}
model: {{family: fc, depth: 6}}
train: {{pretrain_epochs: 2, triplet_epochs: 2, batch_size: 64}}
grid:
{axes}
"""


def grid_file(tmp_path: Path, root: Path, axes: str = "  model.family: [fc, resnet]", name: str = "g.yaml", **extra: Any) -> Path:
    data = yaml.safe_load(GRID.format(root=root, axes=axes))
    for dotted, value in extra.items():
        node = data
        *parents, leaf = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def one_line(result: Any) -> str:
    """The one line a failing command prints on stderr (stdout may have said what it was doing)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.output, result.output
    assert len(lines) == 1, result.output
    return lines[0]


def shas(run: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((run / "trials").glob("*.json"))}


# ---- 4. trial ids ----

def test_duplicate_axis_value_is_a_grid_error_naming_the_axis(tmp_path, tiny_corpus):
    grid = grid_file(tmp_path, tiny_corpus, "  model.family: [fc]\n  model.depth: [6, 6]")
    line = one_line(runner.invoke(app, ["grid", "validate", str(grid)]))
    assert line == f"invalid {grid}: grid.model.depth: lists 6 twice; give each value once"
    out = tmp_path / "run"
    result = runner.invoke(app, ["ablate", "--grid", str(grid), "--out", str(out)])
    assert result.exit_code == 2 and "grid.model.depth: lists 6 twice" in one_line(result)
    assert not out.exists()
    # The same value written another way in YAML is the same value.
    grid = grid_file(tmp_path, tiny_corpus, '  model.family: [fc, "fc"]')
    assert "grid.model.family: lists 'fc' twice" in one_line(runner.invoke(app, ["grid", "validate", str(grid)]))


def test_trial_ids_are_unique_stable_and_valid_file_names(tmp_path, tiny_corpus):
    long_root = "/data/" + "very-long-corpus-folder-name/" * 12  # 340 characters
    roots = ["/x/rav x", "/x/rav+x", "/x/a/b", "plain", long_root]
    axes = "  model.family: [fc]\n  dataset.root: " + json.dumps(roots)
    grid = grid_file(tmp_path, tiny_corpus, axes)

    def ids() -> list[dict[str, Any]]:
        result = runner.invoke(app, ["grid", "show", str(grid), "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)["trials"]

    trials = ids()
    assert [t["trial_id"] for t in trials] == [t["trial_id"] for t in ids()]  # stable across invocations
    by_root = {t["axes"]["dataset.root"]: t for t in trials if t["fold"] == 0}
    assert len({t["config_id"] for t in trials}) == len(roots)  # "/x/rav x" and "/x/rav+x" no longer collide
    assert len({t["trial_id"] for t in trials}) == len(trials)
    # An id that needed no change keeps its readable form (earlier runs' ids stay what they were).
    assert by_root["plain"]["config_id"] == "family=fc,root=plain"
    for root, trial in by_root.items():
        axes_json = json.dumps({"model.family": "fc", "dataset.root": root}, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(axes_json.encode()).hexdigest()[:10]
        if root != "plain":  # changed by sanitising (or too long): readable part + hash of the exact values
            assert trial["config_id"].endswith("~" + digest), trial["config_id"]
            assert trial["config_id"].startswith("family=fc,root=_x_" if root.startswith("/x/") else "family=fc,root=_data_")
    for trial in trials:
        name = trial["trial_id"] + ".json"
        assert "/" not in name and len(name.encode()) <= 200
        (tmp_path / name).write_text("{}")  # a real file of that name can exist: no ENAMETOOLONG, no subfolder
    assert len(list(tmp_path.glob("family=*.json"))) == len(trials)


def test_seeds_outside_numpys_range_are_refused(tmp_path, tiny_corpus):
    grid = grid_file(tmp_path, tiny_corpus, seeds=[0, 10**40])
    line = one_line(runner.invoke(app, ["grid", "validate", str(grid)]))
    assert line == f"invalid {grid}: seeds.1: must be a value < 4294967296, got {10**40}"


# ---- 7. huge grids ----

def test_a_million_trials_is_refused_fast_by_show_validate_and_ablate(tmp_path, tiny_corpus):
    # 1000 margins x 100 batch sizes x 10 folds = 10^6 trials: counted from the factors, never built.
    axes = "  loss.margin: {range: [1, 1000]}\n  train.batch_size: {range: [2, 101]}"
    grid = grid_file(tmp_path, tiny_corpus, axes, protocol={"name": "kumar_70_30", "folds": 10, "params": {"folds": 10}})
    expected = (f"{grid}: grid: expands to 1,000,000 trials (1000 loss.margin x 100 train.batch_size x 10 fold(s) x "
                "1 seed(s)); the limit is 20,000: shrink an axis, or raise the limit with --max-trials N")
    for args, prefix in ((["grid", "show"], "error: "), (["grid", "validate"], "invalid ")):
        result = runner.invoke(app, [*args, str(grid)])
        assert result.exit_code == 2 and one_line(result) == prefix + expected and not result.stdout.strip()
    # ablate in a child process, to see its peak memory.
    out = tmp_path / "run"
    command = [sys.executable, "-m", "ser_orch.cli.app", "ablate", "--grid", str(grid), "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)  # it used to hang for minutes
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "error: " + expected and not done.stdout.strip()
    # Largest child of this test process so far, in KiB: under 1.5 GiB (it used to grow past 3-5 GB).
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 1.5 * 2**20
    assert not out.exists()
    # The limit is an option: 2 configurations x 3 folds = 6 trials.
    small = grid_file(tmp_path, tiny_corpus, name="small.yaml")
    line = one_line(runner.invoke(app, ["grid", "validate", str(small), "--max-trials", "5"]))
    assert "expands to 6 trials (2 model.family x 3 fold(s) x 1 seed(s)); the limit is 5" in line
    result = runner.invoke(app, ["grid", "validate", str(small), "--max-trials", "6"])
    assert result.exit_code == 0 and "2 configurations, 6 trials" in result.output


# ---- 8. tracebacks instead of one line ----

@pytest.fixture()
def prepared_run(tmp_path, tiny_corpus) -> tuple[Path, Path]:
    """A run folder as `ablate` makes it before the trials start (data prepared, no Ray)."""
    from ser_orch.experiment import Experiment, RunOptions

    grid = grid_file(tmp_path, tiny_corpus)
    exp = Experiment.from_grid(grid, RunOptions(folds="0"))
    exp.prepare(tmp_path / "run")
    return grid, tmp_path / "run"


def test_resume_with_a_corrupt_trial_plan_is_one_line(prepared_run):
    grid, run = prepared_run
    text = (run / "trials.json").read_text()
    (run / "trials.json").write_text(text[: len(text) // 2])  # cut short, as a full disk leaves it
    before = sorted(p.name for p in run.rglob("*"))
    result = runner.invoke(app, ["ablate", "--grid", str(grid), "--out", str(run), "--resume"])
    assert result.exit_code == 2
    assert one_line(result).startswith(f"error: {run / 'trials.json'}: unreadable trial plan (JSONDecodeError: ")
    assert sorted(p.name for p in run.rglob("*")) == before


def test_wrong_protocol_folds_is_caught_before_features_and_folders(tmp_path, tiny_corpus):
    # The protocol yields 3 folds; the grid says 7. Known once the corpus is read: before any
    # feature extraction (fresh feature parameters, so a cache would be new), folder or Tune state.
    params = {"seed": 424242}
    grid = grid_file(tmp_path, tiny_corpus, protocol={"name": "kumar_70_30", "folds": 7, "params": {"folds": 3}},
                     features={"name": "mfcc39", "params": params})
    cache = Path(os.environ["SER_ORCH_CACHE"])
    caches_before = sorted(str(p) for p in cache.rglob("mfcc39-*"))
    out = tmp_path / "run"
    result = runner.invoke(app, ["ablate", "--grid", str(grid), "--out", str(out), "--folds", "0"])
    assert result.exit_code == 2
    assert one_line(result) == (f"error: {grid}: protocol.folds: is 7, but protocol kumar_70_30 gives 3 folds on this "
                                "dataset; write protocol.folds: 3 (or change protocol.params)")
    assert not out.exists()
    assert sorted(str(p) for p in cache.rglob("mfcc39-*")) == caches_before


def _mocanu_grid(tmp_path: Path, corpus: Path, weights: Path) -> Path:
    data = yaml.safe_load((REPO / "grids" / "mocanu_strategies.yaml").read_text())
    data["dataset"]["root"] = str(corpus)
    data["train"]["pretrain"]["weights"] = str(weights)
    data["grid"]["train.strategy"] = ["S2"]
    data["model"]["overrides"] = {"clusters": 2, "ghost_clusters": 1, "widths": [4, 4, 8, 8], "blocks": [1, 1, 1, 1],
                                  "descriptor_dim": 8, "embedding_dim": 8}
    path = tmp_path / f"mocanu-{weights.stem}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class _Payload:
    """A pickle that would create a file when loaded without weights_only."""

    marker = ""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (Path(self.marker),))


def test_pretrain_weights_that_are_no_weights_file_fail_validation_in_one_line(tmp_path, tiny_corpus):
    # Decision: checked at validation time (nothing starts), not left to every trial's first step.
    import torch
    from ser_models import create_model

    text = tmp_path / "notes.pt"
    text.write_text("these are my notes, not weights")
    payload = _Payload()
    payload.marker = str(tmp_path / "payload-ran")
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"trunk": payload}, unsafe)
    other = create_model("se-resnet34-netvlad", num_classes=2, input_dim=257, widths=[4, 4, 8, 16], blocks=[1, 1, 1, 1])
    wrong = tmp_path / "wrong-trunk.pt"
    torch.save({"trunk": other.trunk.state_dict()}, wrong)
    cases = [
        (text, "not a weights file that can be loaded safely ("),
        (unsafe, "not a weights file that can be loaded safely (it holds Python objects ("),
        (wrong, "does not fit this trial's trunk (size mismatch for "),
    ]
    for weights, message in cases:
        grid = _mocanu_grid(tmp_path, tiny_corpus, weights)
        line = one_line(runner.invoke(app, ["grid", "validate", str(grid)]))
        assert line.startswith(f"invalid {grid}: train.pretrain.weights: {weights}: {message}"), line
        assert "\x1b[" not in line
    assert not Path(payload.marker).exists()  # the pickle's code never ran
    good = create_model("se-resnet34-netvlad", num_classes=2, input_dim=257, widths=[4, 4, 8, 8], blocks=[1, 1, 1, 1],
                        descriptor_dim=8)
    fits = tmp_path / "fits.pt"
    torch.save({"trunk": good.trunk.state_dict()}, fits)
    result = runner.invoke(app, ["grid", "validate", str(_mocanu_grid(tmp_path, tiny_corpus, fits))])
    assert result.exit_code == 0, result.output


# ---- 1. the report skips what cannot be plotted ----

def test_report_skips_tsne_of_nan_embeddings_and_says_so(prepared_run):
    from ser_orch.results.records import TrialRecord, write_record
    from ser_orch.rundir import RunDir

    grid, run = prepared_run
    trials = json.loads((run / "trials.json").read_text())
    rng = np.random.default_rng(0)
    labels = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
    wa = {}
    for i, trial in enumerate(trials):
        confusion = rng.integers(0, 5, size=(8, 8)) + np.eye(8, dtype=int) * (3 + i)
        wa[trial["config_id"]] = float(np.trace(confusion) / confusion.sum())
        write_record(run, TrialRecord.for_trial(trial, "done", metrics={"wa": wa[trial["config_id"]], "ua": 0.3},
                                                labels=labels, confusion=confusion.tolist()))
        embeddings = rng.normal(size=(40, 8)).astype(np.float32)
        embeddings[3] = np.nan  # one diverged output is enough to break t-SNE
        np.savez(RunDir.at(run).arrays_path(trial["trial_id"]), embeddings=embeddings, y_true=np.arange(40) % 8)
    before = shas(run)
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    best = max(wa, key=wa.get)
    assert f"not plotted: t-SNE of {best}: the test embeddings of 1 run(s) contain NaN/inf" in result.output
    assert not (run / "tsne_best.png").exists() and (run / "confusion_best.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads((run / "results.json").read_text())
    assert {c["config_id"]: c["metrics"]["wa"]["mean"] for c in data["configs"]} == pytest.approx(wa)
    assert shas(run) == before


# ---- 5. the run folder lock: another host, a dead process, a Slurm requeue ----

def _write_lock(run: Path, **owner: Any) -> None:
    (run / ".lock").write_text(json.dumps({"started": "2026-01-01T00:00:00", "token": "t", **owner}))


def test_a_lock_of_another_host_blocks_a_resume_with_its_owner(prepared_run):
    grid, run = prepared_run
    _write_lock(run, pid=4242, host="node-17", slurm_job=None)
    before = sorted(p.name for p in run.rglob("*"))
    result = runner.invoke(app, ["ablate", "--grid", str(grid), "--out", str(run), "--resume"])
    assert result.exit_code == 2
    assert one_line(result) == (
        f"error: {run}: already running in process 4242 on host node-17 since 2026-01-01T00:00:00; another host, so it "
        f"cannot be checked from here; if that run is gone, delete {run / '.lock'}")
    assert sorted(p.name for p in run.rglob("*")) == before


def test_a_lock_left_by_a_killed_process_on_this_host_is_taken_over(prepared_run):
    from ser_orch.runlock import RunLock

    grid, run = prepared_run
    # A real holder, SIGKILLed: the kernel drops its flock; the lock file stays with its pid in it.
    code = ("import sys, time; from ser_orch.runlock import RunLock; RunLock(sys.argv[1]).acquire(); "
            "print('locked', flush=True); time.sleep(600)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        owner = json.loads((run / ".lock").read_text())
        assert owner["pid"] == holder.pid and owner["host"] == socket.gethostname()
        result = runner.invoke(app, ["ablate", "--grid", str(grid), "--out", str(run), "--resume"])
        assert result.exit_code == 2
        assert one_line(result).startswith(f"error: {run}: already running in process {holder.pid} on host {owner['host']} ")
    finally:
        holder.kill()
        holder.wait()
    lock = RunLock(run).acquire()
    assert lock.took_over is not None and lock.took_over["pid"] == holder.pid
    lock.release()
    assert not (run / ".lock").exists()


def test_a_requeued_slurm_job_takes_over_its_own_lock(prepared_run, monkeypatch):
    from ser_orch.runlock import RunLock, RunLocked

    _, run = prepared_run
    _write_lock(run, pid=4242, host="node-03", slurm_job="777")  # the job's driver before the requeue
    monkeypatch.setenv("SLURM_JOB_ID", "778")
    with pytest.raises(RunLocked, match="node-03, Slurm job 777"):
        RunLock(run).acquire()  # another job's lock on another host is not ours to take
    monkeypatch.setenv("SLURM_JOB_ID", "777")
    with RunLock(run) as lock:
        assert lock.took_over is not None and lock.took_over["host"] == "node-03"
        assert json.loads((run / ".lock").read_text())["slurm_job"] == "777"
    assert not (run / ".lock").exists()
