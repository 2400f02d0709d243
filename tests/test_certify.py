"""Certificates of strict local minima: the Hessian against closed forms, each condition on bowls
whose answer is known, and the shipped string memory."""

from __future__ import annotations

import torch
from torch import nn

from ebmm.certify import certify_minima, hessians
from ebmm.memory import EnergyMemory, MemoryState

from conftest import QuadraticEnergy  # tests/ is on sys.path (pytest's rootdir conftest)


class Bowl(nn.Module):
    """E(x) = ½ Σ_i a_i (x_i − c_i)², its centre c writable: ∇E = a ⊙ (x − c), ∇²E = diag(a)."""

    def __init__(self, curvatures: list[float]):
        super().__init__()
        self.register_buffer("curvatures", torch.tensor(curvatures, dtype=torch.float64))
        self.memory = nn.Linear(1, len(curvatures), bias=False).double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.curvatures * (x - self.memory.weight[:, 0]).pow(2)).sum(-1)


def _bowl(curvatures: list[float], centre: list[float]) -> tuple[EnergyMemory, MemoryState]:
    memory = EnergyMemory(Bowl(curvatures), (len(curvatures),)).double()
    return memory, MemoryState({"memory.weight": torch.tensor(centre, dtype=torch.float64).reshape(1, -1, 1)}, 1)


def test_hessians_match_the_closed_form() -> None:
    torch.manual_seed(0)
    memory = EnergyMemory(QuadraticEnergy(5, 3), (5,)).double()
    state = memory.write(torch.rand(2, 4, 5, dtype=torch.float64))
    h = hessians(memory, state, torch.rand(2, 3, 5, dtype=torch.float64))
    w = state.fast["memory.weight"]  # E = ½‖W x‖²: ∇²E = WᵀW for every pattern
    expected = (w.transpose(-1, -2) @ w).unsqueeze(1).expand(2, 3, 5, 5)
    torch.testing.assert_close(h, expected, atol=1e-10, rtol=0)


def test_each_condition_on_bowls_with_known_answers() -> None:
    memory, state = _bowl([1.0, 2.0, 3.0], [0.3, 0.5, 0.7])
    at_centre = torch.tensor([[[0.3, 0.5, 0.7]]], dtype=torch.float64)
    certificate = certify_minima(memory, state, at_centre)
    assert bool(certificate.strict.all()) and int(certificate.free) == 3 and float(certificate.curvature) == 1.0

    flat, flat_state = _bowl([1.0, 0.0, 3.0], [0.3, 0.5, 0.7])  # a direction the energy ignores
    undecided = certify_minima(flat, flat_state, at_centre)
    assert float(undecided.kkt_residual) == 0.0 and not bool(undecided.strict)

    saddle, saddle_state = _bowl([1.0, -2.0, 3.0], [0.3, 0.5, 0.7])
    assert not bool(certify_minima(saddle, saddle_state, at_centre).strict) and float(
        certify_minima(saddle, saddle_state, at_centre).curvature) == -2.0

    corner = torch.tensor([[[0.0, 1.0, 0.0]]], dtype=torch.float64)
    outside, outside_state = _bowl([1.0, 2.0, 3.0], [-0.5, 1.5, -0.2])  # every gradient points out of the box
    held = certify_minima(outside, outside_state, corner)
    assert bool(held.strict) and int(held.held) == 3 and int(held.free) == 0 and float(held.curvature) == float("inf")
    ignored, ignored_state = _bowl([1.0, 0.0, 3.0], [-0.5, 1.5, -0.2])  # the middle coordinate: no gradient at all
    half = certify_minima(ignored, ignored_state, corner)
    assert (int(half.held), int(half.free), float(half.curvature)) == (2, 1, 0.0) and not bool(half.strict)

    inward, inward_state = _bowl([1.0, 2.0, 3.0], [0.5, 0.5, 0.5])  # the corner is not a KKT point
    not_kkt = certify_minima(inward, inward_state, corner)
    assert float(not_kkt.kkt_residual) == 1.5 and not bool(not_kkt.strict)  # g = (-0.5, 1, -1.5): all inward


def test_stored_strings_are_certified_and_unrelated_ones_are_not() -> None:
    from ebmm.build import load_memory

    memory, _ = load_memory("binary_code_slots_episode")
    generator = torch.Generator().manual_seed(0)
    stored = torch.randint(0, 2, (1, 16, 128), generator=generator).float()
    with torch.no_grad():
        state = memory.write(stored)
    assert certify_minima(memory, state, stored).fraction_certified() == 1.0
    unrelated = torch.randint(0, 2, (1, 16, 128), generator=generator).float()
    assert certify_minima(memory, state, unrelated).fraction_certified() == 0.0
