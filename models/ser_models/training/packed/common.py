"""What the packed trainers share: the member result, the pack of live members, the checks of
shared settings, one training step over groups of equal batch size, packed evaluation, and
which parameters a member's loss reaches.

The live pack is one :class:`~ser_models.packed.PackedModel` plus one packed optimizer over the
members still training. A member that stops early, finishes or fails is *frozen*: its weights,
buffers and optimizer state are copied out (the unpacked layouts) and the pack is re-stacked
without it (``select``), so it no longer costs anything and nothing of it can change.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import torch
from torch import Tensor, nn

from ...base import ModelOutput, SerModel
from ...packed import PackedModel, PackedOptimizer
from ..loop import NonFiniteLoss, StateFn

R = TypeVar("R")
# on_epoch(infos, state_fn): infos = {member index: that member's history entry of this pack epoch}
PackedOnEpoch = Callable[[dict[int, dict[str, Any]], StateFn], None]

TRAINING, DONE, FAILED = "training", "done", "failed"
EVAL_BATCH = 2048  # as ser_models.base.embed


@dataclass
class MemberResult(Generic[R]):
    """One member of a pack, as its unpacked run would have ended.

    ``result``: exactly what the unpacked trainer returns (``TrainResult``, ``MocanuResult``,
    ``LiuResult``, ``LianResult``), None when the member failed; ``error``: the
    :class:`NonFiniteLoss` the unpacked trainer would have raised (not raised here);
    ``history``: ``result.history``, or the epochs before the failure; ``state_dict``: the
    member's final weights (Mocanu: the selected epoch's), as ``model.state_dict()``;
    ``model``: the caller's ``models[member]``, which holds ``state_dict`` (the packed trainers
    train the given models in place, as the unpacked ones do), for evaluation as usual.
    """

    member: int
    result: R | None
    error: NonFiniteLoss | None
    history: list[dict[str, Any]]
    state_dict: dict[str, Tensor]
    model: SerModel

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def reason(self) -> str | None:
        return None if self.error is None else str(self.error)


def check_members(recipe: str, models: Sequence[nn.Module], data: Sequence[Any], settings: Sequence[Any],
                  per_member: frozenset[str], **lists: Sequence[Any] | None) -> int:  # fmt: skip
    """Number of members; ValueError when the lists disagree or a shared setting differs."""
    m = len(models)
    if m == 0:
        raise ValueError(f"{recipe}: a pack needs at least one member")
    sizes = {"models": m, "data": len(data), "settings": len(settings)}
    sizes.update({k: len(v) for k, v in lists.items() if v is not None})
    if len(set(sizes.values())) != 1:
        raise ValueError(f"{recipe}: one entry per member in each list, got {sizes}")
    if len({id(model) for model in models}) != m:
        raise ValueError(f"{recipe}: every member needs its own model object (each is trained in place)")
    kinds = {type(s) for s in settings}
    if len(kinds) != 1 or not dataclasses.is_dataclass(settings[0]):
        raise ValueError(f"{recipe}: every member needs the same settings dataclass, got {sorted(k.__name__ for k in kinds)}")
    for f in dataclasses.fields(settings[0]):
        if f.name in per_member:
            continue
        values = [getattr(s, f.name) for s in settings]
        if any(v != values[0] for v in values[1:]):
            raise ValueError(f"{recipe}: settings.{f.name} must be the same for every member of a pack "
                             f"(only {', '.join(sorted(per_member))} may differ), got {values}")  # fmt: skip
    return m


class Pack:
    """The members still training, as one PackedModel and one packed optimizer.

    ``live[row]`` is the member index of each row of the stacked model; everything else
    (losses, generators, results) is indexed by member.
    """

    def __init__(self, models: Sequence[nn.Module], make_optimizer: Callable[[dict[str, Tensor]], PackedOptimizer]) -> None:
        self.model = PackedModel(models)
        self.opt = make_optimizer(self.model.params)
        self.live: list[int] = list(range(len(models)))
        self.frozen: dict[int, tuple[dict[str, Tensor], dict[str, Any]]] = {}

    def row(self, member: int) -> int:
        return self.live.index(member)

    def rows(self, members: Sequence[int]) -> list[int]:
        return [self.live.index(m) for m in members]

    def model_state(self, member: int) -> dict[str, Tensor]:
        """The member's ``state_dict()`` (unpacked layout), live or frozen."""
        if member in self.frozen:
            return self.frozen[member][0]
        return self.model.member_state_dict(self.row(member))

    def optimizer_state(self, member: int) -> dict[str, Any]:
        """The member's ``torch.optim`` ``state_dict()``, live or frozen."""
        if member in self.frozen:
            return self.frozen[member][1]
        return self.opt.member_state_dict(self.row(member))

    def load(self, member: int, model_state: Mapping[str, Tensor], optimizer_state: Mapping[str, Any]) -> None:
        if member in self.frozen:
            self.frozen[member] = (dict(model_state), dict(optimizer_state))
            return
        r = self.row(member)
        self.model.load_member_state_dict(r, model_state)
        self.opt.load_member_state_dict(r, optimizer_state)

    def freeze(self, members: Sequence[int]) -> None:
        """Copy these members' state out and re-stack the pack without them."""
        members = [m for m in members if m in self.live]
        if not members:
            return
        for m in members:
            self.frozen[m] = (self.model_state(m), copy.deepcopy(self.optimizer_state(m)))
        keep = [m for m in self.live if m not in members]
        if keep:
            rows = self.rows(keep)
            self.model = self.model.select(rows)
            self.opt = self.opt.select(rows, self.model.params)
        self.live = keep

    def set_lr(self, lrs: Mapping[int, float]) -> None:
        """Set the learning rate of the members in ``lrs`` (member -> lr)."""
        members = list(lrs)
        self.opt.set_lr([float(lrs[m]) for m in members], members=self.rows(members))


