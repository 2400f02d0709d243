"""Choose the refine steps' rate and momentum, or other write/read settings, of a memory on
*train*-split episodes of its own task.

    python -m experiments.tune_refine CHECKPOINT --data-dir ../shared/data \\
        --steps 30 --rates 0.0005,0.001,0.002,0.004,0.008 --momenta 0.9 \\
        --json results/images/refine_tuning/NAME.json
    python -m experiments.tune_refine CHECKPOINT --grid 'read_steps=[20,40,80]' \\
        --grid 'momentum_init=[0.01,0.5]' --json ...

The checkpoint's energy and write/read rules stay as trained. ``--rates`` adds R = ``--steps``
refine steps with one rate (energy term; the other terms keep the write's rates) and one momentum
(``RefineRule(steps=...)``); ``--grid FIELD=[...]`` tries values of any other ``[model]``
field or of one energy option, ``--grid energy_args.NAME=[...]`` (``with_overrides``: a parameter the
field or option initialises, or whose shape it changes, starts from the new value; every other
parameter is the checkpoint's). Every point of the product of the
grids is scored by the mean error of a read after writing the same seeded train-split episodes
(test images are never seen; binary strings have one distribution), averaged over the memory loads
N (default: the checkpoint's ``task.patterns``). The checkpoint itself is scored too.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import itertools
import json
import sys
import time
from typing import Any

import torch

from ebmm.bench.harness import git_revision
from ebmm.build import build_memory, load_memory, load_unless_reinitialised, resolve_checkpoint
from ebmm.checkpoint import load_json, save_json
from ebmm.config import Config, config_from_dict
from ebmm.memory import EnergyMemory
from ebmm.run_folder import CheckpointFolder
from ebmm.tasks import METRICS, BinaryTask, ImageTask, build_task

ENERGY_FIELDS = ("kind", "energy", "pattern_shape")


def with_overrides(checkpoint: str, overrides: dict[str, Any]) -> EnergyMemory:
    """The checkpoint's memory with ``overrides`` of its ``[model]`` fields (e.g. ``read_steps``) or of
    single energy options (``energy_args.NAME``, e.g. ``energy_args.novelty``).

    A parameter whose initial value the overrides change (the field or option initialises it, or its
    shape follows e.g. ``read_steps``) starts from the overridden config; every other parameter,
    the energy's included, keeps the checkpoint's value. An override that reshapes an energy
    parameter is refused (the trained energy would be lost).
    """
    base, config = load_memory(checkpoint)
    model = config.ebmm_model("tuning")
    fields = {name: value for name, value in overrides.items() if not name.startswith("energy_args.")}
    options = {name.removeprefix("energy_args."): value for name, value in overrides.items() if name not in fields}
    for name in fields:
        if name in ENERGY_FIELDS or name == "energy_args" or not hasattr(model, name):
            raise ValueError(f"cannot tune model.{name}: not a write/read field of {type(model).__name__} "
                             "(energy options: energy_args.NAME)")
    changed = dataclasses.replace(model, **fields, energy_args={**model.energy_args, **options})
    with torch.random.fork_rng():  # a parameter the overrides re-initialise starts the same in every call
        torch.manual_seed(0)
        memory = build_memory(changed)
    assert isinstance(memory, EnergyMemory) and isinstance(base, EnergyMemory)
    fresh, saved = memory.state_dict(), base.state_dict()
    reshaped = [name for name, value in saved.items()
                if name.startswith("energy.") and name in fresh and fresh[name].shape != value.shape]
    if reshaped:
        raise ValueError(f"{checkpoint}: the overrides {overrides} change the shape of the energy's parameters {reshaped}")
    load_unless_reinitialised(memory, {name: value for name, value in saved.items()
                                       if name in fresh and fresh[name].shape == value.shape}, model, changed)
    return memory


def refine_overrides(checkpoint: str, steps: int, rate: float, momentum: float) -> dict[str, Any]:
    """The ``[model]`` overrides that add ``steps`` refine steps at ``rate`` (energy term; the other
    terms keep the write's rates) and ``momentum``."""
    rates = [rate, *checkpoint_config(checkpoint).ebmm_model("refine-step tuning").write_rate_init[1:]]
    return {"refine_steps": steps, "refine_rate_init": rates, "refine_momentum_init": momentum}


def with_refinement(checkpoint: str, steps: int, rate: float, momentum: float) -> EnergyMemory:
    """The checkpoint's memory with ``steps`` refine steps at ``rate`` (energy term) and ``momentum``."""
    return with_overrides(checkpoint, refine_overrides(checkpoint, steps, rate, momentum))


def checkpoint_config(checkpoint: str) -> Config:
    """The config a checkpoint (name or folder) was trained with, without loading its weights."""
    return config_from_dict(load_json(CheckpointFolder(resolve_checkpoint(checkpoint)).config))


def checkpoint_task(config: Config, dataset: str | None = None, data_dir: str | None = None,
                    block: int | None = None) -> BinaryTask | ImageTask:
    """The task of a checkpoint's ``config`` (its ``[task]``), with the given overrides."""
    config = copy.deepcopy(config)
    if dataset:
        config.task.data = dataset
    if data_dir:
        config.task.data_dir = data_dir
    if block:
        config.task.corruption_args = {**config.task.corruption_args, "size": block}
    return build_task(config)


def refine_grid(steps: int, rates: list[float], momenta: list[float]) -> list[dict[str, Any]]:
    """The refine points of the CLI's ``--steps/--rates/--momenta``, as trial labels."""
    return [{"refine_steps": steps, "rate": rate, "momentum": momentum} for momentum in momenta for rate in rates]


def tune(checkpoint: str, task: BinaryTask | ImageTask, trials: list[dict[str, Any]],
         episodes: int, counts: list[int], seed: int) -> dict[str, Any]:
    """Score every trial (a dict of ``[model]`` overrides; ``rate``/``momentum`` with ``refine_steps``
    stand for the refine steps' energy-term rate and momentum) by the mean error over ``counts``
    (patterns per episode) on train-split episodes; returns the record with the best trial."""
    generator = torch.Generator().manual_seed(seed)
    batches = {count: task.sample(episodes, count, generator, "train") for count in counts}
    metric = METRICS[task.metric_name]

    def score(memory: EnergyMemory) -> dict[int, float]:
        with torch.no_grad():
            return {count: metric(memory.read(queries, memory.write(clean)).patterns, clean).mean().item()
                    for count, (clean, queries) in batches.items()}

    base, _ = load_memory(checkpoint)
    assert isinstance(base, EnergyMemory)
    unchanged = score(base)
    print(f"{checkpoint}: as shipped: {_mean(unchanged):.3f} {_cells(unchanged)}", flush=True)
    records: list[dict[str, Any]] = []
    for trial in trials:
        memory = _build(checkpoint, trial)
        tic = time.perf_counter()
        per_count = score(memory)
        records.append({**trial, "error": _mean(per_count), "per_count": {str(n): v for n, v in per_count.items()},
                        "seconds": time.perf_counter() - tic})
        print(f"  {_label(trial)}: {_mean(per_count):.3f} {_cells(per_count)}", flush=True)
    best = min(records, key=lambda record: record["error"])
    refine_steps = {trial.get("refine_steps") for trial in trials} - {None}
    return {"checkpoint": checkpoint, "dataset": getattr(task, "dataset", "binary"), "split": "train",
            "episodes": episodes, "patterns": counts if len(counts) > 1 else counts[0], "seed": seed,
            "refine_steps": refine_steps.pop() if len(refine_steps) == 1 else None,
            "unrefined_error": _mean(unchanged), "unrefined_per_count": {str(n): v for n, v in unchanged.items()},
            "trials": records, "best": best, "metric": task.metric_name}


def _build(checkpoint: str, trial: dict[str, Any]) -> EnergyMemory:
    refine = ("refine_steps", "rate", "momentum") if "rate" in trial else ()  # refine_overrides sets them
    overrides = {name: value for name, value in trial.items() if name not in refine}
    if "rate" in trial:
        overrides.update(refine_overrides(checkpoint, trial["refine_steps"], trial["rate"], trial["momentum"]))
    return with_overrides(checkpoint, overrides)


def _label(trial: dict[str, Any]) -> str:
    parts = []
    if "rate" in trial:
        parts.append(f"R = {trial['refine_steps']}, rate {trial['rate']:g}, momentum {trial['momentum']:g}")
    shown = ("refine_steps", "rate", "momentum") if "rate" in trial else ()
    parts += [f"{name} {value}" for name, value in trial.items() if name not in (*shown, "error", "per_count", "seconds")]
    return ", ".join(parts)


def _mean(per_count: dict[int, float]) -> float:
    return sum(per_count.values()) / len(per_count)


def _cells(per_count: dict[int, float]) -> str:
    return "(" + ", ".join(f"N={n}: {v:.3f}" for n, v in per_count.items()) + ")" if len(per_count) > 1 else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.tune_refine", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--dataset", default=None, help="image dataset (default: the checkpoint's task.data)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--steps", type=int, default=30, help="refine steps R (default 30)")
    parser.add_argument("--rates", default=None,
                        help="comma-separated refine rates (energy term) to try (none: no refine steps added)")
    parser.add_argument("--grid", action="append", default=[], metavar="FIELD=[V,...]",
                        help="a [model] field (or energy_args.NAME) and the JSON list of values to try (repeatable; the grid is the product)")
    parser.add_argument("--momenta", default="0.9", help="comma-separated momenta in (0, 1) to try")
    parser.add_argument("--episodes", type=int, default=2, help="train-split episodes scored per N (default 2)")
    parser.add_argument("--patterns", default=None,
                        help="comma-separated patterns per episode N (default: the checkpoint's task.patterns)")
    parser.add_argument("--block-size", type=int, default=None,
                        help="side of the noise block (default: the checkpoint's corruption)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", default=None, help="write the record here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        rates = [float(r) for r in args.rates.split(",")] if args.rates else []
        momenta = [float(m) for m in args.momenta.split(",")]
    except ValueError as error:
        parser.error(f"--rates and --momenta take comma-separated numbers: {error}")
    axes: list[list[dict[str, Any]]] = [refine_grid(args.steps, rates, momenta)] if rates else []
    for spec in args.grid:
        field, _, values = spec.partition("=")
        try:
            candidates = json.loads(values)
        except json.JSONDecodeError as error:
            parser.error(f"--grid {spec!r}: the values must be a JSON list, e.g. read_steps=[20,40] ({error})")
        if not field or not isinstance(candidates, list) or not candidates:
            parser.error(f"--grid {spec!r}: expected FIELD=[V,...] with at least one value")
        axes.append([{field.strip(): value} for value in candidates])
    if not axes:
        parser.error("nothing to tune: give --rates (refine steps) and/or --grid FIELD=[...]")
    trials = [{k: v for point in product for k, v in point.items()} for product in itertools.product(*axes)]
    config = checkpoint_config(args.checkpoint)
    task = checkpoint_task(config, args.dataset, args.data_dir, args.block_size)
    counts = [int(n) for n in args.patterns.split(",")] if args.patterns else list(config.task.patterns)
    try:
        record = tune(args.checkpoint, task, trials, args.episodes, counts, args.seed)
    except ValueError as error:
        parser.error(str(error))
    given = sys.argv[1:] if argv is None else argv
    record.update(command=" ".join(["python -m experiments.tune_refine", *given]),
                  revision=git_revision())
    best = record["best"]
    print(f"best: {_label(best)}: {best['error']:.3f} (as shipped: {record['unrefined_error']:.3f})")
    if args.json:
        save_json(args.json, record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
