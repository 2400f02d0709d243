"""Build an energy network from a config name and keyword arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from ebmm.energy.autoencoder import AutoencoderEnergy
from ebmm.energy.code_slots import CodeSlotEnergy
from ebmm.energy.codec_slots import CodecSlotEnergy
from ebmm.energy.conv import ConvEnergy, FCEnergy, imagenet64_energy
from ebmm.energy.gated_rnn import GatedRNNEnergy
from ebmm.energy.sign_slots import SignSlotEnergy
from ebmm.energy.slots import SlotEnergy

ENERGIES: dict[str, Callable[..., nn.Module]] = {
    "gated_rnn": GatedRNNEnergy,
    "autoencoder": AutoencoderEnergy,
    "slots": SlotEnergy,
    "sign_slots": SignSlotEnergy,
    "conv": ConvEnergy,
    "fc": FCEnergy,
    "conv_imagenet64": imagenet64_energy,
    "codec_slots": CodecSlotEnergy,
    "code_slots": CodeSlotEnergy,
}


def build_energy(name: str, **kwargs: Any) -> nn.Module:
    """Instantiate the energy called ``name`` (see ``ENERGIES``) with ``kwargs``."""
    if name not in ENERGIES:
        raise ValueError(f"unknown energy {name!r}; choose one of {sorted(ENERGIES)}")
    try:
        return ENERGIES[name](**kwargs)
    except TypeError as error:
        raise ValueError(f"bad arguments for energy {name!r}: {error}") from error
