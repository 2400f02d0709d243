"""The energy-network protocol: any ``nn.Module`` mapping patterns to one energy each.

An energy network takes ``x`` of shape ``(..., *pattern_shape)`` and returns energies of shape
``(...)``. Its parameters are split into *writable* ("fast") weights, which a write changes,
and *static* ("slow") weights, which are meta-learned and fixed at write time. By default the
writable weights are the parameters of every submodule named ``memory`` (the paper's
convention); any predicate over parameter names can be given instead.

An energy may also behave differently while it is read (e.g. a slot energy that closes its free
slots): a module with a boolean ``reading`` attribute gets ``reading = True`` for the duration of
``EnergyMemory.read`` (``reading``). An energy may also lay out its writable weights for the
number of patterns an episode writes (e.g. N slots that share a float budget): a module with an
``episode_patterns`` attribute gets that number for every energy call of ``EnergyMemory.write``
and of the reads and energies of the state the write returned (``episode``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import torch
from torch import nn

WritablePredicate = Callable[[str], bool]


def is_memory_parameter(name: str) -> bool:
    """Default predicate: the parameter belongs to a submodule named ``memory``."""
    return "memory" in name.split(".")[:-1]


def writable_names(module: nn.Module, predicate: WritablePredicate = is_memory_parameter) -> list[str]:
    """Names of the writable parameters of ``module``, in registration order.

    Raises ``ValueError`` when the predicate selects nothing, since a memory without writable
    weights cannot store anything.
    """
    names = [name for name, _ in module.named_parameters() if predicate(name)]
    if not names:
        raise ValueError(
            f"{type(module).__name__} has no writable parameters: name a submodule 'memory' "
            "or pass a `writable` predicate that selects some parameter names"
        )
    return names


def he_init_(module: nn.Module) -> None:
    """He (Kaiming) initialisation of every Linear/Conv weight, zero biases (paper appendix)."""
    for sub in module.modules():
        if isinstance(sub, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(sub.weight, nonlinearity="linear")
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)


def count_floats(tensors: dict[str, torch.Tensor], batch_dims: int = 0) -> int:
    """Number of float values in ``tensors``, ignoring ``batch_dims`` leading axes."""
    total = 0
    for value in tensors.values():
        total += int(torch.Size(value.shape[batch_dims:]).numel())
    return total


@contextmanager
def _set_on_modules(energy: nn.Module, attribute: str, value: object) -> Iterator[None]:
    """Set ``attribute = value`` on every submodule of ``energy`` that has it, for the block."""
    modules = [module for module in energy.modules() if hasattr(module, attribute)]
    before = [getattr(module, attribute) for module in modules]
    for module in modules:
        setattr(module, attribute, value)
    try:
        yield
    finally:
        for module, old in zip(modules, before, strict=True):
            setattr(module, attribute, old)


def reading(energy: nn.Module) -> AbstractContextManager[None]:
    """Set ``reading = True`` on every submodule of ``energy`` that has that attribute, for the block."""
    return _set_on_modules(energy, "reading", True)


def has_episode_layout(energy: nn.Module) -> bool:
    """Whether a submodule of ``energy`` lays out its writable weights per episode (``episode_patterns``)."""
    return any(hasattr(module, "episode_patterns") for module in energy.modules())


def episode(energy: nn.Module, patterns: int | None) -> AbstractContextManager[None]:
    """Set ``episode_patterns = patterns`` (the number of patterns the episode writes, ``None``:
    unknown) on every submodule of ``energy`` that has that attribute, for the block."""
    return _set_on_modules(energy, "episode_patterns", patterns)
