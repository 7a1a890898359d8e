"""`--track tensorboard|mlflow`: every trial's per-epoch scalars, final metrics and config, read back
with the libraries' own readers (TensorBoard's EventAccumulator, MLflow's MlflowClient) and
compared with the trial records; a Tune experiment whose driver was killed and then restored
neither duplicates nor loses a step. Real Ray, real WAV files, the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ser_orch.cli.app import app
from ser_orch.experiment import Experiment, RunOptions
from ser_orch.grid import GridError
from ser_orch.results.records import TrialRecord, scan_records
from ser_orch.runner.trackers import flat_params
from ser_orch.runner.tracking import TrackingError

try:  # the readers come with the tracking extra (pip install -e '.[tracking]', part of '.[dev]')
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import plugin_data_pb2

    HAVE_EXTRA = True
except ImportError:
    HAVE_EXTRA = False
needs_extra = pytest.mark.skipif(not HAVE_EXTRA, reason="needs the tracking extra: pip install -e '.[tracking]'")

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()
EPOCH_KEYS = ("loss", "train_acc", "lr")  # what every history entry of the Kumar task has


@pytest.fixture(autouse=True)
def _no_user_tracking_uri(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def _ablate(*args: str):
    return runner.invoke(app, ["ablate", *args, "--cpus-per-trial", "0.5"], catch_exceptions=False)


def _records(out: Path) -> dict[str, TrialRecord]:
    return {r.trial_id: r for r in scan_records(out).records}


def _tensorboard(out: Path, trial_id: str) -> EventAccumulator:
    acc = EventAccumulator(str(out / "tensorboard" / trial_id))
    acc.Reload()
    return acc


def _assert_tensorboard_matches(out: Path, record: TrialRecord) -> EventAccumulator:
    acc = _tensorboard(out, record.trial_id)
    steps = [h["global_epoch"] for h in record.history]
    for key in EPOCH_KEYS:
        events = acc.Scalars(key)
        assert [e.step for e in events] == steps, (record.trial_id, key)  # each epoch once, in order
        # Event files hold float32: compare at that precision.
        np.testing.assert_allclose([e.value for e in events], [h[key] for h in record.history], rtol=1e-6)
    for key in ("wa", "ua"):
        assert acc.Scalars(f"final/{key}")[-1].value == pytest.approx(record.metrics[key], rel=1e-6)
    return acc


def _mlflow(uri: str, out: Path) -> tuple[MlflowClient, dict[str, object], dict[str, object]]:
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(str(out.resolve()))
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    children = {r.data.tags["ser_orch.trial_id"]: r for r in runs if r.data.tags["ser_orch.kind"] == "trial"}
    parents = {r.data.tags["ser_orch.config_id"]: r for r in runs if r.data.tags["ser_orch.kind"] == "config"}
    assert len(children) + len(parents) == len(runs)  # nothing else, and no trial twice
    return client, children, parents


def _assert_mlflow_matches(client: MlflowClient, child, record: TrialRecord) -> None:
    steps = [h["global_epoch"] for h in record.history]
    for key in EPOCH_KEYS:
        history = sorted(client.get_metric_history(child.info.run_id, key), key=lambda m: m.step)
        assert [m.step for m in history] == steps, (record.trial_id, key)  # each epoch once
        assert [m.value for m in history] == [h[key] for h in record.history]  # float64: exact
    assert child.data.metrics["wa"] == record.metrics["wa"] and child.data.metrics["ua"] == record.metrics["ua"]
    assert child.info.status == "FINISHED"


# `ser-orch ablate` itself, in a process of its own whose Tune driver is killed one epoch after a
# trial's checkpoint (12 epochs, a checkpoint every 10). The only addition to the real command is
# that test callback, appended to the real trackers; and every epoch goes to disk at once, so the
# epoch after the checkpoint is stored before the kill and the restored trial really repeats it.
KILLED_ABLATE = textwrap.dedent("""
    import os, signal, sys, time
    from ray import tune
    import ser_orch.experiment as experiment
    import ser_orch.runner.mlflow_tracker as mlflow_tracker
    import ser_orch.runner.tensorboard_tracker as tensorboard_tracker
    from ser_orch.cli.app import main

    mlflow_tracker.FLUSH_SECONDS = tensorboard_tracker.FLUSH_SECONDS = 0

    class KillDriver(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            if result.get("global_epoch") == 11:
                time.sleep(1.5)  # the trackers' writer threads store epoch 11
                os.kill(os.getpid(), signal.SIGKILL)

    real = experiment.tracking_callbacks
    experiment.tracking_callbacks = lambda tracking, run: [*real(tracking, run), KillDriver()]
    sys.argv = ["ser-orch", "ablate", *sys.argv[1:]]
    main()
""")


def _killed_then_resumed(tiny_grid: Path, out: Path, track: str) -> tuple[dict[str, TrialRecord], dict[str, list[int]]]:
    """`ablate --quick --epochs 6 --track TRACK`, killed mid-run, then `ablate --resume`: the records,
    and each trial's loss steps as the killed driver left them."""
    args = ["--grid", str(tiny_grid), "--out", str(out), "--quick", "--epochs", "6", "--track", track, "--cpus-per-trial", "0.5"]
    env = {**os.environ, "TUNE_GLOBAL_CHECKPOINT_S": "0",  # Tune's state saved at every step
           "PYTHONPATH": os.pathsep.join(str(REPO / p) for p in ("data", "models", "orchestrator"))}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_ABLATE, *args], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = proc.communicate(timeout=300)
    finally:
        try:  # any Ray process of that driver that outlived it
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert proc.returncode == -signal.SIGKILL, output
    assert json.loads((out / "run.json").read_text())["options"]["track"] == track
    before = _before_resume(out, track)
    result = _ablate("--grid", str(tiny_grid), "--out", str(out), "--resume")  # run.json keeps --track
    assert result.exit_code == 0, result.output
    assert "restoring the interrupted Tune experiment attempt-0" in result.output
    records = _records(out)
    assert len(records) == 4 and all(r.done and len(r.history) == 12 for r in records.values())
    return records, before


