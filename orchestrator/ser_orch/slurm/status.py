"""What a submitted experiment is doing: Slurm's state, trial counts, a partial table; `wait` follows it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from ..results.records import scan_records
from ..rundir import RunDir, open_run_dir
from .errors import SlurmError
from .submit import JOB_FILE

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}


@dataclass
class JobStatus:
    job_id: str
    state: str
    reason: str = ""
    nodes: str = ""
    restarts: int = 0
    planned: int = 0
    done: int = 0
    failed: int = 0
    running: list[str] = field(default_factory=list)
    nodes_used: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    def line(self) -> str:
        where = f" on {self.nodes}" if self.nodes and self.state == "RUNNING" else ""
        why = f" ({self.reason})" if self.reason and self.reason != "None" else ""
        again = f", requeued {self.restarts}x" if self.restarts else ""
        failed = f", {self.failed} failed" if self.failed else ""
        return (f"job {self.job_id}: {self.state}{why}{where}{again}; trials {self.done}/{self.planned} done, "
                f"{len(self.running)} running{failed}")


def read_job(run_dir: Path) -> dict[str, Any]:
    path = RunDir.at(run_dir).slurm_dir / JOB_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise SlurmError(f"{run_dir}: no Slurm job was submitted for this run folder (no slurm/{JOB_FILE})") from None
    except (OSError, ValueError) as exc:
        raise SlurmError(f"{path}: unreadable: {exc}") from None


def slurm_state(job_id: str) -> dict[str, str]:
    """JobState, Reason, NodeList, Restarts from `scontrol show job` (sacct may not exist)."""
    if shutil.which("scontrol"):
        proc = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=30)
        if proc.returncode == 0 and proc.stdout.strip():
            return dict(re.findall(r"(\w+)=(\S*)", proc.stdout))
    if shutil.which("squeue"):
        proc = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T|%r|%N"], capture_output=True, text=True, timeout=30)
        if proc.returncode == 0 and proc.stdout.strip():
            state, reason, nodes = (proc.stdout.strip().split("|") + ["", ""])[:3]
            return {"JobState": state, "Reason": reason, "NodeList": nodes}
    return {}


def _events(run_dir: Path) -> list[dict[str, Any]]:
    path = RunDir.at(run_dir).slurm_dir / "events.jsonl"
    out = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def job_status(run_dir: Path) -> JobStatus:
    job = read_job(run_dir)
    run = open_run_dir(run_dir)
    info = slurm_state(job["job_id"])
    events = _events(run_dir)
    state = info.get("JobState", "")
    if not state:  # forgotten by slurmctld: the run folder says how it ended
        ends = [e for e in events if e.get("event") in ("finished", "error")]
        state = ("COMPLETED" if ends and ends[-1]["event"] == "finished" else "FAILED") if ends else "UNKNOWN"
    records = scan_records(run_dir).records
    try:
        running = list(json.loads((RunDir.at(run_dir).slurm_dir / "running.json").read_text())["running"])
    except (OSError, ValueError, KeyError):
        running = []
    nodes_used: dict[str, int] = {}
    for r in records:
        if r.done and r.node:
            nodes_used[r.node] = nodes_used.get(r.node, 0) + 1
    # Only errors of the latest attempt: an attempt that failed before a successful requeue is history.
    starts = [i for i, e in enumerate(events) if e.get("event") == "cluster"]
    errors = [e["error"] for e in events[starts[-1] if starts else 0:] if e.get("event") == "error"]
    return JobStatus(
        job_id=job["job_id"],
        state=state,
        reason=info.get("Reason", ""),
        nodes=info.get("NodeList", ""),
        restarts=int(info.get("Restarts", "0") or 0),
        planned=int(run.meta.get("n_trials", 0)),
        done=sum(r.done for r in records),
        failed=sum(r.failed for r in records),
        running=[] if state in TERMINAL else running,
        nodes_used=nodes_used,
        last_error=errors[-1] if errors else None,
    )


def partial_table(run_dir: Path, console: Console) -> None:
    """The fold-aggregated table of the records so far, printed only (no files are written)."""
    from ..grid import parse_grid
    from ..report.tables import aggregate_table
    from ..results.aggregate import aggregate

    run = open_run_dir(run_dir)
    grid = parse_grid(run.grid_text(), run.grid_file)
    spec = grid.spec.report
    records = scan_records(run_dir).records
    if not records:
        console.print("no trial has finished yet")
        return
    stats = aggregate(records, metrics=list(spec.metrics), planned=run.planned_trials())
    console.print(aggregate_table(stats, metrics=list(spec.metrics), series_key=spec.series, paper=spec.paper,
                                  title=f"{grid.name} (so far)"))


def show(run_dir: Path, console: Console) -> JobStatus:
    status = job_status(run_dir)
    console.print(status.line(), soft_wrap=True)
    if status.nodes_used:
        console.print("trials per node: " + ", ".join(f"{n} {c}" for n, c in sorted(status.nodes_used.items())))
    for trial in status.running:
        console.print(f"  running: {trial}", soft_wrap=True)
    if status.last_error:
        console.print(f"[red]last error:[/] {status.last_error}", soft_wrap=True)
    partial_table(run_dir, console)
    return status


def wait(run_dir: Path, console: Console, poll_s: float = 3.0, timeout_s: float | None = None) -> JobStatus:
    """Print a line whenever the state or the counts change, until the job has ended; raise if it failed."""
    start = time.monotonic()
    last = ""
    while True:
        status = job_status(run_dir)
        line = status.line()
        if line != last:
            console.print(f"[{time.strftime('%H:%M:%S')}] {line}", soft_wrap=True)
            last = line
        if status.finished:
            break
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            raise SlurmError(f"job {status.job_id} still {status.state} after {timeout_s:.0f} s")
        time.sleep(poll_s)
    if status.state != "COMPLETED":
        logs = Path(read_job(run_dir)["log_dir"])
        raise SlurmError(
            f"job {status.job_id} ended {status.state}"
            + (f": {status.last_error}" if status.last_error else "")
            + f" (logs in {logs})"
        )
    partial_table(run_dir, console)
    console.print(f"tables and plots are in {run_dir}")
    return status
