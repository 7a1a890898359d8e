"""Recurrent layers that ``torch.func.vmap`` can run over a member dimension.

torch 2.13's vmap has no batching rule for ``aten::lstm`` / ``gru`` / ``rnn_tanh`` (pytorch
issues 105982, 134606; it now raises "Batching rule not implemented for aten::lstm.input"), so
:class:`~ser_models.packed.stack.PackedModel` swaps every ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``
of its template for :class:`Recurrent`. It has exactly torch's parameters (same names, shapes
and registration order: ``weight_ih_l{k}{_reverse}``, ``weight_hh_l{k}{_reverse}``,
``bias_ih_l{k}{_reverse}``, ``bias_hh_l{k}{_reverse}``), so state dicts move between the two
unchanged, and two implementations (``impl``):

- ``"steps"``: the recurrence in plain ops (one ``linear`` over all time steps for the input
  projection, then per step one ``addmm`` and a few pointwise ops), which vmap turns into one
  batched kernel per op for all members (``[M, B, H] x [M, H, G*H]``).
- ``"torch"``: torch's own fused kernel (oneDNN on CPU), called once per member: under vmap an
  ``autograd.Function`` with a ``vmap`` rule loops over the members and stacks the results.
- ``"auto"`` (default): ``"torch"`` for LSTM on CPU, ``"steps"`` otherwise. Measured on CPU
  (benchmarks/packing_primitives.py, 1 thread, M = 10/20, ratio to M models stepped one after
  another): lstm-7 "steps" 0.6x, "torch" 0.9-1.0x (oneDNN's LSTM cell is far cheaper per step
  than ~10 separate ops); gru-11 "steps" 1.1x, "torch" 0.7-0.8x; rnn-11 "steps" 1.3x,
  "torch" 0.85-0.95x. On a GPU one batched kernel replacing M small launches should favour
  "steps"; not measured (no GPU in this session).

Gate layouts follow torch: LSTM ``i, f, g, o``; GRU ``r, z, n`` with
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``. Zero initial state (what the zoo uses) or an
explicit ``hx`` ("steps" only). Not built: ``proj_size``, inter-layer dropout, unbatched (2-D)
input, packed sequences.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
IMPLS = ("auto", "steps", "torch")


def _torch_module(mode: str, *args: Any, **kwargs: Any) -> nn.RNNBase:
    if mode == "LSTM":
        return nn.LSTM(*args, **kwargs)
    if mode == "GRU":
        return nn.GRU(*args, **kwargs)
    return nn.RNN(*args, nonlinearity="tanh" if mode == "RNN_TANH" else "relu", **kwargs)


class _PerMemberKernel(torch.autograd.Function):
    """Under vmap: torch's fused recurrent kernel once per member, results stacked.

    Only the ``vmap`` rule is used: its ops run on the members' slices below vmap, where
    ordinary autograd records them (torch's own backward kernels)."""

    @staticmethod
    def forward(kernel: nn.RNNBase, names: Sequence[str], x: Tensor, *weights: Tensor) -> Any:  # pragma: no cover
        raise RuntimeError("_PerMemberKernel runs only under vmap")

    @staticmethod
    def setup_context(ctx: Any, inputs: Any, output: Any) -> None:  # pragma: no cover
        pass

    @staticmethod
    def vmap(info: Any, in_dims: Sequence[int | None], kernel: nn.RNNBase, names: Sequence[str], x: Tensor,
             *weights: Tensor) -> Any:  # fmt: skip
        size = info.batch_size
        # unbind, not select: the backward of one unbind is one stack, of M selects M zero fills
        xs = [x] * size if in_dims[2] is None else x.unbind(in_dims[2])
        per_weight = [[w] * size if d is None else w.unbind(d) for w, d in zip(weights, in_dims[3:])]
        results = []
        for m in range(size):
            out, h = functional_call(kernel, {n: ws[m] for n, ws in zip(names, per_weight)}, (xs[m],))
            results.append((out, *(h if isinstance(h, tuple) else (h,))))
        stacked = tuple(torch.stack(parts) for parts in zip(*results))
        return stacked, tuple(0 for _ in stacked)


class Recurrent(nn.Module):
    """Drop-in for ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (3-D input), vmap-friendly.

    Returns ``(output, h_n)`` (``(output, (h_n, c_n))`` for LSTM) with torch's shapes:
    ``output`` ``(B, T, D*H)`` if ``batch_first`` else ``(T, B, D*H)``, ``h_n`` ``(L*D, B, H)``.
    """

    members_batched = False  # PackedModel sets it on its template: forward runs under vmap

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, bidirectional: bool = False, impl: str = "auto") -> None:  # fmt: skip
        super().__init__()
        if mode not in GATES:
            raise ValueError(f"mode must be one of {sorted(GATES)}, got {mode!r}")
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
        self.impl = impl
        if num_layers < 1 or hidden_size < 1 or input_size < 1:
            raise ValueError("input_size, hidden_size and num_layers must be >= 1")
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        dirs = 2 if bidirectional else 1
        g = GATES[mode] * hidden_size
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * dirs
            for d in range(dirs):
                s = f"_l{layer}" + ("_reverse" if d else "")
                # registration order = nn.RNNBase's, so parameters() / optimizer indices agree
                self.register_parameter("weight_ih" + s, nn.Parameter(torch.empty(g, width)))
                self.register_parameter("weight_hh" + s, nn.Parameter(torch.empty(g, hidden_size)))
                if bias:
                    self.register_parameter("bias_ih" + s, nn.Parameter(torch.empty(g)))
                    self.register_parameter("bias_hh" + s, nn.Parameter(torch.empty(g)))
        bound = hidden_size**-0.5  # nn.RNNBase's init, for a Recurrent built from scratch
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)
        # torch's module of this configuration, without storage: only its code runs, on our
        # weights (a tuple, so nn.Module does not register it as a submodule)
        self._kernel = (_torch_module(mode, input_size, hidden_size, num_layers, bias=bias, batch_first=batch_first,
                                      bidirectional=bidirectional, device="meta"),)  # fmt: skip

    @classmethod
    def from_torch(cls, module: nn.RNNBase, impl: str = "auto") -> "Recurrent":
        """A :class:`Recurrent` with ``module``'s configuration and a copy of its weights."""
        mode = module.mode  # nn.RNN records its nonlinearity as RNN_TANH / RNN_RELU
        if getattr(module, "proj_size", 0):
            raise ValueError("Recurrent does not implement proj_size > 0")
        if module.dropout:
            raise ValueError("Recurrent does not implement inter-layer dropout")
        new = cls(mode, module.input_size, module.hidden_size, module.num_layers, module.bias,
                  module.batch_first, module.bidirectional, impl)  # fmt: skip
        new.load_state_dict(module.state_dict())
        first = next(module.parameters())
        return new.to(device=first.device, dtype=first.dtype)

    def extra_repr(self) -> str:
        return (f"{self.mode}, {self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"batch_first={self.batch_first}, bidirectional={self.bidirectional}, impl={self.impl!r}")  # fmt: skip

    def resolved_impl(self, device: torch.device) -> str:
        if self.impl != "auto":
            return self.impl
        return "torch" if device.type == "cpu" and self.mode == "LSTM" else "steps"

    def forward(self, x: Tensor, hx: Tensor | tuple[Tensor, Tensor] | None = None):  # type: ignore[no-untyped-def]
        if x.ndim != 3:
            raise ValueError(f"Recurrent expects a 3-D (batched) input, got shape {tuple(x.shape)}")
        if hx is None and self.resolved_impl(x.device) == "torch":
            return self._torch_forward(x)
        return self._steps_forward(x, hx)

    def _torch_forward(self, x: Tensor):  # type: ignore[no-untyped-def]
        kernel = self._kernel[0]
        names = [n for n, _ in self.named_parameters()]
        if not self.members_batched:
            return functional_call(kernel, dict(self.named_parameters()), (x,))
        out, h, *c = _PerMemberKernel.apply(kernel, names, x, *[p for _, p in self.named_parameters()])
        return (out, (h, c[0])) if self.mode == "LSTM" else (out, h)

    def _steps_forward(self, x: Tensor, hx: Tensor | tuple[Tensor, Tensor] | None):  # type: ignore[no-untyped-def]
        seq = x.transpose(0, 1) if self.batch_first else x  # time-major: contiguous slices per step
        dirs = 2 if self.bidirectional else 1
        lstm = self.mode == "LSTM"
        h0, c0 = _initial(hx, lstm)
        if lstm and (h0 is None) != (c0 is None):
            raise ValueError("give both h_0 and c_0, or neither")
        h_last: list[Tensor] = []
        c_last: list[Tensor] = []
        t_len, batch = seq.shape[0], seq.shape[1]
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                s = f"_l{layer}" + ("_reverse" if d else "")
                w_ih, w_hh = getattr(self, "weight_ih" + s), getattr(self, "weight_hh" + s)
                b_ih = getattr(self, "bias_ih" + s) if self.bias else None
                b_hh = getattr(self, "bias_hh" + s) if self.bias else None
                h = None if h0 is None else h0[k]
                c = None if c0 is None else c0[k]
                # The input projection of every step in one matmul over (T*B) rows (a 3-D input
                # would make vmap expand the weight over T); for RNN/LSTM both biases go in here.
                b_in = b_ih if (b_ih is None or self.mode == "GRU") else b_ih + b_hh
                xi = F.linear(seq.reshape(t_len * batch, -1), w_ih, b_in).view(t_len, batch, -1)
                steps = xi.unbind(0)  # unbind, not [t]: its backward is one stack, not T scatters
                if d:
                    steps = steps[::-1]
                ys = []
                for xt in steps:
                    h, c = self._cell(xt, h, c, w_hh, b_hh)
                    ys.append(h)
                if d:
                    ys.reverse()
                outs.append(torch.stack(ys))
                h_last.append(h)
                if lstm:
                    c_last.append(c)  # type: ignore[arg-type]
            seq = outs[0] if dirs == 1 else torch.cat(outs, dim=-1)
        out = seq.transpose(0, 1) if self.batch_first else seq
        h_n = torch.stack(h_last)
        return (out, (h_n, torch.stack(c_last))) if lstm else (out, h_n)

    def _cell(self, xt: Tensor, h: Tensor | None, c: Tensor | None, w_hh: Tensor,
              b_hh: Tensor | None) -> tuple[Tensor, Tensor | None]:  # fmt: skip
        """One step; ``h``/``c`` None = zero state (the first step skips the recurrent matmul).
        Few, wide ops: each op is one kernel for all members, and per-op cost dominates."""
        hs = self.hidden_size
        if self.mode == "GRU":
            gh = F.linear(h, w_hh, b_hh) if h is not None else (b_hh if b_hh is not None else torch.zeros_like(xt))
            x_rz, x_n = xt.split([2 * hs, hs], dim=-1)
            h_rz, h_n = gh.expand_as(xt).split([2 * hs, hs], dim=-1)
            r, z = torch.sigmoid(x_rz + h_rz).chunk(2, dim=-1)
            n = torch.tanh(torch.addcmul(x_n, r, h_n))
            return (n - z * n if h is None else torch.lerp(n, h, z)), None  # (1 - z) * n + z * h
        gates = xt if h is None else torch.addmm(xt, h, w_hh.t())
        if self.mode == "LSTM":
            # chunk, not slices: a chunk's backward is one cat, a slice's a zero fill plus a copy
            i, f, g, o = gates.chunk(4, dim=-1)
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c = i * g if c is None else torch.addcmul(f * c, i, g)
            return o * torch.tanh(c), c
        return (torch.tanh(gates) if self.mode == "RNN_TANH" else torch.relu(gates)), None


def _initial(hx: Tensor | tuple[Tensor, Tensor] | None, lstm: bool) -> tuple[Tensor | None, Tensor | None]:
    if hx is None:
        return None, None
    if lstm:
        if not isinstance(hx, tuple) or len(hx) != 2:
            raise ValueError("an LSTM's hx is a tuple (h_0, c_0)")
        return hx
    if isinstance(hx, tuple):
        raise ValueError("hx of an RNN/GRU is one tensor h_0")
    return hx, None


def replace_recurrent(model: nn.Module, impl: str = "auto") -> nn.Module:
    """Replace every ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` inside ``model`` (in place) by a
    :class:`Recurrent` with the same weights and name; returns ``model``."""
    for name, child in list(model.named_children()):
        if isinstance(child, nn.RNNBase):
            setattr(model, name, Recurrent.from_torch(child, impl))
        else:
            replace_recurrent(child, impl)
    return model