def train_step(pack: Pack, batches: Mapping[int, Any], key_of: Callable[[int, Any], Any],
               group_loss: Callable[[list[int], list[int] | None, list[Any]], Tensor],
               skip: Mapping[int, set[str]] | None = None) -> None:  # fmt: skip
    """One optimizer step of every member in ``batches`` (member -> its batch).

    Members with the same ``key_of(member, batch)`` (batch size, phase...) run as one
    forward/backward (``group_loss(members, rows, batches) -> Tensor[M']``, ``rows`` the pack
    rows of ``members``, None when that is the whole pack in order: no gather needed); then one
    optimizer ``step`` over all of them. ``skip[m]``: names of parameters member m's loss does
    not reach (torch leaves those alone; a stacked gradient holds zeros there).
    """
    groups: dict[Any, list[int]] = {}
    for m in pack.live:  # in row order, so a group of every live member is the pack as it is
        if m in batches:
            groups.setdefault(key_of(m, batches[m]), []).append(m)
    pack.opt.zero_grad()
    for members in groups.values():
        rows = pack.rows(members)
        whole = rows == list(range(len(pack.live)))
        values = group_loss(members, None if whole else rows, [batches[m] for m in members])
        values.sum().backward()
    stepping = [m for m in pack.live if m in batches]
    rows = pack.rows(stepping)
    skip_rows: dict[str, list[int]] = {}
    for m, r in zip(stepping, rows):
        for name in (skip or {}).get(m, ()):
            skip_rows.setdefault(name, []).append(r)
    pack.opt.step(members=None if len(rows) == len(pack.live) else rows, skip=skip_rows or None)


def gather(xs: Sequence[Tensor], idx: Sequence[Tensor]) -> Tensor:
    """``(M', B, ...)``: row j is ``xs[j][idx[j]]`` (one gather when every member has the same data)."""
    if all(x is xs[0] for x in xs):
        return xs[0][torch.stack(list(idx))]
    return torch.stack([x[i] for x, i in zip(xs, idx)])


