"""Codecs for the image slot energy: the code of an image and the image a code decodes to.

A codec's weights are static (shared by every episode, not memory); only the codes a write stores
are memory. Both codecs start from the training split (``initialise``) before any meta-training:

- ``LinearCodec``: ``decode(m) = μ + m V`` and ``encode(x) = (x − μ) Vᵀ``, started from a PCA of
  the images (with orthonormal rows, ``encode`` is the exact inverse on the span of ``V``).
- ``ConvCodec``: a convolutional autoencoder (three stride-2 convolutions to the code, three
  stride-2 transposed convolutions back, a sigmoid to ``[0, 1]``), trained first order as an
  autoencoder on the images — cross-entropy for binary images, squared error otherwise — on
  randomly shifted copies, keeping the weights that scored best on a held-out part of the images
  (with a few thousand images it otherwise memorises them). A nonlinear code holds far more of an
  image per float than a PCA code of the same length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _check_images(images: torch.Tensor, shape: tuple[int, ...], what: str) -> None:
    if images.ndim != 4 or tuple(images.shape[1:]) != shape or images.shape[0] < 2:
        raise ValueError(f"{what} needs at least two images of shape (M, {', '.join(map(str, shape))}), got {tuple(images.shape)}")
    if not torch.isfinite(images).all():
        raise ValueError(f"{what}: images contain NaN or Inf")


class LinearCodec(nn.Module):
    """``decode(m) = μ + m V``: ``decoder`` ``V`` ``(code, C·H·W)`` and ``mean`` ``μ`` (both learnable).

    ``basis``, ``mean``: an initial decoder (e.g. PCA rows; the first ``code`` rows are used,
    zero-padded if fewer) and mean image; default a small random decoder and grey.
    """

    def __init__(self, shape: Sequence[int], code: int, basis: torch.Tensor | None = None,
                 mean: torch.Tensor | None = None):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        dim = math.prod(self.shape)
        decoder = torch.randn(code, dim) / math.sqrt(dim)
        if basis is not None:
            basis = torch.as_tensor(basis, dtype=torch.float32).reshape(basis.shape[0], -1)
            if basis.shape[1] != dim:
                raise ValueError(f"basis rows must have {dim} values (the image size), got {basis.shape[1]}")
            decoder = torch.zeros(code, dim)
            rows = min(code, basis.shape[0])
            decoder[:rows] = basis[:rows]
        self.decoder = nn.Parameter(decoder)
        start = torch.full((dim,), 0.5) if mean is None else torch.as_tensor(mean, dtype=torch.float32).reshape(-1)
        if start.numel() != dim:
            raise ValueError(f"mean must have {dim} values (the image size), got {start.numel()}")
        self.mean = nn.Parameter(start.clone())

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Codes ``(..., code)`` of ``images`` ``(..., C, H, W)``."""
        return (images.flatten(-3) - self.mean) @ self.decoder.T

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Images ``(..., C, H, W)`` of ``codes`` ``(..., code)``."""
        return (self.mean + codes @ self.decoder).reshape(*codes.shape[:-1], *self.shape)

    def initialise(self, images: torch.Tensor) -> None:
        """Start the decoder and mean from a PCA of ``images`` ``(M, C, H, W)``."""
        from ebmm.linear_codec import fit_pca

        _check_images(images, self.shape, "LinearCodec.initialise")
        mean, basis = fit_pca(images, self.decoder.shape[0])
        with torch.no_grad():
            self.decoder.zero_()
            self.decoder[: basis.shape[0]] = basis
            self.mean.copy_(mean)


class ConvCodec(nn.Module):
    """A convolutional autoencoder with a ``code``-float bottleneck (module docstring).

    Arguments:
        shape: ``(C, H, W)``; ``H`` and ``W`` must be multiples of 8.
        code: floats per code.
        width: channels of the first convolution (then ``2·width``).
        spatial: keep the code as a map of ``code / (H/8 · W/8)`` channels on the ``H/8 × W/8`` grid,
            reached by 1×1 convolutions, instead of a fully connected layer each way: far fewer static
            weights when codes are long (e.g. 1,152 floats for a 64×64 image).
        fit_steps, fit_batch, fit_lr, fit_seed: the first-order autoencoder training ``initialise``
            runs (Adam, cosine learning rate, images drawn with replacement by a seeded generator).
        fit_shift: each training image is shifted by up to this many pixels (edges replicated).
        fit_holdout, fit_check: the share of the images held out, and every how many steps the
            held-out loss is measured; the best-scoring weights are kept.
    """

    def __init__(self, shape: Sequence[int], code: int, width: int = 32, fit_steps: int = 2000,
                 fit_batch: int = 64, fit_lr: float = 1e-3, fit_seed: int = 0, fit_shift: int = 2,
                 fit_holdout: float = 0.1, fit_check: int = 250, spatial: bool = False):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        channels, height, width_px = self.shape
        if height % 8 or width_px % 8:
            raise ValueError(f"ConvCodec needs image sides that are multiples of 8, got {height}x{width_px}")
        if width < 1 or fit_steps < 0 or fit_batch < 1 or not fit_lr > 0:
            raise ValueError(f"ConvCodec needs width >= 1, fit_steps >= 0, fit_batch >= 1 and fit_lr > 0, "
                             f"got {width}, {fit_steps}, {fit_batch}, {fit_lr}")
        if not 0 <= fit_shift < min(height, width_px) or not 0 <= fit_holdout < 1 or fit_check < 1:
            raise ValueError(f"ConvCodec needs 0 <= fit_shift < the image side, 0 <= fit_holdout < 1 and "
                             f"fit_check >= 1, got {fit_shift}, {fit_holdout}, {fit_check}")
        self.fit_steps, self.fit_batch, self.fit_lr, self.fit_seed = fit_steps, fit_batch, fit_lr, fit_seed
        self.fit_shift, self.fit_holdout, self.fit_check = fit_shift, fit_holdout, fit_check
        self._grid = (2 * width, height // 8, width_px // 8)
        hidden = math.prod(self._grid)
        cells = self._grid[1] * self._grid[2]
        if spatial and code % cells:
            raise ValueError(f"a spatial code must fill the {self._grid[1]}x{self._grid[2]} grid: code must be a "
                             f"multiple of {cells}, got {code}")
        self.spatial, self._code_grid = spatial, (code // cells, *self._grid[1:])
        squeeze: nn.Module = nn.Conv2d(2 * width, code // cells, 1) if spatial else nn.Linear(hidden, code)
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.ELU(),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ELU(),
            nn.Conv2d(2 * width, 2 * width, 4, 2, 1), nn.ELU(),
            *([squeeze, nn.Flatten()] if spatial else [nn.Flatten(), squeeze]))
        self.expand: nn.Module = nn.Conv2d(code // cells, 2 * width, 1) if spatial else nn.Linear(code, hidden)
        self.decoder = nn.Sequential(
            nn.ELU(),
            nn.ConvTranspose2d(2 * width, 2 * width, 4, 2, 1), nn.ELU(),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ELU(),
            nn.ConvTranspose2d(width, channels, 4, 2, 1))

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Codes ``(..., code)`` of ``images`` ``(..., C, H, W)``."""
        lead = images.shape[:-3]
        return self.encoder(images.reshape(-1, *self.shape)).reshape(*lead, -1)

    def decode_logits(self, codes: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid images ``(..., C, H, W)`` of ``codes`` ``(..., code)``."""
        lead = codes.shape[:-1]
        flat = codes.reshape(-1, codes.shape[-1])
        grid = self.expand(flat.reshape(-1, *self._code_grid) if self.spatial else flat).reshape(-1, *self._grid)
        return self.decoder(grid).reshape(*lead, *self.shape)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Images ``(..., C, H, W)`` in ``[0, 1]`` of ``codes`` ``(..., code)``."""
        return torch.sigmoid(self.decode_logits(codes))

    def reconstruction_loss(self, images: torch.Tensor) -> torch.Tensor:
        """Mean per-image autoencoding loss: cross-entropy for binary images, else squared error."""
        logits = self.decode_logits(self.encode(images))
        if bool(((images == 0) | (images == 1)).all()):
            per_value = F.binary_cross_entropy_with_logits(logits, images, reduction="none")
        else:
            per_value = (torch.sigmoid(logits) - images).pow(2)
        return per_value.flatten(1).sum(1).mean()

    def initialise(self, images: torch.Tensor) -> list[float]:
        """Train the codec as an autoencoder on ``images`` ``(M, C, H, W)`` (class docstring).

        Returns the held-out loss at each check (the training loss per step if nothing is held out).
        """
        _check_images(images, self.shape, "ConvCodec.initialise")
        generator = torch.Generator(device="cpu").manual_seed(self.fit_seed)
        order = torch.randperm(images.shape[0], generator=generator).to(images.device)
        held = int(self.fit_holdout * images.shape[0])
        if self.fit_holdout > 0 and held < 1:
            raise ValueError(f"fit_holdout={self.fit_holdout} holds out no image of {images.shape[0]}")
        holdout, train = images[order[:held]], images[order[held:]]
        optimizer = torch.optim.Adam(self.parameters(), lr=self.fit_lr)
        history: list[float] = []
        best, best_state = math.inf, None
        with torch.enable_grad():
            for step in range(self.fit_steps + 1):
                if held and (step % self.fit_check == 0 or step == self.fit_steps):
                    with torch.no_grad():
                        score = self.reconstruction_loss(holdout).item()
                    history.append(score)
                    if score < best:
                        best, best_state = score, {k: v.clone() for k, v in self.state_dict().items()}
                if step == self.fit_steps:
                    break
                for group in optimizer.param_groups:
                    group["lr"] = self.fit_lr * 0.5 * (1 + math.cos(math.pi * step / self.fit_steps))
                picks = torch.randint(train.shape[0], (self.fit_batch,), generator=generator).to(images.device)
                loss = self.reconstruction_loss(_shifted(train[picks], self.fit_shift, generator))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if not held:
                    history.append(loss.item())
        if best_state is not None:
            self.load_state_dict(best_state)
        return history


def _shifted(images: torch.Tensor, shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each image moved by up to ``shift`` pixels in each direction, edges replicated."""
    if shift == 0:
        return images
    height, width = images.shape[-2:]
    padded = F.pad(images, (shift,) * 4, mode="replicate")
    moves = torch.randint(0, 2 * shift + 1, (images.shape[0], 2), generator=generator).tolist()
    return torch.stack([padded[i, :, dy:dy + height, dx:dx + width] for i, (dy, dx) in enumerate(moves)])


ImageCodec = LinearCodec | ConvCodec
CODECS: dict[str, type[ImageCodec]] = {"linear": LinearCodec, "conv": ConvCodec}