def _before_resume(out: Path, track: str) -> dict[str, list[int]]:
    """What the killed driver left: the steps of each trial's loss, as stored."""
    if track == "mlflow":
        client, children, _ = _mlflow(f"sqlite:///{out / 'mlflow' / 'mlflow.db'}", out)
        return {tid: sorted(m.step for m in client.get_metric_history(c.info.run_id, "loss")) for tid, c in children.items()}
    return {d.name: sorted(_raw_loss_steps(d)) for d in (out / "tensorboard").iterdir()}


def _raw_loss_steps(folder: Path) -> list[int]:
    """Every loss event on disk, read without TensorBoard's purging of restarted steps."""
    return [e.step for f in sorted(folder.glob("events.out.tfevents.*")) for e in EventFileLoader(str(f)).Load()
            if e.summary.value and e.summary.value[0].tag == "loss"]


@needs_extra
def test_tensorboard_keeps_every_epoch_once_across_a_killed_driver(tmp_path, tiny_grid):
    out = tmp_path / "run"
    records, before = _killed_then_resumed(tiny_grid, out, "tensorboard")
    assert list(range(1, 12)) in before.values()  # the killed trial's epochs 1-11 were on disk
    assert {p.name for p in (out / "tensorboard").iterdir()} == set(records)
    repeated = 0
    for record in records.values():
        acc = _assert_tensorboard_matches(out, record)
        repeated += len(_raw_loss_steps(out / "tensorboard" / record.trial_id)) > len(record.history)
        # The HParams tab: the trial's config beside the final metrics.
        content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
        assert hparams["model.family"].string_value == record.config["model"]["family"]
        assert hparams["fold"].number_value == record.fold
        assert hparams["train.batch_size"].number_value == record.config["train"]["batch_size"]
    assert repeated >= 1  # epoch 11 is twice on disk and once in what TensorBoard reads


@needs_extra
def test_mlflow_nests_trials_under_configurations_and_keeps_every_epoch_once_across_a_killed_driver(tmp_path, tiny_grid):
    out = tmp_path / "run"
    records, before = _killed_then_resumed(tiny_grid, out, "mlflow")
    assert list(range(1, 12)) in before.values()  # the killed trial's epochs 1-11 were stored
    client, children, parents = _mlflow(f"sqlite:///{out / 'mlflow' / 'mlflow.db'}", out)
    assert set(children) == set(records)  # the restored trials went on in their own runs
    assert set(parents) == {"family=fc,depth=6", "family=resnet,depth=6"}
    for tid, record in records.items():
        child = children[tid]
        _assert_mlflow_matches(client, child, record)
        assert child.data.tags["mlflow.parentRunId"] == parents[record.config_id].info.run_id
        assert child.data.params["model.family"] == record.config["model"]["family"]
        assert child.data.params["fold"] == str(record.fold)
        assert child.data.params["train.triplet_epochs"] == "6"
        # The record files as artifacts, byte for byte.
        folder = Path(client.download_artifacts(child.info.run_id, "record", str(tmp_path / "dl" / tid)))
        assert (folder / f"{tid}.json").read_bytes() == (out / "trials" / f"{tid}.json").read_bytes()
        assert (folder / f"{tid}.npz").read_bytes() == (out / "trials" / f"{tid}.npz").read_bytes()
    for cid, parent in parents.items():
        wa = [r.metrics["wa"] for r in records.values() if r.config_id == cid]
        assert parent.info.status == "FINISHED" and "fold" not in parent.data.params
        assert parent.data.metrics["wa_mean"] == pytest.approx(np.mean(wa))
        assert parent.data.metrics["wa_max"] == pytest.approx(max(wa))


