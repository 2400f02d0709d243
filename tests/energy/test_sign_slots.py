"""The peeling-slot energy: sign keys and peeled residues."""

from __future__ import annotations

import pytest
import torch

from ebmm.energy import SignSlotEnergy, count_floats, writable_names


def _strings(count: int, dim: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (count, dim), generator=generator).float() * 2 - 1


def test_memory_floats_match_the_papers_linear_128_63() -> None:
    energy = SignSlotEnergy(dim=128, slots=63)
    params = dict(energy.named_parameters())
    assert count_floats({n: params[n] for n in writable_names(energy)}) == 128 * 63 + 63


def test_initial_keys_have_inert_peeled_levels() -> None:
    keys = SignSlotEnergy(dim=32, slots=4, levels=2).keys()
    assert keys.shape == (3, 4, 32)
    assert keys[0].abs().min() > 0.9  # tanh(κ) with κ = 2: sign keys
    assert keys[1:].abs().max() < 1e-4  # θ̄ = ±c: nothing left to peel (float rounding aside)


def test_peeling_separates_two_strings_written_with_different_weights() -> None:
    energy = SignSlotEnergy(dim=64, slots=1, levels=2, kappa_init=20.0)
    a, b = _strings(2, 64, seed=0)
    with torch.no_grad():
        energy.memory.weight.copy_((1.0 * a + 0.6 * b).unsqueeze(0))
    keys = energy.keys()[:, 0]
    torch.testing.assert_close(torch.sign(keys[0]), a)
    torch.testing.assert_close(torch.sign(keys[1]), b)


def test_gradient_step_recovers_the_lighter_string_from_its_query() -> None:
    energy = SignSlotEnergy(dim=128, slots=2, levels=1, beta_init=1.0, kappa_init=20.0)
    a, b, other = _strings(3, 128, seed=1)
    with torch.no_grad():
        energy.memory.weight.copy_(torch.stack([1.0 * a + 0.5 * b, 0.8 * other]))
    query = b.clone()
    query[:24] = -query[:24]  # 24 flipped bits
    x = ((query + 1) / 2).requires_grad_()
    (grad_x,) = torch.autograd.grad(energy(x).sum(), x)
    s_new = query - grad_x / 2  # one full gradient step in s = 2x − 1
    assert torch.equal(torch.sign(s_new), b)


def test_shapes_and_bad_arguments() -> None:
    energy = SignSlotEnergy(dim=16, slots=3, levels=1)
    assert energy(torch.rand(2, 5, 16)).shape == (2, 5)
    with pytest.raises(ValueError, match="levels"):
        SignSlotEnergy(levels=-1)
    with pytest.raises(ValueError, match="positive"):
        SignSlotEnergy(floor=0.0)
