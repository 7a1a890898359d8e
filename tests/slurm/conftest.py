"""A real two-node Slurm cluster (slurm/local-cluster.sh) for the Slurm tests, plus a tiny grid.

The cluster is started once per session and stopped at the end if this session started it.
Tests are skipped (with the reason) only where root or apt-get are missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "slurm" / "local-cluster.sh"

GRID = """
name: {name}
description: "slurm test grid"
task: kumar
dataset: {{name: ravdess, root: {root}}}
features: {{name: mfcc39}}
protocol: {{name: kumar_70_30, folds: 2, params: {{folds: 2}}}}
model: {{family: fc, depth: 6}}
train: {{pretrain_epochs: {epochs}, triplet_epochs: {epochs}, batch_size: 64}}
grid:
  model.family: {families}
  model.depth: [6]
report:
  series: model.family
  x: model.depth
"""


def _cluster_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    out = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %t"], capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if line.split()[:1] in (["node1"], ["node2"]) and "down" not in line) == 2


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    if os.geteuid() != 0:
        pytest.skip("Slurm tests need root to start munged/slurmctld/slurmd (run as root, as CI does)")
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        pytest.skip("Slurm tests need slurm-wlm and munge, or apt-get to install them")
    started = not _cluster_up()
    if started:
        subprocess.run([str(SCRIPT), "up"], check=True, timeout=600)
    yield
    subprocess.run(["scancel", "--partition=debug", "--full"], check=False)
    if started:
        subprocess.run([str(SCRIPT), "down"], check=False, timeout=120)


@pytest.fixture(scope="session")
def slurm_corpus(synth_corpus) -> Path:  # type: ignore[no-untyped-def]
    return synth_corpus("ravdess", actors=2, seed=3)


@pytest.fixture()
def make_grid(tmp_path: Path, slurm_corpus: Path):
    def make(name: str = "slurm_tiny", families: str = "[fc, resnet]", epochs: int = 3) -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(GRID.format(name=name, root=slurm_corpus, families=families, epochs=epochs))
        return path

    return make


def ser_orch(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real CLI in a child process, as a user types it."""
    return subprocess.run(["ser-orch", *args], capture_output=True, text=True, timeout=timeout, cwd=REPO)


def job_id(run_dir: Path) -> str:
    import json

    return json.loads((run_dir / "slurm" / "job.json").read_text())["job_id"]


def wait_for(predicate, timeout: float, what: str, poll: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def jobs_in_queue() -> list[str]:
    return subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout.split()