def test_missing_extra_exits_2_naming_it_before_anything_is_created(tmp_path, tiny_grid, monkeypatch):
    # The one stand-in here: the extra is installed in this environment, so its absence is
    # simulated the way Python itself reports it (a None entry in sys.modules makes the import fail).
    monkeypatch.setitem(sys.modules, "mlflow", None)
    out = tmp_path / "run"
    result = _ablate("--grid", str(tiny_grid), "--out", str(out), "--track", "mlflow")
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "pip install -e '.[tracking]'" in lines[0] and "mlflow" in lines[0]
    assert not out.exists()
    # The grid's key is refused the same way; without tracking nothing needs the extra.
    grid = tmp_path / "tracked.yaml"
    grid.write_text(tiny_grid.read_text() + "track: mlflow\n")
    with pytest.raises(TrackingError, match=r"pip install -e '\.\[tracking\]'"):
        Experiment.from_grid(grid, RunOptions(quick=True))
    assert Experiment.from_grid(grid, RunOptions(quick=True, track="none")).options.track == "none"


@needs_extra
def test_the_flag_wins_over_the_grid_key_and_a_resume_keeps_the_choice(tmp_path, tiny_grid, monkeypatch):
    grid = tmp_path / "tracked.yaml"
    grid.write_text(tiny_grid.read_text() + "track: tensorboard\n")
    assert Experiment.from_grid(tiny_grid).options.track == "none"
    assert Experiment.from_grid(grid).options.track == "tensorboard"
    assert Experiment.from_grid(grid, RunOptions(track="mlflow")).options.track == "mlflow"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///from-env.db")
    assert Experiment.from_grid(grid, RunOptions(track="mlflow")).options.tracking_uri == "sqlite:///from-env.db"
    given = Experiment.from_grid(grid, RunOptions(track="mlflow", tracking_uri="http://127.0.0.1:5000"))
    assert given.options.tracking_uri == "http://127.0.0.1:5000"
    with pytest.raises(TrackingError, match="--tracking-uri is for --track mlflow"):
        Experiment.from_grid(grid, RunOptions(tracking_uri="sqlite:///x.db"))

    result = _ablate("--grid", str(grid), "--track", "wandb", "--out", str(tmp_path / "x"))
    assert result.exit_code == 2 and "valid: none, tensorboard, mlflow" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(tiny_grid.read_text() + "track: wandb\n")
    with pytest.raises(GridError, match="track"):
        Experiment.from_grid(bad)

    # A prepared (not yet run) folder: a resume tracks as it was started, and refuses another tracker.
    exp = Experiment.from_grid(grid, RunOptions(quick=True, folds="0"))
    exp.prepare(tmp_path / "run")
    assert Experiment.resume(tmp_path / "run").options.track == "tensorboard"
    result = _ablate("--grid", str(grid), "--out", str(tmp_path / "run"), "--resume", "--track", "mlflow")
    assert result.exit_code == 2 and "started with --track tensorboard" in result.output


def test_flat_params_spell_nested_config_keys_dotted():
    trial = {"trial_id": "t", "config_id": "c", "axes": {"model.family": "fc"}, "fold": 2,
             "model": {"family": "fc", "overrides": {"widths": [4, 8]}}, "dataset": {"root": None}, "train": {}}
    assert flat_params(trial) == {"fold": 2, "model.family": "fc", "model.overrides.widths": "[4, 8]",
                                  "dataset.root": "null", "train": "{}"}


