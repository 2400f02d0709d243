"""The slot energies' shared pieces: the fit term, written and free slots."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ebmm.energy.free_slots import free_slot_scores, half_squared_distances, written_slots


@settings(max_examples=30, deadline=None)
@given(lead=st.lists(st.integers(1, 3), max_size=2), slots=st.integers(1, 6), width=st.integers(1, 9),
       seed=st.integers(0, 2**16))
def test_half_squared_distances_equal_the_broadcast_difference(lead: list[int], slots: int, width: int,
                                                              seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    codes = torch.randn(*lead, 4, width, generator=generator, dtype=torch.float64)
    slot_codes = torch.randn(slots, width, generator=generator, dtype=torch.float64)
    reference = 0.5 * (codes.unsqueeze(-2) - slot_codes).pow(2).sum(-1)
    torch.testing.assert_close(half_squared_distances(codes, slot_codes), reference)


def test_half_squared_distances_gradient_is_the_difference() -> None:
    codes = torch.randn(3, 5, dtype=torch.float64)
    slot_codes = torch.randn(2, 5, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(half_squared_distances(codes, slot_codes).sum(), slot_codes)
    torch.testing.assert_close(grad, (slot_codes - codes.unsqueeze(1)).sum(0).detach())


def test_free_slots_score_in_order_and_written_slots_by_radius() -> None:
    codes = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.1, 0.0], [0.0, 0.0]])
    written = written_slots(codes, radius=1.0)
    assert written.tolist() == [0.0, 1.0, 0.0, 0.0]
    scores = free_slot_scores(written, torch.tensor(5.0), torch.tensor(2.0))
    assert scores[[0, 2, 3]].tolist() == [5.0, 7.0, 9.0]
