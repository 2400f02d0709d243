"""Build a trainable memory (an EnergyMemory or a learned baseline) from a config, and load a trained one."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import torch

from ebmm.checkpoint import load_json, load_tensors
from ebmm.config import BaselineConfig, Config, EBMMConfig, ModelConfig, config_from_dict, pattern_shape
from ebmm.energy import build_energy
from ebmm.memory import EnergyMemory
from ebmm.protocol import TrainableMemory
from ebmm.rules import ReadRule, RefineRule, WriteRule
from ebmm.run_folder import CheckpointFolder, RunFolder


def build_memory(model: ModelConfig) -> TrainableMemory:
    """A freshly initialised memory as ``model`` describes: an EnergyMemory (``EBMMConfig``), or the
    learned baseline ``model.kind`` names (``BaselineConfig``, built from ``model.args``)."""
    shape = pattern_shape(model)
    if isinstance(model, BaselineConfig):
        from ebmm.baselines import build_learned

        return build_learned(model.kind, shape, **model.args)
    size = {"shape": shape} if len(shape) > 1 else {"dim": shape[0]}
    energy = build_energy(model.energy, **size, **model.energy_args)
    write, read, refine = memory_rules(model)
    return EnergyMemory(energy, pattern_shape=shape, write=write, read=read, refine=refine)


def memory_rules(model: EBMMConfig) -> tuple[WriteRule, ReadRule, RefineRule | None]:
    """The write, read and refine rules that ``model``'s fields spell (``write_*``, ``read_*`` and
    ``momentum_*``, ``refine_*``; ``refine_steps = 0``: no refinement, ``write_chunk = 0``: batch write)."""
    write = WriteRule(steps=model.write_steps, terms=tuple(model.write_terms), rate_init=tuple(model.write_rate_init),
                      reduction=model.write_reduction, chunk=model.write_chunk or None)
    read = ReadRule(steps=model.read_steps, step_init=model.read_step_init, step_decay_init=model.read_step_decay_init,
                    momentum_init=model.momentum_init, momentum_decay_init=model.momentum_decay_init,
                    temperature=model.read_temperature)
    refine = None
    if model.refine_steps:
        refine = RefineRule(steps=model.refine_steps, rate_init=tuple(model.refine_rate_init) or None,
                            momentum_init=model.refine_momentum_init)
    return write, read, refine


def load_unless_reinitialised(memory: TrainableMemory, saved: dict[str, torch.Tensor], saved_model: ModelConfig,
                              model: ModelConfig) -> list[str]:
    """Load ``saved`` (some parameters of a memory built from ``saved_model``) into ``memory`` (built
    from ``model``), except those whose initial value the two configs set differently (e.g.
    ``energy_args.novelty`` initialises the energy's ``novelty``): they keep ``memory``'s value.
    Returns their names.

    Both configs are built under the same random draws, so a randomly initialised parameter counts as
    set differently only when its config changed it. A parameter whose shape the configs change is
    loaded as saved: the memory's load hooks may convert it (a fixed slot layout into a per-episode
    one), or loading fails."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        old = build_memory(saved_model).state_dict()
        torch.manual_seed(0)
        new = build_memory(model).state_dict()
    reinitialised = [name for name in saved if name in old and name in new
                     and old[name].shape == new[name].shape and not torch.equal(old[name], new[name])]
    kept = {name: value for name, value in saved.items() if name not in reinitialised}
    memory.load_state_dict({**memory.state_dict(), **kept})
    return reinitialised


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device`` if this machine can use it, else ``ValueError`` saying why.

    A CUDA device on a torch build without CUDA, or with no GPU visible, or a GPU index past the
    visible ones, would otherwise fail deep inside torch (an ``AssertionError`` with a traceback)."""
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"unknown device {str(device)!r}: {error}") from error
    if resolved.type == "cuda":
        if not torch.backends.cuda.is_built():
            raise ValueError(
                f"CUDA requested (device {str(device)!r}) but this torch build has no CUDA (torch {torch.__version__}); "
                "install a CUDA build of torch, or use device 'cpu'"
            )
        if not torch.cuda.is_available():
            raise ValueError(
                f"CUDA requested (device {str(device)!r}) but no GPU is visible to this torch build "
                "(torch.cuda.is_available() is False: check the driver and CUDA_VISIBLE_DEVICES), or use device 'cpu'"
            )
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count:
            raise ValueError(f"device {str(device)!r} requested but only {count} GPU(s) are visible (cuda:0 to cuda:{count - 1})")
    elif resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"MPS requested (device {str(device)!r}) but this machine or torch build has no MPS; use device 'cpu'")
    return resolved


SOURCE_CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"  # the repository's, in a source tree


def _shipped_roots() -> list[Path]:
    """Where shipped checkpoints live: ``ebmm/checkpoints/`` inside the installed package (the wheel
    carries the repository's top-level ``checkpoints/`` there as package data), then the source tree's
    ``checkpoints/`` (an editable install or a plain checkout, where the package has no copy)."""
    roots = []
    try:
        packaged = resources.files("ebmm") / "checkpoints"
        if isinstance(packaged, Path) and packaged.is_dir():
            roots.append(packaged)
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - ebmm is importable whenever this runs
        pass
    if SOURCE_CHECKPOINTS.is_dir():
        roots.append(SOURCE_CHECKPOINTS)
    return roots


def shipped_checkpoints() -> list[str]:
    """The names of the checkpoints shipped with ebmm (each usable as ``load_memory(name)``)."""
    return sorted({folder.name for root in _shipped_roots() for folder in root.iterdir()
                   if CheckpointFolder(folder).exists()})


def shipped_checkpoint(name: str) -> Path:
    """The folder of the shipped checkpoint ``name`` (e.g. ``"binary"``), in any install: found with
    ``importlib.resources`` in the installed package, else in the source tree's ``checkpoints/``."""
    if not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"a shipped checkpoint is named by a bare folder name like 'binary', got {name!r}")
    for root in _shipped_roots():
        if CheckpointFolder(root / name).exists():
            return root / name
    shipped = ", ".join(shipped_checkpoints()) or "none found"
    raise FileNotFoundError(f"no shipped checkpoint named {name!r}; shipped: {shipped}")


