"""Distortion models: how a stored pattern is turned into a query. One module for every memory.

Every corruption is a callable ``corrupt(patterns, generator) -> queries`` that keeps shape, dtype,
device and value range; randomness comes only from the explicit ``torch.Generator``, and every
corruption is vectorised over all leading axes (no Python loop over patterns).

Two families share this module:

* **bit-vector corruptions** touch ``count`` random positions of the last axis of each pattern
  (``ResampleBits``, ``EraseBits``, ``FlipBits``; any shape, the last axis is the pattern);
* **image corruptions** act on images ``(..., C, H, W)`` (``BlockNoise``, ``EraseMask``: one random
  ``size × size`` block per image, the same block in every channel; ``GaussianNoise``: every value).

``build_corruption(name, count, **params)`` builds one by its registry name, and every corruption
describes itself (``describe()``, also its ``str``) and gives its parameters (``spec()``) so a
results file can record exactly what was used: ``build_corruption(**c.spec()) == c``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch


class Corruption:
    """Shared behaviour of every corruption: its registry ``name``, ``spec()`` and ``describe()``."""

    name: ClassVar[str] = ""

    def spec(self) -> dict[str, Any]:
        """``{"name": ..., **parameters}``, JSON-ready; ``build_corruption(**spec)`` rebuilds it."""
        return {"name": self.name, **{f.name: getattr(self, f.name) for f in fields(self)}}  # type: ignore[arg-type]

    def describe(self) -> str:
        """A one-line description for results files, e.g. ``block_noise(size=16, channels_shared=False, binary=False)``."""
        params = ", ".join(f"{key}={value!r}" for key, value in self.spec().items() if key != "name")
        return f"{self.name}({params})"

    def __str__(self) -> str:
        return self.describe()

    def __call__(self, patterns: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError


# --- parameter checks ------------------------------------------------------------------------


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")


def _check_unit_float(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be a bool, got {value!r}")


def _check_float_tensor(patterns: torch.Tensor, what: str) -> None:
    if not isinstance(patterns, torch.Tensor) or not patterns.is_floating_point():
        got = patterns.dtype if isinstance(patterns, torch.Tensor) else type(patterns).__name__
        raise TypeError(f"{what} needs a floating-point tensor, got {got}")


# --- bit-vector corruptions --------------------------------------------------------------------


def _random_positions(shape: torch.Size, count: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """Boolean mask with exactly ``count`` distinct random positions per pattern (last axis)."""
    *lead, dim = shape
    if not 0 <= count <= dim:
        raise ValueError(f"cannot corrupt {count} positions of a {dim}-dimensional pattern")
    scores = torch.rand(*lead, dim, generator=generator, device=device)
    chosen = scores.argsort(dim=-1)[..., :count]
    mask = torch.zeros(*lead, dim, dtype=torch.bool, device=device)
    return mask.scatter_(-1, chosen, True)


@dataclass(frozen=True)
class ResampleBits(Corruption):
    """Re-sample ``count`` random positions of each binary pattern uniformly from {0, 1}.

    About half the re-sampled bits flip, so the expected Hamming error of a query is ``count / 2``
    (docs/method.md#memory-size: 64 positions of 128, ≈ 32 flips).
    """

    name: ClassVar[str] = "resample"
    count: int = 64

    def __post_init__(self) -> None:
        _check_int("count", self.count, 0)

    def __call__(self, patterns: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        mask = _random_positions(patterns.shape, self.count, generator, patterns.device)
        noise = torch.randint(0, 2, patterns.shape, generator=generator, device=patterns.device).to(patterns.dtype)
        return torch.where(mask, noise, patterns)


@dataclass(frozen=True)
class EraseBits(Corruption):
    """Erase ``count`` random positions of each pattern, setting them to ``fill`` (0.5 = unknown)."""

    name: ClassVar[str] = "erase"
    count: int = 64
    fill: float = 0.5

    def __post_init__(self) -> None:
        _check_int("count", self.count, 0)
        _check_unit_float("fill", self.fill)

    def __call__(self, patterns: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        mask = _random_positions(patterns.shape, self.count, generator, patterns.device)
        return torch.where(mask, torch.full_like(patterns, self.fill), patterns)


@dataclass(frozen=True)
class FlipBits(Corruption):
    """Flip exactly ``count`` random bits of each binary pattern."""

    name: ClassVar[str] = "flip"
    count: int = 32

    def __post_init__(self) -> None:
        _check_int("count", self.count, 0)

    def __call__(self, patterns: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        mask = _random_positions(patterns.shape, self.count, generator, patterns.device)
        return torch.where(mask, 1.0 - patterns, patterns)


# --- image corruptions -----------------------------------------------------------------------


def random_block_mask(
    shape: torch.Size | tuple[int, ...], size: int, generator: torch.Generator | None, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Boolean mask ``(..., 1, H, W)`` of one ``size × size`` block per image of ``shape`` ``(..., C, H, W)``.

    The block's top-left corner is uniform over all ``(H - size + 1) · (W - size + 1)`` valid
    corners, drawn independently per image (row first, then column, from ``generator``); the
    channel axis is kept as 1 so the same block covers every channel. Built from ``arange``
    comparisons against the per-image offsets: no loop over images.
    """
    if len(shape) < 3:
        raise ValueError(f"block corruptions need images (..., C, H, W), got shape {tuple(shape)}")
    *lead, _, height, width = shape
    if size > height or size > width:
        raise ValueError(f"block size {size} does not fit in a {height}×{width} image")
    top = torch.randint(0, height - size + 1, (*lead, 1, 1, 1), generator=generator, device=device)
    left = torch.randint(0, width - size + 1, (*lead, 1, 1, 1), generator=generator, device=device)
    rows = torch.arange(height, device=device).view(height, 1)
    cols = torch.arange(width, device=device).view(1, width)
    return (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)


@dataclass(frozen=True)
class BlockNoise(Corruption):
    """Replace one random ``size × size`` block of each image ``(..., C, H, W)`` by noise.

    The noise is uniform in [0, 1), independent per channel ("uniform colour noise", the paper's
    CIFAR protocol); ``channels_shared=True`` draws one value per pixel for all channels (grey
    noise); ``binary=True`` draws random {0, 1} bits instead, for binary images. Values outside
    the block are unchanged. Raises ``ValueError`` if the block does not fit in the image.
    """

    name: ClassVar[str] = "block_noise"
    size: int = 16
    channels_shared: bool = False
    binary: bool = False

    def __post_init__(self) -> None:
        _check_int("size", self.size, 1)
        _check_bool("channels_shared", self.channels_shared)
        _check_bool("binary", self.binary)

    def __call__(self, patterns: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check_float_tensor(patterns, "BlockNoise")
        mask = random_block_mask(patterns.shape, self.size, generator, patterns.device)
        noise_shape = (*patterns.shape[:-3], 1, *patterns.shape[-2:]) if self.channels_shared else patterns.shape
        if self.binary:
            noise = torch.randint(0, 2, noise_shape, generator=generator, device=patterns.device).to(patterns.dtype)
        else:
            noise = torch.rand(noise_shape, generator=generator, device=patterns.device, dtype=patterns.dtype)
        return torch.where(mask, noise, patterns)


@dataclass(frozen=True)
class EraseMask(Corruption):
    """Erase one random ``size × size`` block of each image ``(..., C, H, W)``: set it to ``fill``.

    ``fill = 0.5`` means "unknown" for data in [0, 1]. For bit vectors use ``EraseBits``.
    """

    name: ClassVar[str] = "erase_block"
    size: int = 16
    fill: float = 0.5

    def __post_init__(self) -> None:
        _check_int("size", self.size, 1)
        _check_unit_float("fill", self.fill)

    def __call__(self, patterns: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check_float_tensor(patterns, "EraseMask")
        mask = random_block_mask(patterns.shape, self.size, generator, patterns.device)
        return torch.where(mask, torch.full_like(patterns, self.fill), patterns)


@dataclass(frozen=True)
class GaussianNoise(Corruption):
    """Add independent ``N(0, std²)`` noise to every value, then clip to [0, 1]."""

    name: ClassVar[str] = "gaussian"
    std: float = 0.1

    def __post_init__(self) -> None:
        if isinstance(self.std, bool) or not isinstance(self.std, (int, float)) or not math.isfinite(self.std) or self.std < 0:
            raise ValueError(f"std must be a finite number >= 0, got {self.std!r}")

    def __call__(self, patterns: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check_float_tensor(patterns, "GaussianNoise")
        noise = torch.randn(patterns.shape, generator=generator, device=patterns.device, dtype=patterns.dtype)
        return (patterns + self.std * noise).clamp(0.0, 1.0)


# --- registry --------------------------------------------------------------------------------


CORRUPTIONS: dict[str, type[Corruption]] = {
    "resample": ResampleBits,
    "erase": EraseBits,
    "flip": FlipBits,
    "block_noise": BlockNoise,
    "gaussian": GaussianNoise,
    "erase_block": EraseMask,
}

# The parameter the positional ``count`` of ``build_corruption`` sets, per corruption.
COUNT_PARAMETER: dict[str, str] = {
    "resample": "count",
    "erase": "count",
    "flip": "count",
    "block_noise": "size",
    "gaussian": "std",
    "erase_block": "size",
}


def build_corruption(name: str, count: int | float | None = None, **params: Any) -> Corruption:
    """Build the corruption registered as ``name`` with keyword ``params``.

    ``count`` is the corruption's main parameter, kept positional for the bit corruptions'
    ``build_corruption("resample", 64)``: the number of bits for ``resample``/``erase``/``flip``,
    the block ``size`` for ``block_noise``/``erase_block`` and ``std`` for ``gaussian``; omitted,
    the class default is used. Raises ``ValueError`` for an unknown name, an unknown parameter,
    a parameter given twice or a bad value, naming the problem.
    """
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; choose one of {sorted(CORRUPTIONS)}")
    cls = CORRUPTIONS[name]
    allowed = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for corruption {name!r}; it takes {allowed}")
    if count is not None:
        key = COUNT_PARAMETER[name]
        if key in params:
            raise ValueError(f"corruption {name!r}: {key!r} given twice (positional count {count!r} and {key}={params[key]!r})")
        params[key] = count
    try:
        return cls(**params)
    except ValueError as error:
        raise ValueError(f"corruption {name!r}: {error}") from error
