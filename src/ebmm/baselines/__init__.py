"""Baseline associative memories: classical and modern Hopfield networks, a nearest-neighbour oracle.

``BASELINES`` maps a name to a factory; call it with no arguments (or keyword overrides such
as ``seed=0``) to build the memory.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

from ebmm.baselines.hopfield import HopfieldMemory, HopfieldState
from ebmm.baselines.modern_hopfield import ModernHopfieldMemory, ModernHopfieldState, choose_beta
from ebmm.baselines.oracle import NearestNeighbourOracle, OracleState
from ebmm.protocol import AssociativeMemory

BASELINES: dict[str, Callable[..., AssociativeMemory]] = {
    "hopfield_hebb": partial(HopfieldMemory, rule="hebb"),
    "hopfield_storkey": partial(HopfieldMemory, rule="storkey"),
    "hopfield_pinv": partial(HopfieldMemory, rule="pinv"),
    "oracle": partial(NearestNeighbourOracle),
    "modern_hopfield": partial(ModernHopfieldMemory),
}

__all__ = [
    "BASELINES",
    "HopfieldMemory",
    "HopfieldState",
    "ModernHopfieldMemory",
    "ModernHopfieldState",
    "NearestNeighbourOracle",
    "OracleState",
    "choose_beta",
]
