"""One experiment, one path: plan -> prepare data -> run -> records -> report.

Everything that runs a grid goes through here: the CLI commands (`ablate`, `sweep`, `submit`),
the Python API (`ser_orch.api`), the Slurm job (which calls :meth:`Experiment.execute` on its own
Ray cluster) and the tests. Where the trials run is a *launcher*: :class:`LocalLauncher` (a local
Ray cluster, or one at a given address) lives here; the Slurm launcher lives in
``ser_orch.slurm.launch`` and plugs in through the same two methods, so this module never
imports Slurm code.

    exp = Experiment.from_grid("grids/kumar_arch.yaml", RunOptions(quick=True))
    result = run_experiment(exp, Resources(cpus_per_trial=0.5), console=console)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape

from ser_data.errors import SerError

from .baseline import ensure_baseline
from .faults import check_folder
from .grid import (DEFAULT_MAX_TRIALS, Grid, GridError, count_configs, expand, load_grid, parse_fold_list, parse_grid,
                   set_dotted)
from .inputs import DataSummary, FoldCountError, TrialInputs, plan_inputs
from .packing import PackPlan, parse_pack, plan_packs
from .report.build import BuiltReport, build_report
from .results.records import completed_trial_ids
from .rundir import RunDir, create_run_dir, default_run_path, open_run_dir
from .runlock import RunLock, check_unlocked
from .runner import Resources, RunOutcome, check_capacity, local_capacity, ray_session, run_trials
from .runner.tracking import Tracking, choose_tracking, require_backend, tracking_callbacks
from .tasks import Task, UnknownTaskError, get_task, validate_trials

Progress = Callable[[str, int, int], None]


class OptionError(SerError):
    """A run option that does not fit the grid (e.g. --pretrain-workers on a grid without that stage)."""


@dataclass(frozen=True)
class RunOptions:
    """What the user chose on top of the grid file; kept in run.json so --resume reruns the same."""

    quick: bool = False
    folds: str | None = None  # "0,1" or "0-4"; None = the grid's (or quick profile's) folds
    epochs: int | None = None  # every training phase's epoch count
    dataset: str | None = None
    data_root: str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)  # dotted grid keys -> values
    pretrain_workers: int | None = None
    track: str | None = None  # tensorboard | mlflow | none; None = the grid's `track:` (resolved by from_grid)
    tracking_uri: str | None = None  # MLflow tracking URI; None = the run folder's own store
    pack: str | int = "auto"  # packing.parse_pack: auto | off | N members per pack

    def to_meta(self) -> dict[str, Any]:
        return {**asdict(self), "overrides": dict(self.overrides)}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any] | None) -> RunOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (meta or {}).items() if k in known})


def resolve_resources(given: Mapping[str, Any], stored: Mapping[str, Any] | None = None) -> Resources:
    """Resources from what was given (None = not given), else what the run was started with
    (a resume keeps its --max-concurrent, --cpus-per-trial ...), else the defaults."""
    names = {f.name for f in fields(Resources)}
    merged = {k: v for k, v in (stored or {}).items() if k in names and v is not None}
    merged.update({k: v for k, v in given.items() if k in names and v is not None})
    return Resources(**merged)


@dataclass
class ExperimentResult:
    experiment: Experiment
    outcome: RunOutcome | None = None  # None when nothing ran here (dry run, submitted to Slurm)
    report: BuiltReport | None = None
    job_id: str | None = None  # the Slurm job, when submitted

    @property
    def run(self) -> RunDir | None:
        return self.experiment.run


class Experiment:
    """A planned run of one grid: its trials, options, run folder and per-trial inputs."""

    def __init__(
        self,
        grid: Grid,
        trials: list[dict[str, Any]],
        options: RunOptions = RunOptions(),
        run: RunDir | None = None,
        inputs: Mapping[str, TrialInputs] | None = None,
    ) -> None:
        self.grid = grid
        self.trials = trials
        self.options = options
        self.run = run
        self.inputs: dict[str, TrialInputs] = dict(inputs or {})
        self.data: list[DataSummary] = []
        self.baseline_note: str | None = None  # why the run has no baseline row, if it has none

    # ---- plan ----
    @classmethod
    def from_grid(cls, grid: Grid | str | Path, options: RunOptions = RunOptions(), *,
                  max_trials: int | None = DEFAULT_MAX_TRIALS) -> Experiment:
        """Load, expand and validate a grid with the options applied (nothing is created).
        More than ``max_trials`` trials is a GridError (None: no limit)."""
        loaded = grid if isinstance(grid, Grid) else load_grid(grid)
        task = _task_of(loaded)
        parse_pack(options.pack)  # a bad --pack fails before anything is planned
        tracking = choose_tracking(options.track, loaded.spec.track, options.tracking_uri)
        options = replace(options, track=tracking.backend, tracking_uri=tracking.uri)  # run.json keeps the choice
        overrides: dict[str, Any] = {}
        if options.dataset is not None:
            overrides["dataset.name"] = options.dataset
        if options.data_root is not None:
            overrides["dataset.root"] = str(options.data_root)
        if options.epochs is not None:
            for key in task.epoch_keys:
                overrides[key] = options.epochs
        if options.pretrain_workers is not None:
            overrides[_workers_key(task, loaded)] = options.pretrain_workers
        overrides.update(options.overrides)
        trials = expand(loaded, quick=options.quick, folds=parse_fold_list(options.folds), overrides=overrides,
                        max_trials=max_trials)
        validate_trials(loaded, trials)
        return cls(loaded, trials, options)

    @classmethod
    def resume(cls, run_dir: str | Path, grid: Grid | str | Path | None = None, *, pretrain_workers: int | None = None) -> Experiment:
        """Reopen a run folder to finish it with the trials and options it was started with.

        With ``grid``, the folder must belong to that grid file (unchanged); without, the run's own
        copy of the grid is used. ``pretrain_workers`` may change: it never changes the weights."""
        loaded = None if grid is None else (grid if isinstance(grid, Grid) else load_grid(grid))
        run = open_run_dir(Path(run_dir), loaded)
        loaded = loaded or parse_grid(run.grid_text(), run.grid_file)
        trials = run.planned_trials()
        options = RunOptions.from_meta(run.meta.get("options"))
        require_backend(Tracking.of(options).backend)
        if pretrain_workers is not None:
            key = _workers_key(_task_of(loaded), loaded)
            for trial in trials:
                set_dotted(trial, key, pretrain_workers)
        return cls(loaded, trials, options, run)

    @property
    def task(self) -> Task:
        return get_task(self.grid.spec.task)

    @property
    def n_configs(self) -> int:
        return count_configs(self.trials)

    def run_path(self, out: str | Path | None = None) -> Path:
        """Where the run folder is (resume) or will be (``out``, else runs/<grid>-<time>)."""
        if self.run is not None:
            return self.run.path
        return Path(out) if out is not None else default_run_path(self.grid)

    def check_local(self, resources: Resources) -> None:
        """Refuse requests a local Ray cluster can never meet (Ray would wait forever)."""
        check_capacity(local_capacity(), resources, self.task.stage_workers(self.trials))

    # ---- prepare data ----
    def prepare(self, out: str | Path | None = None, *, resources: Resources | None = None,
                progress: Progress | None = None) -> RunDir:
        """Build (or reuse) the feature caches and folds, create the run folder (unless resuming)
        and write the fold files the trials read."""
        try:
            plan = plan_inputs(self.trials, progress)
        except FoldCountError as exc:  # the grid's protocol.folds, known wrong once the corpus is read
            raise GridError(str(self.grid.path) if self.grid.path else self.grid.name, "protocol.folds", str(exc)) from None
        self.data = plan.summary
        if self.run is None:
            meta = {**self.options.to_meta(), "resources": asdict(resources) if resources else None}
            self.run = create_run_dir(self.run_path(out), self.grid, self.trials, meta)
        self.inputs = plan.write(self.run)
        if self.grid.spec.report.baseline == "logreg":
            self.baseline_note = ensure_baseline(self.trials, self.inputs, self.run, progress)
        return self.run

    # ---- run ----
    def pending(self) -> list[dict[str, Any]]:
        """Trials without a completed record (what a run or a resume still has to do)."""
        done = completed_trial_ids(self._prepared().path)
        return [t for t in self.trials if t["trial_id"] not in done]

    def execute(
        self, resources: Resources, *, address: str | None = None, console: Console | None = None,
        callbacks: Iterable[Any] = (),
    ) -> RunOutcome:
        """Run every pending trial on Ray (a new local cluster, or the one at ``address``): the
        task's stage once, then one Tune trial each; every trial ends with a record.

        One process at a time: the run folder's lock is held throughout (``RunLocked`` otherwise);
        Ray's own messages go to ``<run>/logs/ray.log``."""
        from .runner.ray_log import RayLog

        run = self._prepared()
        todo = self.pending()
        if not todo:
            return RunOutcome(ran=0, skipped=len(self.trials), failed=[])
        task = self.task
        check_folder(run.path)
        ray_log = RayLog(run.ray_log)
        try:
            with RunLock(run.path) as lock, ray_session(resources, address, log=ray_log) as cluster:
                if lock.took_over and console is not None:
                    console.print(f"took over the run folder's lock from process {lock.took_over.get('pid')} on "
                                  f"{lock.took_over.get('host')}, which no longer runs")
                todo = self.pending()  # again under the lock: a run that just released it may have finished some
                if not todo:
                    return RunOutcome(ran=0, skipped=len(self.trials), failed=[])
                check_capacity(cluster, resources, task.stage_workers(todo))
                staged = task.stage(todo, self.inputs, run.path, console)
                inputs = {t["trial_id"]: self.inputs[t["trial_id"]].with_stage(staged.get(t["trial_id"], {})).to_dict()
                          for t in todo}
                plan = self.packs(todo, resources)
                if console is not None:
                    console.print(plan.summary)
                jobs = [{"trial": p[0], "inputs": inputs[p[0]["trial_id"]]} if len(p) == 1
                        else {"pack": p, "inputs": [inputs[t["trial_id"]] for t in p]} for p in plan.packs]
                callbacks = [*tracking_callbacks(Tracking.of(self.options), run), *callbacks]
                return run_trials(jobs, run, resources, total=len(self.trials), console=console, callbacks=list(callbacks))
        finally:
            if ray_log.count and console is not None:
                console.print(f"[yellow]Ray reported {ray_log.count} problem(s)[/] (first: {escape(ray_log.first or '')}); "
                              f"details in {ray_log.path}", soft_wrap=True)

    def packs(self, trials: list[dict[str, Any]] | None = None, resources: Resources | None = None) -> PackPlan:
        """How ``trials`` (default: all) train under this run's ``--pack``: a GPU run when
        ``resources`` give each trial a GPU share."""
        on_gpu = resources is not None and resources.gpus_per_trial > 0
        return plan_packs(self.trials if trials is None else trials, parse_pack(self.options.pack), on_gpu=on_gpu)

    # ---- report ----
    def report(self, console: Console | None = None, *, plots: bool = True) -> BuiltReport:
        return build_report(self._prepared().path, console=console, plots=plots)

    def _prepared(self) -> RunDir:
        if self.run is None or not self.inputs:
            raise RuntimeError("Experiment.prepare() must run first")  # a programming error, not user input
        return self.run


