"""Uniform quantisation of a written memory: the rate of a memory in bits, not only in floats.

``quantize_state(state, bits)`` rounds every floating-point tensor of a written state to ``2**bits``
levels spread uniformly between its own minimum and maximum, separately for each memory of the
batch (the leading axis). Reading the quantised state measures what the memory recalls when each
of its floats is stored in ``bits`` bits (plus two floats per tensor for the range, not counted).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch


def quantize_tensor(tensor: torch.Tensor, bits: int) -> torch.Tensor:
    """``tensor`` ``(B, ...)`` rounded to ``2**bits`` uniform levels per leading index."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 24:
        raise ValueError(f"bits must be an int in [1, 24], got {bits!r}")
    if tensor.ndim == 0:
        return tensor
    flat = tensor.reshape(tensor.shape[0], -1)
    low = flat.min(-1, keepdim=True).values
    high = flat.max(-1, keepdim=True).values
    step = (high - low) / (2**bits - 1)
    safe = torch.where(step > 0, step, torch.ones_like(step))
    levels = torch.round((flat - low) / safe)
    return (low + levels * step).reshape(tensor.shape).to(tensor.dtype)


def quantize_state(state: Any, bits: int) -> Any:
    """A copy of ``state`` whose floating-point tensors are quantised to ``bits`` bits.

    Handles tensors, dicts and dataclasses of them (``MemoryState``, ``LearnedState``, the
    reference memories' states); other values are kept as they are.
    """
    if isinstance(state, torch.Tensor):
        return quantize_tensor(state, bits) if state.is_floating_point() else state
    if isinstance(state, dict):
        return {key: quantize_state(value, bits) for key, value in state.items()}
    if dataclasses.is_dataclass(state) and not isinstance(state, type):
        changes = {f.name: quantize_state(getattr(state, f.name), bits) for f in dataclasses.fields(state)}
        return dataclasses.replace(state, **changes)
    return state
