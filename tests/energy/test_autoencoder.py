"""ebmm.energy.autoencoder: shapes, the energy formula, memory size, argument checks."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ebmm.energy import AutoencoderEnergy, count_floats, writable_names


def memory_floats(module: torch.nn.Module) -> int:
    params = dict(module.named_parameters())
    return count_floats({name: params[name] for name in writable_names(module)})


@settings(max_examples=15, deadline=None)
@given(lead=st.lists(st.integers(1, 3), min_size=0, max_size=3))
def test_one_energy_per_pattern_for_any_leading_dims(lead: list[int]) -> None:
    torch.manual_seed(0)
    energy = AutoencoderEnergy(dim=8, hidden=4)
    x = torch.rand(*lead, 8)
    out = energy(x)
    assert out.shape == tuple(lead)
    assert torch.isfinite(out).all() and (out >= 0).all()


def test_energy_formula() -> None:
    torch.manual_seed(0)
    energy = AutoencoderEnergy(dim=8, hidden=4)
    x = torch.rand(3, 8)
    s = 2 * x - 1
    expected = 0.5 * (s - energy.memory(torch.tanh(energy.encoder(s)))).pow(2).sum(-1)
    assert torch.allclose(energy(x), expected)


def test_energy_is_zero_for_a_perfect_reconstruction() -> None:
    energy = AutoencoderEnergy(dim=4, hidden=4)
    with torch.no_grad():
        energy.encoder[0].weight.copy_(torch.eye(4) * 20.0)  # tanh saturates: code = s for s in {-1, 1}
        energy.memory.weight.copy_(torch.eye(4))
    x = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
    assert float(energy(x).detach()) < 1e-10


def test_paper_size_memory_floats() -> None:
    energy = AutoencoderEnergy(128, 63)
    assert memory_floats(energy) == 63 * 128 + 128 == 8192
    assert memory_floats(energy) <= 8256


def test_deeper_encoder_keeps_memory_size() -> None:
    energy = AutoencoderEnergy(dim=16, hidden=4, encoder_layers=3, encoder_width=8)
    linears = [m for m in energy.encoder if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(16, 8), (8, 8), (8, 4)]
    assert memory_floats(energy) == 4 * 16 + 16
    assert energy(torch.rand(2, 5, 16)).shape == (2, 5)


def test_writable_weights_are_the_decoder() -> None:
    energy = AutoencoderEnergy(dim=8, hidden=4)
    assert writable_names(energy) == ["memory.weight", "memory.bias"]
    assert energy.memory.weight.shape == (8, 4)


def test_biases_start_at_zero() -> None:
    energy = AutoencoderEnergy(dim=8, hidden=4, encoder_layers=2, encoder_width=6)
    for name, value in energy.named_parameters():
        if name.endswith("bias"):
            assert torch.equal(value, torch.zeros_like(value)), name


@pytest.mark.parametrize("kwargs, word", [
    ({"dim": 0}, "dim"),
    ({"hidden": 0}, "hidden"),
    ({"dim": -3}, "dim"),
    ({"encoder_layers": 0}, "encoder_layers"),
])
def test_bad_arguments_raise(kwargs: dict, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        AutoencoderEnergy(**kwargs)


def test_gradient_reaches_the_input() -> None:
    energy = AutoencoderEnergy(dim=8, hidden=4)
    x = torch.rand(2, 8, requires_grad=True)
    (grad,) = torch.autograd.grad(energy(x).sum(), x)
    assert grad.shape == x.shape and grad.abs().sum() > 0
