"""What experiment tracking costs: the same small grid run with --track none, tensorboard and mlflow
side by side (interleaved, the order rotated every repeat), on one local Ray cluster per run.

    python benchmarks/tracking_overhead.py                    # kumar_arch --quick at depth 6: 6 configs x 2 folds
    python benchmarks/tracking_overhead.py --repeats 3 --cpus-per-trial 0.5
    python benchmarks/tracking_overhead.py --grid grids/kumar_arch.yaml --override model.family=resnet

The quick profile's epochs last tens of milliseconds on the synthetic corpus, the worst case for
an overhead that is paid per epoch. Figures per tracker: the Tune phase's wall time (the trials,
from the first start to the last record; data preparation and the report excluded), the trials'
mean train_seconds (measured inside each trial, so it includes any wait on the driver), and the
mean time per epoch; ratios against --track none. Prints figures; asserts nothing.
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

REPO = Path(__file__).resolve().parents[1]
TRACKERS = ("none", "tensorboard", "mlflow")


def one_run(grid: Path, options: RunOptions, resources: Resources, out: Path) -> dict[str, float]:
    exp = Experiment.from_grid(grid, options)
    exp.prepare(out, resources=resources)
    start = time.perf_counter()
    outcome = exp.execute(resources)
    wall = time.perf_counter() - start
    records = [r for r in scan_records(out).records if r.done]
    if outcome.failed or len(records) != len(exp.trials):
        raise SystemExit(f"{out}: {len(outcome.failed)} trial(s) failed; no figures")
    seconds = [r.metrics["train_seconds"] for r in records]
    epochs = sum(len(r.history) for r in records)
    return {"wall": wall, "trial": statistics.mean(seconds), "epoch_ms": 1000 * sum(seconds) / epochs,
            "trials": len(records), "epochs": epochs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", type=Path, default=REPO / "grids" / "kumar_arch.yaml")
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                        help="dotted grid key = YAML value (default: model.depth=6)")
    parser.add_argument("--folds", default=None)
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
        Experiment.from_grid(args.grid, RunOptions(quick=True, folds=args.folds, overrides=overrides)).prepare(Path(tmp) / "warmup")
        for repeat in range(args.repeats):
            order = TRACKERS[repeat % 3:] + TRACKERS[:repeat % 3]
            for track in order:
                options = RunOptions(quick=True, folds=args.folds, overrides=overrides, track=track)
                figures = one_run(args.grid, options, resources, Path(tmp) / f"{track}-{repeat}")
                results[track].append(figures)
                console.print(f"repeat {repeat + 1}/{args.repeats} --track {track}: {figures['trials']} trials, "
                              f"{figures['epochs']} epochs, Tune phase {figures['wall']:.1f} s, "
                              f"{figures['epoch_ms']:.1f} ms per epoch")
    base = {k: statistics.mean(r[k] for r in results["none"]) for k in ("wall", "trial", "epoch_ms")}
    table = Table(title=f"tracking overhead: {args.grid.name} --quick {overrides}, {args.repeats} repeat(s), "
                        f"{args.cpus_per_trial:g} CPU per trial")
    for column in ("--track", "Tune phase s", "ratio", "trial train_seconds", "ratio", "ms per epoch", "ratio"):
        table.add_column(column, justify="right")
    for track in TRACKERS:
        mean = {k: statistics.mean(r[k] for r in results[track]) for k in base}
        table.add_row(track, f"{mean['wall']:.1f}", f"{mean['wall'] / base['wall']:.3f}",
                      f"{mean['trial']:.2f}", f"{mean['trial'] / base['trial']:.3f}",
                      f"{mean['epoch_ms']:.1f}", f"{mean['epoch_ms'] / base['epoch_ms']:.3f}")
    console.print(table)


if __name__ == "__main__":
    main()
