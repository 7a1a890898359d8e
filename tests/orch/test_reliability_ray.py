"""A flaky machine and an impatient user, on real Ray (issue 13): diverged training, a disk that
fills up mid-run, a read-only run folder, Ctrl-C, a killed Ray worker and two resumes at once.

Every run is a real `ser-orch` child process (`python -m ser_orch.cli.app`) in its own process
group, so the test can send signals the way a terminal does (SIGINT to the group) and kill
things; each test asserts the exit code, the one-line message, and (sha256) that no earlier
trial record changed."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ser_orch.cli.app import app

GRID = """
name: rel_ray
task: kumar
dataset: {{name: ravdess, root: {root}}}
features: {{name: mfcc39}}
protocol: {{name: kumar_70_30, folds: 3, params: {{folds: 3}}}}
model: {{family: fc, depth: 6}}
train: {{pretrain_epochs: {epochs}, triplet_epochs: {epochs}, batch_size: 64, patience: 100000{train}}}
grid:
  model.family: [{families}]
quick:
  folds: [0, 1]
"""


def write_grid(path: Path, root: Path, epochs: int, families: str = "fc, resnet", train: str = "") -> Path:
    path.write_text(GRID.format(root=root, epochs=epochs, families=families, train=train))
    return path


CLI = [sys.executable, "-m", "ser_orch.cli.app"]
RUN_OPTS = ["--cpus-per-trial", "0.5"]


class Child:
    """A `ser-orch` child process in its own session (so a signal reaches its whole group)."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.out_path, self.err_path = folder / f"out-{time.monotonic_ns()}.txt", folder / f"err-{time.monotonic_ns()}.txt"
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.proc = subprocess.Popen([*CLI, *args], stdout=out, stderr=err, start_new_session=True)

    @property
    def out(self) -> str:
        return self.out_path.read_text()

    @property
    def err(self) -> str:
        return self.err_path.read_text()

    def wait(self, timeout: float = 240) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = 120) -> Any:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = check()
            if found:
                return found
            if self.proc.poll() is not None:
                pytest.fail(f"exited ({self.proc.returncode}) before {what}:\n{self.out}\n{self.err}")
            time.sleep(0.1)
        self.kill()
        pytest.fail(f"timed out waiting for {what}:\n{self.out}\n{self.err}")


def cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def shas(run: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((run / "trials").glob("*.json"))}


def records(run: Path) -> dict[str, dict[str, Any]]:
    # Strict JSON: a bare NaN or Infinity in a record would raise here.
    def refuse(token: str) -> None:
        raise ValueError(f"non-standard JSON constant {token}")

    return {p.stem: json.loads(p.read_text(), parse_constant=refuse) for p in (run / "trials").glob("*.json")}


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def descendants(pid: int) -> dict[int, str]:
    """pid -> command line of every process below ``pid`` (Ray's workers are children of its raylet)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                try:
                    found[child] = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                frontier.append(child)
    return found


ANSI = re.compile(r"\x1b\[")


def lock_owner(run: Path, pid: int) -> dict[str, Any] | None:
    """The run folder's lock owner once it is process ``pid`` (None while absent or half-written)."""
    try:
        owner = json.loads((run / ".lock").read_text())
    except (OSError, ValueError):
        return None
    return owner if owner.get("pid") == pid else None


# ---- 1 and 6: diverged training; nothing useful is not exit 0; 10: excluded files listed ----

def test_diverged_trials_are_failed_records_and_the_run_exits_3(tmp_path, tiny_corpus):
    # A copy of the corpus with one WAV file that is not audio: it is left out and listed.
    corpus = tmp_path / "corpus"
    shutil.copytree(tiny_corpus, corpus)
    broken = sorted(corpus.rglob("*.wav"))[5]
    broken.write_bytes(b"RIFF-not-really")
    # A learning rate of 1e30 blows the loss up within the first epoch: validation passes, every trial fails at once.
    grid = write_grid(tmp_path / "diverge.yaml", corpus, epochs=3, families="fc", train=", lr_start: 1.0e+30, lr_end: 1.0e+29")
    run = tmp_path / "run"
    done = cli("ablate", "--grid", str(grid), "--out", str(run), "--folds", "0", "--max-failures", "1", *RUN_OPTS)
    assert done.returncode == 3, done.stdout + done.stderr
    assert error_lines(done.stderr) == [f"error: no trial of {run} finished (1 failed; their reasons are listed above "
                                        f"and in {run / 'report.md'})"]
    (record,) = records(run).values()
    assert record["status"] == "failed" and record["metrics"] == {}
    # Tune ran it 1 + --max-failures times; the reason is the trainer's, in one line.
    assert re.fullmatch(r"NonFiniteLoss: training loss is (nan|inf) at epoch 1 \(phase 1\): training diverged \(2 attempts\)",
                        record["error"]), record["error"]
    assert "NonFiniteLoss" in done.stdout and "Failed trials" in done.stdout  # the report's table, not a crash
    assert "Traceback" not in done.stdout + done.stderr
    assert not list(run.glob("tsne_*.png")) and not list(run.glob("confusion_*.png"))  # nothing to plot
    excluded = json.loads((run / "excluded.json").read_text())
    assert [e["path"] for e in excluded] == [str(broken)] and excluded[0]["reason"]
    assert f"1 file(s) excluded (first: {broken}" in done.stdout and str(run / "excluded.json") in done.stdout


