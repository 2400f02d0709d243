"""The energy-network protocol: any ``nn.Module`` mapping patterns to one energy each.

An energy network takes ``x`` of shape ``(..., *pattern_shape)`` and returns energies of shape
``(...)``. Its parameters are split into *writable* ("fast") weights, which a write changes,
and *static* ("slow") weights, which are meta-learned and fixed at write time. By default the
writable weights are the parameters of every submodule named ``memory`` (the paper's
convention); any predicate over parameter names can be given instead.

An energy may also behave differently while it is read (e.g. a slot energy that closes its free
slots): a module with a boolean ``reading`` attribute gets ``reading = True`` for the duration of
``EnergyMemory.read`` (``reading``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
def reading(energy: nn.Module) -> Iterator[None]:
    """Set ``reading = True`` on every submodule of ``energy`` that has that attribute, for the block."""
    modules = [module for module in energy.modules() if hasattr(module, "reading")]
    before = [module.reading for module in modules]
    for module in modules:
        setattr(module, "reading", True)  # noqa: B010  (a plain attribute, not a parameter)
    try:
        yield
    finally:
        for module, value in zip(modules, before, strict=True):
            setattr(module, "reading", value)  # noqa: B010
