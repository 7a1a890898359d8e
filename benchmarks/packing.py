"""Packed trainers vs the same trials one after another: trials per minute and peak memory.

For each recipe configuration, M trials (members with their own seed, their own fold of
synthetic data of one size, and a scalar of their own) are trained

- "unpacked": by the unpacked trainer (``ser_models.training``), one trial after another; its
  trials/minute is 60 / (seconds per trial), whatever M;
- "packed": by the packed trainer (``ser_models.training.packed``) as one pack of M.

Printed side by side: trials/minute of each, their ratio (packed / unpacked, > 1 = packing is
faster), and the peak memory of one unpacked trial and of one pack (CPU: the process's resident
memory above its level before the run, sampled every 2 ms after returning freed memory to the
OS; CUDA: ``torch.cuda.max_memory_allocated``). Sizes are the grids' ``--quick`` profiles
(what runs on CPU), on a few epochs of small synthetic tensors; the timings include everything
the trainers do per epoch (evaluation, bookkeeping).

    python benchmarks/packing.py                          # default set, ~5 min on 2 cores
    python benchmarks/packing.py --configs kumar-fc-7,liu --members 1,10 --threads 2
    python benchmarks/packing.py --fold same              # members on one fold (seeds, scalars)
    python benchmarks/packing.py --device cuda            # on a GPU machine

Timings on a shared machine are noisy: each figure is the best of ``--repeats`` rounds, the
two modes alternating, each pack size measured beside its own unpacked trial. The trials are
short (a few epochs), so a pack's fixed cost (stacking, probing which parameters each loss
reaches, re-stacking when members stop) weighs more here than in a real run.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from ser_models import create_model
from ser_models.losses import CrossEntropy, EmotionTripletLoss, WeightedSum
from ser_models.losses.emotion_triplet import POLARITY_MAPS
from ser_models.training import (
    KumarSettings,
    LianSettings,
    LiuSettings,
    MocanuSettings,
    train_kumar,
    train_lian,
    train_liu,
    train_mocanu,
)
from ser_models.training.packed import (
    train_kumar_packed,
    train_lian_packed,
    train_liu_packed,
    train_mocanu_packed,
)

LABELS = ("angry", "disgust", "fearful", "happy", "neutral", "sad")  # CREMA-D's six
C = len(LABELS)


@dataclass
class Config:
    """One recipe configuration: member m's model, data and settings; the two trainers."""

    build: Callable[[int, str], torch.nn.Module]
    data: Callable[[int, str], Any]
    settings: Callable[[int], Any]
    unpacked: Callable[[torch.nn.Module, Any, Any, int, str], Any]
    packed: Callable[[list[torch.nn.Module], list[Any], list[Any], str], Any]


def blobs(n: int, shape: tuple[int, ...], seed: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1000 + seed)
    y = torch.arange(n) % C
    centers = torch.randn(C, *shape, generator=torch.Generator().manual_seed(99))
    return (centers[y] * 0.5 + torch.randn(n, *shape, generator=g)).to(device), y.to(device)


def sequences(n: int, seed: int, bins: int = 257) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(1000 + seed)
    y = np.arange(n) % C
    return [(rng.normal(size=(int(rng.integers(120, 250)), bins)) + 0.3 * c).astype(np.float32) for c in y], y.astype(np.int64)


def seeded(name: str, **overrides: Any) -> Callable[[int, str], torch.nn.Module]:
    def build(seed: int, device: str) -> torch.nn.Module:
        torch.manual_seed(seed)
        return create_model(name, C, **overrides).to(device)

    return build


def kumar(name: str) -> Config:
    # ~70 % of a 1440-utterance corpus would be 1000 samples in batches of 900; a quarter of that here
    return Config(
        build=seeded(name),
        data=lambda m, dev: (blobs(256, (390,), m, dev), None),
        settings=lambda m: KumarSettings(pretrain_epochs=2, triplet_epochs=2, batch_size=128, margin=0.1 + 0.05 * m, seed=m),
        unpacked=lambda model, d, s, m, dev: train_kumar(model, d[0], d[1], s, device=dev),
        packed=lambda models, data, settings, dev: train_kumar_packed(models, data, settings, device=dev),
    )


MOCANU_MODEL = dict(input_dim=257, clusters=8, ghost_clusters=2, widths=[8, 16, 32, 64], blocks=[1, 1, 1, 1],
                    descriptor_dim=64, embedding_dim=64)  # the grids' --quick profile  # fmt: skip


def mocanu(emotion: bool) -> Config:
    def loss(m: int) -> torch.nn.Module:
        if not emotion:
            return CrossEntropy()  # S1: softmax from scratch
        return WeightedSum([(1.0, EmotionTripletLoss(LABELS, POLARITY_MAPS["cremad"], alpha=0.1 + 0.02 * m, beta=0.15)),
                            (0.5, CrossEntropy())])  # S5-like: emotion triplet (+ CE)  # fmt: skip

    settings = MocanuSettings(epochs=1, batch_size=16, crop_frames=100, normalize_embedding=emotion,
                              val_by="centroid" if emotion else "softmax")  # fmt: skip
    return Config(
        build=seeded("se-resnet34-ghostvlad", **MOCANU_MODEL),
        data=lambda m, dev: (sequences(32, m), sequences(8, 100 + m)),
        settings=lambda m: replace(settings, lr=1e-3 * (1 + 0.1 * m), seed=m),
        unpacked=lambda model, d, s, m, dev: train_mocanu(model, loss(m), d[0], d[1], s, device=dev),
        packed=lambda models, data, settings, dev: train_mocanu_packed(models, [loss(m) for m in range(len(models))], data,
                                                                       settings, device=dev),  # fmt: skip
    )


