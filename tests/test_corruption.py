"""ebmm.corruption: exactly ``count`` positions (or one block) touched per pattern, seeded, shape-preserving."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ebmm.corruption import (
    CORRUPTIONS,
    BlockNoise,
    EraseBits,
    EraseMask,
    FlipBits,
    GaussianNoise,
    ResampleBits,
    build_corruption,
    random_block_mask,
)

FAST = settings(max_examples=30, deadline=None)

BIT_CORRUPTIONS = ["erase", "flip", "resample"]
IMAGE_CORRUPTIONS = ["block_noise", "erase_block", "gaussian"]

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


def test_registry_is_bits_plus_images() -> None:
    assert sorted(CORRUPTIONS) == sorted(BIT_CORRUPTIONS + IMAGE_CORRUPTIONS)


@pytest.mark.parametrize("name", BIT_CORRUPTIONS)
def test_seeded_generator_is_deterministic(name: str) -> None:
    patterns = bits([3, 5], 24, 0)
    corrupt = build_corruption(name, 7)
    first = corrupt(patterns, gen(11))
    assert torch.equal(first, corrupt(patterns, gen(11)))
    assert not torch.equal(first, corrupt(patterns, gen(12)))


@pytest.mark.parametrize("name", BIT_CORRUPTIONS)
def test_input_is_not_modified(name: str) -> None:
    patterns = bits([4], 16, 3)
    copy = patterns.clone()
    build_corruption(name, 8)(patterns, gen(0))
    assert torch.equal(patterns, copy)


@pytest.mark.parametrize("name", BIT_CORRUPTIONS)
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
    with pytest.raises(ValueError, match="salt_pepper") as info:
        build_corruption("salt_pepper", 3)
    assert "resample" in str(info.value) and "block_noise" in str(info.value)


# --- image corruptions ----------------------------------------------------------------------

image_shapes = st.tuples(
    st.lists(st.integers(1, 3), min_size=0, max_size=2),  # leading (B, N, ...) axes
    st.integers(1, 3),  # channels
    st.integers(1, 9),  # height
    st.integers(1, 9),  # width
)


def images(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    return torch.rand(shape, generator=gen(seed))


def block_of(mask: torch.Tensor) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the bounding box of a 2-d boolean mask."""
    rows = mask.any(-1).nonzero().flatten()
    cols = mask.any(-2).nonzero().flatten()
    return int(rows[0]), int(cols[0]), int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


@FAST
@given(shape=image_shapes, data=st.data(), seed=st.integers(0, 1000), shared=st.booleans())
def test_block_noise_touches_exactly_one_block_per_image(
    shape: tuple[list[int], int, int, int], data: st.DataObject, seed: int, shared: bool
) -> None:
    lead, channels, height, width = shape
    size = data.draw(st.integers(1, min(height, width)))
    # 1.0 is outside the noise's range [0, 1): every touched value shows, every other stays 1.0
    patterns = torch.ones(*lead, channels, height, width)
    out = BlockNoise(size, channels_shared=shared)(patterns, gen(seed))
    assert out.shape == patterns.shape and out.dtype == patterns.dtype
    assert ((out >= 0) & (out <= 1)).all()
    touched = out != 1.0
    assert torch.equal(touched, touched[..., :1, :, :].expand_as(touched))  # same block in every channel
    flat = touched[..., 0, :, :].reshape(-1, height, width)
    for mask in flat:
        assert int(mask.sum()) == size * size
        top, left, h, w = block_of(mask)
        assert (h, w) == (size, size)
        assert 0 <= top <= height - size and 0 <= left <= width - size
    if shared:
        assert torch.equal(out, out[..., :1, :, :].expand_as(out))


def test_block_noise_keeps_values_outside_the_block() -> None:
    patterns = images((4, 5, 3, 12, 10), seed=1)
    out = BlockNoise(4)(patterns, gen(2))
    mask = random_block_mask(patterns.shape, 4, gen(2)).expand_as(patterns)  # same draws, same block
    assert torch.equal(out[~mask], patterns[~mask])
    assert (out[mask] != patterns[mask]).float().mean() > 0.99


