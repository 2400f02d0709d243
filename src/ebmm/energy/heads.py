"""The heads of the conv energy: what turns the encoder's feature map into one energy per image.

``ConvEnergy(head=...)`` takes a *head spec*: a kind alone (``"gated"``, ``"reconstruct"``: that head
with its defaults) or a mapping such as ``{"kind": "reconstruct", "residual_power": 4.0}``, whose
other keys are the head's options, the keyword-only arguments of its class. Any other key is an
error that names it and the head.

- ``GatedHead`` (``"gated"``, the paper): gated recurrent hops on the feature map,
  ``tanh(Linear(readout))``, then ``Linear(1)``;
- ``ReconstructHead`` (``"reconstruct"``): a transposed-convolution decoder mirroring the encoder and
  ``E(x) = (1/p) Σ w |x − decoder(encoder(x))|^p`` (p = 2, w = 1 by default). Its read gradient
  contains ``x − decoder(encoder(x))``, so it is a denoiser from the start of meta-training.

A head is built from an ``EncoderLayout`` (what it needs to know about the encoder) and does not
initialise itself: the energy that owns it runs ``he_init_`` over encoder and head together, so a
seeded build draws every parameter in one fixed order.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ebmm.energy.norm import layer_norm

HeadSpec = str | Mapping[str, Any]  # "gated", or {"kind": "gated", "hops": 3, ...}


@dataclass(frozen=True)
class EncoderLayout:
    """What a head needs to know about the encoder whose feature map it reads."""

    image: tuple[int, int, int]  # (C, H, W) of one input image
    channels: int  # channels of the feature map
    grid: tuple[int, int]  # height and width of the feature map
    widths: tuple[int, ...]  # the encoder's ResBlock widths, which a decoder mirrors
    downsamplings: int  # how many times the encoder halves the resolution


class GatedHops(nn.Module):
    """``hops`` update-gated steps on a state driven by features (paper appendix):
    ``z = [features, state]; u = σ(gate(z)); state = norm(state + u·(tanh(candidate(z)) − state))``.

    The state starts at zero with ``hidden`` entries along ``axis`` (the channel axis: −3 for
    feature maps, −1 for vectors); build one with ``GatedHops.conv`` or ``GatedHops.linear``.
    """

    def __init__(self, candidate: nn.Module, gate: nn.Module, norm: nn.Module, hidden: int, hops: int, axis: int):
        super().__init__()
        if hops < 1:
            raise ValueError(f"hops must be >= 1, got {hops}")
        self.candidate, self.gate, self.norm = candidate, gate, norm
        self.hidden, self.hops, self.axis = hidden, hops, axis

    @classmethod
    def conv(cls, feature_channels: int, hidden: int, hops: int) -> GatedHops:
        """Convolutional hops on a ``hidden``-channel map: 3×3 candidate, 1×1 gate, map LayerNorm."""
        width = feature_channels + hidden
        return cls(nn.Conv2d(width, hidden, 3, padding=1), nn.Conv2d(width, hidden, 1), layer_norm(hidden),
                   hidden, hops, axis=-3)

    @classmethod
    def linear(cls, width: int, hops: int) -> GatedHops:
        """Fully connected hops on a ``width`` state driven by ``width`` features, with LayerNorm."""
        return cls(nn.Linear(2 * width, width), nn.Linear(2 * width, width), nn.LayerNorm(width), width, hops, axis=-1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        shape = list(features.shape)
        shape[self.axis] = self.hidden
        state = features.new_zeros(shape)
        for _ in range(self.hops):
            z = torch.cat([features, state], dim=self.axis)
            update = torch.sigmoid(self.gate(z))
            state = self.norm(state + update * (torch.tanh(self.candidate(z)) - state))
        return state


class ConvDecoder(nn.Module):
    """Transposed mirror of the encoder's resolution changes: features → image in (0, 1)."""

    def __init__(self, feature_channels: int, channels: Sequence[int], out_channels: int, upsamplings: int):
        super().__init__()
        widths = list(reversed(channels))[:upsamplings] if channels else []
        widths += [widths[-1] if widths else feature_channels] * (upsamplings - len(widths))
        layers: list[nn.Module] = []
        width = feature_channels
        for c in widths[:-1]:
            layers += [nn.ConvTranspose2d(width, c, 4, stride=2, padding=1), layer_norm(c), nn.Tanh()]
            width = c
        layers.append(nn.ConvTranspose2d(width, out_channels, 4, stride=2, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(features))


class ConvHead(nn.Module):
    """A head: ``forward(features, images)`` maps the feature maps ``(B, C', H', W')`` of images
    ``(B, C, H, W)`` to their energies ``(B,)``. Its options are its keyword-only arguments."""

    kind: ClassVar[str]

    def forward(self, features: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class GatedHead(ConvHead):
    """The paper's head: ``hops`` gated hops on a ``hidden``-channel state the size of the feature map
    (default: as many channels as the features), then ``Linear(readout)``, tanh and ``Linear(1)``."""

    kind = "gated"

    def __init__(self, layout: EncoderLayout, *, hidden: int | None = None, hops: int = 3, readout: int = 1024):
        super().__init__()
        hidden = layout.channels if hidden is None else hidden
        self.hops = GatedHops.conv(layout.channels, hidden, hops)
        self.readout = nn.Linear(hidden * layout.grid[0] * layout.grid[1], readout)
        self.out = nn.Linear(readout, 1)

    def forward(self, features: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        state = self.hops(features)
        return self.out(torch.tanh(self.readout(state.flatten(1)))).squeeze(-1)


class ReconstructHead(ConvHead):
    """``E(x) = (1/p) Σ w |x − r|^p`` with ``r`` the decoder's reconstruction of ``x`` from its features.

    Options:
        pixel_weights: weigh each pixel's residual by ``weight_floor + (1 − weight_floor)·σ(w(x))``,
            with ``w`` a small full-resolution convolutional branch, so that the energy can ignore
            pixels it judges clean and a read changes only the rest (default: every weight 1).
        weight_floor: the smallest pixel weight; it keeps every pixel in the writing loss.
        residual_power: p (2 = squared error). p > 2 makes a read move pixels with large residuals
            (noise) far more than pixels with small ones, without weighing clean pixels down in the
            writing loss.
    """

    kind = "reconstruct"

    def __init__(self, layout: EncoderLayout, *, pixel_weights: bool = False, weight_floor: float = 0.05,
                 residual_power: float = 2.0):
        super().__init__()
        if not 0.0 <= weight_floor < 1.0:
            raise ValueError(f"weight_floor must be in [0, 1), got {weight_floor}")
        if residual_power < 1.0:
            raise ValueError(f"residual_power must be >= 1, got {residual_power}")
        if layout.downsamplings == 0:
            raise ValueError("the reconstruct head needs an encoder that downsamples at least once")
        c = layout.image[0]
        self.decoder = ConvDecoder(layout.channels, layout.widths, c, layout.downsamplings)
        self.pixel_weights = (
            nn.Sequential(nn.Conv2d(c, 16, 3, padding=1), nn.Tanh(), nn.Conv2d(16, 16, 3, padding=1), nn.Tanh(),
                          nn.Conv2d(16, c, 1))
            if pixel_weights else None
        )
        self.weight_floor = weight_floor
        self.residual_power = float(residual_power)

    def reconstruct(self, features: torch.Tensor) -> torch.Tensor:
        """The decoder's image from ``features``, in (0, 1)."""
        return self.decoder(features)

    def forward(self, features: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        residual = images - self.decoder(features)
        power = self.residual_power
        penalty = residual.pow(2) if power == 2.0 else residual.abs().pow(power)
        if self.pixel_weights is not None:
            weight = torch.sigmoid(self.pixel_weights(images))
            penalty = penalty * (self.weight_floor + (1.0 - self.weight_floor) * weight)
        return penalty.flatten(1).sum(-1) / power


HEADS: dict[str, type[ConvHead]] = {head.kind: head for head in (GatedHead, ReconstructHead)}


def head_options(head: type[ConvHead]) -> frozenset[str]:
    """The options a head class takes: its keyword-only constructor arguments."""
    parameters = inspect.signature(head).parameters.values()
    return frozenset(p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY)


def parse_head(spec: HeadSpec) -> tuple[str, dict[str, Any]]:
    """The kind and the options of a head spec; ``ValueError`` for an unknown kind, or naming each key
    that is not an option of that kind's head."""
    if isinstance(spec, str):
        kind, options = spec, {}
    elif isinstance(spec, Mapping):
        options = dict(spec)
        if "kind" not in options:
            raise ValueError(f"a head spec needs a 'kind', one of {tuple(HEADS)}; got {options!r}")
        kind = options.pop("kind")
    else:
        raise ValueError(f"head must be a kind, one of {tuple(HEADS)}, or a table with a 'kind'; got {spec!r}")
    if not isinstance(kind, str) or kind not in HEADS:
        raise ValueError(f"head must be one of {tuple(HEADS)}, got {kind!r}")
    accepted = head_options(HEADS[kind])
    unknown = sorted(set(options) - accepted)
    if unknown:
        keys = ", ".join(f"head.{key}" for key in unknown)
        raise ValueError(f"{keys}: not an option of the {kind!r} head ({HEADS[kind].__name__}); "
                         f"it takes {', '.join(sorted(accepted))}")
    return kind, options


def build_head(spec: HeadSpec, layout: EncoderLayout) -> ConvHead:
    """The head ``spec`` describes, reading an encoder laid out as ``layout`` (not yet initialised)."""
    kind, options = parse_head(spec)
    return HEADS[kind](layout, **options)
