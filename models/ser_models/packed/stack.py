"""M models of one architecture trained as one stacked ("horizontally fused") model.

Every parameter and buffer gets a leading member dimension ``M``; one forward runs all members
with ``torch.func.vmap`` over ``functional_call`` of a template copy of the model, so the
model's own ``forward`` is used unchanged (Kumar's families, Liu's CNN-LSTM, Lian's CNN, the
SE-ResNet all work). Recurrent modules of the template are swapped for
:class:`~ser_models.packed.recurrent.Recurrent`, which vmap can run (``nn.LSTM`` it cannot),
and BatchNorms for one fused kernel over all members (``batchnorm.py``).

Exactly per member: member m's parameters are ``params[name][m]``; BatchNorm's in-place
running-statistics update happens on that member's slice of the stacked buffer, so running
stats follow ``nn.BatchNorm`` as in the unpacked model; gradients of
``loss.sum()`` over members are each member's own gradients (members share no weights).
BatchNorm with ``momentum=None`` (cumulative average) is not supported under vmap (it reads
``num_batches_tracked`` as a Python number); the zoo uses the default momentum.

Members can be left out of a step (``members=``: stopped early, or a last batch of another
size): their parameters get zero gradient, their buffers are restored untouched, and the packed
optimizers skip them (pass the same ``members``). :meth:`PackedModel.select` re-stacks only the
members that keep training, so dropped ones cost nothing any more.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from ..base import ModelOutput
from .batchnorm import replace_batchnorm
from .recurrent import Recurrent, replace_recurrent

Members = Sequence[int] | Tensor | None


def _signature(model: nn.Module) -> list[tuple[str, tuple[int, ...], torch.dtype]]:
    tensors = list(model.named_parameters()) + list(model.named_buffers())
    return [(n, tuple(t.shape), t.dtype) for n, t in tensors]


class _Method(nn.Module):
    """Calls ``inner.<name>(*args)`` so functional_call can run methods other than forward."""

    def __init__(self, inner: nn.Module, name: str) -> None:
        super().__init__()
        self.inner = inner
        self.name = name

    def forward(self, *args: Any) -> Any:
        return getattr(self.inner, self.name)(*args)


class PackedModel:
    """``M`` models of one class and configuration, stacked along a leading member dimension.

    Build the members yourself, each seeded as its unpacked trial would be
    (``torch.manual_seed(seed_m); create_model(...)``) and already on the target device; their
    weights are copied (the originals are not used afterwards).

    - ``params`` / ``buffers``: ``{name: Tensor[M, ...]}``, names as in the model's
      ``named_parameters()`` / ``named_buffers()``; ``params`` are leaf tensors for the optimizer.
    - ``packed(x)`` with ``x`` ``(M, B, ...)`` -> :class:`ModelOutput` whose fields are
      ``(M, B, ...)``; ``shared_input=True`` takes one ``(B, ...)`` batch for all members.
    - ``recurrent``: how recurrent layers run over the members (``Recurrent``'s ``impl``:
      ``"auto"``, ``"steps"`` or ``"torch"``); ``fuse_batchnorm``: BatchNorm as one kernel
      over all members (``batchnorm.py``) instead of vmap's decomposed rule.
    """

    def __init__(self, models: Sequence[nn.Module], recurrent: str = "auto", fuse_batchnorm: bool = True) -> None:
        models = list(models)
        if not models:
            raise ValueError("PackedModel needs at least one model")
        first = models[0]
        kinds = {type(m) for m in models}
        if len(kinds) > 1:
            raise ValueError(f"all members must be one class, got {sorted(k.__name__ for k in kinds)}")
        if any(_signature(m) != _signature(first) for m in models[1:]):
            raise ValueError("all members must have the same parameter and buffer names, shapes and dtypes (one configuration)")
        # An untouched copy of member 0 (original modules): what member_model() hands back.
        self._prototype = copy.deepcopy(first)
        template = replace_recurrent(copy.deepcopy(first), recurrent)
        for module in template.modules():
            if isinstance(module, Recurrent):
                module.members_batched = True
        if fuse_batchnorm:
            replace_batchnorm(template)
        if [n for n, _ in template.named_parameters()] != [n for n, _ in first.named_parameters()]:
            raise AssertionError("recurrent replacement changed the parameter names or their order")
        # The template only supplies code: functional_call substitutes every tensor.
        self._template = template.to("meta")
        self._persistent = list(first.state_dict().keys())
        with torch.no_grad():
            named = [(dict(m.named_parameters()), dict(m.named_buffers())) for m in models]
            self.params: dict[str, Tensor] = {
                n: torch.stack([p[n].detach() for p, _ in named]).requires_grad_(True) for n, _ in first.named_parameters()
            }
            self.buffers: dict[str, Tensor] = {n: torch.stack([b[n] for _, b in named]) for n, _ in first.named_buffers()}
        self.training = first.training
        self._template.train(self.training)

    # ---------------------------------------------------------------- basics
    @property
    def num_members(self) -> int:
        return next(iter(self.params.values())).shape[0]

    @property
    def device(self) -> torch.device:
        return next(iter(self.params.values())).device

    def train(self, mode: bool = True) -> "PackedModel":
        self.training = mode
        self._template.train(mode)
        return self

    def eval(self) -> "PackedModel":
        return self.train(False)

    def parameters(self) -> list[Tensor]:
        """The stacked leaves, in the model's ``parameters()`` order (what the optimizers take)."""
        return list(self.params.values())

    def zero_grad(self) -> None:
        for p in self.params.values():
            p.grad = None

    # ---------------------------------------------------------------- forward
    def __call__(self, x: Tensor, members: Members = None, shared_input: bool = False) -> ModelOutput:
        return self.forward(x, members=members, shared_input=shared_input)

    def forward(self, x: Tensor, members: Members = None, shared_input: bool = False) -> ModelOutput:
        """All members (or the ``members`` listed, in that order) on their own batch ``x[i]``."""
        out = self.call("forward", x, members=members, shared_input=shared_input)
        return ModelOutput(*out)

    def call(self, method: str, *args: Tensor, members: Members = None, shared_input: bool = False) -> Any:
        """``model.<method>(*args)`` for every member, e.g. ``call("aux_logits", out.features)``.

        Each tensor in ``args`` has a leading member dimension (or none, with ``shared_input``).
        Outputs that are ``None`` stay ``None``.
        """
        idx = self._index(members)
        params = self.params if idx is None else {n: p.index_select(0, idx) for n, p in self.params.items()}
        buffers = self.buffers if idx is None else {n: b.index_select(0, idx) for n, b in self.buffers.items()}
        before = {} if idx is None or not self.training else {n: b.clone() for n, b in buffers.items()}
        module: nn.Module = self._template if method == "forward" else _Method(self._template, method)
        prefix = "" if method == "forward" else "inner."
        m = self.num_members if idx is None else idx.numel()
        if not shared_input:
            for a in args:
                if a.shape[0] != m:
                    raise ValueError(f"input has {a.shape[0]} members in its leading dimension, expected {m}")
        none_at: list[int] = []

        def run(p: dict[str, Tensor], b: dict[str, Tensor], *a: Tensor) -> Any:
            state = {prefix + k: v for k, v in {**p, **b}.items()}
            result = functional_call(module, state, a)
            if isinstance(result, tuple):  # vmap cannot return None: drop them, put them back below
                none_at[:] = [i for i, r in enumerate(result) if r is None]
                return tuple(r for r in result if r is not None)
            return result

        in_dims = (0, 0) + tuple(None if shared_input else 0 for _ in args)
        result = vmap(run, in_dims=in_dims, randomness="error")(params, buffers, *args)
        if idx is not None and self.training and self.buffers:
            with torch.no_grad():  # the subset's updated running stats go back; the others never moved
                for n, b in self.buffers.items():
                    # only buffers this call changed, so a call that updates none (e.g. a head)
                    # leaves the stacked buffers alone: the backward of an earlier whole-pack
                    # forward may still need them unmodified (autograd checks their version)
                    if not torch.equal(buffers[n], before[n]):
                        b.index_copy_(0, idx, buffers[n])
        if isinstance(result, tuple):
            items = list(result)
            for i in none_at:
                items.insert(i, None)
            return tuple(items)
        return result

    @torch.no_grad()
    def predict(self, x: Tensor, batch_size: int = 2048, members: Members = None, shared_input: bool = False) -> ModelOutput:
        """Eval-mode forward in chunks of ``batch_size`` samples (as :func:`ser_models.base.embed`,
        per member): ``embedding`` and ``logits`` ``(M, N, ...)``, ``features`` None. Restores
        the train/eval mode afterwards."""
        n = x.shape[0 if shared_input else 1]
        was_training = self.training
        self.eval()
        try:
            outs = [self(x[i : i + batch_size] if shared_input else x[:, i : i + batch_size], members=members,
                         shared_input=shared_input) for i in range(0, n, batch_size)]  # fmt: skip
        finally:
            self.train(was_training)
        if not outs:
            raise ValueError("predict needs at least one sample")
        return ModelOutput(torch.cat([o.embedding for o in outs], dim=1), torch.cat([o.logits for o in outs], dim=1), None)

    def _index(self, members: Members) -> Tensor | None:
        if members is None:
            return None
        idx = torch.as_tensor(members, dtype=torch.long, device=self.device).reshape(-1)
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= self.num_members):
            raise IndexError(f"members {idx.tolist()} out of range for {self.num_members} members")
        if idx.numel() == self.num_members and bool((idx == torch.arange(self.num_members, device=idx.device)).all()):
            return None  # everyone, in order: no gather needed
        return idx

    # ---------------------------------------------------------------- members in and out
    def member_state_dict(self, m: int) -> dict[str, Tensor]:
        """Member ``m``'s ``state_dict()`` as the unpacked model would hold it (detached copies)."""
        self._check(m)
        full = {**self.params, **self.buffers}
        return {k: full[k][m].detach().clone() for k in self._persistent}

    def load_member_state_dict(self, m: int, state: Mapping[str, Tensor]) -> None:
        """Put an unpacked ``state_dict()`` into member ``m`` (resume, or a member's checkpoint)."""
        self._check(m)
        missing = sorted(set(self._persistent) - set(state))
        unexpected = sorted(set(state) - set(self._persistent))
        if missing or unexpected:
            raise KeyError(f"member state_dict mismatch: missing {missing}, unexpected {unexpected}")
        full = {**self.params, **self.buffers}
        with torch.no_grad():
            for k in self._persistent:
                if tuple(state[k].shape) != tuple(full[k].shape[1:]):
                    raise ValueError(f"{k}: shape {tuple(state[k].shape)}, expected {tuple(full[k].shape[1:])}")
                full[k][m].copy_(state[k])

    def member_model(self, m: int) -> nn.Module:
        """Member ``m`` as an ordinary model (original module classes, e.g. ``nn.LSTM``) on this
        device, in this packed model's train/eval mode: for evaluation, embeddings, checkpoints."""
        model = copy.deepcopy(self._prototype).to(self.device)
        model.load_state_dict(self.member_state_dict(m))
        return model.train(self.training)

    def select(self, members: Sequence[int] | Tensor) -> "PackedModel":
        """A new PackedModel of only ``members`` (in that order), with fresh parameter leaves:
        drop stopped members so they cost nothing. Re-stack the optimizer with the same list."""
        idx = torch.as_tensor(members, dtype=torch.long, device=self.device).reshape(-1)
        if idx.numel() == 0:
            raise ValueError("select needs at least one member")
        for m in idx.tolist():
            self._check(m)
        new = copy.copy(self)
        with torch.no_grad():
            new.params = {n: p.index_select(0, idx).clone().requires_grad_(True) for n, p in self.params.items()}
            new.buffers = {n: b.index_select(0, idx).clone() for n, b in self.buffers.items()}
        return new

    def _check(self, m: int) -> None:
        if not 0 <= m < self.num_members:
            raise IndexError(f"member {m} out of range for {self.num_members} members")
