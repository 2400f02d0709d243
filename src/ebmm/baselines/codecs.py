"""Codecs for the learned baselines: patterns ↔ codes of width ``code``, trained with the memory.

With ``checkpoint`` (``FrozenCodec``) a baseline uses a trained image EBMM's own static codec, frozen.
Otherwise, on images every learned baseline uses the EBMM conv trunk (``ebmm.energy.conv.ConvEncoder``: the
same ResBlocks and bottlenecks as the EBMM conv energy, all of it static here) followed by a linear
map to the code, and the transposed decoder of the reconstruct head (``ConvDecoder``'s layers)
behind a linear map from the code (docs/method.md#memory-size). On vectors (binary strings) the codec is a small
MLP, or a single linear map each way when ``hidden = 0``.

``decode`` returns logits; the memory turns them into patterns in (0, 1) with a sigmoid.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import Any

import torch
from torch import nn

from ebmm.energy.base import he_init_
from ebmm.energy.conv import ConvEncoder
from ebmm.energy.heads import ConvDecoder


class VectorCodec(nn.Module):
    """``dim``-vectors in [0, 1] ↔ ``code``-vectors through an MLP with ``hidden`` tanh units
    (``hidden = 0``: one linear map each way). Inputs are centred to [−1, 1] first.

    ``identity_gain`` (``hidden = 0`` and ``code = dim`` only) starts both linear maps at that
    multiple of the identity instead of a random init: the code's units start as the pattern's
    bits, as in models whose units are the bits themselves (Miconi et al.'s plastic network).
    """

    def __init__(self, dim: int, code: int, hidden: int = 0, identity_gain: float | None = None):
        super().__init__()
        if dim < 1 or code < 1 or hidden < 0:
            raise ValueError(f"need dim >= 1, code >= 1 and hidden >= 0, got {dim}, {code}, {hidden}")
        if identity_gain is not None and (hidden or code != dim):
            raise ValueError(f"identity_gain needs hidden = 0 and code = dim, got hidden {hidden}, code {code}, dim {dim}")
        self.shape = (dim,)
        self.code = code
        if hidden:
            self.encoder: nn.Module = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, code))
            self.decoder: nn.Module = nn.Sequential(nn.Linear(code, hidden), nn.Tanh(), nn.Linear(hidden, dim))
        else:
            self.encoder, self.decoder = nn.Linear(dim, code), nn.Linear(code, dim)
            if identity_gain is not None:
                for layer in (self.encoder, self.decoder):
                    nn.init.eye_(layer.weight)
                    layer.weight.data.mul_(identity_gain)
                    nn.init.zeros_(layer.bias)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(2.0 * x - 1.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)


class ImageCodec(nn.Module):
    """``(C, H, W)`` images ↔ ``code``-vectors: the EBMM conv trunk and its transposed decoder.

    ``channels``, ``bottleneck_mid``, ``bottleneck_out``, ``downsample`` as in ``ConvEnergy``
    (defaults: the CPU-sized variant of the shipped EBMM checkpoints).
    """

    def __init__(
        self,
        shape: Sequence[int],
        code: int,
        channels: Sequence[int] = (16, 32),
        bottleneck_mid: int = 64,
        bottleneck_out: int = 32,
        downsample: Sequence[bool] = (False, True),
    ):
        super().__init__()
        if len(shape) != 3:
            raise ValueError(f"shape must be (C, H, W), got {tuple(shape)}")
        if code < 1:
            raise ValueError(f"code must be >= 1, got {code}")
        self.shape = tuple(int(s) for s in shape)
        self.code = code
        c, h, w = self.shape
        steps = len(channels) + sum(bool(d) for d in downsample)
        factor = 2 ** steps
        if h % factor or w % factor:
            raise ValueError(f"image size {h}x{w} is not divisible by the encoder's downsampling {factor}")
        # The split convolution's "writable" filters are ordinary static weights here.
        self.trunk = ConvEncoder(c, channels, bottleneck_mid, bottleneck_out, 1, [bool(d) for d in downsample],
                                 bottleneck_out - 1)
        self.feature_shape = (self.trunk.out_channels, h // factor, w // factor)
        self.to_code = nn.Linear(prod(self.feature_shape), code)
        self.from_code = nn.Linear(code, prod(self.feature_shape))
        self.untrunk = ConvDecoder(self.trunk.out_channels, channels, c, steps).net  # logits, no sigmoid
        he_init_(self)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-3]
        features = self.trunk(2.0 * x.reshape(-1, *self.shape) - 1.0)
        return self.to_code(features.flatten(1)).reshape(*lead, self.code)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        lead = z.shape[:-1]
        features = torch.tanh(self.from_code(z.reshape(-1, self.code))).reshape(-1, *self.feature_shape)
        return self.untrunk(features).reshape(*lead, *self.shape)


class FrozenCodec(nn.Module):
    """The static codec of a shipped or trained image EBMM (``CodecSlotEnergy.codec``), frozen: a
    baseline built on it is *equally equipped* with that EBMM (the same encoder and decoder).

    ``checkpoint`` is a checkpoint name or folder (``ebmm.build.load_memory``); its codec must map
    images of ``shape`` to codes of ``code`` floats. The weights are copied into this module and
    saved with the baseline, but never trained (``requires_grad`` off).
    """

    def __init__(self, shape: Sequence[int], code: int, checkpoint: str):
        super().__init__()
        from ebmm.build import load_memory

        memory, _ = load_memory(checkpoint)
        inner = getattr(getattr(memory, "energy", None), "codec", None)
        if inner is None:
            raise ValueError(f"codec checkpoint {checkpoint!r} has no codec (an EBMM over CodecSlotEnergy has one)")
        inner_code = int(memory.energy.memory.in_features)  # type: ignore[attr-defined]
        if tuple(inner.shape) != tuple(int(s) for s in shape) or inner_code != code:
            raise ValueError(f"codec checkpoint {checkpoint!r} maps images {tuple(inner.shape)} to {inner_code} floats; "
                             f"this baseline needs images {tuple(shape)} and code = {code}")
        self.shape, self.code, self.checkpoint = tuple(inner.shape), int(code), checkpoint
        self.inner = inner
        self.inner.requires_grad_(False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner.encode(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Logits, as every codec here returns (the inner codec's images turned back into logits)."""
        if hasattr(self.inner, "decode_logits"):
            return self.inner.decode_logits(z)
        return torch.logit(self.inner.decode(z).clamp(1e-4, 1 - 1e-4))


def build_codec(shape: Sequence[int], code: int, **options: Any) -> VectorCodec | ImageCodec | FrozenCodec:
    """A vector codec for 1-d patterns, the shared image codec for ``(C, H, W)`` patterns, or with
    ``checkpoint`` a trained EBMM's frozen codec (``FrozenCodec``)."""
    shape = tuple(int(s) for s in shape)
    if "checkpoint" in options:
        checkpoint = options.pop("checkpoint")
        if options:
            raise ValueError(f"a frozen codec (checkpoint = {checkpoint!r}) takes no other options, got {sorted(options)}")
        return FrozenCodec(shape, code, checkpoint)
    if len(shape) == 1:
        return VectorCodec(shape[0], code, **options)
    return ImageCodec(shape, code, **options)
