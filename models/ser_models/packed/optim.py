"""SGD and Adam over stacked parameters ``[M, ...]``, one optimizer per member.

Each member has its own learning rate and weight decay (``lr`` / ``weight_decay``: a float for
all, or one value per member), its own state (momentum buffer; Adam's moments and step count)
and can sit a step out. The arithmetic is torch's single-tensor path (what ``torch.optim.SGD`` /
``Adam`` run on CPU), op for op, with the per-member scalars broadcast from ``[M, 1, ...]``
tensors in forms that round the same way (``addcmul`` for ``add(alpha=)``, the scalar multiplied
into the numerator for ``addcdiv(value=)``): on CPU a member's step is bit-identical to
``torch.optim`` stepping that member alone (tests/models/test_packed_optim.py checks it).

Who steps: ``step(members=...)`` lists the members that take this step (default: all); the
others' parameters and state do not change, bit for bit. ``skip={name: [m, ...]}`` marks
parameters a member's loss did not reach: torch leaves a parameter whose ``.grad`` is ``None``
alone (no weight decay, no momentum, no Adam step), which a stacked gradient cannot express
(a member's unused head gets zeros, not ``None``). Find such parameters once per configuration
(e.g. a classifier under a zero cross-entropy weight) and pass them.

``member_state_dict(m)`` is a ``torch.optim`` ``state_dict()`` for member m alone (loadable into
the unpacked optimizer over ``model.parameters()``); ``load_member_state_dict`` takes one back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

Params = Mapping[str, Tensor] | Sequence[Tensor]


def per_member(value: float | Sequence[float], m: int, what: str) -> list[float]:
    """``value`` as one float per member (a float is repeated ``m`` times)."""
    if isinstance(value, (int, float)):
        return [float(value)] * m
    if isinstance(value, Tensor):
        value = value.reshape(-1).tolist()
    values = [float(v) for v in value]
    if len(values) != m:
        raise ValueError(f"{what} needs one value per member ({m}), got {len(values)}")
    return values


class PackedOptimizer:
    """Shared machinery: parameters, per-member scalars, masks, member state conversion."""

    torch_class: type[torch.optim.Optimizer]
    defaults: dict[str, Any]

    def __init__(self, params: Params, lr: float | Sequence[float], weight_decay: float | Sequence[float]) -> None:
        if isinstance(params, Mapping):
            self.names, self.params = list(params.keys()), list(params.values())
        else:
            self.params = list(params)
            self.names = [str(i) for i in range(len(self.params))]
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        self.num_members = self.params[0].shape[0]
        if any(p.shape[0] != self.num_members for p in self.params):
            raise ValueError("every stacked parameter needs the same leading member dimension")
        self.lr = per_member(lr, self.num_members, "lr")
        self.weight_decay = per_member(weight_decay, self.num_members, "weight_decay")
        for name, vals in (("lr", self.lr), ("weight_decay", self.weight_decay)):
            if any(v < 0 for v in vals):
                raise ValueError(f"{name} must be >= 0, got {vals}")
        self.state: list[dict[str, Tensor]] = [{} for _ in self.params]
        self._cache: dict[tuple[Any, ...], Tensor] = {}

    # ------------------------------------------------------------------ public
    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def set_lr(self, lr: float | Sequence[float], members: Sequence[int] | None = None) -> None:
        """Set every member's lr (or only ``members``': one value for each, or one for all)."""
        if members is None:
            self.lr = per_member(lr, self.num_members, "lr")
            return
        values = per_member(lr, len(members), "lr")
        for m, v in zip(members, values):
            self.lr[m] = v

    @torch.no_grad()
    def step(self, members: Sequence[int] | None = None, skip: Mapping[str, Sequence[int]] | None = None) -> None:
        active = self._active(members)
        skip = dict(skip or {})
        unknown = sorted(set(skip) - set(self.names))
        if unknown:
            raise KeyError(f"skip names unknown parameter(s) {unknown}")
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue  # as torch: a parameter without gradient is left alone
            act = list(active)
            for m in skip.get(self.names[i], ()):
                act[m] = False
            if any(act):
                self._update(i, p, p.grad, act)

    # ------------------------------------------------------------------ state
    def member_state_dict(self, m: int) -> dict[str, Any]:
        """Member ``m``'s state as ``torch_class(model.parameters(), ...).state_dict()`` holds it."""
        self._check(m)
        state = {i: s for i in range(len(self.params)) if (s := self._member_state(i, m))}
        return {"state": state, "param_groups": [self._group(m)]}

    def load_member_state_dict(self, m: int, state_dict: Mapping[str, Any]) -> None:
        """Load a ``torch.optim`` state_dict of one member (one param group over all parameters)."""
        self._check(m)
        groups = state_dict["param_groups"]
        if len(groups) != 1 or list(groups[0]["params"]) != list(range(len(self.params))):
            raise ValueError(f"expected one param group over {len(self.params)} parameters in order")
        self._load_group(m, groups[0])
        for i in range(len(self.params)):
            self._load_member_state(i, m, state_dict["state"].get(i, {}))

    def state_dict(self) -> dict[str, Any]:
        """The packed state (all members): per-member state dicts plus the shared settings."""
        return {"members": [self.member_state_dict(m) for m in range(self.num_members)]}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        members = state_dict["members"]
        if len(members) != self.num_members:
            raise ValueError(f"state of {len(members)} members for an optimizer of {self.num_members}")
        for m, sd in enumerate(members):
            self.load_member_state_dict(m, sd)

    def select(self, members: Sequence[int], params: Params) -> "PackedOptimizer":
        """This optimizer for only ``members`` (in that order) over the re-stacked ``params``
        (``PackedModel.select(members).params``)."""
        states = [self.member_state_dict(m) for m in members]
        new = self._like(params, [self.lr[m] for m in members], [self.weight_decay[m] for m in members])
        for j, sd in enumerate(states):
            new.load_member_state_dict(j, sd)
        return new

    # ------------------------------------------------------------------ helpers
    def _like(self, params: Params, lr: list[float], weight_decay: list[float]) -> "PackedOptimizer":
        raise NotImplementedError

    def _update(self, i: int, p: Tensor, grad: Tensor, act: list[bool]) -> None:
        raise NotImplementedError

    def _member_state(self, i: int, m: int) -> dict[str, Tensor]:
        raise NotImplementedError

    def _load_member_state(self, i: int, m: int, state: Mapping[str, Tensor]) -> None:
        raise NotImplementedError

    def _group(self, m: int) -> dict[str, Any]:
        # torch's own group layout (every key its load_state_dict expects), from a throwaway optimizer
        dummy = self.torch_class([torch.zeros(1, requires_grad=True)], **{**self.defaults, "lr": self.lr[m],
                                                                           "weight_decay": self.weight_decay[m]})  # fmt: skip
        group = dummy.state_dict()["param_groups"][0]
        group["params"] = list(range(len(self.params)))
        return group

    def _load_group(self, m: int, group: Mapping[str, Any]) -> None:
        for key, value in self.defaults.items():
            saved = tuple(group[key]) if isinstance(group.get(key), list) else group.get(key, value)
            if saved != value:
                raise ValueError(f"member state has {key}={saved!r}; this packed optimizer uses {value!r} for all members")
        self.lr[m] = float(group["lr"])
        self.weight_decay[m] = float(group["weight_decay"])

    def _active(self, members: Sequence[int] | None) -> list[bool]:
        if members is None:
            return [True] * self.num_members
        act = [False] * self.num_members
        for m in members:
            self._check(int(m))
            act[int(m)] = True
        return act

    def _check(self, m: int) -> None:
        if not 0 <= m < self.num_members:
            raise IndexError(f"member {m} out of range for {self.num_members} members")

    def _column(self, values: Sequence[float] | Sequence[bool], like: Tensor, dtype: torch.dtype | None = None) -> Tensor:
        """``values`` as an ``[M, 1, ...]`` tensor that broadcasts against ``like`` (cached)."""
        dtype = dtype or like.dtype
        key = (tuple(values), dtype, like.device, like.ndim)
        t = self._cache.get(key)
        if t is None:
            if len(self._cache) > 256:
                self._cache.clear()
            t = torch.tensor(list(values), dtype=dtype, device=like.device).view(-1, *[1] * (like.ndim - 1))
            self._cache[key] = t
        return t


