"""Profile one meta-training step of a config: where the time goes, by operator.

    python scripts/profile_step.py configs/binary_paper.toml [--set KEY=VALUE ...] [--steps 3] [--top 25]

Runs two warm-up steps, then profiles ``--steps`` steps (``torch.profiler``, CPU activities, and
CUDA ones on a GPU) of ``episode_loss`` + backward + clipping + AdamW, exactly as ``ebmm.train``
takes them, on synthetic episodes of the config's shape (``ebmm.bench.speed.synthetic_batch``).
Prints the operators with the largest self time; ``--trace FILE`` also writes a Chrome trace.
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from ebmm.bench.speed import synthetic_batch, training_step
from ebmm.build import build_memory
from ebmm.config import load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--trace", default=None)
    args = parser.parse_args()

    config = load_config(args.config, args.overrides)
    model = config.ebmm_model("the profile")
    device = torch.device(args.device)
    torch.manual_seed(config.train.seed)
    memory = build_memory(model).to(device)
    optimizer = torch.optim.AdamW(memory.parameters(), lr=config.train.lr)
    patterns, queries = synthetic_batch(config, device)
    step = training_step(memory, optimizer, config, patterns, queries, config.train.grad_mode)
    for _ in range(2):
        step()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(args.steps):
            with record_function("meta_step"):
                step()
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(f"{config.name}: B={patterns.shape[0]}, N={patterns.shape[1]}, shape={tuple(patterns.shape[2:])}, "
          f"T={model.write_steps}, K={model.read_steps}, grad_mode={config.train.grad_mode}, "
          f"{torch.get_num_threads()} torch threads, {args.steps} profiled steps")
    print(prof.key_averages().table(sort_by=sort, row_limit=args.top))
    if args.trace:
        prof.export_chrome_trace(args.trace)


if __name__ == "__main__":
    main()
