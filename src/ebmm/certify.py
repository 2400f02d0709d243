"""Certificates that written patterns are minima of the written energy (a limit the paper names:
no guarantee that stored patterns become true minima).

A read descends E(x; θ) over the box [lo, hi]^D (the data range), so the question is whether each
stored pattern x is a local minimum of E over the box. ``certify_minima`` checks the textbook
sufficient conditions at x, with g = ∇ₓE(x) and H = ∇²ₓE(x):

1. x is a KKT point: g_i = 0 where lo < x_i < hi, g_i ≥ 0 where x_i = lo, g_i ≤ 0 where x_i = hi
   (``kkt_residual``: the largest violation, at most ``tolerance``);
2. H is positive definite on the *free* coordinates: those not held by a bound with a strictly
   outward gradient (|g_i| > ``tolerance``), i.e. the inside ones and the bound ones where g_i ≈ 0.
   Every feasible direction along which E does not rise to first order lies in that subspace, so
   2. makes x a *strict* local minimum over the box, and a projected read started near enough to
   x returns to it.

H is formed exactly (one Hessian-vector product per coordinate, shared by all patterns, since each
pattern's energy depends on that pattern alone), restricted to the free coordinates, and its
smallest eigenvalue taken in float64 (``curvature``); it counts as positive above ``relative`` times the
largest eigenvalue's magnitude, so that a flat direction (e.g. one the energy never looks at) is not
certified by rounding. A failed certificate does not prove that x is not a minimum: a flat direction
leaves it undecided. The certificate is for the energy as the read sees it (``reading`` set, the
episode's layout).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ebmm.energy.base import reading
from ebmm.memory import EnergyMemory, MemoryState


@dataclass
class MinimumCertificate:
    """Per pattern ``(B, N)``: ``kkt_residual`` (condition 1's largest violation), ``free`` (how many
    coordinates condition 2 covers), ``held`` (bound coordinates with a strictly outward gradient),
    ``curvature`` (the smallest eigenvalue of H on the free coordinates; +inf if none) and
    ``strict``: both conditions hold, the pattern is a certified strict local minimum."""

    kkt_residual: torch.Tensor
    free: torch.Tensor
    held: torch.Tensor
    curvature: torch.Tensor
    strict: torch.Tensor

    def fraction_certified(self) -> float:
        return float(self.strict.float().mean())


def _energy_gradient(memory: EnergyMemory, state: MemoryState, x: torch.Tensor, create_graph: bool
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().requires_grad_()
    with reading(memory.energy):
        energy = memory.energies(state, x)
    (gradient,) = torch.autograd.grad(energy.sum(), x, create_graph=create_graph)
    return x, gradient


def hessians(memory: EnergyMemory, state: MemoryState, patterns: torch.Tensor) -> torch.Tensor:
    """Each pattern's Hessian ∇²ₓE, ``(B, N, D, D)`` with D the pattern's size: one Hessian-vector
    product per coordinate, all patterns at once."""
    x, gradient = _energy_gradient(memory, state, patterns, create_graph=True)
    size = patterns[0, 0].numel()
    columns = []
    for index in range(size):
        direction = torch.zeros(size, dtype=patterns.dtype, device=patterns.device)
        direction[index] = 1.0
        direction = direction.reshape(patterns.shape[2:]).expand_as(patterns)
        (column,) = torch.autograd.grad(gradient, x, grad_outputs=direction, retain_graph=index < size - 1)
        columns.append(column.detach().flatten(2))
    return torch.stack(columns, -1)


def certify_minima(memory: EnergyMemory, state: MemoryState, patterns: torch.Tensor, tolerance: float = 1e-6,
                   relative: float = 1e-6) -> MinimumCertificate:
    """The certificate of the module docstring for ``patterns`` ``(B, N, *shape)`` under ``state``
    (usually the patterns ``memory`` wrote into it). ``tolerance``: the gradient size that counts as
    zero; ``relative``: the smallest eigenvalue must exceed this times the largest magnitude."""
    low, high = memory.value_range
    _, gradient = _energy_gradient(memory, state, patterns, create_graph=False)
    g, x = gradient.flatten(2), patterns.flatten(2)
    at_low, at_high = x <= low, x >= high
    violation = torch.where(at_low, (-g).clamp_min(0), torch.where(at_high, g.clamp_min(0), g.abs()))
    kkt_residual = violation.max(-1).values
    held = (at_low & (g > tolerance)) | (at_high & (g < -tolerance))
    free = ~held
    curvature = torch.full_like(kkt_residual, float("inf"))
    if bool((free.any(-1) & (kkt_residual <= tolerance)).any()):  # else no pattern can pass: skip the Hessians
        h = hessians(memory, state, patterns).double()
        h = 0.5 * (h + h.transpose(-1, -2))
        scale = h.abs().amax((-2, -1), keepdim=True).clamp_min(1.0)
        keep = free.unsqueeze(-1) & free.unsqueeze(-2)  # the free block; held coordinates get a large diagonal
        diagonal = torch.diag_embed((~free).to(h.dtype)) * 2 * scale
        eigenvalues = torch.linalg.eigvalsh(torch.where(keep, h, torch.zeros_like(h)) + diagonal)
        smallest = eigenvalues[..., 0]
        largest = eigenvalues.abs().max(-1).values.clamp_min(1e-30)
        curvature = torch.where(free.any(-1), smallest, torch.full_like(smallest, float("inf"))).to(kkt_residual.dtype)
        positive = smallest > relative * largest
    else:
        positive = torch.ones_like(kkt_residual, dtype=torch.bool)
    strict = (kkt_residual <= tolerance) & (positive | ~free.any(-1))
    return MinimumCertificate(kkt_residual.detach(), free.sum(-1), held.sum(-1), curvature.detach(), strict)
