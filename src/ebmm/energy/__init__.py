"""Energy networks: the protocol and the architectures that ship with ebmm."""

from ebmm.energy.autoencoder import AutoencoderEnergy
from ebmm.energy.base import count_floats, he_init_, is_memory_parameter, writable_names
from ebmm.energy.code_slots import CodeSlotEnergy
from ebmm.energy.codec_slots import CodecSlotEnergy
from ebmm.energy.conv import ConvEnergy, FCEnergy, imagenet64_energy
from ebmm.energy.gated_rnn import GatedRNNEnergy
from ebmm.energy.registry import ENERGIES, build_energy
from ebmm.energy.sign_slots import SignSlotEnergy
from ebmm.energy.slots import SlotEnergy

__all__ = [
    "AutoencoderEnergy",
    "CodeSlotEnergy",
    "CodecSlotEnergy",
    "ConvEnergy",
    "FCEnergy",
    "GatedRNNEnergy",
    "SignSlotEnergy",
    "SlotEnergy",
    "ENERGIES",
    "build_energy",
    "count_floats",
    "he_init_",
    "imagenet64_energy",
    "is_memory_parameter",
    "writable_names",
]
