"""The paper's energy for binary strings: an update-gated RNN unrolled for a few hops."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ebmm.energy.base import he_init_


class GatedRNNEnergy(nn.Module):
    """Update-gated recurrent energy (paper appendix, binary strings).

    ``z = [x, state]; c = tanh([memory(x), static(z)]); u = σ(gate(z));
    state = u·c + (1 − u)·state``, repeated ``hops`` times; ``E = out(state)``.
    The writable ``memory`` is ``Linear(dim, memory_width)``: 128 × 63 + 63 = 8,127 floats at the
    paper's size, within the 8,256 of a classical Hopfield net on 128 units.
    """

    def __init__(self, dim: int = 128, hidden: int = 1024, memory_width: int = 63, hops: int = 5):
        super().__init__()
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        if not 0 < memory_width < hidden:
            raise ValueError(f"memory_width must be in (0, hidden={hidden}), got {memory_width}")
        if hops < 1:
            raise ValueError(f"hops must be >= 1, got {hops}")
        self.dim, self.hidden, self.hops = dim, hidden, hops
        self.memory = nn.Linear(dim, memory_width)
        self.static = nn.Linear(dim + hidden, hidden - memory_width)
        self.gate = nn.Linear(dim + hidden, hidden)
        self.out = nn.Linear(hidden, 1)
        he_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The same function as cat-ing z = [x, state] at every hop, with less work: the x-part of
        # the static and gate maps is computed once, the first hop (state = 0) needs no state
        # product, and the later hops' two state products are one matmul.
        dim = self.dim
        written = self.memory(x)
        static_x = F.linear(x, self.static.weight[:, :dim], self.static.bias)
        gate_x = F.linear(x, self.gate.weight[:, :dim], self.gate.bias)
        state_weight = torch.cat([self.static.weight[:, dim:], self.gate.weight[:, dim:]])
        split = static_x.shape[-1]
        state = x.new_zeros(*x.shape[:-1], self.hidden)
        for hop in range(self.hops):
            if hop == 0:
                static, gate = static_x, gate_x
            else:
                from_state = F.linear(state, state_weight)
                static, gate = static_x + from_state[..., :split], gate_x + from_state[..., split:]
            candidate = torch.tanh(torch.cat([written, static], dim=-1))
            update = torch.sigmoid(gate)
            state = state + update * (candidate - state)
        return self.out(state).squeeze(-1)
