"""Build an EnergyMemory from a config, and load a trained one from a checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Union

import torch

from ebmm.checkpoint import load_json, load_tensors
from ebmm.config import Config, ModelConfig, config_from_dict, pattern_shape
from ebmm.energy import build_energy
from ebmm.memory import EnergyMemory

if TYPE_CHECKING:
    from ebmm.baselines.learned import LearnedMemory

TrainableMemory = Union[EnergyMemory, "LearnedMemory"]


def build_memory(model: ModelConfig) -> TrainableMemory:
    """A freshly initialised memory as ``model`` describes: an EnergyMemory, or the learned
    baseline ``model.memory`` names (built from ``model.memory_args``)."""
    shape = pattern_shape(model)
    if model.memory != "ebmm":
        from ebmm.baselines import build_learned

        return build_learned(model.memory, shape, **model.memory_args)
    size = {"shape": shape} if len(shape) > 1 else {"dim": shape[0]}
    energy = build_energy(model.energy, **size, **model.energy_args)
    return EnergyMemory(
        energy,
        pattern_shape=shape,
        write_steps=model.write_steps,
        read_steps=model.read_steps,
        write_terms=model.write_terms,
        write_rate_init=model.write_rate_init,
        write_reduction=model.write_reduction,
        write_chunk=model.write_chunk or None,
        read_step_init=model.read_step_init,
        read_step_decay_init=model.read_step_decay_init,
        momentum_init=model.momentum_init,
        momentum_decay_init=model.momentum_decay_init,
    )


def resolve_checkpoint(path: str | Path) -> Path:
    """The checkpoint folder for ``path``: a checkpoint folder itself or a run folder's latest."""
    path = Path(path)
    if (path / "model.safetensors").is_file():
        return path
    latest = path / "latest.json"
    if latest.is_file():
        return path / load_json(latest)["checkpoint"]
    raise FileNotFoundError(
        f"no checkpoint at {path}: expected model.safetensors there, or a run folder with latest.json"
    )


def load_memory(path: str | Path, device: str | torch.device = "cpu") -> tuple[TrainableMemory, Config]:
    """Load a trained memory (EnergyMemory or learned baseline) and its config from a checkpoint or run folder."""
    folder = resolve_checkpoint(path)
    config = config_from_dict(load_json(folder / "config.json"))
    memory = build_memory(config.model)
    tensors = load_tensors(folder / "model.safetensors", device=device)
    try:
        memory.load_state_dict(tensors)
    except RuntimeError as error:
        raise ValueError(f"checkpoint {folder} does not match its config: {error}") from error
    return memory.to(device), config
