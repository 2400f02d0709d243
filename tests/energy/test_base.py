"""ebmm.energy.base: writable-parameter selection, He initialisation, float counting."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ebmm.energy import AutoencoderEnergy, GatedRNNEnergy
from ebmm.energy.base import count_floats, he_init_, is_memory_parameter, writable_names


class Nested(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(4, 3)
        self.block = nn.Module()
        self.block.memory = nn.Linear(3, 2)
        self.memory_gate = nn.Linear(2, 2)  # "memory" only as part of a name: not writable
        self.memory = nn.Linear(2, 4, bias=False)


@pytest.mark.parametrize("name, expected", [
    ("memory.weight", True),
    ("memory.bias", True),
    ("block.memory.weight", True),
    ("memory_gate.weight", False),
    ("encoder.weight", False),
    ("memory", False),  # a bare parameter called memory is not inside a memory module
    ("encoder.memory_bias", False),
])
def test_is_memory_parameter(name: str, expected: bool) -> None:
    assert is_memory_parameter(name) is expected


def test_writable_names_default_are_memory_module_params_in_order() -> None:
    assert writable_names(Nested()) == ["block.memory.weight", "block.memory.bias", "memory.weight"]


def test_writable_names_with_a_predicate() -> None:
    module = Nested()
    assert writable_names(module, lambda n: n.startswith("encoder")) == ["encoder.weight", "encoder.bias"]
    assert writable_names(module, lambda n: n.endswith("bias")) == [
        "encoder.bias", "block.memory.bias", "memory_gate.bias"]


def test_writable_names_of_shipped_energies() -> None:
    assert writable_names(AutoencoderEnergy(8, 4)) == ["memory.weight", "memory.bias"]
    assert writable_names(GatedRNNEnergy(8, 16, 4, hops=1)) == ["memory.weight", "memory.bias"]


def test_module_without_memory_raises() -> None:
    with pytest.raises(ValueError, match="Sequential has no writable parameters"):
        writable_names(nn.Sequential(nn.Linear(3, 3)))
    with pytest.raises(ValueError, match="no writable"):
        writable_names(Nested(), lambda n: False)


def test_he_init_zero_biases_and_fan_in_scale() -> None:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(400, 300), nn.Tanh(), nn.Linear(300, 200), nn.Conv1d(2, 3, 5))
    for p in module.parameters():
        nn.init.constant_(p, 1.0)
    he_init_(module)
    assert torch.equal(module[0].bias, torch.zeros(300))
    assert torch.equal(module[2].bias, torch.zeros(200))
    assert torch.equal(module[3].bias, torch.zeros(3))
    # Kaiming normal with the linear gain: std = 1 / sqrt(fan_in)
    assert float(module[0].weight.detach().std()) == pytest.approx(400 ** -0.5, rel=0.05)
    assert float(module[2].weight.detach().std()) == pytest.approx(300 ** -0.5, rel=0.05)
    assert abs(float(module[0].weight.detach().mean())) < 0.005


def test_he_init_leaves_other_modules_alone() -> None:
    norm = nn.LayerNorm(4)
    nn.init.constant_(norm.weight, 3.0)
    he_init_(nn.Sequential(norm, nn.Linear(4, 4, bias=False)))
    assert torch.equal(norm.weight, torch.full((4,), 3.0))


def test_he_init_is_seeded_by_the_global_rng() -> None:
    torch.manual_seed(3)
    a = AutoencoderEnergy(8, 4)
    torch.manual_seed(3)
    b = AutoencoderEnergy(8, 4)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))


def test_count_floats() -> None:
    tensors = {"w": torch.zeros(5, 3, 4), "b": torch.zeros(5, 4), "s": torch.zeros(5)}
    assert count_floats(tensors) == 60 + 20 + 5
    assert count_floats(tensors, batch_dims=1) == 12 + 4 + 1  # a scalar per batch element counts 1
    assert count_floats({"w": torch.zeros(2, 7, 3, 4)}, batch_dims=2) == 12
    assert count_floats({}) == 0
