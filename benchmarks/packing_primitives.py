"""Packed trials vs the same trials one after another: training steps per second.

One step = forward + cross-entropy + backward + SGD (momentum) step for each of M members, each
on its own batch (128 samples for Kumar's families, 32 two-second segments of 200 x 26 MFCC for
Liu's CNN-LSTM). "sequential" steps M ordinary models (torch modules, torch.optim.SGD) one after
another; "packed" steps one ser_models.packed.PackedModel + PackedSGD. Printed side by side with
their ratio (packed / sequential steps per second, > 1 = packing is faster) and the memory
each needs (CUDA: peak allocated; CPU: parameters + gradients + optimizer state + the largest
set of tensors saved for backward, measured with saved-tensor hooks).

    python benchmarks/packing_primitives.py                       # default set, ~3 min on 2 cores
    python benchmarks/packing_primitives.py --models lstm-7,liu --members 1,10 --threads 2
    python benchmarks/packing_primitives.py --device cuda         # CUDA as well, if available
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ser_models import create_model
from ser_models.packed import PackedModel, PackedSGD

KUMAR = [f"{fam}-{x}" for fam in ("fc", "cnn", "resnet", "rnn", "lstm", "gru") for x in (7, 11)]
LIU = "liu"  # liu-cnn-lstm on 2 s segments
C = 8


def make(name: str, seed: int, device: str) -> torch.nn.Module:
    torch.manual_seed(seed)
    if name == LIU:
        return create_model("liu-cnn-lstm", C, input_dim=200 * 26, n_coeffs=26).to(device)
    return create_model(name, C).to(device)


def shapes(name: str) -> tuple[int, int]:
    return (32, 200 * 26) if name == LIU else (128, 390)


class SavedBytes:
    """Largest total of distinct tensors saved for backward during one step (CPU memory proxy)."""

    def __init__(self) -> None:
        self.current: dict[int, int] = {}
        self.peak = 0

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        key = t.untyped_storage().data_ptr()
        self.current[key] = t.untyped_storage().nbytes()
        self.peak = max(self.peak, sum(self.current.values()))
        return t

    def reset(self) -> None:
        self.current = {}


def state_bytes(tensors: list[torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def sequential_step(name: str, m: int, device: str) -> tuple[Callable[[], None], Callable[[], int]]:
    models = [make(name, s, device) for s in range(m)]
    opts = [torch.optim.SGD(mod.parameters(), lr=1e-3, momentum=0.9) for mod in models]
    b, d = shapes(name)
    x = torch.randn(m, b, d, device=device)
    y = torch.randint(0, C, (m, b), device=device)
    saved = SavedBytes()

    def step() -> None:
        for i, (mod, opt) in enumerate(zip(models, opts)):
            saved.reset()  # one model's activations at a time
            with torch.autograd.graph.saved_tensors_hooks(saved.pack, lambda t: t):
                loss = F.cross_entropy(mod(x[i]).logits, y[i])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    def memory() -> int:
        params = [p for mod in models for p in mod.parameters()]
        return saved.peak + 3 * state_bytes(params)  # weights, grads, momentum

    return step, memory


def packed_step(name: str, m: int, device: str) -> tuple[Callable[[], None], Callable[[], int]]:
    packed = PackedModel([make(name, s, device) for s in range(m)])
    opt = PackedSGD(packed.params, lr=1e-3, momentum=0.9)
    b, d = shapes(name)
    x = torch.randn(m, b, d, device=device)
    y = torch.randint(0, C, (m, b), device=device)
    saved = SavedBytes()

    def step() -> None:
        saved.reset()
        with torch.autograd.graph.saved_tensors_hooks(saved.pack, lambda t: t):
            logits = packed(x).logits
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(m, b).mean(1).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step, lambda: saved.peak + 3 * state_bytes(packed.parameters())


def measure(build: Callable[[], tuple[Callable[[], None], Callable[[], int]]], device: str, min_time: float) -> tuple[float, float]:
    """(steps per second, MiB)."""
    step, memory = build()
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    step()  # warm-up (allocations, momentum buffers)
    sync()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    n, t0 = 0, time.perf_counter()
    while True:
        step()
        n += 1
        sync()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time and n >= 2:
            break
    mem = torch.cuda.max_memory_allocated() if device == "cuda" else memory()
    return n / elapsed, mem / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--models", default=",".join(KUMAR + [LIU]), help="comma list; 'liu' = liu-cnn-lstm")
    ap.add_argument("--members", default="1,5,10,20")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "both"])
    ap.add_argument("--min-time", type=float, default=0.12, help="seconds timed per measurement (after one warm-up step)")
    args = ap.parse_args()
    names = args.models.split(",")
    members = [int(v) for v in args.members.split(",")]
    devices = ["cpu"] if args.device == "cpu" else (["cuda"] if args.device == "cuda" else ["cpu", "cuda"])
    if "cuda" in devices and not torch.cuda.is_available():
        print("CUDA not available: CPU only")
        devices = ["cpu"]
    t_start = time.perf_counter()
    for device in devices:
        for threads in [int(v) for v in args.threads.split(",")] if device == "cpu" else [torch.get_num_threads()]:
            torch.set_num_threads(threads)
            print(f"\n{device}, {threads} thread(s); steps/s for all M members (higher is better); ratio = packed / sequential")
            print(f"{'model':<10}{'M':>4}{'sequential':>12}{'packed':>10}{'ratio':>8}{'seq MiB':>10}{'packed MiB':>12}")
            for name in names:
                for m in members:
                    seq, seq_mem = measure(lambda: sequential_step(name, m, device), device, args.min_time)
                    pk, pk_mem = measure(lambda: packed_step(name, m, device), device, args.min_time)
                    print(f"{name:<10}{m:>4}{seq:>12.2f}{pk:>10.2f}{pk / seq:>8.2f}{seq_mem:>10.1f}{pk_mem:>12.1f}", flush=True)
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
