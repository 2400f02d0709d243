"""How much of an image EBMM's recall comes from what it wrote: error with the learned write against
the same read under θ̄ (nothing written), on fresh test-split episodes.

Usage: python scripts/memory_use.py CHECKPOINT [N] [EPISODES]   (data folder from EBMM_DATA)
"""

from __future__ import annotations

import sys

import torch

from ebmm.bench.images import UnwrittenMemory
from ebmm.build import load_memory
from ebmm.tasks import METRICS, build_task


def main(checkpoint: str, count: int = 64, episodes: int = 6, seed: int = 123) -> None:
    torch.set_num_threads(1)
    memory, config = load_memory(checkpoint)
    task = build_task(config)
    metric = METRICS[task.metric_name]
    generator = torch.Generator().manual_seed(seed)
    patterns, queries = task.sample(episodes, count, generator, "test")
    for name, model in (("written", memory), ("nothing written (θ̄)", UnwrittenMemory(memory))):
        out = model.read(queries, model.write(patterns))
        print(f"{name:>22}: {task.metric_name} {float(metric(out.patterns, patterns).mean()):.2f} "
              f"(query {float(metric(queries, patterns).mean()):.2f}; N = {count}, {episodes} episodes)")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1], *(int(a) for a in sys.argv[2:4]))
