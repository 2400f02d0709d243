"""Image memory as slots of codes under a static decoder, read by repairing one bad region.

The writable weights are ``slots`` codes ``m_k`` (``memory = Linear(code, slots)``: ``slots·code``
floats). A static codec (``ebmm.energy.image_codecs``) decodes each code to an image ``r_k = D(m_k)``
and encodes an image to its own code ``z(x)``: linear (``D(m) = μ + m V``, started from a PCA of
the training split) or convolutional (an autoencoder trained first order on the training split).
Either is then meta-learned with the rest. With ``e_k = x − r_k`` and ``B_w(·)`` the sum over the ``window × window``
square at position ``w``,

    C_k(x) = (1/κ) log Σ_w exp(κ B_w(e_k²))              the worst square's error (soft maximum)
    S_k(x) = α·½‖z(x) − m_k‖² + u_k·(‖e_k‖² − C_k(x)) + (1 − u_k)·(b + ε·f_k)
    a      = softmax(−β S)
    E(x)   = −(1/β) log Σ_k exp(−β S_k(x))  +  λ Σ_k a_k u_k C_k(x)

``u_k`` is 1 for a written slot (its code has left θ̄ = 0) and 0 for a free one, and ``f_k`` counts
the free slots before slot k. Both are step functions of the codes, with no gradient.

Reading. A written slot scores an image by its squared error *outside* the square where the two
disagree most, so a corrupted block cannot out-vote the rest of the image when choosing the
slot. The correction term ``λ·C_k`` pulls the pixels of that worst square towards the slot's
reconstruction; everywhere else the read's pull is only that of the match term, ``1/λ`` as strong.
A read step of γ ≈ 1/(2λ) therefore pastes the remembered square into the query and keeps what
the query already shows.

Writing. A free slot scores every image ``b`` (by default far below any written slot's score):
written one pattern at a time (``WriteRule(chunk=1)``), a new image goes to the first free
slot, so two images never share a slot by chance; once every slot is written, new images merge
into the best-matching slot. The price: while slots are free, a *query* is drawn to the first free
slot too, which has nothing to repair it with, so a memory holding fewer images than slots
recalls nothing. Size the memory to the number of images (slots = N). For a free slot the energy's gradient is ``α(m_k − z(x))``: one write step at rate 1/α
stores the image's code exactly. In a batch write (all images at once) every image would pick the
same first free slot: use ``WriteRule(chunk=1)``.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn

from ebmm.energy.free_slots import close_free_slots, free_slot_scores, half_squared_distances, written_slots
from ebmm.energy.image_codecs import CODECS, ImageCodec
from ebmm.energy.window_sums import window_sums


def _codec(codec: str | ImageCodec, codec_args: dict[str, Any] | None, shape: tuple[int, ...], code: int) -> ImageCodec:
    """The codec ``codec`` names (built with ``codec_args``) or is, checked against the energy's shape and code."""
    if isinstance(codec, ImageCodec):  # LinearCodec | ConvCodec
        if codec_args:
            raise ValueError("codec_args build a codec named by a string; this codec is built already")
        with torch.no_grad():
            codes = codec.encode(torch.zeros(1, *shape))
        if tuple(codec.shape) != shape or codes.shape[-1] != code:
            raise ValueError(f"the codec maps images of shape {tuple(codec.shape)} to {codes.shape[-1]} floats; this "
                             f"energy needs shape {shape} and code {code}")
        return codec
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {sorted(CODECS)} or an ImageCodec, got {codec!r}")
    return CODECS[codec](shape, code, **(codec_args or {}))


