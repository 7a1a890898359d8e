"""Whole-grid wall time and per-trial orchestration overhead: ser-orch on Ray Tune (unpacked and
packed) vs a plain loop.

    python benchmarks/orchestration_overhead.py                       # 12 configs of kumar_arch --quick, fold 0
    python benchmarks/orchestration_overhead.py --configs 60 --folds 0,1  # the whole kumar_arch --quick grid
    python benchmarks/orchestration_overhead.py --pack 2 --folds 0,1  # also ser-orch with --pack 2, side by side
    python benchmarks/orchestration_overhead.py --gpus-per-trial 0.25 --pack auto   # on a GPU machine

Every side trains exactly the same trials with the same code (``ser_orch.trial.run_trial`` on the
same cached features): the plain loop one after another in this process with torch using every
core, ser-orch as Ray Tune trials with the given resources (``Experiment.execute``), once with
``--pack off`` and, with ``--pack``, once more packed. Prints figures; asserts nothing.
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

from ser_orch.experiment import Experiment, RunOptions
from ser_orch.runner import Resources
from ser_orch.trial import run_trial

REPO = Path(__file__).resolve().parents[1]


def plain_loop(exp: Experiment, out: Path, device: str) -> float:
    start = time.perf_counter()
    for trial in exp.trials:
        run_trial(trial, exp.inputs[trial["trial_id"]], out, cpus=os.cpu_count() or 1, device=device)
    return time.perf_counter() - start


def planned(args: argparse.Namespace, pack: str, out: Path) -> Experiment:
    exp = Experiment.from_grid(args.grid, RunOptions(quick=True, folds=args.folds, pack=pack))
    keep = list(dict.fromkeys(t["config_id"] for t in exp.trials))[: args.configs]
    exp.trials = [t for t in exp.trials if t["config_id"] in keep]
    exp.prepare(out)
    return exp


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
    parser.add_argument("--pack", default=None, help="also run ser-orch with this --pack (auto, N)")
    parser.add_argument("--skip-plain", action="store_true", help="only time ser-orch")
    args = parser.parse_args()

    console = Console()
    device = "cuda" if args.gpus_per_trial > 0 and torch.cuda.is_available() else "cpu"
    resources = Resources(cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial)
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        exp = planned(args, "off", Path(tmp) / "off")
        rows.append(("feature/fold preparation (cached after the first run)", f"{time.perf_counter() - t0:.1f} s"))
        n = len(exp.trials)
        if not args.skip_plain:
            plain = plain_loop(exp, Path(tmp) / "plain", device)
            rows.append(("plain loop, sequential, torch on all cores", f"{plain:.1f} s ({plain / n:.2f} s/trial)"))
        modes = ["off"] + ([args.pack] if args.pack else [])
        times = {}
        for mode in modes:
            run = exp if mode == "off" else planned(args, mode, Path(tmp) / f"pack-{mode}")
            finish_gpu = gpu_utilisation_sampler() if device == "cuda" else None
            t0 = time.perf_counter()
            outcome = run.execute(resources, console=console)
            times[mode] = time.perf_counter() - t0
            gpu = finish_gpu() if finish_gpu else None
            label = f"ser-orch --pack {mode} ({run.packs(None, resources).summary}), incl. ray.init"
            rows.append((label, f"{times[mode]:.1f} s ({times[mode] / n:.2f} s/trial, {60 * n / times[mode]:.1f} trials/min, "
                                f"{len(outcome.failed)} failed)"))
            if device == "cuda":
                rows.append((f"  mean GPU utilisation (--pack {mode})", f"{gpu:.0f} %" if gpu is not None else "n/a (no NVML)"))
        if not args.skip_plain:
            rows.append(("orchestration overhead per trial ((ser-orch off - plain) / n)", f"{(times['off'] - plain) / n:+.2f} s"))
        if args.pack:
            rows.append((f"speed-up of --pack {args.pack} over --pack off (same run)", f"{times['off'] / times[args.pack]:.2f}x"))

    table = Table(title=f"{exp.grid.name} --quick: {n} trials (folds {args.folds}) on {device}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("machine", f"{os.cpu_count()} CPUs" + (f", {torch.cuda.get_device_name(0)}" if device == "cuda" else ""))
    for row in rows:
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
