"""Image energies of the paper's appendix: EBMM conv, EBMM FC and the larger ImageNet-64 variant.

All of them read images ``(..., C, H, W)`` in [0, 1] and return one energy each. Normalisation is
LayerNorm over each feature map (``ebmm.energy.norm.MapNorm``), never batch statistics, so every
image's energy is independent of the others in its batch.

Writable weights (the memory) follow docs/method.md#energies-shipped:

- **conv**: in each of two bottleneck blocks, the 3×3 convolution is split into ``d`` writable
  output filters and static ones; memory = 2 × 3·3·``bottleneck_mid``·d floats
  (``bottleneck_mid = 64``: d = 2, 4, 8 give 2,304, 4,608, 9,216 floats).
- **fc**: a writable ``Linear(256, d)`` beside a static ``Linear(256, 512 − d)``; memory = 256·d.

A head (``ebmm.energy.heads``) turns the features into an energy; ``head`` takes a head spec, its
kind alone or a table of its options:

- ``"gated"`` (the paper): gated recurrent hops on the feature map, ``tanh(Linear(1024))``, then
  ``Linear(1)``; options ``hidden``, ``hops``, ``readout``;
- ``"reconstruct"``: a transposed-convolution decoder mirroring the encoder and
  ``E(x) = ½‖x − decoder(encoder(x))‖²``. Its read gradient contains ``x − decoder(encoder(x))``,
  so it is a denoiser from the start of meta-training; this is the CPU-sized variant that keeps the
  paper's writable layers and memory accounting (see the configs). Options ``pixel_weights``,
  ``weight_floor``, ``residual_power``, e.g. ``head = {"kind": "reconstruct", "pixel_weights": True}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ebmm.energy.base import he_init_
from ebmm.energy.heads import ConvHead, EncoderLayout, GatedHops, HeadSpec, ReconstructHead, build_head, parse_head
from ebmm.energy.norm import layer_norm


class ResBlock(nn.Module):
    """Two 3×3 convolutions with LayerNorm and tanh, the first strided; 1×1 strided shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 2):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)
        self.norm1 = layer_norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.norm2 = layer_norm(out_channels)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.norm1(self.conv1(x)))
        h = self.norm2(self.conv2(h))
        return torch.tanh(h + self.shortcut(x))


class SplitConv(nn.Module):
    """A 3×3 convolution whose output filters are ``writable`` memory filters and static ones."""

    def __init__(self, in_channels: int, writable: int, static: int, stride: int = 1):
        super().__init__()
        if writable < 1 or static < 0:
            raise ValueError(f"need writable >= 1 and static >= 0 filters, got {writable}, {static}")
        self.memory = nn.Conv2d(in_channels, writable, 3, stride=stride, padding=1, bias=False)
        self.static = nn.Conv2d(in_channels, static, 3, stride=stride, padding=1) if static else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        written = self.memory(x)
        if self.static is None:
            return written
        return torch.cat([written, self.static(x)], dim=-3)


class Bottleneck(nn.Module):
    """1×1 conv → LayerNorm → tanh → split 3×3 conv → LayerNorm → tanh, plus a 1×1 residual
    (average-pooled first when the block downsamples)."""

    def __init__(self, in_channels: int, mid: int, out_channels: int, writable: int, downsample: bool,
                 static: int | None = None):
        super().__init__()
        static = out_channels - writable if static is None else static
        if static < 0:
            raise ValueError(f"writable filters ({writable}) exceed the block's {out_channels} outputs")
        self.reduce = nn.Conv2d(in_channels, mid, 1)
        self.norm1 = layer_norm(mid)
        self.split = SplitConv(mid, writable, static, stride=2 if downsample else 1)
        self.norm2 = layer_norm(writable + static)
        self.residual = nn.Conv2d(in_channels, writable + static, 1)
        self.downsample = downsample
        self.out_channels = writable + static

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.norm1(self.reduce(x)))
        h = torch.tanh(self.norm2(self.split(h)))
        skip = F.avg_pool2d(x, 2) if self.downsample else x
        return h + self.residual(skip)


