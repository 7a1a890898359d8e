"""Kumar input readings on one set of folds: where the windows lie (window_starts) x what a window
gives (window_reduce), against the baseline row. Prints WA % per architecture and reading.

    nice python benchmarks/kumar_readings.py                      # cnn/resnet x 6/11, 4 readings
    nice python benchmarks/kumar_readings.py --families fc,resnet --depths 7,11 --starts spread,tile --reduces mean
    nice python benchmarks/kumar_readings.py --epochs 60          # longer schedules (early stopping applies)

It runs `grids/kumar_arch.yaml`'s quick profile (2 folds of kumar_70_30 on the built-in corpus,
unless --data-root names a RAVDESS-layout folder) with these four axes instead of the grid's own,
through `ser_orch.api.run`: every other key is the grid file's (random views, standardisation,
model selection). docs/models.md quotes its figures. Takes about 2.5 minutes on 2 cores with the
defaults.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
GRID = REPO / "grids" / "kumar_arch.yaml"


def csv(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", default="cnn,resnet")
    ap.add_argument("--depths", default="6,11")
    ap.add_argument("--starts", default="spread,tile", help="window_starts values")
    ap.add_argument("--reduces", default="mean,mean_std", help="window_reduce values")
    ap.add_argument("--epochs", type=int, default=None, help="epochs of each phase (default: the quick profile's)")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", type=Path, default=None, help="run folder (default: a temporary one)")
    args = ap.parse_args()

    from ser_orch.api import run
    from ser_orch.grid import parse_grid
    from ser_orch.results.records import scan_records

    spec = yaml.safe_load(GRID.read_text())
    spec["name"] = "kumar_readings"
    spec["grid"] = {
        "model.family": csv(args.families),
        "model.depth": [int(d) for d in csv(args.depths)],
        "features.params.window_starts": csv(args.starts),
        "features.params.window_reduce": csv(args.reduces),
    }
    grid = parse_grid(yaml.safe_dump(spec, sort_keys=False), GRID)
    with tempfile.TemporaryDirectory(prefix="kumar-readings-") as tmp:
        out = args.out or Path(tmp) / "run"
        t0 = time.perf_counter()
        results = run(grid, quick=True, epochs=args.epochs, data_root=args.data_root, out=out)
        seconds = time.perf_counter() - t0
        baseline = [r.metrics["wa"] for r in scan_records(out, baseline=True).records if r.done]

    configs = results.configs
    readings = [(s, r) for s in csv(args.starts) for r in csv(args.reduces)]
    archs = [(f, int(d)) for f in csv(args.families) for d in csv(args.depths)]
    cell: dict[tuple[str, int, str, str], float] = {}
    for d in configs.to_dict("records"):
        key = (d["model.family"], int(d["model.depth"]), d["features.params.window_starts"], d["features.params.window_reduce"])
        cell[key] = 100 * d["wa_mean"]
    width = max(len(f"{s}, {r}") for s, r in readings)
    print(f"WA % (mean over the quick folds), {seconds:.0f} s; baseline row "
          f"{100 * statistics.fmean(baseline):.2f}" if baseline else "(no baseline row)")
    print(f"{'reading':<{width}}  " + "  ".join(f"{f}-{d:<3}" for f, d in archs))
    for s, r in readings:
        print(f"{s + ', ' + r:<{width}}  " + "  ".join(f"{cell.get((f, d, s, r), float('nan')):>{len(f) + 4}.1f}"
                                                       for f, d in archs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
