"""Wall time and peak memory of `ser-orch grid validate` / `grid show` / `ablate` on big grids:
one at the default --max-trials limit (accepted) and one of 10^6 trials (refused from the counts).

    nice python benchmarks/grid_size.py
    nice python benchmarks/grid_size.py --at-limit 20000 --huge 1000000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRID = """
name: size_bench
task: kumar
features: {{name: mfcc39}}
protocol: {{name: kumar_70_30, folds: 10, params: {{folds: 10}}}}
model: {{family: fc, depth: 6}}
train: {{pretrain_epochs: 1, triplet_epochs: 1, batch_size: 64}}
grid:
  loss.margin: {{range: [1, {margins}]}}
  train.batch_size: {{range: [2, 101]}}
"""


def run(args: list[str]) -> tuple[float, float, int, str]:
    """(seconds, peak MiB of that child, exit code, last stderr line)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, "-m", "ser_orch.cli.app", *args], stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak resident memory (KiB on Linux)
        proc.returncode = os.waitstatus_to_exitcode(status)
        dt = time.perf_counter() - t0
        err.seek(0)
        last = (err.read().strip().splitlines() or [""])[-1][:110]
    return dt, usage.ru_maxrss / 1024, proc.returncode, last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--at-limit", type=int, default=20_000, help="trials of the accepted grid (a multiple of 1000)")
    ap.add_argument("--huge", type=int, default=1_000_000, help="trials of the refused grid (a multiple of 1000)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="grid-size-") as tmp:
        for label, n in (("huge (refused)", args.huge), ("at the limit", args.at_limit)):
            grid = Path(tmp) / f"g{n}.yaml"
            grid.write_text(GRID.format(margins=n // 1000))
            for command in (["grid", "validate", str(grid)], ["grid", "show", str(grid)],
                            ["ablate", "--grid", str(grid), "--out", str(Path(tmp) / "run"), "--epochs", "1"]):
                if label == "at the limit" and command[0] == "ablate":
                    continue  # would start a run
                dt, mib, code, last = run(command)
                print(f"{label:15s} {n:>9,} trials  {' '.join(command[:2]):14s} exit {code}  {dt:5.1f} s  "
                      f"peak {mib:5.0f} MiB  {last}")
    print(f"(load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
