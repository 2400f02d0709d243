"""ebmm.energy.gated_rnn: shapes, memory size, argument checks, the gating recurrence."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ebmm.energy import GatedRNNEnergy, count_floats, writable_names


def memory_floats(module: torch.nn.Module) -> int:
    params = dict(module.named_parameters())
    return count_floats({name: params[name] for name in writable_names(module)})


@settings(max_examples=15, deadline=None)
@given(lead=st.lists(st.integers(1, 3), min_size=0, max_size=3), hops=st.integers(1, 3))
def test_one_energy_per_pattern_for_any_leading_dims(lead: list[int], hops: int) -> None:
    torch.manual_seed(0)
    energy = GatedRNNEnergy(dim=8, hidden=16, memory_width=4, hops=hops)
    out = energy(torch.rand(*lead, 8))
    assert out.shape == tuple(lead)
    assert torch.isfinite(out).all()


def test_paper_size_memory_floats() -> None:
    energy = GatedRNNEnergy(128, 1024, 63)
    assert memory_floats(energy) == 128 * 63 + 63 == 8127
    assert memory_floats(energy) <= 8256


def test_layer_sizes() -> None:
    energy = GatedRNNEnergy(dim=8, hidden=16, memory_width=4, hops=2)
    assert energy.memory.weight.shape == (4, 8)
    assert energy.static.weight.shape == (12, 24)
    assert energy.gate.weight.shape == (16, 24)
    assert energy.out.weight.shape == (1, 16)
    assert writable_names(energy) == ["memory.weight", "memory.bias"]


def test_matches_a_direct_unrolled_recurrence() -> None:
    torch.manual_seed(1)
    energy = GatedRNNEnergy(dim=6, hidden=10, memory_width=3, hops=3)
    with torch.no_grad():  # non-zero biases so that every term matters
        for p in energy.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = torch.rand(4, 6)
    state = torch.zeros(4, 10)
    for _ in range(3):
        z = torch.cat([x, state], -1)
        c = torch.tanh(torch.cat([energy.memory(x), energy.static(z)], -1))
        u = torch.sigmoid(energy.gate(z))
        state = u * c + (1 - u) * state
    assert torch.allclose(energy(x), energy.out(state).squeeze(-1), atol=1e-6)


def test_memory_weights_change_the_energy() -> None:
    torch.manual_seed(2)
    energy = GatedRNNEnergy(dim=8, hidden=16, memory_width=4, hops=2)
    x = torch.rand(3, 8)
    before = energy(x)
    with torch.no_grad():
        energy.memory.weight.add_(1.0)
    assert not torch.allclose(before, energy(x))


def test_biases_start_at_zero() -> None:
    energy = GatedRNNEnergy(dim=8, hidden=16, memory_width=4, hops=1)
    for name, value in energy.named_parameters():
        if name.endswith("bias"):
            assert torch.equal(value, torch.zeros_like(value)), name


@pytest.mark.parametrize("kwargs, word", [
    ({"memory_width": 0}, "memory_width"),
    ({"memory_width": 16}, "memory_width"),
    ({"memory_width": 20}, "memory_width"),
    ({"hops": 0}, "hops"),
])
def test_bad_arguments_raise(kwargs: dict, word: str) -> None:
    args = {"dim": 8, "hidden": 16, "memory_width": 4, "hops": 1, **kwargs}
    with pytest.raises(ValueError, match=word):
        GatedRNNEnergy(**args)


def test_gradients_match_the_direct_recurrence() -> None:
    """The restructured forward (x-projections once, fused state product) has the reference's
    first and second derivatives, which the write and the meta-gradient use."""
    torch.manual_seed(3)
    energy = GatedRNNEnergy(dim=5, hidden=9, memory_width=2, hops=3).double()
    with torch.no_grad():
        for p in energy.parameters():
            p.add_(0.1 * torch.randn_like(p))

    def reference(x: torch.Tensor) -> torch.Tensor:
        state = x.new_zeros(*x.shape[:-1], 9)
        for _ in range(3):
            z = torch.cat([x, state], -1)
            c = torch.tanh(torch.cat([energy.memory(x), energy.static(z)], -1))
            u = torch.sigmoid(energy.gate(z))
            state = u * c + (1 - u) * state
        return energy.out(state).squeeze(-1)

    x = torch.rand(4, 5, dtype=torch.float64, requires_grad=True)
    params = list(energy.parameters())
    results = []
    for fn in (energy, reference):
        (grad_x,) = torch.autograd.grad(fn(x).sum(), x, create_graph=True)
        second = torch.autograd.grad(grad_x.pow(2).sum(), [x, *params], allow_unused=True)  # out.bias: unused
        results.append([grad_x] + [torch.zeros(()) if g is None else g for g in second])
    for ours, theirs in zip(*results, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)
