"""Which trials of a run train together as one packed model (``--pack auto|N|off``).

Trials pack when their task's ``pack_key`` is equal: the same task, model and its arguments,
features, batch size and epoch budget; they may differ in fold, seed and the task's
``pack_free`` keys (margins, alpha, beta, lambda, learning rate, weight decay, patience). One
pack is one Tune trial with the resources of one trial (``--cpus-per-trial``/``--gpus-per-trial``
are per pack) and one checkpoint; each member keeps its own record.

``auto`` chooses per device, from ``benchmarks/packing.py``: on a CPU a pack is not faster
than its members one after another (the stacked kernels are as many FLOPs, and a core is busy
either way), so ``auto`` leaves trials unpacked there; on a GPU small models leave the device
idle, and ``auto`` packs up to ``AUTO_GPU_PACK`` members.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ser_data.errors import SerError

from .tasks import get_task

AUTO_GPU_PACK = 20  # members per pack on a GPU under --pack auto
MODES = ("auto", "off")


class PackError(SerError):
    """A --pack value that is neither auto, off nor a positive whole number."""


def parse_pack(value: str | int | None) -> str | int:
    """``auto`` | ``off`` | N >= 1 (N = 1 is the same as off)."""
    if value is None:
        return "auto"
    text = str(value).strip().lower()
    if text in MODES:
        return text
    try:
        n = int(text)
    except ValueError:
        raise PackError(f"--pack {value}: give auto, off or a number of trials per pack >= 1") from None
    if n < 1:
        raise PackError(f"--pack {value}: a pack holds at least 1 trial (or give auto or off)")
    return n


@dataclass(frozen=True)
class PackPlan:
    packs: list[list[dict[str, Any]]]  # in trial order; a pack of one trains unpacked
    summary: str  # one line for the run's output

    @property
    def packed(self) -> bool:
        return any(len(p) > 1 for p in self.packs)


def _chunks(group: list[dict[str, Any]], cap: int) -> list[list[dict[str, Any]]]:
    """Split into ceil(n / cap) packs of nearly equal size (10 by 4 -> 4, 3, 3, not 4, 4, 2)."""
    n = len(group)
    k = -(-n // cap)
    sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    out, start = [], 0
    for size in sizes:
        out.append(group[start:start + size])
        start += size
    return out


def plan_packs(trials: Sequence[dict[str, Any]], mode: str | int, *, on_gpu: bool) -> PackPlan:
    """Group ``trials`` into packs by ``mode`` (see ``parse_pack``) for a CPU or GPU run."""
    trials = list(trials)
    if not trials:
        return PackPlan([], "nothing to run")
    if mode == "off" or mode == 1:
        return PackPlan([[t] for t in trials], "packing off: every trial trains on its own")
    if mode == "auto" and not on_gpu:
        return PackPlan([[t] for t in trials], "packing auto on CPU: unpacked (packs are not faster on a CPU; "
                                               "--pack N packs anyway)")
    cap = AUTO_GPU_PACK if mode == "auto" else int(mode)
    task = get_task(trials[0]["task"])
    groups: dict[str | None, list[dict[str, Any]]] = {}
    singles: list[list[dict[str, Any]]] = []
    for trial in trials:
        key = task.pack_key(trial)
        if key is None:
            singles.append([trial])
        else:
            groups.setdefault(key, []).append(trial)
    packs = [chunk for group in groups.values() for chunk in _chunks(group, cap)] + singles
    order = {t["trial_id"]: i for i, t in enumerate(trials)}
    packs.sort(key=lambda p: order[p[0]["trial_id"]])
    sizes = sorted((len(p) for p in packs), reverse=True)
    if sizes[0] == 1:
        why = f"the {task.name} task does not pack" if not task.packable else "no two trials share model, features and schedule"
        return PackPlan(packs, f"packing {mode}: unpacked ({why})")
    size = f"{sizes[0]}" if sizes[0] == sizes[-1] else f"{sizes[-1]}-{sizes[0]}"
    alone = f"; {len(singles)} trial(s) that cannot pack train alone" if singles else ""
    return PackPlan(packs, f"packing {mode}: {len(trials)} trials in {len(packs)} pack(s) of {size} members{alone}")


__all__ = ["AUTO_GPU_PACK", "PackError", "PackPlan", "parse_pack", "plan_packs"]