def test_block_noise_is_uniform_and_independent_per_channel() -> None:
    patterns = torch.ones(200, 3, 8, 8)
    out = BlockNoise(8)(patterns, gen(3))  # the block is the whole image
    assert abs(float(out.mean()) - 0.5) < 0.01 and abs(float(out.var()) - 1 / 12) < 0.005
    assert not torch.equal(out[:, 0], out[:, 1])
    grey = BlockNoise(8, channels_shared=True)(patterns, gen(3))
    assert torch.equal(grey[:, 0], grey[:, 1]) and torch.equal(grey[:, 1], grey[:, 2])


def test_block_position_is_uniform_and_reaches_every_corner() -> None:
    height, width, size = 6, 5, 3
    mask = random_block_mask((4000, 1, height, width), size, gen(4))[:, 0]
    tops = mask.any(-1).float().argmax(-1)
    lefts = mask.any(-2).float().argmax(-1)
    corners = torch.stack([tops, lefts], -1)
    counts = torch.zeros(height - size + 1, width - size + 1)
    counts.index_put_((tops, lefts), torch.ones(len(tops)), accumulate=True)
    assert (counts > 0).all()  # every valid corner, the four extreme ones included
    expected = 4000 / counts.numel()
    assert (counts - expected).abs().max() < 0.35 * expected
    for corner in ([0, 0], [0, width - size], [height - size, 0], [height - size, width - size]):
        assert (corners == torch.tensor(corner)).all(-1).any()


def test_block_noise_binary_gives_bits() -> None:
    patterns = torch.full((50, 1, 8, 8), 0.5)  # 0.5 is no bit: the block shows
    out = BlockNoise(4, binary=True)(patterns, gen(5))
    block = out != 0.5
    assert (block.flatten(1).sum(-1) == 16).all()
    assert ((out[block] == 0) | (out[block] == 1)).all()
    assert 0.4 < float(out[block].mean()) < 0.6


def test_block_covering_the_whole_image() -> None:
    patterns = torch.ones(3, 2, 4, 4)
    assert (BlockNoise(4)(patterns, gen(0)) < 1).all()
    assert (EraseMask(4, fill=0.25)(patterns, gen(0)) == 0.25).all()


@FAST
@given(shape=image_shapes, data=st.data(), seed=st.integers(0, 1000), fill=st.floats(0, 1))
def test_erase_block_fills_exactly_one_block(
    shape: tuple[list[int], int, int, int], data: st.DataObject, seed: int, fill: float
) -> None:
    lead, channels, height, width = shape
    size = data.draw(st.integers(1, min(height, width)))
    patterns = torch.full((*lead, channels, height, width), 2.0 if fill != 2.0 else 3.0)
    out = EraseMask(size, fill=fill)(patterns, gen(seed))
    touched = out != patterns
    assert (out[touched] == torch.tensor(fill, dtype=out.dtype)).all()
    assert (touched.flatten(-2).sum(-1) == size * size).all()
    assert torch.equal(out[~touched], patterns[~touched])


@FAST
@given(shape=image_shapes, seed=st.integers(0, 1000), std=st.floats(0, 3))
def test_gaussian_stays_in_range(shape: tuple[list[int], int, int, int], seed: int, std: float) -> None:
    lead, channels, height, width = shape
    patterns = images((*lead, channels, height, width), seed)
    out = GaussianNoise(std)(patterns, gen(seed + 1))
    assert out.shape == patterns.shape and out.dtype == patterns.dtype
    assert ((out >= 0) & (out <= 1)).all()
    if std == 0:
        assert torch.equal(out, patterns)


def test_gaussian_noise_has_the_given_std() -> None:
    patterns = torch.full((100, 3, 16, 16), 0.5)
    out = GaussianNoise(0.05)(patterns, gen(6))
    assert abs(float((out - patterns).mean())) < 0.002
    assert abs(float((out - patterns).std()) - 0.05) < 0.002


def test_image_corruptions_keep_dtype_and_leave_input() -> None:
    for dtype in (torch.float32, torch.float64):
        patterns = images((2, 3, 3, 16, 16)).to(dtype)
        copy = patterns.clone()
        for name in IMAGE_CORRUPTIONS:
            out = build_corruption(name)(patterns, gen(0))
            assert out.dtype == dtype and out.shape == patterns.shape and out.device == patterns.device
        assert torch.equal(patterns, copy)