def compile_grid(path: str | Path, **expand_options: Any) -> tuple[Grid, list[dict[str, Any]]]:
    """Load, expand and validate in one go: the trials a run would start (`grid show/validate`)."""
    grid = load_grid(path)
    trials = expand(grid, **expand_options)
    validate_trials(grid, trials)
    return grid, trials


def _task_of(grid: Grid) -> Task:
    try:
        return get_task(grid.spec.task)
    except UnknownTaskError as exc:
        raise GridError(str(grid.path) if grid.path else grid.name, "task", str(exc)) from None


def _workers_key(task: Task, grid: Grid) -> str:
    if task.pretrain_workers_key is None:
        raise OptionError(f"--pretrain-workers: grid '{grid.name}' (task {task.name}) has no pre-training stage")
    return task.pretrain_workers_key


class Launcher(Protocol):
    """Where the trials run. ``check`` runs before any data preparation or folder (False: stop
    there, e.g. a dry run); ``launch`` runs the prepared experiment."""

    def check(self, exp: Experiment, run_path: Path, resources: Resources, console: Console | None) -> bool: ...

    def launch(self, exp: Experiment, resources: Resources, console: Console | None) -> ExperimentResult: ...


@dataclass(frozen=True)
class LocalLauncher:
    """Trials on a new local Ray cluster, or on the running cluster at ``address``."""

    address: str | None = None

    def check(self, exp: Experiment, run_path: Path, resources: Resources, console: Console | None) -> bool:
        if self.address is None:
            exp.check_local(resources)
        return True

    def launch(self, exp: Experiment, resources: Resources, console: Console | None) -> ExperimentResult:
        outcome = exp.execute(resources, address=self.address, console=console)
        if outcome.skipped and console is not None:
            console.print(f"{outcome.skipped} trial(s) already complete, not rerun")
        report = exp.report(console)
        if outcome.failed and console is not None:
            console.print(f"[red]{len(outcome.failed)} trial(s) failed[/]; they are listed above and left out of the statistics")
        return ExperimentResult(exp, outcome, report)


