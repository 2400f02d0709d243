"""Choose the refine steps' rate and momentum of an image memory on *train*-split episodes.

    python -m experiments.tune_refine CHECKPOINT --dataset omniglot --data-dir ../shared/data \\
        --steps 30 --rates 0.0005,0.001,0.002,0.004,0.008 --momenta 0.9 \\
        --json results/images/refine_tuning/NAME.json

The checkpoint's energy and write/read rules stay as trained; ``refine_steps`` R steps with one
rate (energy term; the other terms keep the write's rates) and one momentum are added
(``EnergyMemory(refine_steps=...)``) and every pair of the grid is scored by the mean error of a
read after writing the same seeded train-split episodes (test images are never seen). R = 0 is
scored too, as the checkpoint itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import Any

import torch

from ebmm.bench.harness import git_revision
from ebmm.build import build_memory, load_memory, resolve_checkpoint
from ebmm.checkpoint import load_json, save_json
from ebmm.config import config_from_dict
from ebmm.corruption import build_corruption
from ebmm.data.images import load_images, sample_episodes
from ebmm.memory import EnergyMemory
from ebmm.run_folder import CheckpointFolder
from ebmm.tasks import METRICS


def with_refinement(checkpoint: str, steps: int, rate: float, momentum: float) -> EnergyMemory:
    """The checkpoint's memory with ``steps`` refine steps at ``rate`` (energy term) and ``momentum``."""
    base, _ = load_memory(checkpoint)
    config = config_from_dict(load_json(CheckpointFolder(resolve_checkpoint(checkpoint)).config))
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


def tune(checkpoint: str, dataset: str, data_dir: str | None, steps: int, rates: list[float],
         momenta: list[float], episodes: int, patterns: int, block: int, seed: int) -> dict[str, Any]:
    """Score every (rate, momentum) of the grid; returns the record with the best pair."""
    images = load_images(dataset, data_dir, "train")
    generator = torch.Generator().manual_seed(seed)
    clean = sample_episodes(images.images, episodes, patterns, generator)
    queries = build_corruption("block_noise", size=block)(clean, generator)
    metric = METRICS["hamming" if images.binary else "squared"]
    base, _ = load_memory(checkpoint)
    with torch.no_grad():
        unrefined = metric(base.read(queries, base.write(clean)).patterns, clean).mean().item()
    print(f"{checkpoint}: R = 0: {unrefined:.3f}", flush=True)
    trials = []
    for momentum in momenta:
        for rate in rates:
            memory = with_refinement(checkpoint, steps, rate, momentum)
            tic = time.perf_counter()
            with torch.no_grad():
                error = metric(memory.read(queries, memory.write(clean)).patterns, clean).mean().item()
            trials.append({"rate": rate, "momentum": momentum, "error": error,
                           "seconds": time.perf_counter() - tic})
            print(f"  R = {steps}, rate {rate:g}, momentum {momentum:g}: {error:.3f}", flush=True)
    best = min(trials, key=lambda trial: trial["error"])
    return {"checkpoint": checkpoint, "dataset": dataset, "split": "train", "episodes": episodes,
            "patterns": patterns, "block": block, "seed": seed, "refine_steps": steps,
            "unrefined_error": unrefined, "trials": trials, "best": best,
            "metric": "hamming" if images.binary else "squared"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.tune_refine", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--steps", type=int, default=30, help="refine steps R (default 30)")
    parser.add_argument("--rates", default="0.0005,0.001,0.002,0.004,0.008",
                        help="comma-separated refine rates (energy term) to try")
    parser.add_argument("--momenta", default="0.9", help="comma-separated momenta in (0, 1) to try")
    parser.add_argument("--episodes", type=int, default=2, help="train-split episodes scored (default 2)")
    parser.add_argument("--patterns", type=int, default=64, help="images per episode (default 64)")
    parser.add_argument("--block-size", type=int, default=16, help="side of the noise block (default 16)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", default=None, help="write the record here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        rates = [float(r) for r in args.rates.split(",")]
        momenta = [float(m) for m in args.momenta.split(",")]
    except ValueError as error:
        parser.error(f"--rates and --momenta take comma-separated numbers: {error}")
    record = tune(args.checkpoint, args.dataset, args.data_dir, args.steps, rates, momenta, args.episodes,
                  args.patterns, args.block_size, args.seed)
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
