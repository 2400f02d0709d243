"""The old spellings of the ``[model]`` keys, read as the current ones.

Configs written before ``[model]`` became a union tagged by ``kind`` (shipped checkpoints' and run
folders' ``config.json``, older TOML files) spell the tag ``memory`` (absent: ``"ebmm"``), a learned
baseline's arguments ``memory_args`` and a vector's length ``pattern_dim``. ``upgrade_model_table``
maps them onto ``kind``, ``args`` and ``pattern_shape = [pattern_dim]``; ``upgrade_override`` does
the same for a ``--set`` override's key. An old key beside its new spelling must agree with it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from ebmm.config import EBMMConfig

RENAMED = {"memory": "kind", "memory_args": "args"}  # old key -> new key, same value
OLD_PATTERN_DIM = 128  # the old default, which saved configs carry beside an image's pattern_shape


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
    return model


def upgrade_override(keys: list[str], value: Any) -> tuple[list[str], Any]:
    """A ``--set`` override's key path and value in the current spelling (``model.pattern_dim=16``
    becomes ``model.pattern_shape=[16]``, ``model.memory_args.budget=64`` becomes ``model.args.budget=64``)."""
    if len(keys) < 2 or keys[0] != "model":
        return keys, value
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
