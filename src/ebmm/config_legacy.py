"""The old spellings of the ``[model]`` keys, read as the current ones.

Configs written before ``[model]`` became a union tagged by ``kind`` (shipped checkpoints' and run
folders' ``config.json``, older TOML files) spell the tag ``memory`` (absent: ``"ebmm"``), a learned
baseline's arguments ``memory_args`` and a vector's length ``pattern_dim``. ``upgrade_model_table``
maps them onto ``kind``, ``args`` and ``pattern_shape = [pattern_dim]``; ``upgrade_override`` does
the same for a ``--set`` override's key. An old key beside its new spelling must agree with it.

Configs written before the conv energy's heads were parts of their own (``ebmm.energy.heads``) give
the head's options beside ``head`` in ``energy_args`` (``head = "reconstruct", pixel_weights = true``);
they move into the head spec (``head = { kind = "reconstruct", pixel_weights = true }``), and an
override of such a key sets it in the spec.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from ebmm.config import EBMMConfig

RENAMED = {"memory": "kind", "memory_args": "args"}  # old key -> new key, same value
OLD_PATTERN_DIM = 128  # the old default, which saved configs carry beside an image's pattern_shape
CONV_ENERGIES = ("conv", "conv_imagenet64")  # the energies built on ConvEnergy
OLD_HEAD_OPTIONS: dict[str, dict[str, Any]] = {  # per head kind, the options ConvEnergy took beside head, and their defaults
    "gated": {"hidden": None, "hops": 3, "readout": 1024},
    "reconstruct": {"pixel_weights": False, "weight_floor": 0.05, "residual_power": 2.0},
}
OLD_HEAD_KEYS = {key: kind for kind, options in OLD_HEAD_OPTIONS.items() for key in options}  # option -> its head


def upgrade_model_table(table: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the ``[model]`` table ``table`` in the current spelling; ``ValueError`` if an old key
    contradicts its new spelling. A table without old keys comes back unchanged."""
    model = dict(table)
    old_tag, old_args = "memory" in model, "memory_args" in model
    for old, new in RENAMED.items():
        if old in model:
            _put(model, old, new, model.pop(old))
    if "pattern_dim" in model:
        _put_pattern_dim(model, model.pop("pattern_dim"))
    if old_tag and model.get("kind") != "ebmm":
        _drop_ebmm_defaults(model)
    if old_args and model.get("kind", "ebmm") == "ebmm" and model.get("args") == {}:
        del model["args"]  # an old EBMM config saved an empty memory_args
    if model.get("energy") in CONV_ENERGIES and isinstance(model.get("energy_args"), dict):
        model["energy_args"] = _nest_head_options(model["energy_args"])
    return model


def upgrade_override(keys: list[str], value: Any, model: Mapping[str, Any] | None = None) -> tuple[list[str], Any]:
    """A ``--set`` override's key path and value in the current spelling (``model.pattern_dim=16``
    becomes ``model.pattern_shape=[16]``, ``model.memory_args.budget=64`` becomes ``model.args.budget=64``).

    ``model`` is the ``[model]`` table the override applies to: where it holds a conv energy whose
    ``head`` is a table, ``model.energy_args.hops=2`` sets ``model.energy_args.head.hops``. (Beside a
    head given by its kind alone the key stays where it is, and ``upgrade_model_table`` moves it.)"""
    if len(keys) < 2 or keys[0] != "model":
        return keys, value
    if len(keys) == 3 and keys[1] == "energy_args" and keys[2] in OLD_HEAD_KEYS and model is not None:
        args = model.get("energy_args")
        if model.get("energy") in CONV_ENERGIES and isinstance(args, dict) and isinstance(args.get("head"), dict):
            return ["model", "energy_args", "head", keys[2]], value
    if keys[1] in RENAMED:
        return ["model", RENAMED[keys[1]], *keys[2:]], value
    if keys == ["model", "pattern_dim"]:
        return ["model", "pattern_shape"], [_pattern_dim(value)]
    return keys, value


def _put(model: dict[str, Any], old: str, new: str, value: Any) -> None:
    if new in model and model[new] != value:
        raise ValueError(f"model.{old} = {value!r} (the old spelling of model.{new}) contradicts model.{new} = "
                         f"{model[new]!r}; give model.{new} only")
    model[new] = value


def _pattern_dim(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"model.pattern_dim (the old spelling of model.pattern_shape = [D]) must be an integer, "
                         f"got {value!r}")
    return value


def _put_pattern_dim(model: dict[str, Any], value: Any) -> None:
    """``pattern_dim`` becomes ``pattern_shape = [pattern_dim]``. Beside a non-empty ``pattern_shape`` it
    must be the number of values the shape holds, or the old default beside an image shape (saved configs
    carry it: it was ignored there)."""
    dim = _pattern_dim(value)
    shape = model.get("pattern_shape")
    if shape in (None, []):  # old configs saved pattern_shape = [] for vectors
        model["pattern_shape"] = [dim]
        return
    if not isinstance(shape, list) or not all(isinstance(size, int) for size in shape):
        return  # the type check names pattern_shape
    if dim != math.prod(shape) and not (dim == OLD_PATTERN_DIM and len(shape) > 1):
        raise ValueError(f"model.pattern_dim = {dim} (the old spelling of model.pattern_shape = [{dim}]) contradicts "
                         f"model.pattern_shape = {shape} ({math.prod(shape)} values); give model.pattern_shape only")


def _drop_ebmm_defaults(model: dict[str, Any]) -> None:
    """Remove the EBMM fields an old baseline config carries at their defaults (it saved every field);
    any other value stays, for the loader to refuse as a key the baseline does not have."""
    defaults = EBMMConfig()
    for field in dataclasses.fields(EBMMConfig):
        if field.name not in ("kind", "pattern_shape") and model.get(field.name, _MISSING) == getattr(defaults, field.name):
            del model[field.name]


_MISSING = object()


def _nest_head_options(args: dict[str, Any]) -> dict[str, Any]:
    """A conv energy's ``energy_args`` with the head options given beside ``head`` (default ``"gated"``)
    moved into its spec. An option of the other head was ignored by the old energy: at its old default
    it is dropped, any other value refused. An option given in both places must agree."""
    flat = [key for key in args if key in OLD_HEAD_KEYS]
    head = args.get("head", "gated")
    spec = {"kind": head} if isinstance(head, str) else dict(head) if isinstance(head, dict) else None
    if not flat or spec is None or spec.get("kind") not in OLD_HEAD_OPTIONS:
        return args  # nothing to move, or a head the energy will refuse by name
    kind = spec["kind"]
    for key in flat:
        value, owner = args[key], OLD_HEAD_KEYS[key]
        where = f"model.energy_args.{key} = {value!r}"
        if owner != kind:
            if value == OLD_HEAD_OPTIONS[owner][key]:
                continue
            raise ValueError(f"{where} is an option of the {owner!r} head, but the head is {kind!r}; remove it")
        if key in spec and spec[key] != value:
            raise ValueError(f"{where} (the old spelling of model.energy_args.head.{key}) contradicts "
                             f"model.energy_args.head.{key} = {spec[key]!r}; give model.energy_args.head.{key} only")
        spec[key] = value
    upgraded = {key: spec if key == "head" else value for key, value in args.items() if key not in OLD_HEAD_KEYS}
    upgraded["head"] = spec  # appended where the old table had no head
    return upgraded
