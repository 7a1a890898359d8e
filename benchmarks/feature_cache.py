"""Feature-cache build speed and memory, and the memory of a trial that reads one fold.

    python benchmarks/feature_cache.py                      # 20,000 utterances (MSP-Podcast layout)
    python benchmarks/feature_cache.py --utterances 1000    # a quick run
    python benchmarks/feature_cache.py --features mfcc39 --workers 1,2

For each feature and worker count, a fresh cache is built in a child process while this process
samples the resident memory (VmRSS) of the child's whole process tree every 0.1 s; files/s is
utterances / build time (measured inside the child, without its start-up). Then a child opens
the last cache (x memory-mapped), takes the Test1 fold's rows with FeatureSet.select, and
reports its resident memory beyond the fold's data. The synthetic corpus is generated once into
--work and reused. Linux only (/proc). Timings depend on the machine: compare ratios measured in
the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _rss_kb(pid: int, field: str = "VmRSS") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    out, todo = [pid], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            kids = []
        out += kids
        todo += kids
    return out


def _run_sampled(args: list[str]) -> tuple[dict, float]:
    """Run a child; returns (its JSON report + `cpu_s`, the CPU seconds of its whole process tree,
    and the peak summed VmRSS of that tree in MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    peak = 0
    while child.poll() is None:
        peak = max(peak, sum(_rss_kb(p) for p in _tree(child.pid)))
        time.sleep(0.1)
    out = child.stdout.read() if child.stdout else ""
    if child.returncode != 0:
        raise SystemExit(f"child failed ({child.returncode}): {' '.join(args)}\n{out}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # pool workers are reaped by the child: included
    report = json.loads(out.strip().splitlines()[-1])
    report["cpu_s"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return report, peak / 1024


def _child_build(root: str, feature: str, workers: int, cache: str) -> None:
    from ser_data.datasets import load_manifest
    from ser_data.features import prepare_features

    manifest = load_manifest("msppodcast", root, check_audio=False)
    start = time.perf_counter()
    fs = prepare_features(manifest, feature, cache_dir=cache, workers=workers)
    seconds = time.perf_counter() - start
    size = sum(p.stat().st_size for p in Path(fs.cache_path).iterdir())
    print(json.dumps({"seconds": seconds, "utterances": len(manifest), "rows": len(fs), "cache": fs.cache_path,
                      "bytes": size, "x_shape": list(fs.x.shape)}))


def _child_read(cache: str) -> None:
    import numpy as np

    from ser_data.features import FeatureSet
    from ser_data.protocols import make_folds

    before_open = _rss_kb(os.getpid())
    fs = FeatureSet.load(cache)
    opened = _rss_kb(os.getpid())
    fold = make_folds("predefined", fs, test_split="Test1")[0]
    ready = _rss_kb(os.getpid())  # folds computed: the baseline before touching features
    part = fs.select(fold.test)
    checksum = float(part.x.sum(dtype=np.float64))  # really read every value (no extra copy)
    after = _rss_kb(os.getpid())
    anon, mapped = _rss_kb(os.getpid(), "RssAnon"), _rss_kb(os.getpid(), "RssFile")
    cache_x_mb = fs.x.nbytes / 2**20
    del fs  # a trial that keeps only its selected rows drops the map
    closed = _rss_kb(os.getpid())
    print(json.dumps({"open_mb": (opened - before_open) / 1024, "fold_rows": int(len(fold.test)),
                      "fold_mb": part.x.nbytes / 2**20, "cache_x_mb": cache_x_mb,
                      "rss_before_mb": ready / 1024, "rss_after_mb": after / 1024,
                      "beyond_fold_mb": (after - ready) / 1024 - part.x.nbytes / 2**20,
                      "closed_beyond_fold_mb": (closed - ready) / 1024 - part.x.nbytes / 2**20,
                      "anon_mb": anon / 1024, "file_mb": mapped / 1024,
                      "peak_mb": _rss_kb(os.getpid(), "VmHWM") / 1024, "checksum": checksum}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--utterances", type=int, default=20000)
    parser.add_argument("--features", default="mfcc39,spec257")
    parser.add_argument("--workers", default="1,2,all", help="comma-separated counts; 'all' = every CPU")
    parser.add_argument("--repeat", type=int, default=1, help="run the worker counts this many times, interleaved "
                                                              "(on a shared machine; the best time counts)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ser-orch-bench")
    parser.add_argument("--_build", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--_read", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._build:
        root, feature, workers, cache = args._build
        _child_build(root, feature, int(workers), cache)
        return
    if args._read:
        _child_read(args._read)
        return

    from ser_data.pool import available_cpus
    from ser_data.synth import generate_corpus

    cpus = available_cpus()
    counts = sorted({cpus if w == "all" else int(w) for w in args.workers.split(",")})
    root = args.work / f"msppodcast-{args.utterances}-seed0"
    if not root.is_dir():
        start = time.perf_counter()
        generate_corpus("msppodcast", root, utterances=args.utterances)
        print(f"generated {args.utterances} files in {time.perf_counter() - start:.0f} s: {root}")
    audio_gb = sum(p.stat().st_size for p in (root / "Audios").iterdir()) / 2**30
    print(f"corpus: {root} ({args.utterances} utterances, {audio_gb:.2f} GB of audio); {cpus} CPUs")
    me = [sys.executable, str(Path(__file__).resolve())]
    for feature in args.features.split(","):
        speed: dict[int, float] = {}
        last_cache = None
        for workers in [w for _ in range(args.repeat) for w in counts]:  # interleaved: load changes hit all
            cache = args.work / f"cache-{feature}-{workers}"
            shutil.rmtree(cache, ignore_errors=True)
            report, peak = _run_sampled([*me, "--_build", str(root), feature, str(workers), str(cache)])
            rate = report["utterances"] / report["seconds"]
            speed[workers] = max(speed.get(workers, 0.0), rate)
            print(f"{feature:8s} workers={workers:<3d} {report['seconds']:7.1f} s  {rate:7.1f} files/s  "
                  f"{1000 * report['cpu_s'] / report['utterances']:5.1f} ms CPU/file  "
                  f"peak RSS of the build tree {peak:7.0f} MB  cache {report['bytes'] / 2**30:.2f} GB  x {report['x_shape']}  "
                  f"(load average {os.getloadavg()[1]:.1f})", flush=True)
            if last_cache is not None and last_cache != cache:
                shutil.rmtree(last_cache, ignore_errors=True)
            last_cache = cache
        if 1 in speed and 2 in speed:
            print(f"{feature:8s} speed-up 2 workers / 1 worker: {speed[2] / speed[1]:.2f}x", flush=True)
        if max(counts) > 2 and 1 in speed:
            print(f"{feature:8s} speed-up {max(counts)} workers / 1 worker: {speed[max(counts)] / speed[1]:.2f}x")
        built = next(p for p in (last_cache / "features" / "msppodcast").iterdir() if p.is_dir() and p.name.startswith(feature)
                     and not p.name.endswith((".lock", ".partial")))  # fmt: skip
        read, peak = _run_sampled([*me, "--_read", str(built)])
        print(f"{feature:8s} trial reading the Test1 fold: {read['fold_rows']} rows, fold data {read['fold_mb']:.0f} MB "
              f"of a {read['cache_x_mb']:.0f} MB x; opening the cache +{read['open_mb']:.1f} MB; resident memory "
              f"{read['rss_before_mb']:.0f} -> {read['rss_after_mb']:.0f} MB, i.e. {read['beyond_fold_mb']:.0f} MB "
              f"beyond the fold's data while the map is open ({read['anon_mb']:.0f} MB anonymous, {read['file_mb']:.0f} MB "
              f"file-backed), {read['closed_beyond_fold_mb']:.0f} MB after closing it (peak {read['peak_mb']:.0f} MB)",
              flush=True)
        shutil.rmtree(last_cache, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "data"))
    main()