# ---- 2: a full disk mid-run, then a read-only run folder ----

@pytest.fixture()
def small_disk(tmp_path):  # type: ignore[no-untyped-def]
    """A real 24 MiB tmpfs (mounting needs root; without it the test is skipped, not faked)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({made.stderr.strip()}); this test needs a real small file system")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * (1 << 20))
                fh.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_stops_the_run_in_one_line_and_resume_finishes_it(tmp_path, tiny_corpus, small_disk):
    grid = write_grid(tmp_path / "g.yaml", tiny_corpus, epochs=60)
    run = small_disk / "run"
    child = Child(tmp_path, "ablate", "--grid", str(grid), "--out", str(run), "--quick", "--max-concurrent", "1", *RUN_OPTS)
    child.wait_for("a first record", lambda: list((run / "trials").glob("*.json")))
    filler = fill(small_disk)  # the disk is full from here on
    assert child.wait() == 1, child.out + child.err
    (line,) = error_lines(child.err)
    found = re.fullmatch(rf"error: run folder {re.escape(str(run))}: No space left on device \(ENOSPC[^)]*\); (\d) done, "
                         rf"(\d) left; make room \(or make it writable\), then resume with `ser-orch ablate --grid "
                         rf"{re.escape(str(grid))} --out {re.escape(str(run))} --resume`", line)
    assert found, line
    kept = records(run)
    assert int(found.group(1)) == len(kept) >= 1 and int(found.group(1)) + int(found.group(2)) == 4
    assert all(r["status"] == "done" for r in kept.values())  # the disk failed the trials, not their configs
    assert "Traceback" not in child.out + child.err and not ANSI.search(child.out + child.err)
    before = shas(run)

    filler.unlink()
    # Tune writes its experiment state in place; a full disk can cut it short. Make sure it is, to
    # check that a resume skips such a state (it used to crash with KeyError) instead of hoping.
    (attempt,) = (run / "tune").glob("attempt-*")
    state = sorted(attempt.glob("experiment_state-*.json"))[-1]
    state.write_text(state.read_text()[:100])
    resumed = cli("ablate", "--grid", str(grid), "--out", str(run), "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"the interrupted Tune experiment {attempt.name} cannot be restored ({state.name} is unreadable: JSONDecodeError)" in resumed.stdout
    assert {k: v for k, v in shas(run).items() if k in before} == before
    assert sorted(records(run)) == sorted(f"family={f}__fold={k}__seed=0" for f in ("fc", "resnet") for k in (0, 1))
    assert all(r["status"] == "done" for r in records(run).values())

    # Read-only (the same tmpfs remounted): a new run and the report of this one, one line, exit 1.
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    before = shas(run)
    fresh = cli("ablate", "--grid", str(grid), "--out", str(small_disk / "new"), "--quick", *RUN_OPTS)
    assert fresh.returncode == 1
    assert error_lines(fresh.stderr) == [f"error: run folder {small_disk / 'new'}: cannot create the run folder: "
                                         "Read-only file system (EROFS)"]
    again = cli("ablate", "--grid", str(grid), "--out", str(run), "--resume")
    assert again.returncode == 1
    (line,) = error_lines(again.stderr)
    assert line.startswith(f"error: run folder {run}: Read-only file system (EROFS); 4 done, 0 left; make room"), line
    assert shas(run) == before


# ---- 3, 5, 9: Ctrl-C, a killed Ray worker, two resumes at once, options kept ----

def registered_checkpoint(tune: Path, family: str) -> bool:
    """Whether Tune's driver has taken in a checkpoint of the trial. A checkpoint folder appears
    while the trial writes it, before the driver knows of it: a worker killed (or a Ctrl-C) then
    restarts the trial from epoch 0, which loses no result but is not the resume under test. The
    driver deletes checkpoint_000000 (num_to_keep=1) when it registers the next one."""
    found = [p.name for p in tune.glob(f"*family_{family}*/checkpoint_*")]
    return bool(found) and "checkpoint_000000" not in found


def test_ctrl_c_then_resume_from_the_checkpoint_with_the_original_options(tmp_path, tiny_corpus):
    grid = write_grid(tmp_path / "g.yaml", tiny_corpus, epochs=120)  # 240 epochs a trial, checkpoints every 10
    run = tmp_path / "run"
    child = Child(tmp_path, "ablate", "--grid", str(grid), "--out", str(run), "--folds", "0", "--max-concurrent", "1",
                  "--max-failures", "2", *RUN_OPTS)
    tune = run / "tune" / "attempt-0"

    # A Ray worker killed under a running trial (as the OOM killer would): Tune retries the trial;
    # Ray's report of it goes to the run's log, not to the console.
    child.wait_for("fc's first checkpoint known to Tune", lambda: registered_checkpoint(tune, "fc"))
    worker = child.wait_for("the trial's worker", lambda: [p for p, cmd in descendants(child.proc.pid).items() if "ImplicitFunc" in cmd])
    os.kill(worker[0], signal.SIGKILL)
    child.wait_for("fc's record", lambda: list((run / "trials").glob("family=fc*.json")))
    child.wait_for("resnet's first checkpoint known to Tune", lambda: registered_checkpoint(tune, "resnet"))
    fc_sha = shas(run)
    os.killpg(child.proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: SIGINT to the foreground process group
    assert child.wait() == 130, child.out + child.err
    assert error_lines(child.err) == [f"interrupted: 1 done, 1 left; resume with `ser-orch ablate --grid {grid} --out {run} --resume`"]
    assert sorted(records(run)) == ["family=fc__fold=0__seed=0"]  # the interrupted trial is not "failed"
    assert records(run)["family=fc__fold=0__seed=0"]["status"] == "done"
    console = child.out + child.err
    assert not ANSI.search(console) and "(raylet)" not in console and "Traceback" not in console
    assert re.search(r"Ray reported \d+ problem\(s\) \(first: A worker died or was killed", child.out), child.out
    assert str(run / "logs" / "ray.log") in child.out
    assert f"Worker PID: {worker[0]}" in (run / "logs" / "ray.log").read_text()
    assert "Failed trials" not in child.out  # no report after an interrupt

    # Two resumes at once: the second is refused, naming the first; the first continues resnet
    # from its checkpoint with the options the run was started with.
    first = Child(tmp_path, "ablate", "--grid", str(grid), "--out", str(run), "--resume")
    owner = first.wait_for("the first resume's lock", lambda: lock_owner(run, first.proc.pid))
    second = CliRunner().invoke(app, ["ablate", "--grid", str(grid), "--out", str(run), "--resume"])
    assert second.exit_code == 2
    assert error_lines(second.stderr) == [f"error: {run}: already running in process {first.proc.pid} on host "
                                          f"{socket.gethostname()} since {owner['started']}; wait for it to finish, or stop it first"]
    assert first.wait() == 0, first.out + first.err
    assert "resources: {'cpus_per_trial': 0.5, 'gpus_per_trial': 0.0, 'max_concurrent': 1, 'max_failures': 2," in first.out
    assert "restoring the interrupted Tune experiment attempt-0" in first.out
    log = (run / "logs" / "trials.log").read_text()
    resumed = re.findall(r"family=resnet__fold=0__seed=0: resumed from its checkpoint after epoch (\d+)", log)
    assert len(resumed) == 1 and 10 <= int(resumed[0]) < 240 and int(resumed[0]) % 10 == 0, log
    assert re.search(r"family=fc__fold=0__seed=0: resumed from its checkpoint after epoch \d+", log)  # the killed worker's retry
    final = records(run)
    assert final["family=resnet__fold=0__seed=0"]["status"] == "done"
    assert [h["global_epoch"] for h in final["family=resnet__fold=0__seed=0"]["history"]] == list(range(1, 241))
    assert {k: v for k, v in shas(run).items() if k in fc_sha} == fc_sha
    assert not (run / ".lock").exists()
