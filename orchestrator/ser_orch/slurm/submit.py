"""Plan and submit one experiment as one submitit job; the dry run shows the plan and the sbatch script.

Everything is checked before `sbatch` runs: the profile, the partition's capacity (`sinfo`), the
per-trial resources against the per-node ones, and that the run folder can be written.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from ser_data.atomic import atomic_write_text

from ..experiment import Experiment
from ..rundir import RunDir
from ..runner.runner import Resources
from .errors import SlurmError
from .profiles import SlurmProfile, check_capacity, load_profile

JOB_FILE = "job.json"


@dataclass
class SlurmPlan:
    profile: SlurmProfile
    partition: str | None
    run_path: Path
    n_trials: int
    resources: Resources

    @property
    def log_dir(self) -> Path:
        return RunDir.at(self.run_path).slurm_dir / "logs"

    def executor_parameters(self, job_name: str) -> dict[str, Any]:
        """Parameters of submitit's SlurmExecutor: one task per node, the whole node's share for it."""
        p = self.profile
        params: dict[str, Any] = {
            "job_name": job_name,
            "nodes": p.nodes,
            "ntasks_per_node": 1,
            "cpus_per_task": p.cpus_per_node,
            "time": p.timeout_min,
            "signal_delay_s": p.signal_delay_s,
            # One failing task (a node whose Ray cannot start) ends the whole step: the allocation is released.
            "srun_args": ["--kill-on-bad-exit=1"],
        }
        for key, value in (("partition", self.partition), ("account", p.account), ("qos", p.qos)):
            if value:
                params[key] = value
        if p.gpus_per_node:
            params["gpus_per_node"] = p.gpus_per_node
        if p.mem_gb:
            params["mem"] = f"{int(p.mem_gb * 1024)}M"
        if p.setup:
            params["setup"] = list(p.setup)
        if p.extra_sbatch:
            params["additional_parameters"] = {k.lstrip("-"): v for k, v in p.extra_sbatch.items()}
        return params


def _check_writable(path: Path) -> None:
    """The run folder (or its nearest existing parent) must be writable, and absolute paths must exist for the job."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise SlurmError(f"run folder {path}: {probe} is not a writable folder; the job writes its results there")


def plan_submission(
    profile_name: str,
    *,
    run_path: Path,
    n_trials: int,
    resources: Resources,
    overrides: dict[str, Any] | None = None,
    dry_run: bool = False,
) -> SlurmPlan:
    """Validate everything a submission needs; nothing is created or submitted.

    A dry run away from any Slurm cluster (no `sinfo`) still shows the plan, without the capacity check.
    """
    profile = load_profile(profile_name, **(overrides or {}))
    if resources.cpus_per_trial > profile.cpus_per_node:
        raise SlurmError(f"--cpus-per-trial {resources.cpus_per_trial:g} is more than the {profile.cpus_per_node} CPU(s) per node of profile {profile.name}")
    if resources.gpus_per_trial > max(profile.gpus_per_node, 0) or (resources.gpus_per_trial and not profile.gpus_per_node):
        raise SlurmError(f"--gpus-per-trial {resources.gpus_per_trial:g} but profile {profile.name} has {profile.gpus_per_node} GPU(s) per node")
    run_path = run_path.expanduser().resolve()
    _check_writable(run_path)
    partition = profile.partition if dry_run and shutil.which("sinfo") is None else check_capacity(profile)
    resources = Resources(**{**asdict(resources), "num_cpus": None, "num_gpus": None})
    return SlurmPlan(profile, partition, run_path, n_trials, resources)


def sbatch_script(plan: SlurmPlan, job_name: str) -> str:
    """The batch script submitit would write for this plan (submitit's own renderer)."""
    import shlex
    import sys

    from submitit.slurm.slurm import _make_sbatch_string

    command = " ".join([shlex.quote(sys.executable), "-u -m submitit.core._submit", shlex.quote(str(plan.log_dir))])
    return _make_sbatch_string(command=command, folder=plan.log_dir, **plan.executor_parameters(job_name))


def describe(plan: SlurmPlan, job_name: str, console: Console, script: bool = True) -> None:
    p = plan.profile
    per_trial = f"{plan.resources.cpus_per_trial:g} CPU" + (f", {plan.resources.gpus_per_trial:g} GPU" if plan.resources.gpus_per_trial else "")
    slots_cpu = int(p.cpus_per_node // plan.resources.cpus_per_trial)
    slots = min(slots_cpu, int(p.gpus_per_node // plan.resources.gpus_per_trial)) if plan.resources.gpus_per_trial else slots_cpu
    lines = [
        f"profile [bold]{p.name}[/]: partition {plan.partition or '(default)'}"
        + (f", account {p.account}" if p.account else "") + (f", qos {p.qos}" if p.qos else ""),
        f"nodes {p.nodes} x ({p.cpus_per_node} CPU, {p.gpus_per_node} GPU" + (f", {p.mem_gb:g} GB" if p.mem_gb else "") + f"), time limit {p.time}",
        f"trials {plan.n_trials}, {per_trial} each: up to {slots * p.nodes} at once ({slots} per node), max failures {plan.resources.max_failures}",
        f"run folder {plan.run_path}",
        f"Tune storage {RunDir.at(plan.run_path).tune_dir}",
        f"Slurm logs {plan.log_dir}",
    ]
    for line in lines:
        console.print(line, soft_wrap=True)
    if script:
        console.print("sbatch script:", soft_wrap=True)
        console.print(sbatch_script(plan, job_name), markup=False, highlight=False, soft_wrap=True)


def submit_run(plan: SlurmPlan, exp: Experiment, job_name: str, console: Console) -> str:
    """Submit the prepared experiment; write `<run>/slurm/job.json`; return the Slurm job id."""
    import submitit

    from .job import SlurmExperiment

    run = RunDir.at(plan.run_path)
    plan.log_dir.mkdir(parents=True, exist_ok=True)
    executor = submitit.SlurmExecutor(folder=plan.log_dir)
    executor.update_parameters(**plan.executor_parameters(job_name))
    experiment = SlurmExperiment(
        str(run.path),
        exp.trials,
        {tid: inputs.to_dict() for tid, inputs in exp.inputs.items()},
        plan.resources,
        join_timeout_s=plan.profile.join_timeout_s,
        object_store_mb=plan.profile.object_store_mb,
        dashboard=plan.profile.dashboard,
    )
    try:
        job = executor.submit(experiment)
    except Exception as exc:  # sbatch refused: one line, not a traceback
        raise SlurmError(f"sbatch failed: {str(exc).strip().splitlines()[-1] if str(exc).strip() else exc}") from None
    info = {
        "job_id": str(job.job_id),
        "submitted": time.time(),
        "profile": plan.profile.model_dump(),
        "partition": plan.partition,
        "log_dir": str(plan.log_dir),
        "n_trials": len(exp.trials),
    }
    atomic_write_text(run.slurm_dir / JOB_FILE, json.dumps(info, indent=2) + "\n")
    console.print(f"submitted Slurm job [bold]{job.job_id}[/] ({plan.profile.nodes} node(s)); run folder [bold]{run.path}[/]")
    console.print(f"watch it with: ser-orch status {run.path} [--wait]")
    return str(job.job_id)
