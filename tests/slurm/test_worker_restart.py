"""A joining node whose `ray start` dies during startup is restarted within the join timeout.

Ray's own startup timeout cannot be provoked on demand, so the node here is a stand-in that runs
real processes (`false`, then `sleep`) in place of `ray start`; `run_worker` and the rendezvous
files are the real ones. No Slurm needed.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from ser_orch.slurm.errors import RayClusterError
from ser_orch.slurm.ray_cluster import ClusterFiles, run_worker


class FlakyNode:
    """Fails its first `failures` starts (exit code 1 at once), then stays up until stopped."""

    def __init__(self, files: ClusterFiles, failures: int) -> None:
        self.files = files
        self.node = "node2"
        self.failures = failures
        self.starts: list[str] = []
        self.proc: subprocess.Popen | None = None

    def start(self, head_address: str | None = None) -> None:
        self.starts.append(head_address or "")
        cmd = ["false"] if len(self.starts) <= self.failures else ["sleep", "60"]
        self.proc = subprocess.Popen(cmd)

    def log_tail(self, lines: int = 5) -> str:
        return "Exception: The current node timed out during startup."

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _files(tmp_path: Path) -> ClusterFiles:
    files = ClusterFiles(tmp_path)
    files.write(files.head, {"address": "10.0.0.1:6379"})
    return files


def test_startup_failure_is_retried_then_the_node_stays_until_stop(tmp_path):
    files = _files(tmp_path)
    node = FlakyNode(files, failures=1)
    threading.Timer(5.0, lambda: files.stop.write_text("")).start()
    start = time.monotonic()
    run_worker(1, node, join_timeout_s=60)
    assert node.starts == ["10.0.0.1:6379", "10.0.0.1:6379"]
    assert time.monotonic() - start >= 4.5  # it stayed joined until rank 0 said stop
    assert node.proc.poll() is not None  # and was stopped on the way out


def test_persistent_startup_failure_fails_naming_the_node(tmp_path):
    files = _files(tmp_path)
    node = FlakyNode(files, failures=10)
    with pytest.raises(RayClusterError, match="node2: ray start exited with code 1: .*timed out during startup"):
        run_worker(1, node, join_timeout_s=60)
    assert len(node.starts) == 3  # the first start and two restarts
    assert files.read(files.node(1))["state"] == "failed"