def _record(trial_id: str, losses: list[float]) -> TrialRecord:
    history = [{"phase": 1, "epoch": i, "global_epoch": i, "loss": v, "train_acc": 0.5, "lr": 0.01, "stop": False}
               for i, v in enumerate(losses, 1)]
    return TrialRecord(trial_id=trial_id, config_id="c", fold=0, seed=0, metrics={"wa": 0.25, "ua": 0.2},
                       history=history)


def _trial(trial_id: str) -> dict[str, object]:
    return {"trial_id": trial_id, "config_id": "c", "axes": {}, "fold": 0, "seed": 0, "model": {"family": "fc"}}


def _epochs(tracker, trial, losses: dict[int, float]) -> None:
    for step, loss in losses.items():
        tracker.epoch(trial, step, {"loss": loss, "train_acc": 0.5, "lr": 0.01})


@needs_extra
def test_tensorboard_tracker_sequences_a_restored_driver_can_see(tmp_path):
    """The Tune hooks' sequences, called directly: a retried trial (steps go back within one driver),
    a checkpoint on the last epoch, and a trial replayed from its record by a new driver."""
    from ser_orch.runner.tensorboard_tracker import TensorBoardTracker

    tracker = TensorBoardTracker(str(tmp_path))
    retried, closed, replayed = _trial("retried"), _trial("closed"), _trial("replayed")
    _epochs(tracker, retried, {1: 5.0, 2: 4.0, 3: 3.0, 4: 2.0})
    _epochs(tracker, retried, {3: 3.5, 4: 2.5, 5: 1.5})  # Tune restarted it from a checkpoint at 2
    tracker.final(retried, _record("retried", [5.0, 4.0, 3.5, 2.5, 1.5]))
    _epochs(tracker, closed, {1: 2.0, 2: 1.0})
    tracker.durable(closed)  # a checkpoint on the last epoch closes the writer
    tracker.final(closed, _record("closed", [2.0, 1.0]))
    _epochs(tracker, replayed, {1: 9.0, 2: 8.0})
    tracker.close()  # the driver goes; its successor sees the trial's record, done
    TensorBoardTracker(str(tmp_path)).replay(replayed, _record("replayed", [9.0, 8.0, 7.0]))

    expected = {"retried": [5.0, 4.0, 3.5, 2.5, 1.5], "closed": [2.0, 1.0], "replayed": [9.0, 8.0, 7.0]}
    for tid, losses in expected.items():
        acc = _tensorboard(tmp_path, tid)
        assert [(e.step, e.value) for e in acc.Scalars("loss")] == list(enumerate(losses, 1)), tid
        assert [e.value for e in acc.Scalars("final/wa")] == [0.25]
        assert len(_raw_loss_steps(tmp_path / "tensorboard" / tid)) > len(losses)  # the reader purged copies


@needs_extra
def test_mlflow_tracker_stores_each_step_once_across_retries_and_drivers(tmp_path):
    from ser_orch.runner.mlflow_tracker import MlflowTracker

    (tmp_path / "trials.json").write_text(json.dumps([_trial("a"), _trial("b")]))
    tracker = MlflowTracker(str(tmp_path))
    a, b = _trial("a"), _trial("b")
    tracker.setup()
    _epochs(tracker, a, {1: 5.0, 2: 4.0, 3: 3.0})
    _epochs(tracker, a, {2: 4.0, 3: 3.0, 4: 2.0})  # retried from a checkpoint at 1: the same values again
    _epochs(tracker, b, {1: 9.0, 2: 8.0})
    tracker.durable(b)
    tracker.final(a, _record("a", [5.0, 4.0, 3.0, 2.0]))
    # The driver dies here (no experiment end); its successor replays b, done meanwhile.
    successor = MlflowTracker(str(tmp_path))
    successor.setup()
    successor.replay(b, _record("b", [9.0, 8.0, 7.0]))
    successor.close()

    client, children, parents = _mlflow(f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}", tmp_path)
    assert set(children) == {"a", "b"} and set(parents) == {"c"}
    for tid, losses in {"a": [5.0, 4.0, 3.0, 2.0], "b": [9.0, 8.0, 7.0]}.items():
        history = sorted(client.get_metric_history(children[tid].info.run_id, "loss"), key=lambda m: m.step)
        assert [(m.step, m.value) for m in history] == list(enumerate(losses, 1)), tid
        assert children[tid].info.status == "FINISHED"
        assert [m.value for m in client.get_metric_history(children[tid].info.run_id, "wa")] == [0.25]
    assert parents["c"].info.status == "RUNNING"  # its trials' records are not in this folder: not complete