def run_experiment(
    exp: Experiment,
    resources: Resources,
    *,
    out: str | Path | None = None,
    launcher: Launcher | None = None,
    console: Console | None = None,
    data_progress: Callable[[], AbstractContextManager[Progress]] | None = None,
) -> ExperimentResult:
    """The whole sequence for a planned experiment: checks, data, run folder, trials, report.

    ``data_progress``: a factory of a live progress display for the data preparation (corpus
    synthesis, feature extraction), closed before the trials start their own."""
    launcher = launcher or LocalLauncher()
    path = exp.run_path(out)  # once: a default path has the time in it
    # soft_wrap: these lines hold paths and options; a log or a pipe must get them whole, unbroken.
    say = (lambda *a, **k: console.print(*a, soft_wrap=True, **k)) if console is not None else (lambda *a, **k: None)
    if exp.run is not None:
        check_unlocked(exp.run.path)  # another process running this folder: say so before any data work
        say(f"resuming [bold]{exp.run.path}[/] with the options it was started with: {exp.options.to_meta()}; "
            f"resources: {asdict(resources)}")
    say(f"grid [bold]{exp.grid.name}[/]: {exp.n_configs} configurations, {len(exp.trials)} trials"
        + (" (quick profile)" if exp.options.quick else ""))
    if not launcher.check(exp, path, resources, console):
        return ExperimentResult(exp)
    with data_progress() if data_progress is not None else nullcontext() as progress:
        run = exp.prepare(path, resources=resources, progress=progress)
    for info in exp.data:
        say(f"data: {info.dataset} at {info.root}: {info.utterances} utterances, {info.features} cached in {info.cache}")
        if info.problems:
            say(f"[yellow]{len(info.problems)} file(s) excluded[/] (first: {info.problems[0][0]}: {info.problems[0][1]}); "
                f"all of them in {run.excluded_file}")
    say(f"run folder: [bold]{run.path}[/]")
    return launcher.launch(exp, resources, console)


__all__ = [
    "Experiment",
    "compile_grid",
    "ExperimentResult",
    "Launcher",
    "LocalLauncher",
    "OptionError",
    "RunOptions",
    "resolve_resources",
    "run_experiment",
]
