"""BatchNorm over a member dimension as one fused kernel.

vmap's batching rule for ``batch_norm`` with per-member weight and bias normalises without
the affine part and then applies weight and bias (and their gradients) as separate ops over the
whole activation: about 2.5x the time of M separate BatchNorms (resnet-11, CPU). Here a
``vmap`` rule lays the members side by side as channels, ``(B, M*C, ...)``, which is the
layout vmap's convolution rule produces anyway, and calls ``F.batch_norm`` once with the
stacked ``(M*C)`` weight, bias and running statistics (views of the stacked buffers, so the
in-place running-stat update lands in each member's slice). Per channel it is the same kernel
on the same numbers as the unpacked ``nn.BatchNorm``, so running statistics follow it exactly.

:func:`replace_batchnorm` swaps ``nn.BatchNorm1d/2d/3d`` of a template for subclasses whose
forward does this when ``members_batched`` is set (the packed template); parameters, buffers
and state-dict keys are unchanged.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, autograd, nn


class _MemberBatchNorm(autograd.Function):
    """Only the ``vmap`` rule is used (ordinary autograd records its ops below vmap)."""

    @staticmethod
    def forward(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None,
                bias: Tensor | None, training: bool, momentum: float, eps: float) -> Tensor:  # pragma: no cover  # fmt: skip
        raise RuntimeError("_MemberBatchNorm runs only under vmap")

    @staticmethod
    def setup_context(ctx: Any, inputs: Any, output: Any) -> None:  # pragma: no cover
        pass

    @staticmethod
    def vmap(info: Any, in_dims: tuple[int | None, ...], x: Tensor, running_mean: Tensor | None,
             running_var: Tensor | None, weight: Tensor | None, bias: Tensor | None, training: bool,
             momentum: float, eps: float) -> tuple[Tensor, int]:  # fmt: skip
        m = info.batch_size
        if in_dims[0] is None:
            raise ValueError("packed BatchNorm needs a per-member input")
        xb = x.movedim(in_dims[0], 1)  # (B, M, C, ...): members become channel groups
        b, c, rest = xb.shape[0], xb.shape[2], xb.shape[3:]

        def flat(t: Tensor | None, d: int | None, stats: bool) -> Tensor | None:
            if t is None:
                return None
            if d is None:
                if stats:  # one buffer shared by every member would be updated M times at once
                    raise ValueError("packed BatchNorm needs per-member running statistics")
                return t.repeat(m)
            out = t.movedim(d, 0).reshape(m * c)
            if stats and out.data_ptr() != t.data_ptr():
                raise ValueError("per-member running statistics must be contiguous (M, C) tensors")
            return out

        out = F.batch_norm(
            xb.reshape(b, m * c, *rest),
            flat(running_mean, in_dims[1], True), flat(running_var, in_dims[2], True),
            flat(weight, in_dims[3], False), flat(bias, in_dims[4], False), training, momentum, eps,
        )  # fmt: skip
        return out.view(b, m, c, *rest), 1


class _PackedBatchNorm:
    """Mixin: nn.BatchNorm's forward, routed through :class:`_MemberBatchNorm` under vmap."""

    members_batched = False

    def forward(self, input: Tensor) -> Tensor:
        if not self.members_batched:
            return super().forward(input)  # type: ignore[misc]
        self._check_input_dim(input)  # type: ignore[attr-defined]
        # the decisions of torch's _BatchNorm.forward (default momentum; momentum=None, the
        # cumulative average, reads the step count as a Python number and cannot run packed)
        if self.momentum is None:  # type: ignore[attr-defined]
            raise ValueError("packed BatchNorm does not support momentum=None (cumulative average)")
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:  # type: ignore[attr-defined]
            self.num_batches_tracked.add_(1)  # type: ignore[attr-defined]
        use_batch = self.training or (self.running_mean is None and self.running_var is None)  # type: ignore[attr-defined]
        keep = not self.training or self.track_running_stats  # type: ignore[attr-defined]
        return _MemberBatchNorm.apply(
            input, self.running_mean if keep else None, self.running_var if keep else None,  # type: ignore[attr-defined]
            self.weight, self.bias, use_batch, self.momentum, self.eps,  # type: ignore[attr-defined]
        )  # fmt: skip


class PackedBatchNorm1d(_PackedBatchNorm, nn.BatchNorm1d):
    pass


class PackedBatchNorm2d(_PackedBatchNorm, nn.BatchNorm2d):
    pass


class PackedBatchNorm3d(_PackedBatchNorm, nn.BatchNorm3d):
    pass


_SWAP = {nn.BatchNorm1d: PackedBatchNorm1d, nn.BatchNorm2d: PackedBatchNorm2d, nn.BatchNorm3d: PackedBatchNorm3d}


def replace_batchnorm(model: nn.Module) -> nn.Module:
    """Make every ``nn.BatchNorm1d/2d/3d`` in ``model`` (in place) its packed subclass, same
    parameters and buffers; returns ``model``. Other norm classes are left as they are."""
    for module in model.modules():
        if type(module) in _SWAP:
            module.__class__ = _SWAP[type(module)]  # same state, one overridden method
            module.members_batched = True
    return model