class CodecSlotEnergy(nn.Module):
    """Slots of codes decoded by a static codec; see the module docstring.

    Arguments:
        shape: ``(C, H, W)`` of one image.
        slots, code: number of writable codes and floats per code (memory = ``slots·code``).
        window: side of the square the read repairs (the corruption's size, if known).
        codec: ``"linear"`` or ``"conv"`` (``ebmm.energy.image_codecs``), built with ``codec_args``
            (e.g. ``width``, ``fit_steps`` for ``"conv"``), or a codec built already, e.g.
            ``LinearCodec(shape, code, basis=pca_rows, mean=mean_image)`` (its shape and code size
            must be the energy's).
        beta, fit_weight, kappa, correct_scale: initial β, α, κ, λ (all learned, kept positive).
        novelty, priority: initial b and ε of the free-slot score (learned).
        empty_radius: σ, the radius around θ̄ = 0 within which a slot counts as free.
        read_closes_free_slots: free slots leave the energy while ``EnergyMemory`` reads, so that a memory
            holding fewer images than slots reads from written slots only (``close_free_slots``).
    """

    def __init__(
        self,
        shape: Sequence[int] = (1, 32, 32),
        slots: int = 64,
        code: int = 36,
        window: int = 16,
        codec: str | ImageCodec = "linear",
        codec_args: dict[str, Any] | None = None,
        beta: float = 1.0,
        fit_weight: float = 0.1,
        kappa: float = 1.0,
        correct_scale: float = 10.0,
        novelty: float = -100.0,
        priority: float = 10.0,
        empty_radius: float = 0.5,
        read_closes_free_slots: bool = False,
    ):
        super().__init__()
        if not isinstance(read_closes_free_slots, bool):
            raise ValueError(f"read_closes_free_slots must be true or false, got {read_closes_free_slots!r}")
        self.read_closes_free_slots = read_closes_free_slots
        self.reading = False
        if len(shape) != 3:
            raise ValueError(f"shape must be (C, H, W), got {tuple(shape)}")
        if slots < 1 or code < 1:
            raise ValueError(f"slots and code must be positive, got slots={slots}, code={code}")
        if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= min(shape[1:]):
            raise ValueError(f"window must be an int in [1, {min(shape[1:])}] (the image side), got {window!r}")
        for name, value in (("beta", beta), ("fit_weight", fit_weight), ("kappa", kappa),
                            ("correct_scale", correct_scale), ("priority", priority), ("empty_radius", empty_radius)):
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        self.shape = tuple(int(s) for s in shape)
        self.window = window
        self.empty_radius = float(empty_radius)
        self.codec: ImageCodec = _codec(codec, codec_args, self.shape, code)
        self._register_load_state_dict_pre_hook(_rename_linear_decoder)
        self.memory = nn.Linear(code, slots, bias=False)
        nn.init.zeros_(self.memory.weight)
        self.log_beta = nn.Parameter(torch.tensor(math.log(beta)))
        self.log_fit_weight = nn.Parameter(torch.tensor(math.log(fit_weight)))
        self.log_kappa = nn.Parameter(torch.tensor(math.log(kappa)))
        self.log_correct_scale = nn.Parameter(torch.tensor(math.log(correct_scale)))
        self.novelty = nn.Parameter(torch.tensor(float(novelty)))
        self.log_priority = nn.Parameter(torch.tensor(math.log(priority)))

    def initialise(self, images: torch.Tensor) -> None:
        """Start the codec from ``images`` ``(M, C, H, W)`` (e.g. the train split): PCA or autoencoder training."""
        if tuple(images.shape[1:]) != self.shape:
            raise ValueError(f"initialise needs images of shape (M, {', '.join(map(str, self.shape))}), got {tuple(images.shape)}")
        self.codec.initialise(images)

    def reconstructions(self, codes: torch.Tensor | None = None) -> torch.Tensor:
        """The images the slots decode to, ``(slots, C, H, W)`` (``codes`` replaces the written ones)."""
        return self.codec.decode(self.memory.weight if codes is None else codes)

    def written(self) -> torch.Tensor:
        """1 for slots whose code has left θ̄ = 0 (radius σ), else 0: a step function of the codes."""
        return written_slots(self.memory.weight, self.empty_radius)

    def _worst_square(self, squared: torch.Tensor) -> torch.Tensor:
        """Soft maximum over squares of the summed ``squared`` ``(..., C, H, W)`` errors: ``(...)``."""
        sums = window_sums(squared.sum(-3), self.window)
        kappa = self.log_kappa.exp()
        return torch.logsumexp(kappa * sums.flatten(-2), dim=-1) / kappa

    def _terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Match scores ``S`` and worst-square errors ``C``, each ``(..., slots)``."""
        errors = (x.unsqueeze(-4) - self.reconstructions()).pow(2)  # (..., slots, C, H, W)
        worst = self._worst_square(errors)
        outside = errors.flatten(-3).sum(-1) - worst
        code = self.codec.encode(x)
        fit = half_squared_distances(code, self.memory.weight)
        written = self.written()
        free = free_slot_scores(written, self.novelty, self.log_priority.exp())
        scores = self.log_fit_weight.exp() * fit + written * outside + (1 - written) * free
        return scores, worst

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """Match scores ``S`` ``(..., slots)`` of images ``x`` ``(..., C, H, W)`` (lower = better)."""
        return self._terms(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-3:]) != self.shape:
            raise ValueError(f"expected images of shape (..., {', '.join(map(str, self.shape))}), got {tuple(x.shape)}")
        beta = self.log_beta.exp()
        scores, worst = self._terms(x)
        logits = -beta * scores
        if self.reading and self.read_closes_free_slots:
            logits = close_free_slots(logits, self.written())
        attract = -torch.logsumexp(logits, dim=-1) / beta
        weight = torch.softmax(logits, dim=-1) * self.written()
        return attract + self.log_correct_scale.exp() * (weight * worst).sum(-1)


def _rename_linear_decoder(state: dict[str, Any], prefix: str, *args: Any) -> None:
    """Checkpoints written before codecs were modules name the linear codec ``decoder`` and ``mean``."""
    for name in ("decoder", "mean"):
        if prefix + name in state:
            state[f"{prefix}codec.{name}"] = state.pop(prefix + name)
