"""The protocols memories answer, and the input checks they share.

Every memory (``AssociativeMemory``)::

    state = memory.write(patterns)        # (B, N, *shape) -> state of B independent memories
    out   = memory.read(queries, state)   # (B, M, *shape) -> Retrieval; out.patterns is (B, M, *shape)
    memory.memory_floats(state)           # floats one written memory occupies (docs/method.md#memory-size)

A memory ``ebmm train`` meta-trains (``TrainableMemory``: EnergyMemory and the learned baselines)
also gives the training loss of a batch of episodes and is a torch module (parameters, state dict)::

    loss, state, out = memory.episode_loss(patterns, queries, **gradient_options)

``GradientOptions`` concern the meta-gradient through EBMM's write steps; a memory without write
steps to differentiate (a learned baseline) refuses any but the defaults.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict, runtime_checkable

import torch
from torch import nn

if TYPE_CHECKING:
    from typing_extensions import Self

GradMode = Literal["second_order", "first_order", "truncated", "none"]
GRAD_MODES: tuple[str, ...] = ("second_order", "first_order", "truncated", "none")
TRAINING_GRAD_MODES: tuple[str, ...] = GRAD_MODES[:3]


class GradientOptions(TypedDict):
    """How ``episode_loss`` differentiates the write: ``mode`` (see ``ebmm.memory``), ``truncate``
    (mode ``"truncated"``: how many last write steps) and ``checkpoint`` (recompute each step's graph)."""

    mode: GradMode
    truncate: int | None
    checkpoint: bool


DEFAULT_GRADIENTS: GradientOptions = {"mode": "second_order", "truncate": None, "checkpoint": False}


@dataclass
class Retrieval:
    """What a read returns.

    ``patterns``: the final retrieved patterns, ``(B, M, *shape)``. ``iterates``: when asked for,
    every read iterate ``x^(1..K)`` (same shape each). ``energies``: when asked for, the energy of
    each iterate, ``(B, M)`` each.
    """

    patterns: torch.Tensor
    iterates: list[torch.Tensor] | None = None
    energies: list[torch.Tensor] | None = None


@runtime_checkable
class AssociativeMemory(Protocol):
    """Write a batch of pattern sets, read them back from queries, report the memory size."""

    def write(self, patterns: torch.Tensor) -> Any: ...

    def read(self, queries: torch.Tensor, state: Any) -> Retrieval: ...

    def memory_floats(self, state: Any) -> int: ...


@runtime_checkable
class TrainableMemory(AssociativeMemory, Protocol):
    """What the meta-trainer, ``ebmm.tasks.evaluate`` and checkpoints use of a memory."""

    def episode_loss(
        self, patterns: torch.Tensor, queries: torch.Tensor, mode: GradMode = "second_order", *,
        truncate: int | None = None, checkpoint: bool = False,
    ) -> tuple[torch.Tensor, Any, Retrieval]:
        """The training loss of a batch of episodes (queries[b, i] corrupts patterns[b, i]), the
        written state and the final retrieval."""
        ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...

    def named_parameters(self) -> Iterator[tuple[str, nn.Parameter]]: ...

    def zero_grad(self, set_to_none: bool = True) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> Any: ...

    def to(self, device: torch.device | str) -> Self: ...


def refuse_gradient_options(
    owner: str, mode: str = "second_order", truncate: int | None = None, checkpoint: bool = False,
) -> None:
    """Raise ``ValueError`` unless the gradient options are the defaults: ``owner`` (a memory with no
    write steps to differentiate) would otherwise ignore them silently."""
    given: dict[str, object] = {"mode": mode, "truncate": truncate, "checkpoint": checkpoint}
    defaults: dict[str, object] = dict(DEFAULT_GRADIENTS)
    changed = {key: value for key, value in given.items() if value != defaults[key]}
    if changed:
        options = ", ".join(f"{key}={value!r}" for key, value in changed.items())
        raise ValueError(
            f"{owner} has no write steps to differentiate: the gradient options {options} do not apply to it; "
            f"leave them at their defaults {defaults}")


def check_patterns(
    tensor: Any,
    name: str,
    pattern_shape: tuple[int, ...] | None = None,
    value_range: tuple[float, float] | None = (0.0, 1.0),
) -> torch.Tensor:
    """Validate a ``(B, N, *pattern_shape)`` float tensor and return it.

    Raises ``TypeError`` for a non-tensor or non-floating tensor and ``ValueError`` for a wrong
    shape, an empty batch or pattern set, NaN/Inf, or values outside ``value_range``; the message
    names ``name``, what was expected and what was given.
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if not tensor.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {tensor.dtype}")
    extra = len(pattern_shape) if pattern_shape is not None else 1
    if tensor.dim() != 2 + extra:
        expected = f"(B, N, {', '.join(map(str, pattern_shape))})" if pattern_shape else "(B, N, ...)"
        raise ValueError(f"{name} must have shape {expected}, got {tuple(tensor.shape)}")
    if pattern_shape is not None and tuple(tensor.shape[2:]) != tuple(pattern_shape):
        raise ValueError(
            f"{name} must have pattern shape {tuple(pattern_shape)}, got {tuple(tensor.shape[2:])}"
        )
    if tensor.shape[0] == 0:
        raise ValueError(f"{name} has an empty batch (B = 0): nothing to write or read")
    if tensor.shape[1] == 0:
        raise ValueError(f"{name} is an empty pattern set (N = 0): give at least one pattern")
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or Inf values")
    if value_range is not None:
        low, high = value_range
        tmin, tmax = float(tensor.min()), float(tensor.max())
        if tmin < low or tmax > high:
            raise ValueError(
                f"{name} must lie in [{low}, {high}], got values in [{tmin:.4g}, {tmax:.4g}]"
            )
    return tensor


def check_batch_matches(queries: torch.Tensor, batch_size: int, name: str = "queries") -> None:
    """Raise ``ValueError`` unless ``queries`` has ``batch_size`` episodes (one per written memory)."""
    if queries.shape[0] != batch_size:
        raise ValueError(
            f"{name} has {queries.shape[0]} episodes but the memory state holds {batch_size}: "
            "give one query set per written memory"
        )
