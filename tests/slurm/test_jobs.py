"""Experiments as real Slurm jobs on the local two-node cluster: Ray across both nodes, preemption,
two jobs sharing the nodes, a Ray worker killed mid-trial."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from ser_orch.results.records import scan_records
from ser_orch.slurm.status import slurm_state

from .conftest import REPO, job_id, ser_orch, wait_for

pytestmark = pytest.mark.slurm


def _records(run: Path) -> dict:
    return {r.trial_id: r for r in scan_records(run).records}


def _events(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "slurm" / "events.jsonl").read_text().splitlines()]


def _done_files(run: Path) -> dict[str, int]:
    folder = run / "trials"
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("*.json")} if folder.is_dir() else {}


def test_ablate_wait_runs_on_both_nodes_and_survives_preemption(tmp_path, make_grid, slurm_cluster):
    out = tmp_path / "run"
    # Trials of a few seconds: node2's first Ray worker can take that long to start on a loaded
    # machine, and with one-second trials node1 would run all four before node2 is ready.
    proc = subprocess.Popen(
        ["ser-orch", "ablate", "--grid", str(make_grid(epochs=12)), "--out", str(out), "--slurm", "local-dev", "--wait"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
    )
    try:
        wait_for(lambda: _done_files(out), 180, "the first finished trial")
        before = _done_files(out)
        jid = job_id(out)
        # Preemption as Slurm does it: USR2 to the job's tasks; submitit checkpoints and requeues.
        subprocess.run(["scancel", "--signal=USR2", jid], check=True)
        wait_for(lambda: int(slurm_state(jid).get("Restarts", "0")) >= 1, 60, "the job to be requeued")

        def restarted() -> bool:
            # Slurm holds a requeued job back for about two minutes (BeginTime); let it start now.
            state = slurm_state(jid).get("JobState")
            if state == "PENDING":
                subprocess.run(["scontrol", "update", f"JobId={jid}", "StartTime=now"], capture_output=True)
            return state == "RUNNING"

        wait_for(restarted, 60, "the requeued job to run again", poll=1)
        output, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "COMPLETED" in output and "requeued 1x" in output

    records = _records(out)
    assert sorted(records) == [f"family={f},depth=6__fold={k}__seed=0" for f in ("fc", "resnet") for k in (0, 1)]
    assert all(r.done for r in records.values())
    assert {r.node for r in records.values()} == {"node1", "node2"}  # Ray ran trials on both Slurm nodes
    # Trials finished before the preemption were neither rerun nor rewritten.
    after = _done_files(out)
    assert {name: after[name] for name in before} == before

    events = _events(out)
    assert any(e["event"] == "checkpoint" for e in events)
    clusters = [e for e in events if e["event"] == "cluster"]
    assert [c["tag"] for c in clusters] == [f"{jid}-r0", f"{jid}-r1"]
    (finished,) = [e for e in events if e["event"] == "finished"]
    assert finished["tag"] == f"{jid}-r1" and finished["failed"] == []
    # The job wrote the final report into the run folder.
    data = json.loads((out / "results.json").read_text())
    assert {c["config_id"] for c in data["configs"]} == {"family=fc,depth=6", "family=resnet,depth=6"}
    assert (out / "wa_vs_depth.png").read_bytes()[:4] == b"\x89PNG"
    # The token is private to the user.
    for token in (out / "slurm" / "ray").glob("*/private/token"):
        assert token.stat().st_mode & 0o077 == 0 and token.parent.stat().st_mode & 0o077 == 0


def _trial_worker_pids(run: Path) -> list[int]:
    """Ray trial processes of this job only: its Ray nodes mark their environment with the job folder."""
    marker = f"SER_ORCH_RAY_JOB={run.resolve() / 'slurm' / 'ray'}".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            env = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if cmd.startswith(b"ray::ImplicitFunc") and marker in env:
            pids.append(int(entry))
    return pids


def test_two_experiments_share_the_nodes_and_a_killed_worker_is_retried(tmp_path, make_grid, slurm_cluster):
    """Two jobs on the same two nodes at once (own ports, temp dirs, tokens); in the first, the Ray
    worker process of a running trial is killed: Tune retries the trial and both experiments finish."""
    runs = [tmp_path / "a", tmp_path / "b"]
    # The killed job's trials last long enough (30 epochs) that one is still running when its worker
    # is found: with 12 epochs both trials could finish between two polls on a fast machine, and the
    # wait below (no trial done yet) could then never succeed.
    grids = [make_grid("killed", "[resnet]", 30), make_grid("twin", "[fc]", 2)]
    for run, grid in zip(runs, grids):
        result = ser_orch("submit", "--grid", str(grid), "--slurm", "local-dev", "--out", str(run), "--max-failures", "2")
        assert result.returncode == 0, result.stderr
        assert f"submitted Slurm job {job_id(run)}" in result.stdout

    def running_trial() -> list[int]:
        state = runs[0] / "slurm" / "running.json"
        busy = state.exists() and json.loads(state.read_text())["running"]
        return _trial_worker_pids(runs[0]) if busy and not _done_files(runs[0]) else []

    pids = wait_for(running_trial, 180, "a running trial")
    os.kill(pids[0], signal.SIGKILL)
    for run in runs:
        result = ser_orch("status", str(run), "--wait", timeout=240)
        assert result.returncode == 0, result.stdout + result.stderr
        records = _records(run)
        assert len(records) == 2 and all(r.done for r in records.values())
    # Tune saw the dead worker as a trial error and retried that trial.
    assert list((runs[0] / "tune").rglob("error.txt")), "no trial error recorded by Tune"
    a, b = (_events(run) for run in runs)
    start = lambda ev: next(e["time"] for e in ev if e["event"] == "cluster")  # noqa: E731
    end = lambda ev: next(e["time"] for e in ev if e["event"] == "finished")  # noqa: E731
    assert start(a) < end(b) and start(b) < end(a), "the two jobs did not run at the same time"
    assert len({e["address"] for e in a + b if e["event"] == "cluster"}) == 2  # each job its own head port


