"""The shared shape of the learned baselines: a codec, a memory over codes, one training loss.

Every learned baseline answers ``ebmm.protocol.TrainableMemory`` (``write``, ``read``,
``memory_floats``, ``episode_loss``), so ``ebmm train`` trains it exactly as it trains EBMM (same
episodes, optimiser, clipping, checkpoints). Nothing here differentiates through an inner
optimisation, so ``episode_loss`` refuses any gradient options but the defaults. A subclass
implements three things:

- ``store(codes)``: codes ``(B, N, code)`` of the patterns → a ``LearnedState``;
- ``recall(codes, state)``: codes ``(B, M, code)`` of the queries → codes ``(B, M, code)`` for the
  decoder;
- the memory size it reports in ``LearnedState.floats`` (docs/method.md#memory-size: the written state only).

``paste_window = w`` (images) returns the query with the w × w square where it and the decoded
image disagree most taken from the decoded image, as an image EBMM's read and the ``codec_nn``
references do; with ``codec = {checkpoint = NAME}`` the codec is that EBMM checkpoint's, frozen
(``ebmm.baselines.codecs.FrozenCodec``): a baseline equally equipped with it.

``likelihood`` picks the training loss on the decoder's logits: ``"bernoulli"`` (binary
cross-entropy, for binary strings and Omniglot) or ``"gaussian"`` (squared error of the sigmoid
output, the metric of CIFAR-10). Both are summed over a pattern's values and averaged over
patterns and episodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ebmm.baselines.codec_nn import paste_worst_square
from ebmm.baselines.codecs import build_codec
from ebmm.protocol import GradMode, Retrieval, check_batch_matches, check_patterns, refuse_gradient_options

LIKELIHOODS = ("bernoulli", "gaussian")


@dataclass
class LearnedState:
    """What a learned baseline wrote for ``B`` episodes: named tensors ``(B, ...)`` and the floats
    one written memory occupies (symmetric matrices count their upper triangle once)."""

    tensors: dict[str, torch.Tensor]
    floats: int

    @property
    def batch_size(self) -> int:
        return next(iter(self.tensors.values())).shape[0]

    def episode(self, index: int) -> LearnedState:
        """The state of episode ``index`` alone, batch axis kept."""
        return LearnedState({k: v[index:index + 1] for k, v in self.tensors.items()}, self.floats)


class LearnedMemory(nn.Module):
    """Base class: codec + memory over codes; see the module docstring."""

    def __init__(self, pattern_shape: Sequence[int], code: int, likelihood: str = "bernoulli",
                 codec: dict[str, Any] | None = None, paste_window: int = 0):
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if isinstance(paste_window, bool) or not isinstance(paste_window, int) or paste_window < 0:
            raise ValueError(f"paste_window must be an int >= 0 (0: return the decoded image), got {paste_window!r}")
        if paste_window and len(pattern_shape) != 3:
            raise ValueError(f"paste_window needs images (C, H, W), got patterns of shape {tuple(pattern_shape)}")
        self.paste_window = paste_window
        self.pattern_shape = tuple(int(s) for s in pattern_shape)
        self.code = int(code)
        self.likelihood = likelihood
        self.codec = build_codec(self.pattern_shape, self.code, **(codec or {}))

    @classmethod
    def fit_budget(cls, options: dict[str, Any]) -> dict[str, Any]:
        """Constructor options with a float ``budget`` turned into this model's size arguments (the
        slot memories take ``budget`` as it is; the others override this)."""
        return options

    # -------------------------------------------------------------- subclasses
    def store(self, codes: torch.Tensor) -> LearnedState:
        raise NotImplementedError

    def recall(self, codes: torch.Tensor, state: LearnedState) -> torch.Tensor:
        raise NotImplementedError

    # ---------------------------------------------------------------- protocol
    def write(self, patterns: torch.Tensor) -> LearnedState:
        """Store ``patterns`` ``(B, N, *shape)`` with values in [0, 1]."""
        check_patterns(patterns, "patterns", self.pattern_shape)
        return self.store(self.codec.encode(patterns))

    def logits(self, queries: torch.Tensor, state: LearnedState) -> torch.Tensor:
        """The decoder's logits ``(B, M, *shape)`` for ``queries``."""
        check_patterns(queries, "queries", self.pattern_shape)
        check_batch_matches(queries, state.batch_size)
        return self.codec.decode(self.recall(self.codec.encode(queries), state))

    def read(self, queries: torch.Tensor, state: LearnedState, *, keep_iterates: bool = False) -> Retrieval:
        """Retrieve patterns ``(B, M, *shape)`` in (0, 1) for ``queries``; ``keep_iterates`` gives the
        one read as the only iterate (as ``EnergyMemory.read`` gives its iterates, for grids)."""
        out = self._output(queries, self.logits(queries, state))
        return Retrieval(patterns=out, iterates=[out] if keep_iterates else None)

    def _output(self, queries: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """The decoded image, or with ``paste_window`` the query with its worst square taken from it."""
        decoded = torch.sigmoid(logits)
        return paste_worst_square(queries, decoded, self.paste_window) if self.paste_window else decoded

    def memory_floats(self, state: LearnedState | None = None) -> int:
        """Floats one written memory occupies (docs/method.md#memory-size); needs the state when it depends on N."""
        if state is None:
            raise ValueError(f"{type(self).__name__}.memory_floats needs a written state (its size can depend on N)")
        return state.floats

    def episode_loss(self, patterns: torch.Tensor, queries: torch.Tensor, mode: GradMode = "second_order", *,
                     truncate: int | None = None, checkpoint: bool = False) -> tuple[torch.Tensor, LearnedState, Retrieval]:
        """Training loss of a batch of episodes, the state and the retrieval (``ebmm train``'s call).

        ``mode``, ``truncate`` and ``checkpoint`` concern EBMM's inner gradients, which a learned
        baseline does not have: any value but the default raises ``ValueError`` (the config refuses
        them earlier, ``ebmm.config``)."""
        refuse_gradient_options(type(self).__name__, mode, truncate, checkpoint)
        if queries.shape != patterns.shape:
            raise ValueError(
                f"queries must match patterns one to one, got {tuple(queries.shape)} vs {tuple(patterns.shape)}")
        state = self.write(patterns)
        logits = self.logits(queries, state)
        out = self._output(queries, logits)
        if self.likelihood == "gaussian":
            per_value = (out - patterns).pow(2)
        elif self.paste_window:  # the output mixes query values and decoded probabilities
            per_value = F.binary_cross_entropy(out.clamp(1e-6, 1 - 1e-6), patterns, reduction="none")
        else:
            per_value = F.binary_cross_entropy_with_logits(logits, patterns, reduction="none")
        loss = per_value.flatten(2).sum(-1).mean()
        return loss, state, Retrieval(patterns=out, iterates=[out])


def triangle(k: int) -> int:
    """Floats of a symmetric ``k × k`` matrix stored once: ``k (k + 1) / 2``."""
    return k * (k + 1) // 2


def check_positive(**values: int) -> None:
    """Raise ``ValueError`` naming every argument that is not a positive int."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def pop_budget(options: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
    """``options`` without ``budget``, and the budget (checked positive) or None."""
    options = dict(options)
    budget = options.pop("budget", None)
    if budget is not None:
        check_positive(budget=budget)
    return options, budget
