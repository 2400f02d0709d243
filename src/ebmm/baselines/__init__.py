"""Baseline associative memories.

``BASELINES``: memories that need no training (classical and modern Hopfield networks on the raw
patterns, a nearest-neighbour oracle); call a factory with no arguments (or keyword overrides such
as ``seed=0``) to build one.

``LEARNED``: the meta-trained baselines of METHOD.md §5 (memory networks, MANN, LSTM,
differentiable plasticity, the Dynamic Kanerva Machine) and a modern Hopfield memory over a learned
code; each is an ``nn.Module`` trained by ``ebmm train`` when a config sets ``model.memory`` to its
name (``build_learned``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from ebmm.baselines.hopfield import HopfieldMemory, HopfieldState
from ebmm.baselines.kanerva import KanervaMachine
from ebmm.baselines.learned import LearnedMemory, LearnedState
from ebmm.baselines.lstm import LSTMMemory
from ebmm.baselines.mann import MANN
from ebmm.baselines.modern_hopfield import ModernHopfieldMemory, ModernHopfieldState, choose_beta
from ebmm.baselines.oracle import NearestNeighbourOracle, OracleState
from ebmm.baselines.plasticity import DifferentiablePlasticity
from ebmm.baselines.slots import CodeHopfield, MemoryNetwork
from ebmm.protocol import AssociativeMemory

BASELINES: dict[str, Callable[..., AssociativeMemory]] = {
    "hopfield_hebb": partial(HopfieldMemory, rule="hebb"),
    "hopfield_storkey": partial(HopfieldMemory, rule="storkey"),
    "hopfield_pinv": partial(HopfieldMemory, rule="pinv"),
    "oracle": partial(NearestNeighbourOracle),
    "modern_hopfield": partial(ModernHopfieldMemory),
}

LEARNED: dict[str, type[LearnedMemory]] = {
    "memory_networks": MemoryNetwork,
    "mann": MANN,
    "lstm": LSTMMemory,
    "plasticity": DifferentiablePlasticity,
    "kanerva": KanervaMachine,
    "hopfield_code": CodeHopfield,
}


def build_learned(name: str, pattern_shape: tuple[int, ...], **options: object) -> LearnedMemory:
    """A freshly initialised learned baseline ``name`` for patterns of ``pattern_shape``; a
    ``budget`` option (floats) sizes its memory (see each model's ``fit_budget``)."""
    if name not in LEARNED:
        raise ValueError(f"unknown learned baseline {name!r}; choose from {sorted(LEARNED)}")
    try:
        cls = LEARNED[name]
        return cls(pattern_shape, **cls.fit_budget(dict(options)))  # type: ignore[arg-type]
    except TypeError as error:
        raise ValueError(f"bad model.memory_args for {name!r}: {error}") from error


__all__ = [
    "BASELINES",
    "CodeHopfield",
    "DifferentiablePlasticity",
    "KanervaMachine",
    "LEARNED",
    "LSTMMemory",
    "LearnedMemory",
    "LearnedState",
    "MANN",
    "MemoryNetwork",
    "build_learned",
    "HopfieldMemory",
    "HopfieldState",
    "ModernHopfieldMemory",
    "ModernHopfieldState",
    "NearestNeighbourOracle",
    "OracleState",
    "choose_beta",
]