@pytest.mark.parametrize("name", IMAGE_CORRUPTIONS)
def test_image_corruptions_are_deterministic(name: str) -> None:
    patterns = images((3, 4, 3, 10, 10))
    corrupt = build_corruption(name, 0.2 if name == "gaussian" else 5)
    first = corrupt(patterns, gen(11))
    assert torch.equal(first, corrupt(patterns, gen(11)))
    assert not torch.equal(first, corrupt(patterns, gen(12)))


@pytest.mark.parametrize("corrupt", [BlockNoise(9), EraseMask(9), BlockNoise(9, binary=True)])
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (2, 3, 10, 8), (2, 3, 8, 10)])
def test_block_larger_than_image_raises(corrupt: BlockNoise | EraseMask, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="block size 9 does not fit"):
        corrupt(torch.rand(shape), gen(0))


@pytest.mark.parametrize("corrupt", [BlockNoise(2), EraseMask(2)])
def test_block_corruptions_need_images(corrupt: BlockNoise | EraseMask) -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., C, H, W\)"):
        corrupt(torch.rand(4, 16), gen(0))


@pytest.mark.parametrize("name", IMAGE_CORRUPTIONS)
def test_image_corruptions_reject_integer_images(name: str) -> None:
    with pytest.raises(TypeError, match="floating-point"):
        build_corruption(name)(torch.zeros(1, 1, 4, 4, dtype=torch.uint8), gen(0))


# --- build_corruption and descriptions ------------------------------------------------------


@pytest.mark.parametrize(
    "name, count, params, expected",
    [
        ("resample", 64, {}, ResampleBits(64)),
        ("erase", 10, {"fill": 0.25}, EraseBits(10, fill=0.25)),
        ("flip", None, {}, FlipBits()),
        ("block_noise", 8, {}, BlockNoise(size=8)),
        ("block_noise", None, {"size": 4, "binary": True}, BlockNoise(4, binary=True)),
        ("block_noise", None, {}, BlockNoise(16)),
        ("flip", None, {"count": 7}, FlipBits(7)),
        ("erase_block", 12, {"fill": 0.0}, EraseMask(12, fill=0.0)),
        ("gaussian", 0.3, {}, GaussianNoise(std=0.3)),
        ("gaussian", None, {"std": 0.2}, GaussianNoise(0.2)),
    ],
)
def test_build_corruption_maps_count_and_params(name: str, count: float | None, params: dict, expected: object) -> None:
    built = build_corruption(name, **params) if count is None else build_corruption(name, count, **params)
    assert built == expected and type(built) is type(expected)


@pytest.mark.parametrize(
    "name, count, params, match",
    [
        ("block_noise", None, {"colour": 3}, r"unknown parameter\(s\) \['colour'\].*'size'"),
        ("gaussian", None, {"sigma": 0.1}, "sigma"),
        ("block_noise", 3, {"size": 4}, "given twice"),
        ("block_noise", 0, {}, "size must be at least 1"),
        ("block_noise", 2.5, {}, "size must be an int"),
        ("block_noise", 4, {"binary": "yes"}, "binary must be a bool"),
        ("block_noise", 4, {"channels_shared": 1}, "channels_shared must be a bool"),
        ("erase_block", 4, {"fill": 1.5}, "fill must be a number in"),
        ("erase", 4, {"fill": -0.5}, "fill must be a number in"),
        ("gaussian", -0.1, {}, "std must be"),
        ("gaussian", float("nan"), {}, "std must be"),
        ("resample", True, {}, "count must be an int"),
        ("flip", "8", {}, "count must be an int"),
    ],
)
def test_build_corruption_rejects_bad_parameters(name: str, count: object, params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        build_corruption(name, count, **params)  # type: ignore[arg-type]
    assert name in str(info.value)


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_spec_round_trips_and_describe_names_everything(name: str) -> None:
    corruption = build_corruption(name)
    spec = corruption.spec()
    assert spec["name"] == name
    assert build_corruption(**spec) == corruption
    text = corruption.describe()
    assert text == str(corruption) and text.startswith(f"{name}(")
    for key, value in spec.items():
        if key != "name":
            assert f"{key}={value!r}" in text


def test_describe_example() -> None:
    assert str(BlockNoise(16)) == "block_noise(size=16, channels_shared=False, binary=False)"
    assert str(ResampleBits(64)) == "resample(count=64)"
    assert str(GaussianNoise(0.1)) == "gaussian(std=0.1)"
