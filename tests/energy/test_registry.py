"""ebmm.energy.registry: build an energy by name, with clear errors."""

from __future__ import annotations

import pytest
import torch

from ebmm.energy import ENERGIES, AutoencoderEnergy, GatedRNNEnergy, build_energy


def test_registry_lists_the_shipped_energies() -> None:
    assert ENERGIES["gated_rnn"] is GatedRNNEnergy
    assert ENERGIES["autoencoder"] is AutoencoderEnergy
    assert {"gated_rnn", "autoencoder", "slots", "sign_slots", "conv", "fc", "conv_imagenet64"} <= set(ENERGIES)
    # Entries are classes or factory functions (conv_imagenet64): each builds a module with its defaults.
    torch.manual_seed(0)
    for name, factory in ENERGIES.items():
        assert isinstance(name, str) and callable(factory)
        assert isinstance(factory(), torch.nn.Module), name
        assert isinstance(build_energy(name), torch.nn.Module), name


def test_build_by_name_passes_arguments() -> None:
    ae = build_energy("autoencoder", dim=8, hidden=4)
    assert isinstance(ae, AutoencoderEnergy) and ae.memory.weight.shape == (8, 4)
    rnn = build_energy("gated_rnn", dim=8, hidden=16, memory_width=4, hops=2)
    assert isinstance(rnn, GatedRNNEnergy) and rnn.hops == 2 and rnn.memory.weight.shape == (4, 8)


def test_unknown_name_raises_listing_choices() -> None:
    with pytest.raises(ValueError, match="transformer") as info:
        build_energy("transformer", dim=8)
    for name in ENERGIES:
        assert repr(name) in str(info.value)


def test_unknown_keyword_raises_value_error() -> None:
    with pytest.raises(ValueError, match="autoencoder.*width"):
        build_energy("autoencoder", dim=8, width=3)


def test_constructor_value_errors_pass_through() -> None:
    with pytest.raises(ValueError, match="hidden"):
        build_energy("autoencoder", dim=8, hidden=0)
