"""Kumar's two-phase training (``ser_models.training.kumar``) for a pack of members.

Every member follows its unpacked schedule on its own: its phase, its linear lr per phase
(``phase2_lr``), its early stopping per phase, its batch order and miner generators (seeded
from its ``seed`` as ``train_kumar`` seeds them). Members move through the phases at their own
pace (one stopped early in phase 1 trains phase 2 while another is still in phase 1): one pack
epoch is one epoch of every live member, whatever its phase.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import torch

from ...base import SerModel
from ...packed import (
    PackedCrossEntropy,
    PackedHardMiner,
    PackedRandomMiner,
    PackedSemiHardMiner,
    PackedSGD,
    PackedTripletLoss,
    PackedWeightedSum,
)
from ..batches import batch_indices, epoch_view, first_view
from ..kumar import KumarSettings, Split, TrainResult, final_phase, keep_if_best, new_run, result_of
from ..loop import NonFiniteLoss, RandomStreams, epoch_info, to_cpu
from ..schedule import EarlyStopping, linear_lr
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
    predict,
    reached_parameters,
    train_step,
    unreached,
)

RECIPE = "kumar"
# Settings that may differ between members; everything else must be equal.
PER_MEMBER = frozenset({"lr_start", "lr_end", "margin", "triplet_weight", "ce_weight", "weight_decay", "seed",
                        "patience", "min_delta", "phase2_lr", "select_best"})  # fmt: skip


def _miner(s: KumarSettings, m: int, generators: list[torch.Generator]) -> Any:
    if s.miner == "random":
        return PackedRandomMiner(generators=generators)
    if s.miner == "semihard":
        return PackedSemiHardMiner(m)
    return PackedHardMiner(m)


def train_kumar_packed(
    models: Sequence[SerModel],
    data: Sequence[tuple[Split, Split | None]],
    settings: Sequence[KumarSettings],
    device: torch.device | str | None = None,
    on_epoch: PackedOnEpoch | None = None,
    resume_state: dict[str, Any] | None = None,
) -> list[MemberResult[TrainResult]]:
    """Train ``models[m]`` in place on ``data[m] = (train, val)`` with ``settings[m]``, as
    ``train_kumar(models[m], train, val, settings[m])`` would, all members as one packed model.

    ``on_epoch(infos, state_fn)`` after every pack epoch: ``infos[m]`` is member m's history
    entry (``train_kumar``'s), for each member that completed an epoch; ``state_fn()`` is the
    whole pack's checkpoint, which ``resume_state`` continues exactly. A member whose loss
    becomes NaN/inf is recorded as failed and frozen; the others go on.
    """
    mm = check_members(RECIPE, models, data, settings, PER_MEMBER)
    s0 = settings[0]
    dev = torch.device(device) if device is not None else data[0][0][0].device
    for model in models:
        model.to(dev)
    trains = [(x.to(dev), y.to(dev)) for (x, y), _ in data]
    vals = [(v[0].to(dev), v[1].to(dev)) if v is not None and v[0].shape[0] > 0 else None for _, v in data]
    n_epochs = {1: s0.pretrain_epochs, 2: s0.triplet_epochs}

    streams = [RandomStreams(batch=torch.Generator(device=dev).manual_seed(s.seed),
                             miner=torch.Generator(device=dev).manual_seed(s.seed + 1)) for s in settings]  # fmt: skip
    ce = PackedCrossEntropy(mm)
    triplet = PackedTripletLoss(mm, s0.distance, [s.margin for s in settings], _miner(s0, mm, [st["miner"] for st in streams]))
    losses = {1: ce, 2: PackedWeightedSum(mm, [([s.ce_weight for s in settings], ce),
                                               ([s.triplet_weight for s in settings], triplet)])}  # fmt: skip
    # What each member's loss reaches per phase: torch gives the others no gradient (and SGD
    # then leaves them alone: no momentum, no weight decay), e.g. the classifier under ce_weight 0.
    reached = reached_parameters(models[0], first_view(trains[0][0][:2]))
    skip: dict[int, dict[int, set[str]]] = {1: {m: unreached(reached, {"logits"}) for m in range(mm)}, 2: {}}
    for m, s in enumerate(settings):
        reads = ({"logits"} if s.ce_weight != 0 else set()) | ({"embedding"} if s.triplet_weight != 0 else set())
        skip[2][m] = unreached(reached, reads or {"embedding"})  # no term: embedding.sum() * 0

    pack = Pack(models, lambda params: PackedSGD(params, lr=[s.lr_start for s in settings], momentum=s0.momentum,
                                                 weight_decay=[s.weight_decay for s in settings]))  # fmt: skip
    stoppers = [EarlyStopping(s.patience, s.min_delta) for s in settings]
    runs = [new_run() for _ in range(mm)]
    status, errors = [TRAINING] * mm, [None] * mm
    if resume_state is not None:
        check_resume(RECIPE, resume_state, mm)
        for m, st in enumerate(resume_state["members"]):
            pack.load(m, st["model"], st["optimizer"])
            streams[m].restore(st["streams"])
            stoppers[m].best, stoppers[m].since_best = st["stopper"]
            runs[m] = {**new_run(), **copy.deepcopy(st["run"])}
        status, errors = list(resume_state["status"]), list(resume_state["errors"])

    def advance(m: int) -> bool:
        """The top of the unpacked loop: move past finished phases; False when all are done."""
        run = runs[m]
        while run["phase"] <= 2 and run["epoch"] >= n_epochs[run["phase"]]:
            run["phase"], run["epoch"] = run["phase"] + 1, 0
            stoppers[m].reset()
        return run["phase"] <= 2

    def state_fn() -> dict[str, Any]:
        members = [{"model": to_cpu(pack.model_state(m)), "optimizer": to_cpu(pack.optimizer_state(m)),
                    "streams": streams[m].state(), "stopper": [stoppers[m].best, stoppers[m].since_best],
                    "run": copy.deepcopy(runs[m]), "settings": asdict(settings[m])} for m in range(mm)]  # fmt: skip
        return pack_state(RECIPE, members, status, errors)

    for m in range(mm):
        if status[m] == TRAINING and not advance(m):
            status[m] = DONE
    pack.freeze([m for m in range(mm) if status[m] != TRAINING])

    while pack.live:
        live = list(pack.live)
        lrs: dict[int, float] = {}
        for m in live:
            run, s = runs[m], settings[m]
            start = s.lr_start
            if run["phase"] == 2 and s.phase2_lr == "continue" and run["history"]:
                start = min(s.lr_start, run["history"][-1]["lr"])  # phase 1's last rate
            lrs[m] = linear_lr(run["epoch"], n_epochs[run["phase"]], start, s.lr_end)
        pack.set_lr(lrs)
        pack.model.train()
        epoch_x = {m: epoch_view(trains[m][0], streams[m]["batch"]) for m in live}  # before the batches, as unpacked
        batches = {m: batch_indices(trains[m][0].shape[0], s0.batch_size, streams[m]["batch"], dev) for m in live}
        totals = {m: torch.zeros((), device=dev) for m in live}

        def group_loss(members: list[int], rows: list[int] | None, idx: list[torch.Tensor]) -> torch.Tensor:
            x = gather([epoch_x[m] for m in members], idx)
            y = gather([trains[m][1] for m in members], idx)
            values = losses[runs[members[0]]["phase"]](pack.model(x, members=rows), y, members=members)
            for m, v in zip(members, values.detach()):
                totals[m] += v * idx[0].numel()  # as the unpacked epoch sum: on device, one sync per epoch
            return values

        for k in range(max(len(b) for b in batches.values())):
            step = {m: b[k] for m, b in batches.items() if k < len(b)}
            train_step(pack, step, lambda m, i: (runs[m]["phase"], i.numel()), group_loss,
                       {m: skip[runs[m]["phase"]][m] for m in step})  # fmt: skip

        train_out = predict(pack.model, [first_view(trains[m][0]) for m in live])
        with_val = [m for m in live if vals[m] is not None]
        val_out = dict(zip(with_val, predict(pack.model, [vals[m][0] for m in with_val], pack.rows(with_val)))) if with_val else {}  # type: ignore[index]
        infos: dict[int, dict[str, Any]] = {}
        for j, m in enumerate(live):
            run, key = runs[m], str(runs[m]["phase"])
            train_acc = _accuracy(train_out[j].logits, trains[m][1])
            val_acc = _accuracy(val_out[m].logits, vals[m][1]) if m in val_out else None  # type: ignore[index]
            stop = stoppers[m].update(val_acc if val_acc is not None else train_acc)
            run["epoch"] += 1
            run["global_epoch"] += 1
            loss = float(totals[m].item()) / trains[m][0].shape[0]
            try:
                info = epoch_info(phase=run["phase"], epoch=run["epoch"], global_epoch=run["global_epoch"], loss=loss,
                                  train_acc=train_acc, val_acc=val_acc, lr=lrs[m], stop=stop)  # fmt: skip
            except NonFiniteLoss as err:  # the unpacked trainer raises here; the pack records it
                status[m], errors[m] = FAILED, str(err)
                continue
            run["epochs_run"][key] += 1
            run["best"][key] = stoppers[m].best
            run["history"].append(info)
            if run["phase"] == final_phase(settings[m]) and settings[m].select_best:
                keep_if_best(run, val_acc, lambda: to_cpu(pack.model_state(m)))  # noqa: B023 (called at once)
            if stop:
                run["stopped"][key] = True
                run["epoch"] = n_epochs[run["phase"]]
            if not advance(m):
                status[m] = DONE
            infos[m] = dict(info)
        pack.freeze([m for m in live if status[m] != TRAINING])
        if on_epoch is not None:
            on_epoch(infos, state_fn)

    results: list[MemberResult[TrainResult]] = []
    finals = [pack.model_state(m) if runs[m]["selected"] is None else runs[m]["selected"]["model"] for m in range(mm)]
    for m, model in enumerate(models):
        run = runs[m]
        if run["global_epoch"] > 0:
            finish_models([model], [finals[m]])
        error = NonFiniteLoss(errors[m]) if status[m] == FAILED else None
        result = None if error is not None else result_of(run, "val_acc" if vals[m] is not None else "train_acc", settings[m])
        results.append(MemberResult(m, result, error, run["history"], finals[m], model))
    return results


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """As ``softmax_accuracy``: the float32 mean of correct argmax predictions."""
    return float((logits.argmax(dim=1) == y).float().mean().item())
