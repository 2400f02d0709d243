"""ebmm.data.binary: random bit strings of the right shape, dtype and seed behaviour."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ebmm.data import random_binary_patterns


@settings(max_examples=20, deadline=None)
@given(episodes=st.integers(1, 4), patterns=st.integers(1, 6), dim=st.integers(1, 40))
def test_shape_dtype_and_values(episodes: int, patterns: int, dim: int) -> None:
    out = random_binary_patterns(episodes, patterns, dim, torch.Generator().manual_seed(0))
    assert out.shape == (episodes, patterns, dim)
    assert out.dtype == torch.float32
    assert ((out == 0) | (out == 1)).all()


def test_default_dim_is_128() -> None:
    assert random_binary_patterns(1, 2).shape == (1, 2, 128)


def test_seeded_and_independent_of_global_rng() -> None:
    torch.manual_seed(1)
    a = random_binary_patterns(2, 3, 64, torch.Generator().manual_seed(5))
    torch.manual_seed(2)
    b = random_binary_patterns(2, 3, 64, torch.Generator().manual_seed(5))
    c = random_binary_patterns(2, 3, 64, torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_bits_are_fair() -> None:
    out = random_binary_patterns(20, 10, 128, torch.Generator().manual_seed(0))
    assert abs(float(out.mean()) - 0.5) < 0.02  # 25,600 bits: sd 0.003


@pytest.mark.parametrize("args", [(0, 1, 8), (1, 0, 8), (1, 1, 0), (-1, 2, 8)])
def test_non_positive_sizes_raise(args: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="positive"):
        random_binary_patterns(*args)