class PackedSGD(PackedOptimizer):
    """``torch.optim.SGD`` per member: momentum, dampening, nesterov shared; lr and weight decay
    per member."""

    torch_class = torch.optim.SGD

    def __init__(self, params: Params, lr: float | Sequence[float] = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float | Sequence[float] = 0.0, nesterov: bool = False) -> None:  # fmt: skip
        super().__init__(params, lr, weight_decay)
        if momentum < 0:
            raise ValueError(f"momentum must be >= 0, got {momentum}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov needs momentum > 0 and dampening 0")
        self.momentum, self.dampening, self.nesterov = float(momentum), float(dampening), bool(nesterov)
        self.defaults = {"momentum": self.momentum, "dampening": self.dampening, "nesterov": self.nesterov, "maximize": False}
        self._has_buf: list[list[bool]] = [[False] * self.num_members for _ in self.params]

    def _like(self, params: Params, lr: list[float], weight_decay: list[float]) -> "PackedSGD":
        return PackedSGD(params, lr, self.momentum, self.dampening, weight_decay, self.nesterov)

    def _update(self, i: int, p: Tensor, grad: Tensor, act: list[bool]) -> None:
        everyone = all(act)  # the common case: in place, no masking
        act_t = None if everyone else self._column(act, p, torch.bool)
        if any(self.weight_decay[m] != 0 for m in range(self.num_members) if act[m]):
            grad = torch.addcmul(grad, p, self._column(self.weight_decay, p))  # = grad.add(p, alpha=wd)
        if self.momentum != 0:
            st = self.state[i]
            if "momentum_buffer" not in st:
                st["momentum_buffer"] = torch.zeros_like(p)
            buf = st["momentum_buffer"]
            has = self._has_buf[i]
            if everyone and all(has):
                buf.mul_(self.momentum).add_(grad, alpha=1 - self.dampening)
            elif everyone and not any(has):
                buf.copy_(grad)  # torch's first step: buf = grad
            else:
                new = buf.mul(self.momentum).add_(grad, alpha=1 - self.dampening)
                new = torch.where(self._column([not h for h in has], p, torch.bool), grad, new)
                buf.copy_(new if act_t is None else torch.where(act_t, new, buf))
            self._has_buf[i] = [h or a for h, a in zip(has, act)]
            grad = grad.add(buf, alpha=self.momentum) if self.nesterov else buf
        neg_lr = self._column([-v for v in self.lr], p)
        if act_t is None:
            p.addcmul_(grad, neg_lr)  # = p.add_(grad, alpha=-lr), rounded the same way
        else:
            p.copy_(torch.where(act_t, torch.addcmul(p, grad, neg_lr), p))

    def _member_state(self, i: int, m: int) -> dict[str, Tensor]:
        if self.momentum == 0 or not self._has_buf[i][m]:
            return {}
        return {"momentum_buffer": self.state[i]["momentum_buffer"][m].detach().clone()}

    def _load_member_state(self, i: int, m: int, state: Mapping[str, Tensor]) -> None:
        buf = state.get("momentum_buffer")
        if buf is None:
            self._has_buf[i][m] = False
            return
        p = self.params[i]
        st = self.state[i]
        if "momentum_buffer" not in st:
            st["momentum_buffer"] = torch.zeros_like(p)
        st["momentum_buffer"][m].copy_(buf)
        self._has_buf[i][m] = True


