"""Lian et al.'s Siamese training (``ser_models.training.lian``) for a pack of members.

Each member: its pairs (its own numpy generator, drawn anew every epoch), ``lam``, ``margin``,
``aux_weight`` and multi-task targets, Adam's ``lr`` and its ReduceLROnPlateau on its own epoch
loss. The loss of each member is built op for op as the unpacked trainer builds it
(``(1 - lam) * CE``, or ``logits.sum() * 0`` at lam = 1; ``+ lam * contrastive`` when lam > 0;
``(1 - mu) * base + mu * CE(aux head)`` with targets and mu > 0), and its epoch loss is summed
in Python floats as there, since the plateau decides on it. With validation inputs (``vals[m]``)
a member keeps its best validation epoch's weights and, with ``patience``, leaves the pack when it
stops improving.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ...base import ModelOutput, SerModel
from ...packed import (
    MemberPlateau,
    PackedAdam,
    PackedContrastiveLoss,
    PackedCrossEntropy,
)
from ...pairs import make_pairs
from ..lian import LianResult, LianSettings
from ..loop import NonFiniteLoss, RandomStreams, SelectionResult, epoch_info, select_model, selection_run, softmax_accuracy, to_cpu
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

RECIPE = "lian"
PER_MEMBER = frozenset({"lr", "lam", "margin", "aux_weight", "patience", "seed"})


def _column(values: Sequence[float], members: Sequence[int], like: Tensor) -> Tensor:
    return torch.tensor([values[m] for m in members], dtype=like.dtype, device=like.device)


def train_lian_packed(
    models: Sequence[SerModel],
    data: Sequence[tuple[Tensor, Tensor]],
    settings: Sequence[LianSettings],
    device: torch.device | str = "cpu",
    on_epoch: PackedOnEpoch | None = None,
    resume_state: dict[str, Any] | None = None,
    *,
    aux: Sequence[Tensor | None] | None = None,
    rngs: Sequence[np.random.Generator | None] | None = None,
    vals: Sequence[tuple[Tensor, Tensor] | None] | None = None,
) -> list[MemberResult[LianResult]]:
    """Train ``models[m]`` in place on ``data[m] = (x, y)``, as ``train_lian(models[m], data[m],
    settings[m], aux=aux[m], rng=rngs[m], val=vals[m])`` would; the contract is the package's. ``aux``: per
    member the multi-task targets or None; ``rngs``: per member the pair generator or None
    (seeded from its ``seed``)."""
    mm = check_members(RECIPE, models, data, settings, PER_MEMBER, aux=aux, rngs=rngs)
    s0 = settings[0]
    dev = torch.device(device)
    for model in models:
        model.to(dev)
    xs = [x.to(dev) for x, _ in data]
    ys = [y.to(dev) for _, y in data]
    ys_np = [y.cpu().numpy() for y in ys]
    auxs = [None if a is None else a.to(dev) for a in (aux or [None] * mm)]
    lam = [float(s.lam) for s in settings]
    mu = [float(s.aux_weight) if auxs[m] is not None else 0.0 for m, s in enumerate(settings)]
    ce = PackedCrossEntropy(mm)
    con = PackedContrastiveLoss(mm, "cosine" if s0.contrastive_type == 1 else "euclidean", [s.margin for s in settings],
                                s0.position)  # fmt: skip
    streams = [RandomStreams(pairs=r if r is not None else np.random.default_rng(s.seed))
               for s, r in zip(settings, rngs or [None] * mm)]  # fmt: skip
    reached = reached_parameters(models[0], xs[0][:2], aux=any(v > 0 for v in mu))
    con_reads = "features" if s0.position == "pos_1" else "logits"
    skip = {m: unreached(reached, {"logits"} | ({con_reads} if lam[m] > 0 else set()) | ({"aux"} if mu[m] > 0 else set()))
            for m in range(mm)}  # fmt: skip
    pack = Pack(models, lambda params: PackedAdam(params, lr=[s.lr for s in settings]))
    plateau = MemberPlateau([s.lr for s in settings], factor=0.5, patience=s0.lr_patience)
    vals = list(vals) if vals is not None else [None] * mm
    scratch = copy.deepcopy(models[0])  # evaluates a member on its own validation inputs
    runs: list[dict[str, Any]] = [selection_run() for _ in range(mm)]
    status, errors = [TRAINING] * mm, [None] * mm
    if resume_state is not None:
        check_resume(RECIPE, resume_state, mm)
        for m, st in enumerate(resume_state["members"]):
            pack.load(m, st["model"], st["optimizer"])
            plateau.load_member_state_dict(m, st["scheduler"])
            streams[m].restore(st["streams"])
            runs[m] = to_cpu(st["run"])
        status, errors = list(resume_state["status"]), list(resume_state["errors"])
        pack.set_lr({m: plateau.lrs[m] for m in range(mm)})

    def state_fn() -> dict[str, Any]:
        members = [{"model": to_cpu(pack.model_state(m)), "optimizer": to_cpu(pack.optimizer_state(m)),
                    "scheduler": plateau.member_state_dict(m), "streams": streams[m].state(), "run": to_cpu(runs[m])}
                   for m in range(mm)]  # fmt: skip
        return pack_state(RECIPE, members, status, errors)

    for m in range(mm):
        if status[m] == TRAINING and runs[m]["epoch"] >= s0.epochs:
            status[m] = DONE
    pack.freeze([m for m in range(mm) if status[m] != TRAINING])

    bs = s0.batch_size
    while pack.live:
        live = list(pack.live)
        pack.model.train()
        pairs = {m: make_pairs(s0.loader, ys_np[m], streams[m]["pairs"]) for m in live}
        total, n_seen, correct = dict.fromkeys(live, 0.0), dict.fromkeys(live, 0), dict.fromkeys(live, 0)

        def group_loss(members: list[int], rows: list[int] | None, idx: list[Tensor]) -> Tensor:
            x = gather([xs[m] for m in members], idx)
            y = gather([ys[m] for m in members], idx)
            out = pack.model(x, members=rows)
            ce_values = ce(out, y, members=members)
            lam_t = _column(lam, members, ce_values)
            zero = out.logits.flatten(1).sum(dim=1) * 0.0  # the unpacked lam = 1 base: logits.sum() * 0.0
            base = torch.where(lam_t < 1.0, (1.0 - lam_t) * ce_values, zero)
            with_con = [j for j, m in enumerate(members) if lam[m] > 0.0]
            if with_con:
                base = base + _scatter(with_con, len(members), lam_t, lambda sel, ms: con(_rows(out, sel), y[sel], members=ms),
                                       members)  # fmt: skip
            loss = base
            with_aux = [j for j, m in enumerate(members) if mu[m] > 0.0]
            if with_aux:
                sel = torch.tensor(with_aux, device=y.device)
                ms = [members[j] for j in with_aux]
                aux_rows = None if rows is None and len(with_aux) == len(members) else [
                    (rows[j] if rows is not None else j) for j in with_aux]  # fmt: skip
                aux_logits = pack.model.call("aux_logits", out.features.index_select(0, sel), members=aux_rows)
                aux_y = gather([auxs[m] for m in ms], [idx[j] for j in with_aux])  # type: ignore[misc]
                aux_ce = ce(ModelOutput(aux_logits, aux_logits), aux_y, members=ms)
                mu_t = _column(mu, ms, aux_ce)
                mixed = (1.0 - mu_t) * base.index_select(0, sel) + mu_t * aux_ce
                loss = base.index_put((sel,), mixed)
            values, preds = loss.detach().tolist(), out.logits.detach().argmax(dim=2)
            hits = (preds == y).sum(dim=1).tolist()
            for j, m in enumerate(members):
                # a Python float sum, as the unpacked trainer keeps it (the plateau decides on it)
                total[m] += float(values[j]) * idx[j].numel()
                n_seen[m] += idx[j].numel()
                correct[m] += int(hits[j])
            return loss

        longest = max(len(first) for first, _ in pairs.values())
        for b in range(0, longest, bs):
            step: dict[int, Tensor] = {}
            for m in live:
                first, second = pairs[m]
                if b >= len(first):
                    continue
                i1 = torch.as_tensor(first[b : b + bs], device=dev)
                i2 = torch.as_tensor(second[b : b + bs], device=dev)
                if len(i1) < 2 and b > 0:
                    continue  # as unpacked: the epoch's last lone pair is skipped
                step[m] = torch.cat([i1, i2])
            if step:
                train_step(pack, step, lambda m, i: i.numel(), group_loss, skip)

        infos: dict[int, dict[str, Any]] = {}
        for m in live:
            epoch_loss = total[m] / max(1, n_seen[m])
            lr = pack.opt.lr[pack.row(m)]  # the rate this epoch trained with
            plateau.step([epoch_loss], members=[m])
            runs[m]["epoch"] += 1
            val_acc = None
            if vals[m] is not None and math.isfinite(epoch_loss):
                scratch.load_state_dict(pack.model_state(m))
                val_acc = softmax_accuracy(scratch, *vals[m])
                select_model(runs[m], val_acc, scratch, settings[m].patience)
            try:
                info = epoch_info(phase=1, epoch=runs[m]["epoch"], global_epoch=runs[m]["epoch"], loss=epoch_loss,
                                  train_acc=correct[m] / max(1, n_seen[m]), val_acc=val_acc, lr=lr,
                                  stop=runs[m]["stopped"], pairs=len(pairs[m][0]))  # fmt: skip
            except NonFiniteLoss as err:
                status[m], errors[m] = FAILED, str(err)
                continue
            runs[m]["history"].append(info)
            if runs[m]["epoch"] >= s0.epochs or runs[m]["stopped"]:
                status[m] = DONE
            infos[m] = dict(info)
        pack.set_lr({m: plateau.lrs[m] for m in live})
        pack.freeze([m for m in live if status[m] != TRAINING])
        if on_epoch is not None:
            on_epoch(infos, state_fn)

    results: list[MemberResult[LianResult]] = []
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


def _rows(out: ModelOutput, sel: Tensor) -> ModelOutput:
    return ModelOutput(*(None if f is None else f.index_select(0, sel) for f in out))


def _scatter(rows: list[int], size: int, weights: Tensor, value_of: Any, members: list[int]) -> Tensor:
    """``weights * value`` with ``value`` computed only for ``rows`` (0 elsewhere: adds nothing)."""
    sel = torch.tensor(rows, device=weights.device)
    part = value_of(sel, [members[j] for j in rows])
    full = part.new_zeros(size).index_put((sel,), part)
    return weights * full
