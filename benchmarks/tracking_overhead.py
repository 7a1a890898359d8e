"""What experiment tracking costs: the same small grid run with --track none, tensorboard and mlflow
side by side (interleaved, the order rotated every repeat), on one local Ray cluster per run.

    python benchmarks/tracking_overhead.py                    # kumar_arch --quick at depth 6: 6 configs x 2 folds
    python benchmarks/tracking_overhead.py --repeats 3 --cpus-per-trial 0.5
    python benchmarks/tracking_overhead.py --override model.family=fc --epochs 50   # longer trials
    python benchmarks/tracking_overhead.py --grid grids/kumar_arch.yaml --override model.family=resnet

The quick profile's epochs are short (tens to hundreds of milliseconds on the synthetic corpus),
the worst case for an overhead that is paid per epoch. Figures per tracker: the Tune phase's wall
time (first trial start to last record; data preparation and the report excluded; it includes
the tracker's one-off setup, e.g. creating MLflow's SQLite tables); the trials' time per epoch
(their train_seconds over their epochs: measured inside each trial, so it includes every wait on
the driver, whose callbacks run between a trial's report and its next epoch); and, measured in
the driver, the time spent in the tracker's callbacks (per epoch, and once per run) as a share
of the trials' training time: the most a trial can wait on its tracker. Ratios are against
--track none. On a busy machine the wall times are noisy; the callback times much less so.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from ser_orch.experiment import Experiment, RunOptions
from ser_orch.results.records import scan_records
from ser_orch.runner import Resources
from ser_orch.runner.mlflow_tracker import MlflowTracker
from ser_orch.runner.tensorboard_tracker import TensorBoardTracker
from ser_orch.runner.trackers import TrialTracker

REPO = Path(__file__).resolve().parents[1]
TRACKERS = ("none", "tensorboard", "mlflow")


class CallbackTimer:
    """The driver time spent in the trackers' Tune hooks, per epoch (results, checkpoints) and
    once per run (setup, experiment end): their methods timed while the context is open."""

    HOOKS = {"on_trial_result": "epoch", "on_checkpoint": "epoch", "on_trial_error": "epoch",
             "setup": "once", "on_experiment_end": "once"}

    def __init__(self) -> None:
        self.seconds = {"epoch": 0.0, "once": 0.0}
        self.saved: list[tuple[type, str, Any]] = []

    def __enter__(self) -> CallbackTimer:
        for cls in (TrialTracker, MlflowTracker, TensorBoardTracker):
            for name, kind in self.HOOKS.items():
                if name in vars(cls):
                    self.saved.append((cls, name, vars(cls)[name]))
                    setattr(cls, name, self.timed(vars(cls)[name], kind))
        return self

    def __exit__(self, *exc: Any) -> None:
        for cls, name, fn in reversed(self.saved):
            setattr(cls, name, fn)

    def timed(self, fn: Any, kind: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[kind] += time.perf_counter() - start
        return call


def one_run(grid: Path, options: RunOptions, resources: Resources, out: Path) -> dict[str, float]:
    exp = Experiment.from_grid(grid, options)
    exp.prepare(out, resources=resources)
    with CallbackTimer() as timer:
        start = time.perf_counter()
        outcome = exp.execute(resources)
        wall = time.perf_counter() - start
    records = [r for r in scan_records(out).records if r.done]
    if outcome.failed or len(records) != len(exp.trials):
        raise SystemExit(f"{out}: {len(outcome.failed)} trial(s) failed; no figures")
    seconds = sum(r.metrics["train_seconds"] for r in records)
    epochs = sum(len(r.history) for r in records)
    return {"wall": wall, "epoch_ms": 1000 * seconds / epochs, "hooks_ms": 1000 * timer.seconds["epoch"] / epochs,
            "once_s": timer.seconds["once"], "trials": len(records), "epochs": epochs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", type=Path, default=REPO / "grids" / "kumar_arch.yaml")
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                        help="dotted grid key = YAML value (default: model.depth=6)")
    parser.add_argument("--folds", default=None)
    parser.add_argument("--epochs", type=int, default=None, help="every training phase's epochs (default: the quick profile's)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--cpus-per-trial", type=float, default=1.0)
    args = parser.parse_args()
    overrides: dict[str, Any] = {"model.depth": 6}
    for item in args.override:
        key, _, value = item.partition("=")
        overrides[key] = yaml.safe_load(value)
    resources = Resources(cpus_per_trial=args.cpus_per_trial)
    console = Console()
    results: dict[str, list[dict[str, float]]] = {t: [] for t in TRACKERS}
    with tempfile.TemporaryDirectory(prefix="ser-orch-tracking-") as tmp:
        # Features and folds once, before any timing.
        Experiment.from_grid(args.grid, RunOptions(quick=True, folds=args.folds, epochs=args.epochs, overrides=overrides)).prepare(Path(tmp) / "warmup")
        for repeat in range(args.repeats):
            order = TRACKERS[repeat % 3:] + TRACKERS[:repeat % 3]
            for track in order:
                options = RunOptions(quick=True, folds=args.folds, epochs=args.epochs, overrides=overrides, track=track)
                figures = one_run(args.grid, options, resources, Path(tmp) / f"{track}-{repeat}")
                results[track].append(figures)
                console.print(f"repeat {repeat + 1}/{args.repeats} --track {track}: {figures['trials']} trials, "
                              f"{figures['epochs']} epochs, Tune phase {figures['wall']:.1f} s, "
                              f"{figures['epoch_ms']:.1f} ms per epoch")
    mean = {t: {k: statistics.mean(r[k] for r in results[t]) for k in results[t][0]} for t in TRACKERS}
    base = mean["none"]
    table = Table(title=f"tracking overhead: {args.grid.name} --quick {overrides}, {args.repeats} repeat(s), "
                        f"{args.cpus_per_trial:g} CPU per trial, {base['epochs']:.0f} epochs per run")
    for column in ("--track", "Tune phase s", "ratio", "trial ms/epoch", "ratio", "hooks ms/epoch",
                   "hooks once s", "hooks / training"):
        table.add_column(column, justify="right")
    for track in TRACKERS:
        m = mean[track]
        table.add_row(track, f"{m['wall']:.1f}", f"{m['wall'] / base['wall']:.3f}",
                      f"{m['epoch_ms']:.1f}", f"{m['epoch_ms'] / base['epoch_ms']:.3f}",
                      f"{m['hooks_ms']:.2f}", f"{m['once_s']:.2f}", f"{m['hooks_ms'] / m['epoch_ms']:.1%}")
    console.print(table)


if __name__ == "__main__":
    main()
