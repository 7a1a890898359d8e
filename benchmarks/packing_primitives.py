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
    python benchmarks/packing_primitives.py --models lstm-7 --recurrent steps   # the other impl
    python benchmarks/packing_primitives.py --device both         # CUDA as well, if available

Timings on a shared machine are noisy: each mode's best of a few alternating rounds is printed.
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


def packed_step(name: str, m: int, device: str, recurrent: str = "auto") -> tuple[Callable[[], None], Callable[[], int]]:
    packed = PackedModel([make(name, s, device) for s in range(m)], recurrent=recurrent)
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


def measure(builders: dict[str, Callable[[], tuple[Callable[[], None], Callable[[], int]]]], device: str,
            min_time: float, rounds: int) -> dict[str, tuple[float, float]]:  # fmt: skip
    """{mode: (steps per second, MiB)}. The modes alternate, round by round, and each keeps its
    best round: the machine is shared, and the best round is the one least disturbed."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    steps, best, mem = {}, {}, {}
    for mode, build in builders.items():
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        step, memory = build()
        t0 = time.perf_counter()
        step()  # warm-up (allocations, momentum buffers); its time sizes the rounds
        sync()
        first = time.perf_counter() - t0
        steps[mode] = (step, max(1, int(min_time / rounds / max(first, 1e-6))))
        if first > min_time:  # slow steps (liu, M >= 10): two rounds of one step are enough
            rounds = min(rounds, 2)
        best[mode] = 0.0
        mem[mode] = (torch.cuda.max_memory_allocated() if device == "cuda" else memory()) / 2**20
    for _ in range(rounds):
        for mode, (step, n) in steps.items():
            t0 = time.perf_counter()
            for _ in range(n):
                step()
            sync()
            best[mode] = max(best[mode], n / (time.perf_counter() - t0))
    return {mode: (best[mode], mem[mode]) for mode in builders}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--models", default=",".join(KUMAR + [LIU]), help="comma list; 'liu' = liu-cnn-lstm")
    ap.add_argument("--members", default="1,5,10,20")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "both"])
    ap.add_argument("--liu-members", default="1,5,10", help="M for liu (a 20-member step takes ~10 s on one core)")
    ap.add_argument("--recurrent", default="auto", choices=["auto", "steps", "torch"], help="Recurrent impl when packed")
    ap.add_argument("--min-time", type=float, default=0.15, help="seconds per measurement and mode, split into rounds")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    names = args.models.split(",")
    members = [int(v) for v in args.members.split(",")]
    liu_members = [int(v) for v in args.liu_members.split(",")]
    devices = ["cpu"] if args.device == "cpu" else (["cuda"] if args.device == "cuda" else ["cpu", "cuda"])
    if "cuda" in devices and not torch.cuda.is_available():
        print("CUDA not available: CPU only")
        devices = ["cpu"]
    t_start = time.perf_counter()
    print(f"best of {args.rounds} alternating rounds per mode; packed recurrent impl: {args.recurrent}")
    for device in devices:
        for threads in [int(v) for v in args.threads.split(",")] if device == "cpu" else [torch.get_num_threads()]:
            torch.set_num_threads(threads)
            print(f"\n{device}, {threads} thread(s); steps/s for all M members (higher is better); ratio = packed / sequential")
            print(f"{'model':<10}{'M':>4}{'sequential':>12}{'packed':>10}{'ratio':>8}{'seq MiB':>10}{'packed MiB':>12}")
            for name in names:
                for m in liu_members if name == LIU else members:
                    r = measure({"seq": lambda: sequential_step(name, m, device),
                                 "packed": lambda: packed_step(name, m, device, args.recurrent)},
                                device, args.min_time, args.rounds)  # fmt: skip
                    (seq, seq_mem), (pk, pk_mem) = r["seq"], r["packed"]
                    print(f"{name:<10}{m:>4}{seq:>12.2f}{pk:>10.2f}{pk / seq:>8.2f}{seq_mem:>10.1f}{pk_mem:>12.1f}", flush=True)
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