def liu() -> Config:
    return Config(
        build=seeded("liu-cnn-lstm", input_dim=200 * 26, n_coeffs=26, channels=[4, 8, 8], freq_channels=16, lstm_hidden=16),
        data=lambda m, dev: (lambda xy: (xy[0].reshape(len(xy[1]), -1), xy[1]))(blobs(128, (200, 26), m, dev)),
        # a pool of 200 triplets per batch, as 50000 over a few hundred batches of a real fold
        settings=lambda m: LiuSettings(epochs=1, batch_size=64, lr=0.003, alpha=0.1 * (m % 11), triplet_pool=400, seed=m),
        unpacked=lambda model, d, s, m, dev: train_liu(model, d, s, device=dev),
        packed=lambda models, data, settings, dev: train_liu_packed(models, data, settings, device=dev),
    )


def lian() -> Config:
    return Config(
        build=seeded("lian-cnn1d", input_dim=300 * 13, n_coeffs=13, filters=16),  # 3 s of 13 MFCC
        data=lambda m, dev: blobs(192, (300, 13), m, dev),
        settings=lambda m: LianSettings(epochs=2, batch_size=32, lr=0.002, lam=0.6 + 0.02 * (m % 20), seed=m),
        unpacked=lambda model, d, s, m, dev: train_lian(model, d, s, device=dev),
        packed=lambda models, data, settings, dev: train_lian_packed(models, data, settings, device=dev),
    )


CONFIGS: dict[str, Callable[[], Config]] = {
    "kumar-fc-7": lambda: kumar("fc-7"),
    "kumar-resnet-11": lambda: kumar("resnet-11"),
    "kumar-lstm-7": lambda: kumar("lstm-7"),
    "mocanu-s1": lambda: mocanu(False),
    "mocanu-s5": lambda: mocanu(True),
    "liu": liu,
    "lian": lian,
}
DEFAULT = ",".join(CONFIGS)
# Every Kumar family at two depths (--configs all): the default set above takes ~5 min on 2 cores.
for _name in ("fc-12", "cnn-7", "cnn-12", "resnet-6", "rnn-7", "rnn-12", "lstm-12", "gru-7", "gru-12"):
    CONFIGS[f"kumar-{_name}"] = (lambda n: lambda: kumar(n))(_name)


class PeakMemory:
    """Peak memory of a block: CUDA's allocator peak, or the resident set above its start (CPU)."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.peak = 0

    def __enter__(self) -> "PeakMemory":
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
            return self
        try:  # give freed memory back, so the baseline is this run's
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except OSError:
            pass
        self.base = self.peak = rss()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss())
            time.sleep(0.002)

    def __exit__(self, *exc: Any) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self.running = False
            self.thread.join()
            self.peak = max(self.peak, rss())

    @property
    def mib(self) -> float:
        return (self.peak - self.base) / 2**20


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def timed(fn: Callable[[], Any], device: str) -> tuple[float, float]:
    with PeakMemory(device) as mem:
        t0 = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
    return seconds, mem.mib


def bench(name: str, members: list[int], repeats: int, device: str, same_fold: bool) -> list[tuple[int, float, float, float, float]]:
    cfg = CONFIGS[name]()
    m_max = max(members)
    data = [cfg.data(0, device)] * m_max if same_fold else [cfg.data(m, device) for m in range(m_max)]
    settings = [cfg.settings(m) for m in range(m_max)]

    def unpacked() -> None:
        cfg.unpacked(cfg.build(0, device), data[0], settings[0], 0, device)

    def packed(m: int) -> Callable[[], None]:
        return lambda: cfg.packed([cfg.build(i, device) for i in range(m)], data[:m], settings[:m], device)

    unpacked()  # warm-up (lazy inits, allocator)
    rows = []
    for m in members:  # each pack size beside its own unpacked figure: the load of a shared machine drifts
        best_u = best_p = float("inf")
        mem_u = mem_p = 0.0
        for _ in range(repeats):
            t, mem = timed(unpacked, device)
            best_u, mem_u = min(best_u, t), max(mem_u, mem)
            t, mem = timed(packed(m), device)
            best_p, mem_p = min(best_p, t), max(mem_p, mem)
        rows.append((m, 60.0 / best_u, 60.0 * m / best_p, mem_u, mem_p))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default=DEFAULT, help=f"comma-separated, of: {', '.join(CONFIGS)}; or all")
    ap.add_argument("--members", default="1,5,10,20", help="pack sizes M")
    ap.add_argument("--repeats", type=int, default=1, help="rounds per figure (best of)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--device", default="cpu", help="cpu | cuda")
    ap.add_argument("--fold", choices=("own", "same"), default="own",
                    help="each member its own fold (default), or every member the same fold (seeds/scalars of one fold)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    members = [int(m) for m in args.members.split(",")]
    print(f"device {args.device}, {args.threads} thread(s), torch {torch.__version__}, best of {args.repeats}, "
          f"{'one fold per member' if args.fold == 'own' else 'one fold for all members'}")
    print(f"{'config':<16} {'M':>3} {'unpacked/min':>13} {'packed/min':>11} {'ratio':>6} {'MiB trial':>10} {'MiB pack':>9}")
    for name in (list(CONFIGS) if args.configs == "all" else args.configs.split(",")):
        t0 = time.perf_counter()
        for m, u, p, mem_u, mem_p in bench(name, members, args.repeats, args.device, args.fold == "same"):
            print(f"{name:<16} {m:>3} {u:>13.1f} {p:>11.1f} {p / u:>6.2f} {mem_u:>10.1f} {mem_p:>9.1f}", flush=True)
        print(f"{'':<16} ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
