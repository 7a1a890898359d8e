"""The callable submitit runs on every node of an experiment's job: one task per node.

Rank 0 starts the Ray head, waits for the other nodes to join, then runs the experiment over all
of them with the same code as a local run (`Experiment.execute(..., address=...)`) and writes the
report into the run folder.
On USR2 (preemption or the time limit) submitit calls `checkpoint()`, which resubmits this same
object; the requeued job finds the run folder and the Tune experiment in it and carries on.

Nothing here imports Ray or submitit at module level: the submitting side only pickles the object.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ser_data.atomic import atomic_write_text

from ..rundir import RunDir
from ..runner.runner import Resources
from .ray_cluster import ClusterFiles, RayNode, run_worker, short_temp_dir, wait_for_nodes

try:  # submitit is a dependency; the fallback only keeps this module importable without it
    from submitit.helpers import Checkpointable
except ImportError:  # pragma: no cover
    Checkpointable = object  # type: ignore[misc,assignment]

def _append_jsonl(path: Path, data: dict[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps(data) + "\n")


def _allocated_gpus() -> int:
    # SLURM_GPUS_ON_NODE is set when GPUs were allocated; CUDA_VISIBLE_DEVICES is the fallback.
    if os.environ.get("SLURM_GPUS_ON_NODE", "").isdigit():
        return int(os.environ["SLURM_GPUS_ON_NODE"])
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    return len([d for d in visible.split(",") if d.strip()]) if visible else 0


class SlurmExperiment(Checkpointable):  # type: ignore[misc,valid-type]
    """One experiment as one multi-node submitit job."""

    def __init__(
        self,
        run_dir: str,
        trials: list[dict[str, Any]],
        inputs: dict[str, dict[str, Any]],
        resources: Resources,
        *,
        join_timeout_s: float = 120,
        object_store_mb: int | None = None,
        dashboard: bool = False,
    ) -> None:
        self.run_dir = str(Path(run_dir).resolve())
        self.trials = trials
        self.inputs = inputs  # trial id -> TrialInputs as a dict (paths on the shared filesystem)
        self.resources = resources
        self.join_timeout_s = join_timeout_s
        self.object_store_mb = object_store_mb
        self.dashboard = dashboard

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """USR2: resubmit unchanged. All state lives in the run folder (records + Tune experiment)."""
        from submitit.helpers import DelayedSubmission

        _append_jsonl(RunDir.at(self.run_dir).slurm_dir / "events.jsonl",
                      {"time": time.time(), "event": "checkpoint", "job_id": os.environ.get("SLURM_JOB_ID")})
        return DelayedSubmission(self, *args, **kwargs)

    def __call__(self) -> dict[str, Any] | None:
        import submitit

        env = submitit.JobEnvironment()
        started = time.monotonic()
        nodes = list(env.hostnames)
        node = os.environ.get("SLURMD_NODENAME") or nodes[env.node]
        restart = os.environ.get("SLURM_RESTART_COUNT", "0")
        tag = f"{env.job_id}-r{restart}"
        files = ClusterFiles(RunDir.at(self.run_dir).slurm_dir / "ray" / tag)
        files.folder.mkdir(parents=True, exist_ok=True)
        ray_node = RayNode(
            rank=env.global_rank,
            node=node,
            files=files,
            temp_dir=short_temp_dir(f"{env.job_id}r{restart}n{env.global_rank}", str(env.job_id)),
            num_cpus=int(os.environ.get("SLURM_CPUS_ON_NODE") or os.environ.get("SLURM_CPUS_PER_TASK") or 1),
            num_gpus=_allocated_gpus(),
            object_store_mb=self.object_store_mb,
            dashboard=self.dashboard,
        )
        if env.global_rank != 0:
            run_worker(env.global_rank, ray_node, self.join_timeout_s)
            return None
        return self._drive(ray_node, files, nodes, tag, started)

    def _drive(self, head: RayNode, files: ClusterFiles, nodes: list[str], tag: str, started: float) -> dict[str, Any]:
        # Ray reads RAY_AUTH_MODE when it is imported: the driver's token settings must come first.
        os.environ.update(head.ray_env())
        import ray

        from ..console import make_console
        from ..experiment import Experiment
        from ..inputs import TrialInputs
        from .live import LiveState

        console = make_console()
        run = RunDir.at(self.run_dir)
        events = run.slurm_dir / "events.jsonl"
        files.make_token()
        try:
            head.start()
            head.wait_head_ready(self.join_timeout_s)
            files.write(files.head, {"address": head.address, "node": head.node})
            ray.init(address=head.address, log_to_driver=False, logging_level=logging.ERROR)
            wait_for_nodes(files, nodes, self.join_timeout_s)
            formed = time.monotonic() - started
            console.print(f"Ray cluster of {len(nodes)} node(s) ({', '.join(nodes)}) formed in {formed:.1f} s at {head.address}"
                          + (f"; dashboard {head.dashboard_url}" if head.dashboard_url else ""))
            _append_jsonl(events, {"time": time.time(), "event": "cluster", "tag": tag, "nodes": nodes,
                                   "formed_s": round(formed, 2), "address": head.address})
            exp = Experiment.resume(run.path)
            exp.trials = self.trials  # as submitted (a resume may have changed --pretrain-workers)
            exp.inputs = {tid: TrialInputs.from_dict(d) for tid, d in self.inputs.items()}
            outcome = exp.execute(self.resources, address=head.address, console=console,
                                  callbacks=[LiveState(str(run.slurm_dir / "running.json"))])
            exp.report(console)
            result = {"tag": tag, **asdict(outcome)}
            _append_jsonl(events, {"time": time.time(), "event": "finished", **result})
            return result
        except SystemExit as exc:  # submitit leaves this way after requeueing on USR2
            _append_jsonl(events, {"time": time.time(), "event": "interrupted", "tag": tag, "code": str(exc.code)})
            raise
        except BaseException as exc:
            _append_jsonl(events, {"time": time.time(), "event": "error", "tag": tag, "error": f"{type(exc).__name__}: {exc}"})
            raise
        finally:
            atomic_write_text(files.stop, "done\n")
            if ray.is_initialized():
                ray.shutdown()
            head.stop()
