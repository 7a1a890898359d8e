"""Recurrent layers written in plain tensor ops, so that ``torch.func.vmap`` batches them over a
member dimension.

``vmap`` has no batching rule for ``aten::lstm`` / ``gru`` / ``rnn_tanh`` (pytorch issues 105982,
134606): it warns and loops over the members, which made packed lstm models slower than
unpacked ones. :class:`Recurrent` computes the same thing step by step with ``linear`` and
pointwise ops, which vmap turns into batched matmuls (``[M, B, H] x [M, H, G*H]``) - one
kernel per op for all members. It has exactly the parameters of ``nn.RNN`` / ``nn.LSTM`` /
``nn.GRU`` (same names, shapes, registration order: ``weight_ih_l{k}{_reverse}``,
``weight_hh_l{k}{_reverse}``, ``bias_ih_l{k}{_reverse}``, ``bias_hh_l{k}{_reverse}``), so state
dicts move between the two unchanged, and :func:`replace_recurrent` swaps it into a model.

Gate layouts follow torch: LSTM ``i, f, g, o``; GRU ``r, z, n`` with
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``. Zero initial state (what the zoo uses); an
explicit ``hx`` is accepted too. Not built: ``proj_size``, inter-layer dropout, unbatched
(2-D) input, packed sequences.

Speed (benchmarks/packing_primitives.py): on CPU the recurrences are matmul-bound at batch 128,
so packing them gives about parity with M separate ``nn.LSTM`` calls (oneDNN's fused cell);
the gain is on accelerators, where one batched kernel replaces M small ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class Recurrent(nn.Module):
    """Drop-in for ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (3-D input), vmap-friendly.

    Returns ``(output, h_n)`` (``(output, (h_n, c_n))`` for LSTM) with torch's shapes:
    ``output`` ``(B, T, D*H)`` if ``batch_first`` else ``(T, B, D*H)``, ``h_n`` ``(L*D, B, H)``.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, bidirectional: bool = False) -> None:  # fmt: skip
        super().__init__()
        if mode not in GATES:
            raise ValueError(f"mode must be one of {sorted(GATES)}, got {mode!r}")
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

    @classmethod
    def from_torch(cls, module: nn.RNNBase) -> "Recurrent":
        """A :class:`Recurrent` with ``module``'s configuration and a copy of its weights."""
        mode = module.mode  # nn.RNN records its nonlinearity as RNN_TANH / RNN_RELU
        if getattr(module, "proj_size", 0):
            raise ValueError("Recurrent does not implement proj_size > 0")
        if module.dropout:
            raise ValueError("Recurrent does not implement inter-layer dropout")
        new = cls(mode, module.input_size, module.hidden_size, module.num_layers, module.bias,
                  module.batch_first, module.bidirectional)  # fmt: skip
        new.load_state_dict(module.state_dict())
        first = next(module.parameters())
        return new.to(device=first.device, dtype=first.dtype)

    def extra_repr(self) -> str:
        return (f"{self.mode}, {self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"batch_first={self.batch_first}, bidirectional={self.bidirectional}")  # fmt: skip

    def forward(self, x: Tensor, hx: Tensor | tuple[Tensor, Tensor] | None = None):  # type: ignore[no-untyped-def]
        if x.ndim != 3:
            raise ValueError(f"Recurrent expects a 3-D (batched) input, got shape {tuple(x.shape)}")
        seq = x.transpose(0, 1) if self.batch_first else x  # time-major: contiguous slices per step
        dirs = 2 if self.bidirectional else 1
        lstm = self.mode == "LSTM"
        h0, c0 = _initial(hx, lstm)
        h_last: list[Tensor] = []
        c_last: list[Tensor] = []
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                s = f"_l{layer}" + ("_reverse" if d else "")
                w_ih, w_hh = getattr(self, "weight_ih" + s), getattr(self, "weight_hh" + s)
                b_ih = getattr(self, "bias_ih" + s) if self.bias else None
                b_hh = getattr(self, "bias_hh" + s) if self.bias else None
                h = seq.new_zeros(seq.shape[1], self.hidden_size) if h0 is None else h0[k]
                c = (seq.new_zeros(seq.shape[1], self.hidden_size) if c0 is None else c0[k]) if lstm else None
                # The input projection of every step at once: one big matmul instead of T.
                steps = F.linear(seq, w_ih, b_ih).unbind(0)  # unbind, not [t]: its backward is one stack
                if d:
                    steps = steps[::-1]
                ys = []
                for xt in steps:
                    gh = F.linear(h, w_hh, b_hh)
                    h, c = self._cell(xt, gh, h, c)
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

    def _cell(self, xt: Tensor, gh: Tensor, h: Tensor, c: Tensor | None) -> tuple[Tensor, Tensor | None]:
        if self.mode == "LSTM":
            i, f, g, o = (xt + gh).chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            return torch.sigmoid(o) * torch.tanh(c), c
        if self.mode == "GRU":
            xr, xz, xn = xt.chunk(3, dim=-1)
            hr, hz, hn = gh.chunk(3, dim=-1)
            r = torch.sigmoid(xr + hr)
            z = torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            return n + z * (h - n), None  # = (1 - z) * n + z * h
        pre = xt + gh
        return (torch.tanh(pre) if self.mode == "RNN_TANH" else torch.relu(pre)), None


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


def replace_recurrent(model: nn.Module) -> nn.Module:
    """Replace every ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` inside ``model`` (in place) by a
    :class:`Recurrent` with the same weights and name; returns ``model``."""
    for name, child in list(model.named_children()):
        if isinstance(child, nn.RNNBase):
            setattr(model, name, Recurrent.from_torch(child))
        else:
            replace_recurrent(child)
    return model
