"""The Slurm launcher: the experiment's `run_experiment` sequence, with the trials submitted as
one multi-node Slurm job instead of run locally (see ``ser_orch.experiment.Launcher``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from ..experiment import Experiment, ExperimentResult
from ..runner.runner import Resources


@dataclass
class SlurmLauncher:
    """``profile``: a name in slurm/ or a YAML path; ``overrides``: nodes, gpus_per_node, time,
    partition (None = the profile's); ``wait``: follow the job to its end; ``dry_run``: show the
    plan and the sbatch script, submit nothing."""

    profile: str
    overrides: dict[str, Any] = field(default_factory=dict)
    wait: bool = False
    dry_run: bool = False
    plan: Any = None  # the checked SlurmPlan, set by check()

    def job_name(self, exp: Experiment) -> str:
        return f"ser-orch-{exp.grid.name}"

    def check(self, exp: Experiment, run_path: Path, resources: Resources, console: Console | None) -> bool:
        from .submit import describe, plan_submission

        self.plan = plan_submission(self.profile, run_path=run_path, n_trials=len(exp.trials), resources=resources,
                                    overrides=self.overrides, dry_run=self.dry_run)
        if self.dry_run:
            if console is not None:
                describe(self.plan, self.job_name(exp), console)
                console.print("dry run: nothing was submitted")
            return False
        return True

    def launch(self, exp: Experiment, resources: Resources, console: Console | None) -> ExperimentResult:
        from ..console import make_console
        from . import status
        from .submit import describe, submit_run

        out = console or make_console()
        describe(self.plan, self.job_name(exp), out, script=False)
        job_id = submit_run(self.plan, exp, self.job_name(exp), out)
        if self.wait:
            status.wait(exp.run_path().resolve(), out)
        return ExperimentResult(exp, job_id=job_id)
