"""Liu & Wang's training (``ser_models.training.liu``) for a pack of members.

Each member: its batch order and triplet-pool generators (both seeded from its ``seed``), its
pool size per batch (``ceil(triplet_pool / batches)`` of its own fold), ``alpha``, ``margin``,
Adam's ``lr`` and ``weight_decay``. With validation segments (``vals[m]``) a member keeps its best
validation epoch's weights and, with ``patience``, leaves the pack when it stops improving; it
also leaves when its loss becomes NaN/inf.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ...base import SerModel
from ...packed import (
    PackedAdam,
    PackedCrossEntropy,
    PackedRandomPoolMiner,
    PackedTripletLoss,
    PackedWeightedSum,
)
from ..batches import batch_indices
from ..liu import LiuResult, LiuSettings, SegmentVal, utterance_accuracy
from ..loop import NonFiniteLoss, RandomStreams, SelectionResult, batch_accuracy, epoch_info, select_model, selection_run, to_cpu
from .common import (
    DONE,
    FAILED,
    TRAINING,
    MemberResult,
    Pack,
    PackedOnEpoch,
    check_members,
    check_resume,
    finish_models,
    gather,
    pack_state,
    reached_parameters,
    train_step,
    unreached,
)

RECIPE = "liu"
PER_MEMBER = frozenset({"lr", "weight_decay", "alpha", "margin", "patience", "seed"})


def train_liu_packed(
    models: Sequence[SerModel],
    data: Sequence[tuple[Tensor, Tensor]],
    settings: Sequence[LiuSettings],
    device: torch.device | str = "cpu",
    on_epoch: PackedOnEpoch | None = None,
    resume_state: dict[str, Any] | None = None,
    vals: Sequence[SegmentVal | None] | None = None,
) -> list[MemberResult[LiuResult]]:
    """Train ``models[m]`` in place on ``data[m] = (x, y)`` training segments, as
    ``train_liu(models[m], data[m], settings[m], val=vals[m])`` would; the contract is the package's."""
    mm = check_members(RECIPE, models, data, settings, PER_MEMBER)
    s0 = settings[0]
    dev = torch.device(device)
    for model in models:
        model.to(dev)
    xs = [x.to(dev) for x, _ in data]
    ys = [y.to(dev) for _, y in data]
    ns = [int(y.shape[0]) for y in ys]
    streams = [RandomStreams(batch=torch.Generator(device=dev).manual_seed(s.seed),
                             triplets=torch.Generator(device=dev).manual_seed(s.seed)) for s in settings]  # fmt: skip
    # as training.liu.joint_loss: alpha * triplet + (1 - alpha) * CE, the pool spread over each fold's batches
    pools = [max(1, math.ceil(s0.triplet_pool / max(1, math.ceil(n / s0.batch_size)))) for n in ns]
    miner = PackedRandomPoolMiner(generators=[st["triplets"] for st in streams], pool=pools, keep=s0.selection)
    loss_fn = PackedWeightedSum(mm, [
        ([s.alpha for s in settings], PackedTripletLoss(mm, "sqeuclidean", [s.margin for s in settings], miner)),
        ([1.0 - s.alpha for s in settings], PackedCrossEntropy(mm)),
    ])  # fmt: skip
    reached = reached_parameters(models[0], xs[0][:2])
    skip = {m: unreached(reached, ({"embedding"} if s.alpha != 0 else set()) | ({"logits"} if 1.0 - s.alpha != 0 else set())
                         or {"embedding"}) for m, s in enumerate(settings)}  # fmt: skip
    pack = Pack(models, lambda params: PackedAdam(params, lr=[s.lr for s in settings],
                                                  weight_decay=[s.weight_decay for s in settings]))  # fmt: skip
    vals = list(vals) if vals is not None else [None] * mm
    scratch = copy.deepcopy(models[0])  # evaluates a member on its own validation segments
    runs: list[dict[str, Any]] = [selection_run() for _ in range(mm)]
    status, errors = [TRAINING] * mm, [None] * mm
    if resume_state is not None:
        check_resume(RECIPE, resume_state, mm)
        for m, st in enumerate(resume_state["members"]):
            pack.load(m, st["model"], st["optimizer"])
            streams[m].restore(st["streams"])
            runs[m] = to_cpu(st["run"])
        status, errors = list(resume_state["status"]), list(resume_state["errors"])

    def state_fn() -> dict[str, Any]:
        members = [{"model": to_cpu(pack.model_state(m)), "optimizer": to_cpu(pack.optimizer_state(m)),
                    "streams": streams[m].state(), "run": to_cpu(runs[m])} for m in range(mm)]  # fmt: skip
        return pack_state(RECIPE, members, status, errors)

    for m in range(mm):
        if status[m] == TRAINING and runs[m]["epoch"] >= s0.epochs:
            status[m] = DONE
    pack.freeze([m for m in range(mm) if status[m] != TRAINING])

    while pack.live:
        live = list(pack.live)
        pack.model.train()
        batches = {m: batch_indices(ns[m], s0.batch_size, streams[m]["batch"], dev) for m in live}
        totals = {m: torch.zeros((), device=dev) for m in live}
        correct = {m: torch.zeros((), device=dev, dtype=torch.long) for m in live}

        def group_loss(members: list[int], rows: list[int] | None, idx: list[Tensor]) -> Tensor:
            x = gather([xs[m] for m in members], idx)
            y = gather([ys[m] for m in members], idx)
            out = pack.model(x, members=rows)
            values = loss_fn(out, y, members=members)
            logits = out.logits.detach()
            for j, (m, v) in enumerate(zip(members, values.detach())):
                totals[m] += v * idx[j].numel()
                correct[m] += batch_accuracy(logits[j], y[j])
            return values

        for k in range(max(len(b) for b in batches.values())):
            step = {m: b[k] for m, b in batches.items() if k < len(b)}
            train_step(pack, step, lambda m, i: i.numel(), group_loss, skip)

        infos: dict[int, dict[str, Any]] = {}
        for m in live:
            run = runs[m]
            run["epoch"] += 1
            loss = float(totals[m]) / ns[m]
            val_acc = None
            if vals[m] is not None and math.isfinite(loss):
                scratch.load_state_dict(pack.model_state(m))
                val_acc = utterance_accuracy(scratch, vals[m])
                select_model(run, val_acc, scratch, settings[m].patience)
            try:
                info = epoch_info(phase=1, epoch=run["epoch"], global_epoch=run["epoch"], loss=loss,
                                  train_acc=float(correct[m]) / ns[m], val_acc=val_acc, lr=settings[m].lr,
                                  stop=run["stopped"])  # fmt: skip
            except NonFiniteLoss as err:
                status[m], errors[m] = FAILED, str(err)
                continue
            run["history"].append(info)
            if run["epoch"] >= s0.epochs or run["stopped"]:
                status[m] = DONE
            infos[m] = dict(info)
        pack.freeze([m for m in live if status[m] != TRAINING])
        if on_epoch is not None:
            on_epoch(infos, state_fn)

    results: list[MemberResult[LiuResult]] = []
    for m, model in enumerate(models):
        error = NonFiniteLoss(errors[m]) if status[m] == FAILED else None
        final = runs[m]["best_model"] if runs[m]["best_model"] is not None and error is None else pack.model_state(m)
        if runs[m]["epoch"] > 0:
            finish_models([model], [final])
        result = None if error is not None else SelectionResult(
            epochs=runs[m]["epoch"], history=runs[m]["history"], best_epoch=runs[m]["best_epoch"] or runs[m]["epoch"],
            best_val=runs[m]["best_val"], stopped_early=runs[m]["stopped"])
        results.append(MemberResult(m, result, error, runs[m]["history"], final, model))
    return results
