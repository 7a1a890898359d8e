"""Time the generation of a synthetic corpus (default: the full RAVDESS layout, 1440 files).

    nice python benchmarks/synth_speed.py                       # ravdess, 24 actors, all CPUs
    nice python benchmarks/synth_speed.py --layout iemocap --workers 1
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import soundfile as sf

from ser_data.synth import generate_corpus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--layout", default="ravdess")
    ap.add_argument("--actors", type=int, default=None)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--sample-rate", type=int, default=16000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="synth-speed-") as tmp:
        t0 = time.perf_counter()
        root = generate_corpus(args.layout, Path(tmp) / args.layout, seed=args.seed,
                               actors=args.actors, sample_rate=args.sample_rate,
                               workers=args.workers)
        dt = time.perf_counter() - t0
        wavs = list(root.rglob("*.wav"))
        seconds = sum(sf.info(str(p)).duration for p in wavs)
    print(f"{args.layout}: {len(wavs)} files, {seconds / 60:.1f} min of audio, "
          f"{args.workers} workers, {args.sample_rate} Hz")
    print(f"time {dt:.1f} s  ->  {len(wavs) / dt:.1f} files/s, {seconds / dt:.0f}x real time")
    print(f"mean duration {seconds / len(wavs):.2f} s  (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
