"""Choose the refine steps' rate and momentum of a memory on *train*-split episodes of its own task.

    python -m experiments.tune_refine CHECKPOINT --data-dir ../shared/data \\
        --steps 30 --rates 0.0005,0.001,0.002,0.004,0.008 --momenta 0.9 \\
        --json results/images/refine_tuning/NAME.json

The checkpoint's energy and write/read rules stay as trained; ``refine_steps`` R steps with one
rate (energy term; the other terms keep the write's rates) and one momentum are added
(``EnergyMemory(refine_steps=...)``) and every pair of the grid is scored by the mean error of a
read after writing the same seeded train-split episodes (test images are never seen; binary
strings have one distribution), averaged over the memory loads N (default: the checkpoint's
``task.patterns``). R = 0 is scored too, as the checkpoint itself.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
import time
from typing import Any

import torch

from ebmm.bench.harness import git_revision
from ebmm.build import build_memory, load_memory, resolve_checkpoint
from ebmm.checkpoint import load_json, save_json
from ebmm.config import Config, config_from_dict
from ebmm.memory import EnergyMemory
from ebmm.run_folder import CheckpointFolder
from ebmm.tasks import METRICS, BinaryTask, ImageTask, build_task


def with_refinement(checkpoint: str, steps: int, rate: float, momentum: float) -> EnergyMemory:
    """The checkpoint's memory with ``steps`` refine steps at ``rate`` (energy term) and ``momentum``."""
    base, config = load_memory(checkpoint)
    model = config.ebmm_model("refine-step tuning")
    rates = [rate, *model.write_rate_init[1:]]
    model = dataclasses.replace(model, refine_steps=steps, refine_rate_init=rates,
                                refine_momentum_init=momentum)
    memory = build_memory(model)
    assert isinstance(memory, EnergyMemory) and isinstance(base, EnergyMemory)
    missing, unexpected = memory.load_state_dict(base.state_dict(), strict=False)
    if unexpected or any(not name.startswith("refine_") for name in missing):
        raise ValueError(f"{checkpoint}: parameters do not match (missing {missing}, unexpected {unexpected})")
    return memory


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


def tune(checkpoint: str, task: BinaryTask | ImageTask, steps: int, rates: list[float], momenta: list[float],
         episodes: int, counts: list[int], seed: int) -> dict[str, Any]:
    """Score every (rate, momentum) of the grid by the mean error over ``counts`` (patterns per
    episode) on train-split episodes; returns the record with the best pair."""
    generator = torch.Generator().manual_seed(seed)
    batches = {count: task.sample(episodes, count, generator, "train") for count in counts}
    metric = METRICS[task.metric_name]

    def score(memory: EnergyMemory) -> dict[int, float]:
        with torch.no_grad():
            return {count: metric(memory.read(queries, memory.write(clean)).patterns, clean).mean().item()
                    for count, (clean, queries) in batches.items()}

    base, _ = load_memory(checkpoint)
    assert isinstance(base, EnergyMemory)
    unrefined = score(base)
    print(f"{checkpoint}: R = 0: {_mean(unrefined):.3f} {_cells(unrefined)}", flush=True)
    trials: list[dict[str, Any]] = []
    for momentum in momenta:
        for rate in rates:
            memory = with_refinement(checkpoint, steps, rate, momentum)
            tic = time.perf_counter()
            per_count = score(memory)
            trials.append({"rate": rate, "momentum": momentum, "error": _mean(per_count),
                           "per_count": {str(n): v for n, v in per_count.items()},
                           "seconds": time.perf_counter() - tic})
            print(f"  R = {steps}, rate {rate:g}, momentum {momentum:g}: {_mean(per_count):.3f} {_cells(per_count)}",
                  flush=True)
    best = min(trials, key=lambda trial: trial["error"])
    return {"checkpoint": checkpoint, "dataset": getattr(task, "dataset", "binary"), "split": "train",
            "episodes": episodes, "patterns": counts if len(counts) > 1 else counts[0], "seed": seed,
            "refine_steps": steps, "unrefined_error": _mean(unrefined),
            "unrefined_per_count": {str(n): v for n, v in unrefined.items()}, "trials": trials, "best": best,
            "metric": task.metric_name}


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
    parser.add_argument("--rates", default="0.0005,0.001,0.002,0.004,0.008",
                        help="comma-separated refine rates (energy term) to try")
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
        rates = [float(r) for r in args.rates.split(",")]
        momenta = [float(m) for m in args.momenta.split(",")]
    except ValueError as error:
        parser.error(f"--rates and --momenta take comma-separated numbers: {error}")
    config = checkpoint_config(args.checkpoint)
    task = checkpoint_task(config, args.dataset, args.data_dir, args.block_size)
    counts = [int(n) for n in args.patterns.split(",")] if args.patterns else list(config.task.patterns)
    record = tune(args.checkpoint, task, args.steps, rates, momenta, args.episodes, counts, args.seed)
    given = sys.argv[1:] if argv is None else argv
    record.update(command=" ".join(["python -m experiments.tune_refine", *given]),
                  revision=git_revision())
    best = record["best"]
    print(f"best: rate {best['rate']:g}, momentum {best['momentum']:g}: {best['error']:.3f} "
          f"(R = 0: {record['unrefined_error']:.3f})")
    if args.json:
        save_json(args.json, record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
