"""The write, refine and read rules of an ``EnergyMemory``: what each rule does and where its learned
scalars start (docs/method.md).

Each rule is a small immutable value checked when it is made. ``EnergyMemory`` takes one of each
(``refine=None``: no refinement), so an option that belongs to one rule lives in that rule only:

    EnergyMemory(energy, (128,), write=WriteRule(steps=3, chunk=1), read=ReadRule(steps=5),
                 refine=RefineRule(steps=10))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WRITE_TERMS: tuple[str, ...] = ("energy", "gradnorm", "prior")
REDUCTIONS = ("mean", "sum")


def _positive_int(value: object, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be an int >= {minimum}, got {value!r}")
    return value


def _open_unit(value: float, what: str) -> float:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{what} must lie in (0, 1), got {value!r}")
    return float(value)


def _term_rates(rates: Sequence[float], what: str) -> tuple[float, ...]:
    rates = tuple(float(rate) for rate in rates)
    if len(rates) != len(WRITE_TERMS) or any(rate <= 0 for rate in rates):
        raise ValueError(f"{what} needs one positive rate per term {WRITE_TERMS} (used or not), got {list(rates)}")
    return rates


@dataclass(frozen=True)
class WriteRule:
    """How a write descends the writing loss E(x) + ‖∇ₓE(x)‖² + ‖θ − θ̄‖² from θ̄.

    ``steps``: T gradient steps; ``terms``: the loss terms used (a subset of ``WRITE_TERMS``);
    ``rate_init``: the initial learned rate of every term (one per term, used or not; paper 1e-4);
    ``reduction``: ``"mean"`` (the paper's 1/N Σᵢ) or ``"sum"`` over the written patterns in the first
    two terms (a pattern's imprint then does not shrink as N grows); ``chunk``: ``None`` for the paper's
    batch write (all N patterns in every step) or ``c`` for an online write that takes the patterns in
    order, ``c`` at a time, with the T steps for each chunk.
    """

    steps: int = 3
    terms: tuple[str, ...] = WRITE_TERMS
    rate_init: tuple[float, ...] = (1e-4, 1e-4, 1e-4)
    reduction: str = "mean"
    chunk: int | None = None

    def __post_init__(self) -> None:
        _positive_int(self.steps, "WriteRule.steps")
        unknown = set(self.terms) - set(WRITE_TERMS)
        if unknown or not self.terms or isinstance(self.terms, str):
            raise ValueError(f"WriteRule.terms must be a non-empty subset of {WRITE_TERMS}, got {self.terms!r}")
        object.__setattr__(self, "terms", tuple(term for term in WRITE_TERMS if term in self.terms))
        object.__setattr__(self, "rate_init", _term_rates(self.rate_init, "WriteRule.rate_init"))
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"WriteRule.reduction must be one of {REDUCTIONS}, got {self.reduction!r}")
        if self.chunk is not None:
            _positive_int(self.chunk, "WriteRule.chunk (None: batch write)")


@dataclass(frozen=True)
class RefineRule:
    """R steps on all N patterns together after the write, with learned rates and Nesterov momentum
    (docs/method.md#refining-a-write).

    ``rate_init``: per term, as ``WriteRule.rate_init`` (``None``: the write's); ``momentum_init``:
    the initial learned momentum μ.
    """

    steps: int
    rate_init: tuple[float, ...] | None = None
    momentum_init: float = 0.9

    def __post_init__(self) -> None:
        _positive_int(self.steps, "RefineRule.steps")
        if self.rate_init is not None:
            object.__setattr__(self, "rate_init", _term_rates(self.rate_init, "RefineRule.rate_init (None: the write's)"))
        object.__setattr__(self, "momentum_init", _open_unit(self.momentum_init, "RefineRule.momentum_init"))


@dataclass(frozen=True)
class ReadRule:
    """K projected gradient steps on the query with Nesterov momentum, with learned non-increasing
    step sizes γ and momenta ψ.

    ``step_init``: γ⁽¹⁾; ``step_decay_init``: the initial factor σ(η) between steps; ``momentum_init``
    and ``momentum_decay_init``: ψ⁽¹⁾ and its initial factor. ``temperature`` τ > 0 makes the read
    stochastic: every step adds √(2γ_k τ)·ξ_k, ξ_k ~ N(0, I), to its velocity (Langevin noise; 0, the
    default, is the paper's deterministic read). A fixed value, not learned.
    """

    steps: int = 5
    step_init: float = 0.1
    step_decay_init: float = 0.9
    momentum_init: float = 0.5
    momentum_decay_init: float = 0.9
    temperature: float = 0.0

    def __post_init__(self) -> None:
        _positive_int(self.steps, "ReadRule.steps")
        if not self.step_init > 0:
            raise ValueError(f"ReadRule.step_init must be positive, got {self.step_init!r}")
        for name in ("step_decay_init", "momentum_init", "momentum_decay_init"):
            object.__setattr__(self, name, _open_unit(getattr(self, name), f"ReadRule.{name}"))
        object.__setattr__(self, "temperature", check_temperature(self.temperature, "ReadRule.temperature"))


def check_temperature(value: object, what: str) -> float:
    """``value`` as a float if it is a finite number >= 0, else ``ValueError`` naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < float("inf"):
        raise ValueError(f"{what} must be a finite number >= 0 (0: deterministic read), got {value!r}")
    return float(value)