class PackedAdam(PackedOptimizer):
    """``torch.optim.Adam`` per member (L2 weight decay added to the gradient, as Adam's
    ``weight_decay``); betas and eps shared; no amsgrad."""

    torch_class = torch.optim.Adam

    def __init__(self, params: Params, lr: float | Sequence[float] = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float | Sequence[float] = 0.0) -> None:  # fmt: skip
        super().__init__(params, lr, weight_decay)
        b1, b2 = (float(b) for b in betas)
        if not (0 <= b1 < 1 and 0 <= b2 < 1) or eps < 0:
            raise ValueError(f"betas must be in [0, 1) and eps >= 0, got {betas}, {eps}")
        self.betas, self.eps = (b1, b2), float(eps)
        self.defaults = {"betas": self.betas, "eps": self.eps, "amsgrad": False, "maximize": False}
        self._steps: list[list[int]] = [[0] * self.num_members for _ in self.params]

    def _like(self, params: Params, lr: list[float], weight_decay: list[float]) -> "PackedAdam":
        return PackedAdam(params, lr, self.betas, self.eps, weight_decay)

    def _update(self, i: int, p: Tensor, grad: Tensor, act: list[bool]) -> None:
        b1, b2 = self.betas
        st = self.state[i]
        if not st:
            st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        steps = [s + 1 if a else s for s, a in zip(self._steps[i], act)]
        self._steps[i] = steps
        everyone = all(act)
        if any(self.weight_decay[m] != 0 for m in range(self.num_members) if act[m]):
            grad = torch.addcmul(grad, p, self._column(self.weight_decay, p))  # = grad.add(p, alpha=wd)
        if everyone:  # in place, no masking
            exp_avg = st["exp_avg"].lerp_(grad, 1 - b1)
            exp_avg_sq = st["exp_avg_sq"].mul_(b2).addcmul_(grad, grad, value=1 - b2)
        else:
            act_t = self._column(act, p, torch.bool)
            exp_avg = st["exp_avg"].lerp(grad, 1 - b1)
            exp_avg_sq = st["exp_avg_sq"].mul(b2).addcmul_(grad, grad, value=1 - b2)
            st["exp_avg"].copy_(torch.where(act_t, exp_avg, st["exp_avg"]))
            st["exp_avg_sq"].copy_(torch.where(act_t, exp_avg_sq, st["exp_avg_sq"]))
        # Bias corrections in Python doubles, as torch computes them (members that sit out get
        # placeholders; torch.where drops their values).
        neg_step = [-(lr / (1 - b1**s)) if s else 0.0 for lr, s in zip(self.lr, steps)]
        bc2_sqrt = [(1 - b2**s) ** 0.5 if s else 1.0 for s in steps]
        denom = (exp_avg_sq.sqrt() / self._column(bc2_sqrt, p)).add_(self.eps)
        # torch: p.addcdiv_(exp_avg, denom, value=-step_size), which rounds as (value * exp_avg) / denom
        update = exp_avg * self._column(neg_step, p)
        if everyone:
            p.addcdiv_(update, denom)
        else:
            p.copy_(torch.where(act_t, torch.addcdiv(p, update, denom), p))

    def _member_state(self, i: int, m: int) -> dict[str, Tensor]:
        s = self._steps[i][m]
        if s == 0:
            return {}
        st = self.state[i]
        return {"step": torch.tensor(float(s), dtype=torch.float32), "exp_avg": st["exp_avg"][m].detach().clone(),
                "exp_avg_sq": st["exp_avg_sq"][m].detach().clone()}  # fmt: skip

    def _load_member_state(self, i: int, m: int, state: Mapping[str, Tensor]) -> None:
        if not state:
            self._steps[i][m] = 0
            return
        p = self.params[i]
        st = self.state[i]
        if not st:
            st["exp_avg"] = torch.zeros_like(p)
            st["exp_avg_sq"] = torch.zeros_like(p)
        st["exp_avg"][m].copy_(state["exp_avg"])
        st["exp_avg_sq"][m].copy_(state["exp_avg_sq"])
        self._steps[i][m] = int(float(state["step"]))
