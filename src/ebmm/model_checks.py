"""Load-time checks of a ``[model]`` config: the arguments the memory will be built with, the
pattern shape, and the EBMM fields' ranges.

``energy_args`` are checked against the energy's constructor (``ebmm.energy.ENERGIES``) and a
baseline's ``args`` against the learned baseline's (``ebmm.baselines.LEARNED``), found by
``accepted_keywords``; nested tables inside them (e.g. ``codec_args``) are the constructor's to check.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ebmm.config import BaselineConfig, EBMMConfig, ModelConfig

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _keywords(function: Callable[..., Any]) -> tuple[set[str], bool]:
    """The named keyword parameters of ``function`` (``self`` aside) and whether it takes ``**kwargs``."""
    parameters = inspect.signature(function).parameters.values()
    names = {p.name for p in parameters if p.kind in _NAMED} - {"self"}
    return names, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def accepted_keywords(target: Callable[..., Any]) -> frozenset[str] | None:
    """The keyword arguments ``target`` (a class or a factory function) accepts, or None if unknown.

    ``**kwargs`` are followed where they go: a class's to its base classes' ``__init__``, a
    function's to the class its return annotation names (e.g. a factory that presets a class)."""
    names: set[str] = set()
    if isinstance(target, type):
        for cls in target.__mro__:
            if "__init__" in vars(cls):
                own, more = _keywords(vars(cls)["__init__"])
                names |= own
                if not more:
                    return frozenset(names)
        return None
    names, more = _keywords(target)
    if not more:
        return frozenset(names)
    try:
        returned = typing.get_type_hints(target).get("return")
    except Exception:  # an annotation that does not resolve: the target stays unknown
        return None
    forwarded = accepted_keywords(returned) if isinstance(returned, type) else None
    return None if forwarded is None else frozenset(names | forwarded)


def check_keywords(where: str, given: Mapping[str, Any], accepted: Iterable[str], owner: str) -> None:
    """Raise ``ValueError`` naming every key of ``given`` that ``accepted`` lacks, and listing those it has."""
    known = sorted(accepted)
    unknown = sorted(set(given) - set(known))
    if unknown:
        keys = ", ".join(f"{where}.{key}" for key in unknown)
        raise ValueError(f"{keys}: not an argument of {owner}; it accepts {', '.join(known) or 'none'}")


def check_model(model: ModelConfig) -> None:
    """Check ``model`` as it will be built: the tag, the pattern shape, and the memory's arguments (an
    EBMM's energy and write/read fields, or a learned baseline's ``args``)."""
    from ebmm.baselines import LEARNED
    from ebmm.energy.registry import ENERGIES

    if isinstance(model, BaselineConfig) and model.kind not in LEARNED:
        raise ValueError(f"model.kind must be 'ebmm' or a learned baseline, one of {sorted(LEARNED)}; got {model.kind!r}")
    if not model.pattern_shape or any(size < 1 for size in model.pattern_shape):
        raise ValueError(f"model.pattern_shape must list positive sizes ([D] or [C, H, W]), got {model.pattern_shape}")
    if isinstance(model, BaselineConfig):
        _check_baseline_args(model)
        return
    if model.energy not in ENERGIES:
        raise ValueError(f"model.energy must be one of {sorted(ENERGIES)}, got {model.energy!r}")
    _check_energy_args(model)
    _check_ebmm_fields(model)


def _check_energy_args(model: EBMMConfig) -> None:
    from ebmm.energy.registry import ENERGIES

    accepted = accepted_keywords(ENERGIES[model.energy])
    if accepted is None:
        return
    owner = f"the energy {model.energy!r}"
    for key in ("shape", "dim"):
        if key in model.energy_args:
            raise ValueError(f"model.energy_args.{key}: the pattern size comes from model.pattern_shape; remove it")
    size = "shape" if len(model.pattern_shape) > 1 else "dim"
    if size not in accepted:
        takes = "vector patterns (model.pattern_shape = [D])" if "dim" in accepted else "images (model.pattern_shape = [C, H, W])"
        raise ValueError(f"{owner} takes {takes}, but the config gives model.pattern_shape = {model.pattern_shape}")
    check_keywords("model.energy_args", model.energy_args, accepted - {"shape", "dim"}, owner)


def _check_baseline_args(model: BaselineConfig) -> None:
    from ebmm.baselines import LEARNED, LearnedMemory

    cls = LEARNED[model.kind]
    accepted = accepted_keywords(cls)
    if accepted is None:
        return
    sizes_from_budget = cls.fit_budget.__func__ is not LearnedMemory.fit_budget.__func__  # type: ignore[attr-defined]
    extra = {"budget"} if sizes_from_budget else set()  # fit_budget turns a float budget into sizes
    check_keywords("model.args", model.args, (accepted - {"pattern_shape"}) | extra,
                   f"the learned baseline {model.kind!r} ({cls.__name__})")


def _check_ebmm_fields(model: EBMMConfig) -> None:
    """The ranges ``EnergyMemory`` needs, checked before anything is built."""
    from ebmm.rules import WRITE_TERMS, check_temperature

    if model.write_steps < 1 or model.read_steps < 1:
        raise ValueError(f"model.write_steps and model.read_steps must be >= 1, got {model.write_steps}, {model.read_steps}")
    terms = model.write_terms
    if not terms or set(terms) - set(WRITE_TERMS) or len(set(terms)) != len(terms):
        raise ValueError(f"model.write_terms must list distinct terms of {list(WRITE_TERMS)}, got {terms}")
    rates = model.write_rate_init
    if len(rates) != len(WRITE_TERMS) or any(rate <= 0 for rate in rates):
        raise ValueError(f"model.write_rate_init needs one positive rate per term of {list(WRITE_TERMS)} (in that "
                         f"order, used or not), got {rates}")
    if model.write_reduction not in ("mean", "sum"):
        raise ValueError(f"model.write_reduction must be 'mean' or 'sum', got {model.write_reduction!r}")
    if model.write_chunk < 0:
        raise ValueError(f"model.write_chunk must be 0 (batch write) or a positive chunk size, got {model.write_chunk}")
    if model.refine_steps < 0:
        raise ValueError(f"model.refine_steps must be >= 0, got {model.refine_steps}")
    if model.refine_rate_init and (len(model.refine_rate_init) != len(WRITE_TERMS)
                                   or any(rate <= 0 for rate in model.refine_rate_init)):
        raise ValueError(f"model.refine_rate_init must be empty (the write rates) or one positive rate per term of "
                         f"{list(WRITE_TERMS)}, got {model.refine_rate_init}")
    if not 0.0 < model.refine_momentum_init < 1.0:
        raise ValueError(f"model.refine_momentum_init must lie in (0, 1), got {model.refine_momentum_init}")
    if model.read_step_init <= 0:
        raise ValueError(f"model.read_step_init must be positive, got {model.read_step_init}")
    for name in ("read_step_decay_init", "momentum_init", "momentum_decay_init"):
        if not 0.0 < getattr(model, name) < 1.0:
            raise ValueError(f"model.{name} must lie in (0, 1), got {getattr(model, name)}")
    check_temperature(model.read_temperature, "model.read_temperature")
