"""Classical Hopfield networks on ±1 states, behind the ``AssociativeMemory`` protocol.

Patterns are ``(B, N, D)`` float tensors of bits in {0, 1}, mapped to ``s = 2x - 1``; patterns of
any other shape ``(B, N, *shape)`` (binary images ``(B, N, C, H, W)``) are flattened to
``D = prod(shape)`` units and reads come back in that shape. A write
builds one weight matrix per episode with the Hebb, Storkey (1997) or pseudo-inverse
(projection) rule; a read runs asynchronous or synchronous sign dynamics from the thresholded
queries. All rules and dynamics are vectorised over the B episodes (and the M queries).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import torch

from ebmm.protocol import Retrieval, check_batch_matches, check_patterns

RULES = ("hebb", "storkey", "pinv")
DYNAMICS = ("async", "sync")


@dataclass
class HopfieldState:
    """Written Hopfield memories: ``weights`` ``(B, D, D)`` (symmetric, zero diagonal) and
    ``bias`` ``(B, D)`` thresholds (zero for the shipped rules, kept for the float count);
    ``shape`` is the written pattern shape (``None``: plain ``(D,)`` vectors)."""

    weights: torch.Tensor
    bias: torch.Tensor
    shape: tuple[int, ...] | None = None

    @property
    def dim(self) -> int:
        return int(self.weights.shape[-1])

    @property
    def pattern_shape(self) -> tuple[int, ...]:
        """The shape of one pattern as written and read: ``shape``, or ``(D,)``."""
        return tuple(self.shape) if self.shape is not None else (self.dim,)


def to_spins(x: torch.Tensor) -> torch.Tensor:
    """Threshold ``x`` in [0, 1] at 0.5 to ±1 (ties go to +1), same dtype."""
    return torch.where(x >= 0.5, 1.0, -1.0).to(x.dtype)


def _zero_diagonal(weights: torch.Tensor) -> torch.Tensor:
    return weights - torch.diag_embed(torch.diagonal(weights, dim1=-2, dim2=-1))


def hebb_weights(s: torch.Tensor) -> torch.Tensor:
    """Hebb rule ``W = (1/D) Σ_μ s_μ s_μᵀ`` with zero diagonal; ``s`` is ``(B, N, D)`` ±1."""
    dim = s.shape[-1]
    return _zero_diagonal(torch.einsum("bnd,bne->bde", s, s) / dim)


def storkey_weights(s: torch.Tensor) -> torch.Tensor:
    """Storkey (1997) rule, applied pattern by pattern (vectorised over episodes).

    ``ΔW_ij = (1/D)(s_i s_j - s_i h_ji - h_ij s_j)`` with the local field
    ``h_ij = Σ_{k≠i,j} W_ik s_k = (W s)_i - W_ii s_i - W_ij s_j``; the diagonal is zeroed
    after every pattern.
    """
    batch, count, dim = s.shape
    weights = s.new_zeros(batch, dim, dim)
    for mu in range(count):
        x = s[:, mu]  # (B, D)
        field = torch.einsum("bij,bj->bi", weights, x)
        diag = torch.diagonal(weights, dim1=-2, dim2=-1)
        h = (field - diag * x)[:, :, None] - weights * x[:, None, :]  # h[b, i, j]
        outer = x[:, :, None] * x[:, None, :]
        delta = outer - x[:, :, None] * h.transpose(1, 2) - h * x[:, None, :]
        weights = _zero_diagonal(weights + delta / dim)
    return weights


def projection_matrix(s: torch.Tensor) -> torch.Tensor:
    """``S (SᵀS)⁺ Sᵀ`` in float64, ``S`` the ``D × N`` pattern matrix: the projection onto
    the span of the patterns, so it maps every stored ``s_μ`` to itself."""
    big = s.transpose(1, 2).to(torch.float64)  # (B, D, N)
    gram_pinv = torch.linalg.pinv(big.transpose(1, 2) @ big)
    return big @ gram_pinv @ big.transpose(1, 2)


def pinv_weights(s: torch.Tensor) -> torch.Tensor:
    """Pseudo-inverse (projection) rule: ``projection_matrix(s)`` with zero diagonal."""
    return _zero_diagonal(projection_matrix(s)).to(s.dtype)


_RULE_FNS = {"hebb": hebb_weights, "storkey": storkey_weights, "pinv": pinv_weights}


def _sign_update(field: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
    """``sign(field)``, keeping ``current`` where the field is exactly zero."""
    return torch.where(field > 0, 1.0, torch.where(field < 0, -1.0, current)).to(current.dtype)


class HopfieldMemory:
    """A classical Hopfield network per episode, on D binary units.

    ``rule`` picks the learning rule ("hebb", "storkey", "pinv"); ``dynamics`` the read:
    "async" sweeps the units one at a time in a random order, "sync" updates all at once; both
    stop at a fixed point or after ``max_sweeps`` sweeps (which also ends sync 2-cycles).
    Async uses one fresh permutation per sweep, shared by every episode and query of the batch
    (so a batched read equals per-episode reads from the same generator state), drawn from a
    ``torch.Generator`` seeded with ``seed`` (an OS-random seed when ``None``); the generator
    advances across reads.

    ``memory_floats`` counts ``D(D-1)/2 + D`` (the distinct off-diagonal weights of a
    symmetric matrix plus the D thresholds; 8,256 for D = 128), independent of the number of
    stored patterns N.
    """

    def __init__(
        self,
        rule: str = "hebb",
        dynamics: str = "async",
        max_sweeps: int = 100,
        seed: int | None = None,
    ) -> None:
        if rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
        if dynamics not in DYNAMICS:
            raise ValueError(f"dynamics must be one of {DYNAMICS}, got {dynamics!r}")
        if isinstance(max_sweeps, bool) or not isinstance(max_sweeps, int) or max_sweeps < 1:
            raise ValueError(f"max_sweeps must be a positive int, got {max_sweeps!r}")
        self.rule = rule
        self.dynamics = dynamics
        self.max_sweeps = max_sweeps
        self.generator = torch.Generator()
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(seed)

    def write(self, patterns: torch.Tensor) -> HopfieldState:
        """Store ``patterns`` ``(B, N, D)`` (or ``(B, N, *shape)``, flattened) with values exactly 0 or 1."""
        shape = _pattern_shape(patterns)
        if shape is not None and prod(shape) == 0:
            raise ValueError(f"patterns must have at least one unit each, got pattern shape {shape}")
        check_patterns(patterns, "patterns", shape)
        if not ((patterns == 0) | (patterns == 1)).all():
            raise ValueError("patterns must be binary: every value exactly 0 or 1")
        s = 2.0 * patterns.flatten(2) - 1.0
        weights = _RULE_FNS[self.rule](s)
        kept_shape = None if patterns.dim() == 3 else tuple(patterns.shape[2:])
        return HopfieldState(weights=weights, bias=weights.new_zeros(weights.shape[:2]), shape=kept_shape)

    def read(self, queries: torch.Tensor, state: HopfieldState) -> Retrieval:
        """Run the dynamics from ``queries`` ``(B, M, *shape)`` (thresholded at 0.5); {0,1} out, same shape."""
        check_patterns(queries, "queries", pattern_shape=state.pattern_shape)
        check_batch_matches(queries, state.weights.shape[0])
        weights = state.weights.to(queries.dtype)
        bias = state.bias.to(queries.dtype)
        s = to_spins(queries.flatten(2))
        s = self._run_async(s, weights, bias) if self.dynamics == "async" else self._run_sync(s, weights, bias)
        return Retrieval(patterns=((s + 1.0) / 2.0).reshape(queries.shape))

    def memory_floats(self, state: HopfieldState) -> int:
        """``D(D-1)/2 + D``: symmetric off-diagonal weights plus thresholds (any N)."""
        dim = state.dim
        return dim * (dim - 1) // 2 + dim

    def _run_sync(self, s: torch.Tensor, weights: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        for _ in range(self.max_sweeps):
            field = s @ weights.transpose(1, 2) - bias[:, None, :]
            new = _sign_update(field, s)
            if torch.equal(new, s):
                break
            s = new
        return s

    def _run_async(
        self, s: torch.Tensor, weights: torch.Tensor, bias: torch.Tensor
    ) -> torch.Tensor:
        s = s.clone()
        rows = weights.unsqueeze(-1)  # rows[:, i] is (B, D, 1): W_i· for every episode
        for _ in range(self.max_sweeps):
            changed = torch.zeros((), dtype=torch.bool, device=s.device)
            order = torch.randperm(s.shape[-1], generator=self.generator).tolist()
            for i in order:
                field = torch.bmm(s, rows[:, i]).squeeze(-1) - bias[:, i, None]  # (B, M)
                old = s[:, :, i]
                new = _sign_update(field, old)
                changed |= (new != old).any()
                s[:, :, i] = new
            if not changed:
                break
        return s


def _pattern_shape(tensor: object) -> tuple[int, ...] | None:
    """The trailing shape of a ``(B, N, *shape)`` tensor, or ``None`` to let the check complain."""
    if isinstance(tensor, torch.Tensor) and tensor.dim() >= 3:
        return tuple(tensor.shape[2:])
    return None
