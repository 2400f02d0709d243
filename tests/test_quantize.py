"""Uniform quantisation of written states."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ebmm.memory import MemoryState
from ebmm.quantize import quantize_state, quantize_tensor


@settings(max_examples=30, deadline=None)
@given(bits=st.integers(1, 12), seed=st.integers(0, 1000), scale=st.floats(1e-3, 1e3))
def test_round_trip_error_is_at_most_half_a_step(bits: int, seed: int, scale: float) -> None:
    values = torch.randn(3, 5, 7, generator=torch.Generator().manual_seed(seed)) * scale
    quantised = quantize_tensor(values, bits)
    flat = values.reshape(3, -1)
    step = (flat.max(-1).values - flat.min(-1).values) / (2**bits - 1)
    error = (quantised - values).reshape(3, -1).abs().max(-1).values
    assert torch.all(error <= step / 2 * (1 + 1e-4) + 1e-6 * scale)
    for row in quantised.reshape(3, -1):  # at most 2**bits distinct values per memory
        assert row.unique().numel() <= 2**bits


def test_extremes_and_constants_survive() -> None:
    values = torch.tensor([[0.0, 0.3, 1.0], [2.0, 2.0, 2.0]])
    quantised = quantize_tensor(values, 1)
    assert quantised.tolist() == [[0.0, 0.0, 1.0], [2.0, 2.0, 2.0]]


def test_states_of_every_kind_are_quantised() -> None:
    @dataclass
    class Other:
        codes: torch.Tensor
        floats: int

    fast = {"w": torch.linspace(0, 1, 10).reshape(1, 10)}
    state = quantize_state(MemoryState(fast), 2)
    assert isinstance(state, MemoryState)
    assert state.fast["w"].unique().numel() == 4
    other = quantize_state(Other(torch.linspace(0, 1, 10).reshape(1, 10), 10), 1)
    assert other.floats == 10 and other.codes.unique().numel() == 2
    assert quantize_state({"i": torch.arange(5)}, 1)["i"].tolist() == [0, 1, 2, 3, 4]  # integers untouched


def test_bits_are_checked() -> None:
    with pytest.raises(ValueError, match="bits must be"):
        quantize_tensor(torch.zeros(2, 2), 0)
