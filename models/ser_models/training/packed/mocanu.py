"""Mocanu et al.'s training (``ser_models.training.mocanu``) for a pack of members.

Each member: its epoch order and random crops (its own numpy generator), its loss (the
members' unpacked loss objects packed into one, ``losses.pack_losses``), Adam's ``lr`` with
StepLR, its best-validation model selection and early stopping (``patience``). Training crops
of equal batch size run as one forward; validation utterances run one position at a time,
members whose utterance there has the same shape as one forward (one for all when members
share the validation set).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...base import ModelOutput, SerModel
from ...packed import MemberStepLR, PackedAdam, PackedModel
from ...se_resnet import MIN_FRAMES
from ..loop import NonFiniteLoss, RandomStreams, epoch_info, to_cpu
from ..mocanu import (
    MocanuResult,
    MocanuSettings,
    centroid_predict,
    embed_sequences,
    fit_length,
    random_crops,
)
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
    pack_state,
    reached_parameters,
    train_step,
    unreached,
)
from .losses import pack_losses

RECIPE = "mocanu"
PER_MEMBER = frozenset({"lr", "patience", "seed"})
Sequences = tuple[Sequence[np.ndarray], np.ndarray]


@torch.no_grad()
def _embed_sequences(model: PackedModel, seqs: Sequence[Sequence[np.ndarray]], rows: list[int], device: torch.device,
                     scratch: nn.Module) -> list[tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """``embed_sequences`` of each row's own utterances (eval mode, one utterance at a time).

    Rows with the same utterances (the same fold) run each utterance as one shared-input forward
    of those rows; a row with utterances of its own runs as an ordinary model, exactly as
    ``embed_sequences`` (lengths differ between utterances, so folds cannot be batched), its
    weights loaded into ``scratch`` (an ordinary model of the members' configuration)."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for j, s in enumerate(seqs):
        groups.setdefault(tuple(id(a) for a in s), []).append(j)
    out: list[tuple[np.ndarray, np.ndarray]] = [None] * len(rows)  # type: ignore[list-item]
    for js in groups.values():
        if len(js) == 1:
            scratch.load_state_dict(model.member_state_dict(rows[js[0]]))
            out[js[0]] = embed_sequences(scratch, seqs[js[0]], str(device))
            continue
        sub = model if [rows[j] for j in js] == list(range(model.num_members)) else model.select([rows[j] for j in js])
        was_training = sub.training
        sub.eval()
        try:
            outs = [sub(torch.tensor(fit_length(a, MIN_FRAMES)).T.unsqueeze(0).to(device), shared_input=True)
                    for a in seqs[js[0]]]  # fmt: skip
        finally:
            sub.train(was_training)
        for k, j in enumerate(js):
            out[j] = (torch.cat([o.embedding[k].float().cpu() for o in outs]).numpy(),
                      torch.cat([o.logits[k].float().cpu() for o in outs]).numpy())  # fmt: skip
    return out


def train_mocanu_packed(
    models: Sequence[SerModel],
    loss_fns: Sequence[nn.Module],
    data: Sequence[tuple[Sequences, Sequences | None]],
    settings: Sequence[MocanuSettings],
    device: str = "cpu",
    on_epoch: PackedOnEpoch | None = None,
    resume_state: dict[str, Any] | None = None,
) -> list[MemberResult[MocanuResult]]:
    """Train ``models[m]`` in place with ``loss_fns[m]`` on ``data[m] = (train, val)`` (``(seqs,
    y)`` pairs, val may be None), as ``train_mocanu(models[m], loss_fns[m], train, val,
    settings[m])`` would; each ends holding its best-validation epoch's weights, as there. The
    contract is the package's."""
    mm = check_members(RECIPE, models, data, settings, PER_MEMBER, loss_fns=loss_fns)
    s0 = settings[0]
    dev = torch.device(device)
    for model in models:
        model.to(dev)
    seqs = [list(train[0]) for train, _ in data]
    ys = [torch.as_tensor(np.asarray(train[1]), dtype=torch.long) for train, _ in data]
    vals = [val if val is not None and len(val[0]) else None for _, val in data]
    ns = [len(s) for s in seqs]
    steps = [s0.steps_per_epoch or max(1, -(-n // s0.batch_size)) for n in ns]
    loss_fn, reads = pack_losses(loss_fns)
    loss_fn.to(dev)
    streams = [RandomStreams(crops=np.random.default_rng(s.seed)) for s in settings]
    probe = torch.stack([torch.tensor(fit_length(seqs[0][i], s0.crop_frames)[: s0.crop_frames]).T  # copies: read-only memmaps
                         for i in range(min(2, ns[0]))]).to(dev)  # fmt: skip
    reached = reached_parameters(models[0], probe)
    skip = {m: unreached(reached, reads[m]) for m in range(mm)}
    pack = Pack(models, lambda params: PackedAdam(params, lr=[s.lr for s in settings]))
    scratch = copy.deepcopy(models[0])  # evaluates members with validation utterances of their own
    sched = MemberStepLR([s.lr for s in settings], step_size=s0.lr_step, gamma=s0.lr_gamma)
    runs: list[dict[str, Any]] = [{"epoch": 0, "best_val": None, "best_epoch": 0, "bad": 0, "best_model": None,
                                   "stopped": False, "history": []} for _ in range(mm)]  # fmt: skip
    status, errors = [TRAINING] * mm, [None] * mm
    if resume_state is not None:
        check_resume(RECIPE, resume_state, mm)
        for m, st in enumerate(resume_state["members"]):
            pack.load(m, st["model"], st["optimizer"])
            sched.load_member_state_dict(m, st["scheduler"])
            streams[m].restore(st["streams"])
            runs[m] = copy.deepcopy(st["run"])
        status, errors = list(resume_state["status"]), list(resume_state["errors"])
        pack.set_lr({m: sched.lrs[m] for m in range(mm)})

    def state_fn() -> dict[str, Any]:
        members = [{"model": to_cpu(pack.model_state(m)), "optimizer": to_cpu(pack.optimizer_state(m)),
                    "scheduler": sched.member_state_dict(m), "streams": streams[m].state(), "run": to_cpu(runs[m])}
                   for m in range(mm)]  # fmt: skip
        return pack_state(RECIPE, members, status, errors)

    for m in range(mm):
        if status[m] == TRAINING and (runs[m]["epoch"] >= s0.epochs or runs[m]["stopped"]):
            status[m] = DONE
    pack.freeze([m for m in range(mm) if status[m] != TRAINING])

    bs = s0.batch_size
    while pack.live:
        live = list(pack.live)
        pack.model.train()
        orders = {m: streams[m]["crops"].permutation(ns[m]) for m in live}
        losses: dict[int, list[float]] = {m: [] for m in live}
        crop_emb: dict[int, list[np.ndarray]] = {m: [] for m in live}
        crop_y: dict[int, list[np.ndarray]] = {m: [] for m in live}
        crop_pred: dict[int, list[np.ndarray]] = {m: [] for m in live}

        def group_loss(members: list[int], rows: list[int] | None, batch: list[tuple[Tensor, Tensor]]) -> Tensor:
            x = torch.stack([b[0] for b in batch]).to(dev)
            y = torch.stack([b[1] for b in batch]).to(dev)
            out = pack.model(x, members=rows)
            if s0.normalize_embedding:
                out = ModelOutput(F.normalize(out.embedding, dim=-1), out.logits, out.features)
            values = loss_fn(out, y, members=members)
            emb, pred = out.embedding.detach().cpu().numpy(), out.logits.detach().argmax(-1).cpu().numpy()
            y_np = y.cpu().numpy()
            for j, (m, v) in enumerate(zip(members, values.detach().tolist())):
                losses[m].append(float(v))
                crop_emb[m].append(emb[j])
                crop_y[m].append(y_np[j])
                crop_pred[m].append(pred[j])
            return values

        for step in range(max(steps[m] for m in live)):
            batch: dict[int, tuple[Tensor, Tensor]] = {}
            for m in live:
                if step >= steps[m]:
                    continue
                start = (step * bs) % ns[m]
                idx = orders[m][start : start + bs]
                if len(idx) < 2:  # BatchNorm needs two samples
                    continue
                batch[m] = (random_crops([seqs[m][i] for i in idx], s0.crop_frames, streams[m]["crops"]), ys[m][idx])
            if batch:
                train_step(pack, batch, lambda m, b: b[0].shape[0], group_loss, skip)

        lrs = {m: pack.opt.lr[pack.row(m)] for m in live}  # the rates this epoch trained with
        sched.step(members=live)
        pack.set_lr({m: sched.lrs[m] for m in live})
        with_val = [m for m in live if vals[m] is not None]
        val_out = dict(zip(with_val, _embed_sequences(pack.model, [vals[m][0] for m in with_val],  # type: ignore[index]
                                                      pack.rows(with_val), dev, scratch))) if with_val else {}  # fmt: skip
        infos: dict[int, dict[str, Any]] = {}
        for m in live:
            run = runs[m]
            run["epoch"] += 1
            emb_tr, y_tr = (np.concatenate(crop_emb[m]), np.concatenate(crop_y[m])) if crop_emb[m] else (None, None)
            if emb_tr is None:
                train_acc = 0.0
            elif s0.val_by == "centroid":
                train_acc = float(np.mean(centroid_predict(emb_tr, y_tr, emb_tr, models[m].num_classes) == y_tr))
            else:
                train_acc = float(np.mean(np.concatenate(crop_pred[m]) == y_tr))
            val_acc = None
            if m in val_out:
                emb, logits = val_out[m]
                if s0.val_by == "centroid" and emb_tr is not None:
                    pred = centroid_predict(emb_tr, y_tr, emb, models[m].num_classes)
                else:
                    pred = logits.argmax(1)
                val_acc = float(np.mean(pred == np.asarray(vals[m][1])))  # type: ignore[index]
                if run["best_val"] is None or val_acc > run["best_val"]:
                    run.update(best_val=val_acc, best_epoch=run["epoch"], bad=0, best_model=to_cpu(pack.model_state(m)))
                else:
                    run["bad"] += 1
                    run["stopped"] = run["bad"] >= settings[m].patience
            try:
                info = epoch_info(phase=1, epoch=run["epoch"], global_epoch=run["epoch"],
                                  loss=float(np.mean(losses[m])) if losses[m] else 0.0, train_acc=train_acc,
                                  val_acc=val_acc, lr=lrs[m], stop=run["stopped"])  # fmt: skip
            except NonFiniteLoss as err:
                status[m], errors[m] = FAILED, str(err)
                continue
            run["history"].append(info)
            if run["stopped"] or run["epoch"] >= s0.epochs:
                status[m] = DONE
            infos[m] = dict(info)
        pack.freeze([m for m in live if status[m] != TRAINING])
        if on_epoch is not None:
            on_epoch(infos, state_fn)

    results: list[MemberResult[MocanuResult]] = []
    for m, model in enumerate(models):
        run = runs[m]
        error = NonFiniteLoss(errors[m]) if status[m] == FAILED else None
        # model selection on the validation set (a failed run raised before it: its last weights)
        final = run["best_model"] if run["best_model"] is not None and error is None else pack.model_state(m)
        if run["epoch"] > 0:
            finish_models([model], [final])
        result = None if error is not None else MocanuResult(
            epochs=run["epoch"], history=run["history"], best_epoch=run["best_epoch"] or run["epoch"],
            best_val=run["best_val"], stopped_early=run["stopped"])
        results.append(MemberResult(m, result, error, run["history"], {k: v.to(dev) for k, v in final.items()}, model))
    return results