class ConvEncoder(nn.Module):
    """The EBMM conv trunk: strided ResBlocks, then two bottleneck blocks holding the memory."""

    def __init__(
        self,
        in_channels: int,
        channels: Sequence[int],
        mid: int,
        out_channels: int,
        writable: int,
        downsample: Sequence[bool],
        static: int | None,
    ):
        super().__init__()
        blocks: list[nn.Module] = []
        width = in_channels
        for c in channels:
            blocks.append(ResBlock(width, c))
            width = c
        self.res = nn.Sequential(*blocks)
        self.bottlenecks = nn.ModuleList()
        for down in downsample:
            block = Bottleneck(width, mid, out_channels, writable, down, static)
            self.bottlenecks.append(block)
            width = block.out_channels
        self.out_channels = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.res(x)
        for block in self.bottlenecks:
            h = block(h)
        return h


def _flatten_images(x: torch.Tensor, shape: tuple[int, ...]) -> tuple[torch.Tensor, tuple[int, ...]]:
    if tuple(x.shape[-3:]) != shape:
        raise ValueError(f"expected images of shape (..., {', '.join(map(str, shape))}), got {tuple(x.shape)}")
    lead = tuple(x.shape[:-3])
    return x.reshape(-1, *shape), lead


class ConvEnergy(nn.Module):
    """The paper's "EBMM conv" energy on ``shape = (C, H, W)`` images (docs/method.md#energies-shipped).

    Arguments:
        shape: one image's shape; H and W must be divisible by the total downsampling.
        memory_width: d, the writable filters in each bottleneck's split 3×3 convolution.
        channels: ResBlock widths (each halves the resolution); the paper uses (32, 64).
        bottleneck_mid, bottleneck_out: bottleneck widths (paper: 64 and 128).
        static_filters: static filters beside the writable ones in each split convolution
            (default ``bottleneck_out − d``); fewer make a CPU-sized variant with the same memory.
        downsample: for each bottleneck, whether it halves the resolution (paper: no, yes).
        head: a head spec (``ebmm.energy.heads``): ``"gated"`` (paper) or ``"reconstruct"`` with
            their defaults, or a mapping ``{"kind": ..., **options}``: ``hidden``, ``hops``,
            ``readout`` for ``GatedHead``; ``pixel_weights``, ``weight_floor``, ``residual_power``
            for ``ReconstructHead``.
    """

    def __init__(
        self,
        shape: Sequence[int] = (1, 32, 32),
        memory_width: int = 4,
        channels: Sequence[int] = (32, 64),
        bottleneck_mid: int = 64,
        bottleneck_out: int = 128,
        static_filters: int | None = None,
        downsample: Sequence[bool] = (False, True),
        head: HeadSpec = "gated",
    ):
        super().__init__()
        if len(shape) != 3:
            raise ValueError(f"shape must be (C, H, W), got {tuple(shape)}")
        parse_head(head)  # a bad spec fails before anything is built
        if memory_width < 1:
            raise ValueError(f"memory_width must be >= 1, got {memory_width}")
        self.shape = tuple(int(s) for s in shape)
        downsamplings = len(channels) + sum(bool(d) for d in downsample)
        factor = 2**downsamplings
        c, h, w = self.shape
        if h % factor or w % factor:
            raise ValueError(f"image size {h}x{w} is not divisible by the encoder's downsampling {factor}")
        self.encoder = ConvEncoder(c, channels, bottleneck_mid, bottleneck_out, memory_width,
                                   [bool(d) for d in downsample], static_filters)
        layout = EncoderLayout(image=(c, h, w), channels=self.encoder.out_channels, grid=(h // factor, w // factor),
                               widths=tuple(channels), downsamplings=downsamplings)
        self.head: ConvHead = build_head(head, layout)
        self._register_load_state_dict_pre_hook(_nest_head_parts)
        he_init_(self)  # encoder, then head: the order a seeded build draws its parameters in

    @property
    def head_kind(self) -> str:
        """The head's kind, ``"gated"`` or ``"reconstruct"``."""
        return self.head.kind

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's reconstruction of ``x`` (the reconstruct head only)."""
        if not isinstance(self.head, ReconstructHead):
            raise ValueError(f"reconstruct() needs head='reconstruct'; this energy's head is {self.head.kind!r}")
        flat, lead = _flatten_images(x, self.shape)
        return self.head.reconstruct(self.encoder(flat)).reshape(*lead, *self.shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat, lead = _flatten_images(x, self.shape)
        return self.head(self.encoder(flat), flat).reshape(lead)


HEAD_PARTS = ("hops", "readout", "out", "decoder", "pixel_weights")  # the heads' submodules, once the energy's


def _nest_head_parts(state: dict[str, Any], prefix: str, *args: Any) -> None:
    """Checkpoints written before heads were modules keep the head's parts at the energy's top level
    (``readout.weight``, ``decoder.net.0.weight``, ...); they now live under ``head.``."""
    for key in [key for key in state if key.startswith(prefix)]:
        name = key[len(prefix):]
        if name.split(".", 1)[0] in HEAD_PARTS:
            state[f"{prefix}head.{name}"] = state.pop(key)


class FCEnergy(nn.Module):
    """The paper's "EBMM FC" energy: ResNet encoder → Linear(256) → LayerNorm → writable
    ``Linear(256, d)`` beside static ``Linear(256, 512 − d)`` → tanh → gated hops → energy.

    Memory = 256·d floats (the writable linear map has no bias, as docs/method.md#energies-shipped counts).
    """

    def __init__(
        self,
        shape: Sequence[int] = (1, 32, 32),
        memory_width: int = 16,
        channels: Sequence[int] = (32, 64, 96),
        code: int = 256,
        width: int = 512,
        hops: int = 3,
        readout: int = 1024,
    ):
        super().__init__()
        if len(shape) != 3:
            raise ValueError(f"shape must be (C, H, W), got {tuple(shape)}")
        if not 0 < memory_width < width:
            raise ValueError(f"memory_width must be in (0, width={width}), got {memory_width}")
        self.shape = tuple(int(s) for s in shape)
        c, h, w = self.shape
        factor = 2 ** len(channels)
        if h % factor or w % factor:
            raise ValueError(f"image size {h}x{w} is not divisible by the encoder's downsampling {factor}")
        blocks: list[nn.Module] = []
        in_channels = c
        for out in channels:
            blocks.append(ResBlock(in_channels, out))
            in_channels = out
        self.res = nn.Sequential(*blocks)
        self.code = nn.Linear(in_channels * (h // factor) * (w // factor), code)
        self.code_norm = nn.LayerNorm(code)
        self.memory = nn.Linear(code, memory_width, bias=False)
        self.static = nn.Linear(code, width - memory_width)
        self.hops = GatedHops.linear(width, hops)
        self.readout = nn.Linear(width, readout)
        self.out = nn.Linear(readout, 1)
        he_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat, lead = _flatten_images(x, self.shape)
        code = self.code_norm(self.code(self.res(flat).flatten(1)))
        features = torch.tanh(torch.cat([self.memory(code), self.static(code)], dim=-1))
        state = self.hops(features)
        return self.out(torch.tanh(self.readout(state))).squeeze(-1).reshape(lead)


def imagenet64_energy(
    shape: Sequence[int] = (3, 64, 64), memory_width: int = 8, head: HeadSpec = "gated", **kwargs: Any
) -> ConvEnergy:
    """The paper's larger conv energy for ImageNet 64×64: 64 base channels, bottlenecks 256 wide
    with 128 mid channels, both downsampling, gated head with hidden 256 on a 4×4 state (unless the
    head spec gives another); memory = 2·3·3·128·d (d = 8: 18,432 floats)."""
    kind, options = parse_head(head)
    if kind == "gated":
        options.setdefault("hidden", 256)
    settings: dict[str, Any] = dict(channels=(64, 64), bottleneck_mid=128, bottleneck_out=256, downsample=(True, True))
    settings.update(kwargs)
    return ConvEnergy(shape=shape, memory_width=memory_width, head={"kind": kind, **options}, **settings)
