"""Baseline associative memories.

``BASELINES``: memories that need no training (classical and modern Hopfield networks on the raw
patterns, a nearest-neighbour oracle); call a factory with no arguments (or keyword overrides such
as ``seed=0``) to build one.

``LEARNED``: the meta-trained baselines of docs/method.md#the-papers-numbers (memory networks, MANN, LSTM,
differentiable plasticity, the Dynamic Kanerva Machine) and a modern Hopfield memory over a learned
code; each is an ``nn.Module`` trained by ``ebmm train`` when a config sets ``model.kind`` to its
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


def _sizes_from_budget(cls: type[LearnedMemory], options: dict[str, object], budget: int) -> dict[str, object]:
    """The size arguments ``cls.fit_budget`` derives from ``budget`` (those it adds to or changes in ``options``)."""
    sized = cls.fit_budget({**options, "budget": budget})
    return {k: v for k, v in sized.items() if k != "budget" and (k not in options or options[k] != v)}


def _all_positive(sizes: dict[str, object]) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in sizes.values())


def smallest_budget(name: str, **options: object) -> int:
    """The smallest float ``budget`` from which the learned baseline ``name`` (with the other
    ``options``) derives positive sizes through its ``fit_budget``, e.g. one float per slot for MANN."""
    cls = LEARNED[name]
    options = {k: v for k, v in options.items() if k != "budget"}
    high = 1
    while not _all_positive(_sizes_from_budget(cls, options, high)):
        high *= 2
        if high > 2**40:
            raise ValueError(f"no budget gives {name!r} positive sizes with options {options}")
    low = high // 2 + 1 if high > 1 else 1  # fit_budget's sizes grow with the budget: bisect (low, high]
    while low < high:
        middle = (low + high) // 2
        if _all_positive(_sizes_from_budget(cls, options, middle)):
            high = middle
        else:
            low = middle + 1
    return high


def build_learned(name: str, pattern_shape: tuple[int, ...], **options: object) -> LearnedMemory:
    """A freshly initialised learned baseline ``name`` for patterns of ``pattern_shape``; a
    ``budget`` option (floats) sizes its memory (see each model's ``fit_budget``). A budget too
    small to give every size at least 1 raises ``ValueError`` naming it and the smallest that works."""
    if name not in LEARNED:
        raise ValueError(f"unknown learned baseline {name!r}; choose from {sorted(LEARNED)}")
    cls = LEARNED[name]
    try:
        sized = cls.fit_budget(dict(options))
        budget = options.get("budget")
        if isinstance(budget, int):  # fit_budget has checked it is a positive int
            derived = _sizes_from_budget(cls, {k: v for k, v in options.items() if k != "budget"}, budget)
            if not _all_positive(derived):
                gives = ", ".join(f"{k}={v!r}" for k, v in derived.items())
                raise ValueError(
                    f"budget={budget} floats is too small for the learned baseline {name!r}: it gives {gives}; "
                    f"the smallest budget that works is {smallest_budget(name, **options)}"
                )
        return cls(pattern_shape, **sized)  # type: ignore[arg-type]
    except TypeError as error:
        raise ValueError(f"bad model.args for {name!r}: {error}") from error


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
    "smallest_budget",
    "HopfieldMemory",
    "HopfieldState",
    "ModernHopfieldMemory",
    "ModernHopfieldState",
    "NearestNeighbourOracle",
    "OracleState",
    "choose_beta",
]
