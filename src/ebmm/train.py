"""The meta-trainer: episodes, AdamW, global-norm clipping, JSONL metrics, atomic resumable checkpoints.

A run folder holds ``config.json`` (the resolved config), ``metrics.jsonl`` (one line per logging
or evaluation step), ``checkpoint-<step>/`` folders (``model.safetensors``, ``trainer.safetensors``
with optimiser and RNG state, ``config.json``, ``state.json``) and ``latest.json`` naming the newest
complete one. A checkpoint folder is written under a temporary name and renamed when complete, and
``latest.json`` is replaced atomically after it, so an interrupted write never hides a good one.

Under ``torchrun --nproc_per_node P`` (see ``ebmm.distributed``) the memory is wrapped in
``DistributedDataParallel``: every rank draws the same global batch of ``train.meta_batch`` episodes
from the same seeded generator and trains on its contiguous slice, so the averaged gradient is the
single-process one. Rank 0 alone writes files, prints and evaluates; logged losses and metrics are
averaged over ranks and so mean the same as in a single-process run.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from ebmm import distributed
from ebmm.build import build_memory, check_device
from ebmm.checkpoint import load_json, load_tensors, save_json, save_tensors
from ebmm.config import Config, EBMMConfig, ModelConfig, config_from_dict
from ebmm.protocol import GradMode, TrainableMemory
from ebmm.run_folder import CheckpointFolder, RunFolder
from ebmm.tasks import METRICS, BinaryTask, ImageTask, build_task, evaluate

EVAL_SEED_OFFSET = 1_000_003


class TrainingDiverged(RuntimeError):
    """Raised when the meta-loss or its gradient stops being finite."""


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    last_eval: dict[str, Any] | None


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    tensors = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"optim.{index}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return tensors


def _restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    state_dict = optimizer.state_dict()
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    state_dict["state"] = state
    optimizer.load_state_dict(state_dict)


def make_optimizer(memory: TrainableMemory, config: Config) -> torch.optim.Optimizer:
    """AdamW over the memory's meta-parameters, less those ``train.frozen`` holds."""
    return torch.optim.AdamW(trained_parameters(memory, config.train.frozen), lr=config.train.lr,
                             weight_decay=config.train.weight_decay)


def trained_parameters(memory: TrainableMemory, frozen: list[str]) -> list[nn.Parameter]:
    """The parameters of ``memory`` whose names match none of the ``frozen`` patterns (``fnmatch``);
    ``ValueError`` naming a pattern that matches no parameter."""
    named = dict(memory.named_parameters())
    for pattern in frozen:
        if not any(fnmatch.fnmatchcase(name, pattern) for name in named):
            raise ValueError(f"train.frozen: {pattern!r} matches no parameter of this memory "
                             f"(its parameters: {', '.join(named)})")
    return [value for name, value in named.items() if not any(fnmatch.fnmatchcase(name, p) for p in frozen)]


def learning_rate(config: Config, step: int) -> float:
    """The learning rate of update ``step`` (0-based) under ``train.lr_schedule``."""
    if config.train.lr_schedule == "cosine":
        return 0.5 * config.train.lr * (1.0 + math.cos(math.pi * step / config.train.steps))
    return config.train.lr


def evaluate_binary(
    memory: TrainableMemory, config: Config, patterns_list: list[int], episodes: int, seed: int
) -> dict[str, Any]:
    """Hamming error and the stored-vs-fresh energy gap on fresh episodes (see ``tasks.evaluate``)."""
    return evaluate(memory, build_task(config), patterns_list, episodes, seed)