@torch.no_grad()
def predict(model: PackedModel, xs: Sequence[Tensor], rows: list[int] | None = None, batch_size: int = EVAL_BATCH,
            method: str = "forward") -> list[ModelOutput]:  # fmt: skip
    """Eval-mode outputs of each row's own inputs ``xs[j]`` (rows of the pack, default all), in
    chunks of ``batch_size`` as :func:`ser_models.base.embed`. Inputs of different lengths are
    zero-padded to the longest (in eval mode every sample is computed on its own, so padding
    changes no other row); one tensor given for every row is run as a shared input."""
    was_training = model.training
    model.eval()
    try:
        shared = all(x is xs[0] for x in xs)
        n_max = max(x.shape[0] for x in xs)
        outs: list[ModelOutput] = []
        for start in range(0, n_max, batch_size):
            if shared:
                outs.append(model(xs[0][start : start + batch_size], members=rows, shared_input=True))
                continue
            stop = min(n_max, start + batch_size)
            chunk = xs[0].new_zeros((len(xs), stop - start, *xs[0].shape[1:]))
            for j, x in enumerate(xs):
                part = x[start:stop]
                chunk[j, : part.shape[0]] = part
            outs.append(model(chunk, members=rows))
    finally:
        model.train(was_training)
    if not outs:
        raise ValueError("predict needs at least one sample")
    emb = torch.cat([o.embedding for o in outs], dim=1)
    logits = torch.cat([o.logits for o in outs], dim=1)
    return [ModelOutput(emb[j, : x.shape[0]], logits[j, : x.shape[0]]) for j, x in enumerate(xs)]


def reached_parameters(model: nn.Module, x: Tensor, aux: bool = False) -> dict[str, set[str]]:
    """Which parameters each output of ``model`` depends on: ``embedding``, ``logits``,
    ``features`` (when the model returns them) and ``aux`` (``model.aux_logits(features)``).

    One eval-mode forward of a copy on the sample batch ``x``; a loss that reads some outputs
    reaches the union of theirs (what decides whether torch gives a parameter a gradient)."""
    probe = copy.deepcopy(model).eval()
    names = [n for n, _ in probe.named_parameters()]
    params = [p for _, p in probe.named_parameters()]
    out = probe(x)
    fields: dict[str, Tensor] = {"embedding": out.embedding, "logits": out.logits}
    if out.features is not None:
        fields["features"] = out.features
        if aux:
            fields["aux"] = probe.aux_logits(out.features)
    reached: dict[str, set[str]] = {}
    for key, t in fields.items():
        grads = torch.autograd.grad(t.sum(), params, allow_unused=True, retain_graph=True)
        reached[key] = {n for n, g in zip(names, grads) if g is not None}
    return reached


def unreached(reached: Mapping[str, set[str]], reads: set[str]) -> set[str]:
    """Parameters a loss that reads the outputs ``reads`` does not reach."""
    every = set().union(*reached.values())
    used: set[str] = set().union(*(reached[r] for r in reads)) if reads else set()
    return every - used


def pack_state(recipe: str, members: list[dict[str, Any]], status: list[str], errors: list[str | None]) -> dict[str, Any]:
    """A pack checkpoint: each member's state exactly as its unpacked trainer's ``state_fn()``
    would hold it, plus each member's status (training | done | failed) and failure reason."""
    return {"recipe": recipe, "members": members, "status": list(status), "errors": list(errors)}


def check_resume(recipe: str, state: Mapping[str, Any], m: int) -> None:
    if state.get("recipe") != recipe:
        raise ValueError(f"resume_state is a {state.get('recipe')!r} pack checkpoint, not {recipe!r}")
    if len(state["members"]) != m:
        raise ValueError(f"resume_state has {len(state['members'])} members, this pack {m}")


def finish_models(models: Sequence[nn.Module], states: Sequence[Mapping[str, Tensor]], train_mode: bool = True) -> None:
    """Put every member's final weights into the caller's model (trained in place)."""
    for model, state in zip(models, states):
        model.load_state_dict(state)
        model.train(train_mode)


__all__ = [
    "DONE",
    "FAILED",
    "TRAINING",
    "MemberResult",
    "Pack",
    "PackedOnEpoch",
    "check_members",
    "check_resume",
    "finish_models",
    "gather",
    "pack_state",
    "predict",
    "reached_parameters",
    "train_step",
    "unreached",
]
