"""ebmm.corruption: exactly ``count`` positions touched per pattern, seeded, shape-preserving."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ebmm.corruption import CORRUPTIONS, EraseBits, FlipBits, ResampleBits, build_corruption

FAST = settings(max_examples=30, deadline=None)

shapes = st.tuples(st.lists(st.integers(1, 4), min_size=0, max_size=3), st.integers(1, 40))


def bits(lead: list[int], dim: int, seed: int) -> torch.Tensor:
    return torch.randint(0, 2, (*lead, dim), generator=torch.Generator().manual_seed(seed)).float()


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@FAST
@given(shape=shapes, fraction=st.floats(0, 1), seed=st.integers(0, 1000))
def test_flip_flips_exactly_count(shape: tuple[list[int], int], fraction: float, seed: int) -> None:
    lead, dim = shape
    count = round(fraction * dim)
    patterns = bits(lead, dim, seed)
    out = FlipBits(count)(patterns, gen(seed + 1))
    assert out.shape == patterns.shape and out.dtype == patterns.dtype
    assert ((out == 0) | (out == 1)).all()
    assert ((out != patterns).sum(-1) == count).all()


@FAST
@given(shape=shapes, fraction=st.floats(0, 1), seed=st.integers(0, 1000))
def test_erase_sets_exactly_count_to_half(shape: tuple[list[int], int], fraction: float, seed: int) -> None:
    lead, dim = shape
    count = round(fraction * dim)
    patterns = bits(lead, dim, seed)
    out = EraseBits(count)(patterns, gen(seed + 1))
    assert out.shape == patterns.shape
    assert ((out == 0.5).sum(-1) == count).all()
    kept = out != 0.5
    assert torch.equal(out[kept], patterns[kept])


@FAST
@given(shape=shapes, fraction=st.floats(0, 1), seed=st.integers(0, 1000))
def test_resample_changes_at_most_count_and_stays_binary(shape: tuple[list[int], int], fraction: float, seed: int) -> None:
    lead, dim = shape
    count = round(fraction * dim)
    patterns = bits(lead, dim, seed)
    out = ResampleBits(count)(patterns, gen(seed + 1))
    assert out.shape == patterns.shape and out.dtype == patterns.dtype
    assert ((out == 0) | (out == 1)).all()
    assert ((out != patterns).sum(-1) <= count).all()


def test_resample_touches_exactly_count_positions() -> None:
    # Resampling an "impossible" value (0.5 is neither 0 nor 1) reveals every touched position.
    patterns = torch.full((50, 32), 0.5)
    out = ResampleBits(10)(patterns, gen(0))
    assert ((out != 0.5).sum(-1) == 10).all()


def test_resample_flips_about_half_of_count_on_average() -> None:
    patterns = bits([400], 128, 0)
    out = ResampleBits(64)(patterns, gen(1))
    flips = (out != patterns).sum(-1).float()
    assert flips.max() <= 64
    assert abs(float(flips.mean()) - 32.0) < 1.0  # sd of the mean: 4 / sqrt(400) = 0.2


def test_resample_positions_are_spread_over_the_pattern() -> None:
    patterns = torch.full((2000, 16), 0.5)
    touched = (ResampleBits(4)(patterns, gen(2)) != 0.5).float().mean(0)
    assert torch.allclose(touched, torch.full((16,), 0.25), atol=0.05)


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_seeded_generator_is_deterministic(name: str) -> None:
    patterns = bits([3, 5], 24, 0)
    corrupt = build_corruption(name, 7)
    first = corrupt(patterns, gen(11))
    assert torch.equal(first, corrupt(patterns, gen(11)))
    assert not torch.equal(first, corrupt(patterns, gen(12)))


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_input_is_not_modified(name: str) -> None:
    patterns = bits([4], 16, 3)
    copy = patterns.clone()
    build_corruption(name, 8)(patterns, gen(0))
    assert torch.equal(patterns, copy)


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
@pytest.mark.parametrize("count", [17, 100, -1])
def test_count_outside_0_dim_raises(name: str, count: int) -> None:
    with pytest.raises(ValueError, match=str(count)):
        build_corruption(name, count)(bits([2], 16, 0), gen(0))


def test_zero_and_full_count() -> None:
    patterns = bits([3], 8, 0)
    assert torch.equal(FlipBits(0)(patterns, gen(0)), patterns)
    assert torch.equal(FlipBits(8)(patterns, gen(0)), 1.0 - patterns)
    assert (EraseBits(8)(patterns, gen(0)) == 0.5).all()


def test_erase_custom_fill() -> None:
    out = EraseBits(3, fill=0.25)(bits([2], 8, 0), gen(0))
    assert ((out == 0.25).sum(-1) == 3).all()


@pytest.mark.parametrize("name, cls", [("resample", ResampleBits), ("erase", EraseBits), ("flip", FlipBits)])
def test_build_corruption(name: str, cls: type) -> None:
    corruption = build_corruption(name, 5)
    assert isinstance(corruption, cls) and corruption.count == 5


def test_unknown_corruption_raises_listing_choices() -> None:
    with pytest.raises(ValueError, match="gaussian") as info:
        build_corruption("gaussian", 3)
    assert "resample" in str(info.value)
