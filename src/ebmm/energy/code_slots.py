"""Binary strings as slots of codes, written one string at a time into free slots.

The writable weights are ``slots`` codes ``m_k`` of ``code`` floats (``memory = Linear(code, slots)``:
``slots·code`` floats, e.g. 96 × 86 = 8,256 at the paper's string budget). A static projection
``V`` ``(code, dim)`` with orthonormal rows maps a pattern to its code ``z(x) = V(2x − 1)``; it is
static and shared by every episode, so it is not memory (like the paper's static RNN weights).

    S_k(x) = ½‖z(x) − m_k‖² + (1 − u_k)·(b + ε·f_k − ½‖z(x)‖²)
    E(x)   = −(1/β) log Σ_k exp(−β S_k(x))

``u_k`` is 1 for a written slot (its code has left θ̄ = 0) and 0 for a free one; ``f_k`` counts the
free slots before slot k; both are step functions of the codes, with no gradient. A free slot at
θ̄ = 0 therefore scores every pattern exactly ``b + ε·f_k`` and pulls no read anywhere.

Writing one string at a time (``WriteRule(chunk=1)``, one step at rate 1): a new string is
closer to the first free slot (score ``b``) than to any written slot holding another string (about
``c/2·(1 + …)`` away) and lands there: its code is stored exactly, ``m_k = z(x)``, and two strings
never share a slot by chance, as they do among 63 sign keys. Reading moves ``x`` so that its code
approaches the best slot's code (projected onto [0, 1]): the query's bits fill in the ``dim − code``
directions the code does not hold. ``b`` sits between the score of a corrupted query against its
own slot and that of a new string against another string's slot; it is learned.

With fewer strings than slots, a heavily corrupted query can score closer to ``b`` than to its own
slot and settle on a free slot, which returns the query unchanged. ``read_closes_free_slots`` leaves
free slots out of the log-sum-exp while reading (``ebmm.energy.free_slots.close_free_slots``): the
write still sees them and the read only sees written slots.

``layout = "per_episode"`` spends the same ``slots·code`` floats on the strings of each episode: an
episode of N strings (``EnergyMemory`` tells the energy N through ``episode_patterns``) gets N slots
of ``w = min(dim, slots·code // N)`` floats, and codes of the first ``w`` rows of a static ``(dim, dim)``
orthogonal projection. At 8,256 floats, 64 strings or fewer get all 128 directions (a wrong slot
then needs another string nearer the query in every bit, not only in 86 directions) and 96 strings
get 86, as in the fixed layout. It is the memory networks' ``budget // N`` slot width
(``ebmm.baselines.slots``) for this energy. A fixed-layout checkpoint loads into it: its
``(code, dim)`` projection becomes the first ``code`` rows, completed to an orthogonal matrix.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ebmm.energy.free_slots import close_free_slots, free_slot_scores, half_squared_distances, written_slots


class CodeSlotEnergy(nn.Module):
    """Log-sum-exp over writable codes of a static orthonormal projection; see the module docstring.

    Arguments:
        dim: bits per pattern. slots, code: the writable codes (memory = ``slots·code`` floats);
            ``code <= dim``.
        beta, novelty, priority: initial β, b and ε (learned). empty_radius: σ, the radius around
            θ̄ = 0 inside which a slot counts as free. seed: the projection's random draw.
        read_closes_free_slots: free slots leave the energy while ``EnergyMemory`` reads (see the module docstring).
        layout: ``"fixed"`` (``slots`` codes of ``code`` floats) or ``"per_episode"`` (the same
            floats as N slots of ``min(dim, slots·code // N)`` for an episode of N patterns; ``slots``
            of ``code`` when N is unknown).
    """

    def __init__(
        self,
        dim: int = 128,
        slots: int = 96,
        code: int = 86,
        beta: float = 1.0,
        novelty: float = 50.0,
        priority: float = 10.0,
        empty_radius: float = 0.5,
        seed: int = 0,
        read_closes_free_slots: bool = False,
        layout: str = "fixed",
    ):
        super().__init__()
        for name, value in (("dim", dim), ("slots", slots), ("code", code)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if code > dim:
            raise ValueError(f"code ({code}) cannot exceed dim ({dim}): the projection has orthonormal rows")
        for label, scalar in (("beta", beta), ("priority", priority), ("empty_radius", empty_radius)):
            if not scalar > 0:
                raise ValueError(f"{label} must be positive, got {scalar}")
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        generator = torch.Generator().manual_seed(seed)
        basis, _ = torch.linalg.qr(torch.randn(dim, code, generator=generator))
        if layout == "per_episode":
            basis = _complete_orthonormal(basis.T, generator).T
        if not isinstance(read_closes_free_slots, bool):
            raise ValueError(f"read_closes_free_slots must be true or false, got {read_closes_free_slots!r}")
        self.dim, self.slots, self.code, self.layout = dim, slots, code, layout
        self.episode_patterns: int | None = None  # set by EnergyMemory (ebmm.energy.base.episode)
        self.read_closes_free_slots = read_closes_free_slots
        self.reading = False
        self.empty_radius = float(empty_radius)
        self.projection = nn.Parameter(basis.T.contiguous())  # (code or dim, dim), orthonormal rows
        # the writable codes: (slots, code) in the fixed layout, a flat store of as many floats otherwise
        self.memory: nn.Linear | FloatStore = (nn.Linear(code, slots, bias=False) if layout == "fixed"
                                               else FloatStore(slots * code))
        nn.init.zeros_(self.memory.weight)
        self._register_load_state_dict_pre_hook(self._from_fixed_layout)
        self.log_beta = nn.Parameter(torch.tensor(math.log(beta)))
        self.novelty = nn.Parameter(torch.tensor(float(novelty)))
        self.log_priority = nn.Parameter(torch.tensor(math.log(priority)))

    def slot_layout(self, patterns: int | None = None) -> tuple[int, int]:
        """``(slots, width)`` of the codes for an episode of ``patterns`` (default: the current
        episode's, ``episode_patterns``); the fixed layout ignores it."""
        patterns = self.episode_patterns if patterns is None else patterns
        if self.layout == "fixed" or patterns is None:
            return self.slots, self.code
        budget = self.slots * self.code
        if isinstance(patterns, bool) or not isinstance(patterns, int) or not 1 <= patterns <= budget:
            raise ValueError(f"an episode must write between 1 and {budget} patterns (one float each at least) into "
                             f"this memory of {budget} floats, got {patterns!r}")
        return patterns, min(self.dim, budget // patterns)

    def codes_of(self, weight: torch.Tensor, patterns: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The slot codes ``(..., slots, w)`` that writable weights ``(..., *memory.weight.shape)`` hold
        for an episode of ``patterns`` (default: the current episode's), and the projection rows
        ``(w, dim)`` that code a pattern."""
        if self.layout == "fixed":
            return weight, self.projection
        slots, width = self.slot_layout(patterns)
        return weight[..., : slots * width].unflatten(-1, (slots, width)), self.projection[:width]

    def written(self) -> torch.Tensor:
        """1 for slots whose code has left θ̄ = 0 (radius σ), else 0: a step function of the codes."""
        return written_slots(self.codes_of(self.memory.weight)[0], self.empty_radius)

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """``S`` ``(..., slots)`` of patterns ``x`` ``(..., dim)`` (lower = better)."""
        return self._scores_and_written(x)[0]

    def _scores_and_written(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[-1] != self.dim:
            raise ValueError(f"expected patterns of {self.dim} values in the last axis, got shape {tuple(x.shape)}")
        slot_codes, projection = self.codes_of(self.memory.weight)
        code = (2.0 * x - 1.0) @ projection.T
        fit = half_squared_distances(code, slot_codes)
        written = written_slots(slot_codes, self.empty_radius)
        offset = free_slot_scores(written, self.novelty, self.log_priority.exp())
        return fit + (1 - written) * (offset - 0.5 * code.pow(2).sum(-1, keepdim=True)), written

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = self.log_beta.exp()
        scores, written = self._scores_and_written(x)
        logits = -beta * scores
        if self.reading and self.read_closes_free_slots:
            logits = close_free_slots(logits, written)
        return -torch.logsumexp(logits, dim=-1) / beta

    def _from_fixed_layout(self, state_dict: dict[str, torch.Tensor], prefix: str, *args: object) -> None:
        """Let a fixed-layout checkpoint of the same floats load into the per-episode layout."""
        if self.layout == "fixed":
            return
        memory, projection = state_dict.get(prefix + "memory.weight"), state_dict.get(prefix + "projection")
        if memory is not None and memory.dim() == 2 and memory.numel() == self.memory.weight.numel():
            state_dict[prefix + "memory.weight"] = memory.reshape(-1)
        if projection is not None and projection.shape[0] < self.dim and projection.shape[1] == self.dim:
            state_dict[prefix + "projection"] = _complete_orthonormal(projection, torch.Generator().manual_seed(0))


LAYOUTS = ("fixed", "per_episode")


class FloatStore(nn.Module):
    """A flat vector of writable floats (``weight``), laid out by the energy that owns it."""

    def __init__(self, floats: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(floats))


def _complete_orthonormal(rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``rows`` ``(c, dim)`` (orthonormal) followed by ``dim − c`` orthonormal rows orthogonal to them,
    from random directions drawn with ``generator`` (continue the draw that made ``rows``, if it did)."""
    code, dim = rows.shape
    extra = torch.randn(dim, dim - code, generator=generator, dtype=rows.dtype)
    extra = extra - rows.T @ (rows @ extra)  # off the span of rows
    basis, _ = torch.linalg.qr(extra)
    return torch.cat([rows, basis.T], 0).contiguous()