def resolve_checkpoint(path: str | Path) -> Path:
    """The checkpoint folder for ``path``: a checkpoint folder itself, a run folder's latest, or (a
    bare name, with no checkpoint or run folder of that name here) the shipped checkpoint of that name."""
    path = Path(path)
    if CheckpointFolder(path).exists():
        return path
    if RunFolder(path).has_checkpoint():
        return RunFolder(path).latest_checkpoint().path
    bare = str(path) == path.name and path.name not in ("", ".", "..")
    if bare:
        try:
            return shipped_checkpoint(path.name)
        except FileNotFoundError:
            pass
    shipped = ", ".join(shipped_checkpoints())
    raise FileNotFoundError(
        f"no checkpoint at {path}: expected model.safetensors there, or a run folder with latest.json"
        + (f"; or name a shipped checkpoint: {shipped}" if shipped else "")
    )


def load_memory(path: str | Path, device: str | torch.device = "cpu") -> tuple[TrainableMemory, Config]:
    """Load a trained memory (EnergyMemory or learned baseline) and its config from a checkpoint or run folder."""
    check_device(device)
    folder = resolve_checkpoint(path)
    files = CheckpointFolder(folder)
    config = config_from_dict(load_json(files.config))
    memory = build_memory(config.model)
    tensors = load_tensors(files.model, device=device)
    try:
        memory.load_state_dict(tensors)
    except RuntimeError as error:
        raise ValueError(f"checkpoint {folder} does not match its config: {error}") from error
    return memory.to(device), config
