"""ebmm: deep energy-based associative memory with meta-learned fast writing.

Bartunov, Rae, Osindero, Lillicrap, *Meta-Learning Deep Energy-Based Memory Models*, ICLR 2020.
"""

from ebmm.build import build_memory, load_memory
from ebmm.config import Config, load_config
from ebmm.energy import AutoencoderEnergy, ConvEnergy, FCEnergy, GatedRNNEnergy, SignSlotEnergy, SlotEnergy
from ebmm.memory import EnergyMemory, MemoryState
from ebmm.protocol import AssociativeMemory, Retrieval, TrainableMemory
from ebmm.rules import ReadRule, RefineRule, WriteRule

__all__ = [
    "AssociativeMemory",
    "AutoencoderEnergy",
    "Config",
    "ConvEnergy",
    "EnergyMemory",
    "FCEnergy",
    "GatedRNNEnergy",
    "MemoryState",
    "ReadRule",
    "RefineRule",
    "SignSlotEnergy",
    "Retrieval",
    "SlotEnergy",
    "TrainableMemory",
    "WriteRule",
    "build_memory",
    "load_config",
    "load_memory",
]

__version__ = "0.1.0"