def _sample_batch(
    config: Config, task: BinaryTask | ImageTask, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """One update's episodes at a load drawn from ``task.patterns``, and that load's loss weight."""
    choices = config.task.patterns
    index = int(torch.randint(len(choices), (1,), generator=generator))
    weight = float(config.task.pattern_weights[index]) if config.task.pattern_weights else 1.0
    return (*task.sample(config.train.meta_batch, choices[index], generator, "train"), weight)


class _MetaLoss(nn.Module):
    """The meta-loss and the detached final reads: a forward for DistributedDataParallel to wrap."""

    def __init__(self, memory: TrainableMemory):
        super().__init__()
        if not isinstance(memory, nn.Module):  # DistributedDataParallel and the optimiser need a module
            raise TypeError(f"the trainer trains torch modules, got {type(memory).__name__}")
        self.memory = memory

    def forward(
        self, patterns: torch.Tensor, queries: torch.Tensor, mode: GradMode, truncate: int | None, checkpoint: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        loss, _, retrieval = self.memory.episode_loss(patterns, queries, mode, truncate=truncate, checkpoint=checkpoint)
        return loss, retrieval.patterns.detach()


def _initialise_from(memory: TrainableMemory, config: Config, device: torch.device) -> None:
    """Load the parameters of ``train.init_from``'s checkpoint.

    With the same model config (up to fields that set no parameter, e.g. ``read_temperature``), every
    parameter. With the same energy (``energy``, pattern shape)
    but other write/read fields (e.g. refine steps added to a trained memory), the energy's
    parameters only: the write and read rules start from this run's config. ``energy_args`` may
    differ too when the energy's parameters still fit: a parameter whose initial value an option sets
    (e.g. ``novelty``) starts from this run's option, every other one is the checkpoint's
    (``load_unless_reinitialised``).
    """
    from ebmm.build import load_unless_reinitialised, resolve_checkpoint

    folder = CheckpointFolder(resolve_checkpoint(config.train.init_from))
    saved = config_from_dict(load_json(folder.config))
    tensors = load_tensors(folder.model, device=device)
    if _without_settings(saved.model) == _without_settings(config.model):
        memory.load_state_dict(tensors)
        return
    model, old = config.model, saved.model
    energy_fields = ("kind", "energy", "pattern_shape")  # a baseline has no energy fields: None
    differ = [name for name in energy_fields if getattr(old, name, None) != getattr(model, name, None)]
    if differ or not isinstance(model, EBMMConfig):
        fields = ", ".join(f"model.{name}" for name in differ) or f"model.kind = {model.kind!r} (a learned baseline)"
        raise ValueError(f"train.init_from={config.train.init_from}: its model config differs from this run's in "
                         f"{fields}; a run can start from another's energy only when the energy is the same")
    energy = {name: value for name, value in tensors.items() if name.startswith("energy.")}
    try:
        load_unless_reinitialised(memory, energy, old, model)
    except RuntimeError as error:
        raise ValueError(f"train.init_from={config.train.init_from}: its energy's parameters do not fit this run's "
                         f"energy (model.energy_args {getattr(old, 'energy_args', None)} there, {model.energy_args} "
                         f"here): {error}") from error


PARAMETER_FREE_FIELDS = ("read_temperature",)  # [model] fields that set no parameter's shape or initial value


def _without_settings(model: ModelConfig) -> ModelConfig:
    """``model`` with the fields of ``PARAMETER_FREE_FIELDS`` at their defaults: two configs equal this
    way build memories with the same parameters (e.g. a stochastic read of a deterministic checkpoint)."""
    if not isinstance(model, EBMMConfig):
        return model
    defaults = EBMMConfig()
    return dataclasses.replace(model, **{name: getattr(defaults, name) for name in PARAMETER_FREE_FIELDS})


def _initialise_from_data(memory: TrainableMemory, task: Any, device: torch.device) -> None:
    """Let an energy that starts from data (e.g. a PCA decoder) see the train split once."""
    energy = getattr(memory, "energy", None)
    if hasattr(energy, "initialise") and hasattr(task, "images"):
        energy.initialise(task.images("train").images.to(device))  # type: ignore[union-attr]


def _rank_slice(batch: int, context: distributed.Context) -> slice:
    """This rank's contiguous share of a global batch of ``batch`` episodes."""
    if batch % context.world_size:
        raise ValueError(f"train.meta_batch ({batch}) must be divisible by the number of processes "
                         f"({context.world_size})")
    share = batch // context.world_size
    return slice(context.rank * share, (context.rank + 1) * share)


def _save_checkpoint(
    run_dir: Path, step: int, memory: TrainableMemory, optimizer: torch.optim.Optimizer,
    generator: torch.Generator, config: Config, elapsed: float,
) -> Path:
    run = RunFolder(run_dir)
    name = run.checkpoint_name(step)
    final = run_dir / name
    tmp = CheckpointFolder(run_dir / f".{name}.tmp")
    shutil.rmtree(tmp.path, ignore_errors=True)
    tmp.path.mkdir(parents=True)
    save_tensors(tmp.model, memory.state_dict())
    trainer = _optimizer_tensors(optimizer)
    trainer["rng.data"] = generator.get_state()
    save_tensors(tmp.trainer, trainer)
    save_json(tmp.config, config.to_dict())
    save_json(tmp.state, {"step": step, "elapsed_seconds": elapsed})
    shutil.rmtree(final, ignore_errors=True)
    tmp.path.rename(final)
    old = load_json(run.latest)["checkpoint"] if run.has_checkpoint() else None
    save_json(run.latest, {"checkpoint": name, "step": step})
    if old and old != name:
        shutil.rmtree(run_dir / old, ignore_errors=True)
    return final


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop log lines written after ``step`` (from an interrupted run) so the log stays consistent."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in kept))


def train(
    config: Config,
    run_dir: str | Path,
    resume: bool = False,
    quiet: bool = False,
    max_steps: int | None = None,
) -> TrainResult:
    """Meta-train the memory ``config.model`` describes (an EnergyMemory or a learned baseline, any
    ``TrainableMemory``) on the task ``config`` describes (binary strings or images).

    ``resume`` continues from ``run_dir``'s latest checkpoint, restoring parameters, optimiser and
    RNG state, so that the continued run matches an uninterrupted one. ``max_steps`` stops early
    (after checkpointing) without changing the schedule, e.g. to split a long run into sessions.
    Under torchrun every process calls this; see the module docstring.
    """
    check_device(config.train.device)  # a clear error for CUDA on a CPU-only build, before anything starts
    context = distributed.setup(config.train.device)
    try:
        result = _train(config, Path(run_dir), resume, quiet, max_steps, context)
    except (TrainingDiverged, FileExistsError, ValueError):  # raised by every rank alike
        distributed.cleanup(context)
        raise
    # Other errors may be one rank's own: tearing the group down then could wait for the others,
    # so the process just exits and torchrun stops the rest.
    distributed.cleanup(context)
    return result


def _train(
    config: Config, run_dir: Path, resume: bool, quiet: bool, max_steps: int | None, context: distributed.Context,
) -> TrainResult:
    device = context.device
    main = context.rank == 0
    share = _rank_slice(config.train.meta_batch, context)
    torch.manual_seed(config.train.seed)
    memory = build_memory(config.model).to(device)
    task = build_task(config)
    optimizer = make_optimizer(memory, config)
    generator = torch.Generator(device="cpu").manual_seed(config.train.seed)
    start, elapsed = 0, 0.0
    run = RunFolder(run_dir)
    metrics_path = run.metrics
    # Every rank checks the run folder before the first collective after set-up; no rank can write
    # latest.json before all ranks have passed it, so they all take the same branch.
    if resume:
        from ebmm.build import resolve_checkpoint

        folder = CheckpointFolder(resolve_checkpoint(run_dir))
        saved = config_from_dict(load_json(folder.config))
        if saved.model != config.model:
            raise ValueError(f"cannot resume {run_dir}: the model config differs from the checkpoint's")
        memory.load_state_dict(load_tensors(folder.model, device=device))
        trainer = load_tensors(folder.trainer)
        _restore_optimizer(optimizer, trainer)
        generator.set_state(trainer["rng.data"])
        state = load_json(folder.state)
        start, elapsed = int(state["step"]), float(state["elapsed_seconds"])
        if main:
            _truncate_metrics(metrics_path, start)
    elif run.has_checkpoint():
        raise FileExistsError(f"{run_dir} already holds a run; pass --resume to continue it or choose a new --out")
    elif config.train.init_from:
        _initialise_from(memory, config, device)
    else:
        _initialise_from_data(memory, task, device)
    step_loss: nn.Module = _MetaLoss(memory)
    if context.world_size > 1:
        # Some energies have parameters the meta-loss never reaches (e.g. an output bias that
        # drops out of every gradient), hence find_unused_parameters.
        step_loss = nn.parallel.DistributedDataParallel(
            step_loss, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=True)
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_json(run.config, config.to_dict())
    end = config.train.steps if max_steps is None else min(config.train.steps, start + max_steps)
    last_eval = None
    last_good = None
    progress = tqdm(range(start, end), initial=start, total=config.train.steps,
                    disable=quiet or not main or not sys.stderr.isatty(), desc=config.name, dynamic_ncols=True)
    tic = time.perf_counter()
    window: list[float] = []
    trained = [parameter for group in optimizer.param_groups for parameter in group["params"]]
    with (metrics_path.open("a") if main else open(os.devnull, "w")) as log:
        for step in progress:
            patterns, queries, weight = _sample_batch(config, task, generator)
            if context.world_size > 1:
                patterns, queries = patterns[share], queries[share]
            patterns, queries = patterns.to(device), queries.to(device)
            options = config.gradient_options(step)
            loss, reads = step_loss(patterns, queries, options["mode"], options["truncate"], options["checkpoint"])
            global_loss = distributed.all_mean(loss.detach())  # the same on every rank
            memory.zero_grad(set_to_none=True)  # frozen parameters too: their gradients go unused
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step)
            if torch.isfinite(global_loss):
                (loss * weight).backward()  # the log keeps the unweighted loss
                grad_norm = torch.nn.utils.clip_grad_norm_(trained, config.train.clip_norm)
            if not torch.isfinite(global_loss) or not torch.isfinite(grad_norm):
                latest = run.latest
                where = (f"last good checkpoint: {last_good or latest}" if last_good or latest.is_file()
                         else "no checkpoint was written yet")
                raise TrainingDiverged(f"meta-loss or gradient is not finite at step {step} ({where})")
            optimizer.step()
            window.append(global_loss.item())
            done = step + 1
            if done % config.train.log_every == 0 or done == config.train.steps:
                metric = distributed.all_mean(METRICS[task.metric_name](reads, patterns).mean())
                now = time.perf_counter()
                record = {
                    "step": done, "kind": "train", "loss": sum(window) / len(window),
                    "grad_norm": float(grad_norm), "patterns": patterns.shape[1], "lr": learning_rate(config, step),
                    task.metric_name: float(metric), "seconds": elapsed + now - tic,
                }
                window.clear()
                log.write(json.dumps(record) + "\n")
                log.flush()
                progress.set_postfix(loss=f"{record['loss']:.2f}", error=f"{record[task.metric_name]:.1f}")
            if done % config.train.eval_every == 0 or done == config.train.steps:
                if main:  # the others wait at the barrier
                    last_eval = {"step": done, "kind": "eval", **evaluate(
                        memory, task, config.train.eval_patterns, config.train.eval_episodes,
                        config.train.seed + EVAL_SEED_OFFSET)}
                    last_eval["seconds"] = elapsed + time.perf_counter() - tic
                    log.write(json.dumps(last_eval) + "\n")
                    log.flush()
                    if quiet is False and not sys.stderr.isatty():
                        print(json.dumps(last_eval), flush=True)
                distributed.barrier()
            if done % config.train.checkpoint_every == 0 or done == end:
                if main:
                    _save_checkpoint(run_dir, done, memory, optimizer, generator, config,
                                     elapsed + time.perf_counter() - tic)
                last_good = run.checkpoint(done).path
    if end == start == 0 and main:  # --max-steps 0: the initialised model (e.g. a PCA decoder) as a checkpoint
        _save_checkpoint(run_dir, 0, memory, optimizer, generator, config, 0.0)
    distributed.barrier()  # every rank returns once the run's files are complete
    return TrainResult(run_dir, end, last_eval)


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """All records of a run's ``metrics.jsonl``."""
    path = RunFolder(Path(run_dir)).metrics
    if not path.is_file():
        raise FileNotFoundError(f"no metrics log at {path}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

