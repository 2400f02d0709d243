"""Dynamic Kanerva Machine (Wu et al. 2018) over learned codes: a Gaussian matrix memory with a
Bayesian write and iterative reads.

The memory ``M`` (``slots × code``) has a matrix-normal distribution with mean ``R`` and row
covariance ``U``, starting from a learned prior (``R₀``, ``U₀ = σ₀² I``). A pattern's code ``z`` is
addressed by ridge regression against the mean, ``w = argmin ‖z − wR‖² + λ‖w‖²``, and the episode
is written in one Bayesian update (the batched form of Wu et al.'s sequential one):

    Σ = W U Wᵀ + σ_ξ² I,   G = U Wᵀ Σ⁻¹,   R ← R + G (Z − W R),   U ← U − G W U

Reading addresses the query's code and reads ``z = w(z_q) R``; each of the ``steps − 1`` further
iterations decodes the read, encodes it again and reads with that as the query (Wu et al.'s
iterative reading: a linear read alone is a projection, which repeating does not sharpen). σ₀, σ_ξ, λ and R₀ are meta-learned.

Memory = the mean matrix ``R``: ``slots × code`` floats. Reads use only the mean, so the row
covariance ``U`` (``slots (slots + 1) / 2`` more floats) is kept in the state for further writes
but not counted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ebmm.baselines.learned import LearnedMemory, LearnedState, check_positive, pop_budget


class KanervaMachine(LearnedMemory):
    """Dynamic Kanerva Machine in code space (see the module docstring)."""

    def __init__(self, pattern_shape: Sequence[int], code: int = 129, slots: int = 64, steps: int = 2,
                 prior_std: float = 1.0, noise_std: float = 0.3, ridge: float = 1.0, **options: Any):
        super().__init__(pattern_shape, code, **options)
        check_positive(slots=slots, steps=steps)
        for name, value in (("prior_std", prior_std), ("noise_std", noise_std), ("ridge", ridge)):
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        self.slots, self.steps = slots, steps
        self.prior_mean = nn.Parameter(torch.randn(slots, code) / math.sqrt(code))
        self.log_prior_var = nn.Parameter(torch.tensor(2 * math.log(prior_std)))
        self.log_noise_var = nn.Parameter(torch.tensor(2 * math.log(noise_std)))
        self.log_ridge = nn.Parameter(torch.tensor(math.log(ridge)))

    @classmethod
    def fit_budget(cls, options: dict[str, Any]) -> dict[str, Any]:
        """``budget`` floats → ``code = budget // slots`` (the counted mean matrix fills it)."""
        options, budget = pop_budget(options)
        return options if budget is None else {**options, "code": budget // options.get("slots", 64)}

    def address(self, codes: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        """Ridge-regression weights ``(B, Q, slots)`` of codes ``(B, Q, C)`` on the rows of ``mean`` ``(B, K, C)``."""
        eye = torch.eye(self.slots, dtype=codes.dtype, device=codes.device)
        gram = mean @ mean.transpose(1, 2) + self.log_ridge.exp() * eye
        return torch.linalg.solve(gram, mean @ codes.transpose(1, 2)).transpose(1, 2)

    def store(self, codes: torch.Tensor) -> LearnedState:
        batch, count, _ = codes.shape
        eye_k = torch.eye(self.slots, dtype=codes.dtype, device=codes.device)
        eye_n = torch.eye(count, dtype=codes.dtype, device=codes.device)
        mean = self.prior_mean.expand(batch, -1, -1)
        cov = (self.log_prior_var.exp() * eye_k).expand(batch, -1, -1)
        w = self.address(codes, mean)                                   # (B, N, K)
        wu = w @ cov                                                    # (B, N, K)
        sigma = wu @ w.transpose(1, 2) + self.log_noise_var.exp() * eye_n
        gain = torch.linalg.solve(sigma, wu).transpose(1, 2)            # U Wᵀ Σ⁻¹: (B, K, N)
        mean = mean + gain @ (codes - w @ mean)
        cov = cov - gain @ wu
        return LearnedState({"mean": mean, "cov": cov}, self.slots * self.code)

    def recall(self, codes: torch.Tensor, state: LearnedState) -> torch.Tensor:
        mean = state.tensors["mean"]
        z = self.address(codes, mean) @ mean
        for _ in range(self.steps - 1):  # iterative reading: the decoded read is the next query
            z = self.address(self.codec.encode(torch.sigmoid(self.codec.decode(z))), mean) @ mean
        return z
