"""Whole-grid wall time and per-trial orchestration overhead: ser-orch on Ray Tune vs a plain loop.

    python benchmarks/orchestration_overhead.py                       # 12 configs of kumar_arch --quick, fold 0
    python benchmarks/orchestration_overhead.py --configs 60 --folds 0,1,2   # the README's main command's trials
    python benchmarks/orchestration_overhead.py --gpus-per-trial 0.25 # on a GPU machine: 4 trials per GPU

Both sides train exactly the same trials with the same code (`Task.run` on the same cached features);
the plain loop runs them one after another in this process with torch using every core, ser-orch runs
them as Ray Tune trials with the given resources. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from ser_orch.grid import expand, load_grid, validate_trials
from ser_orch.rundir import create_run_dir
from ser_orch.runner import Resources, run_trials
from ser_orch.runner.data_prep import plan_trial_data

REPO = Path(__file__).resolve().parents[1]


def plain_loop(trials: list[dict], device: str) -> float:
    from ser_orch.runner.trainable import fold_data
    from ser_orch.tasks import get_task

    start = time.perf_counter()
    for trial in trials:
        torch.manual_seed(trial["seed"])
        get_task(trial["task"]).run(trial, fold_data(trial, device), device, lambda m, s: None, None)
    return time.perf_counter() - start


def gpu_utilisation_sampler():  # type: ignore[no-untyped-def]
    """Mean GPU utilisation over the run via NVML, where available."""
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    except Exception:  # noqa: BLE001 - no NVML: report n/a
        return None
    import threading

    samples: list[int] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            samples.append(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            time.sleep(0.2)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()

    def finish() -> float | None:
        stop.set()
        thread.join()
        return sum(samples) / len(samples) if samples else None

    return finish


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", default=str(REPO / "grids" / "kumar_arch.yaml"))
    parser.add_argument("--configs", type=int, default=12, help="first N configurations of the grid")
    parser.add_argument("--folds", default="0")
    parser.add_argument("--cpus-per-trial", type=float, default=1.0)
    parser.add_argument("--gpus-per-trial", type=float, default=0.0)
    parser.add_argument("--skip-plain", action="store_true", help="only time ser-orch")
    args = parser.parse_args()

    console = Console()
    grid = load_grid(args.grid)
    trials = expand(grid, quick=True, folds=[int(f) for f in args.folds.split(",")])
    keep = list(dict.fromkeys(t["config_id"] for t in trials))[: args.configs]
    trials = [t for t in trials if t["config_id"] in keep]
    validate_trials(grid, trials)

    t0 = time.perf_counter()
    data = plan_trial_data(trials)
    prep = time.perf_counter() - t0
    device = "cuda" if args.gpus_per_trial > 0 and torch.cuda.is_available() else "cpu"

    with tempfile.TemporaryDirectory() as tmp:
        run = create_run_dir(Path(tmp) / "run", grid, trials, {"benchmark": True})
        data.attach(trials, run.data_dir)
        plain = None
        if not args.skip_plain:
            torch.set_num_threads(os.cpu_count() or 1)
            plain = plain_loop(trials, device)
        finish_gpu = gpu_utilisation_sampler() if device == "cuda" else None
        t0 = time.perf_counter()
        outcome = run_trials(
            trials, run, Resources(cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial), console=console
        )
        orchestrated = time.perf_counter() - t0
        gpu_util = finish_gpu() if finish_gpu else None

    n = len(trials)
    table = Table(title=f"{grid.name} --quick: {len(keep)} configurations x folds {args.folds} = {n} trials on {device}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("machine", f"{os.cpu_count()} CPUs" + (f", {torch.cuda.get_device_name(0)}" if device == "cuda" else ""))
    table.add_row("feature/fold preparation (cached after the first run)", f"{prep:.1f} s")
    if plain is not None:
        table.add_row("plain loop, sequential, torch on all cores", f"{plain:.1f} s ({plain / n:.2f} s/trial)")
    table.add_row(
        f"ser-orch on Ray Tune ({args.cpus_per_trial:g} CPU, {args.gpus_per_trial:g} GPU per trial), incl. ray.init",
        f"{orchestrated:.1f} s ({orchestrated / n:.2f} s/trial)",
    )
    table.add_row("trials per minute (ser-orch)", f"{60 * n / orchestrated:.1f}")
    if plain is not None:
        table.add_row("orchestration overhead per trial ((ser-orch - plain) / n)", f"{(orchestrated - plain) / n:+.2f} s")
    table.add_row("failed trials", str(len(outcome.failed)))
    if device == "cuda":
        table.add_row("mean GPU utilisation", f"{gpu_util:.0f} %" if gpu_util is not None else "n/a (no NVML)")
    console.print(table)


if __name__ == "__main__":
    main()
