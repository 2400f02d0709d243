"""The slot (log-sum-exp) energy."""

from __future__ import annotations

import pytest
import torch

from ebmm.energy import SlotEnergy, count_floats, writable_names


def test_memory_is_the_papers_linear_128_63() -> None:
    energy = SlotEnergy(dim=128, slots=63)
    names = writable_names(energy)
    assert names == ["memory.weight", "memory.bias"]
    params = dict(energy.named_parameters())
    assert count_floats({n: params[n] for n in names}) == 128 * 63 + 63 <= 8256


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_shapes_and_head_split_keep_the_floats(heads: int) -> None:
    energy = SlotEnergy(dim=16, slots=5, heads=heads)
    assert energy(torch.rand(3, 7, 16)).shape == (3, 7)
    assert energy.memory.weight.numel() == 5 * 16


def test_energy_matches_the_formula() -> None:
    torch.manual_seed(0)
    energy = SlotEnergy(dim=6, slots=3, beta_init=2.0, init_scale=0.5)
    x = torch.rand(4, 6)
    s = 2 * x - 1
    beta = 2.0
    scores = beta * (s @ energy.memory.weight.T + energy.memory.bias)
    expected = -torch.logsumexp(scores, -1) / beta + 0.5 * (s**2).sum(-1)
    torch.testing.assert_close(energy(x), expected)


def test_gradient_step_retrieves_the_nearest_key() -> None:
    """With sharp β, s − ∇_s E is the key closest to the query: the modern-Hopfield update."""
    generator = torch.Generator().manual_seed(1)
    keys = torch.randint(0, 2, (3, 32), generator=generator).float() * 2 - 1
    energy = SlotEnergy(dim=32, slots=3, beta_init=5.0)
    with torch.no_grad():
        energy.memory.weight.copy_(keys)
    query = keys[1].clone()
    query[:6] *= -1  # six flipped bits
    x = ((query + 1) / 2).requires_grad_()
    (grad_x,) = torch.autograd.grad(energy(x).sum(), x)
    s_new = query - grad_x / 2  # ∇_s E = ∇_x E / 2
    torch.testing.assert_close(s_new, keys[1], atol=1e-4, rtol=0)


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="heads must divide"):
        SlotEnergy(dim=10, heads=3)
    with pytest.raises(ValueError, match="beta_init"):
        SlotEnergy(beta_init=0.0)
    with pytest.raises(ValueError, match="positive"):
        SlotEnergy(slots=0)
