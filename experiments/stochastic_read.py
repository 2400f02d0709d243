"""Stochastic reading: does a read with Langevin noise sample among the stored patterns a query fits?

    python -m experiments.stochastic_read CHECKPOINT --temperatures 0,0.001,0.01,0.03,0.1 \\
        --episodes 50 --samples 4 --seed 7 --json results/strings/stochastic_read.json

The paper's read is deterministic: a query that fits several stored patterns equally well always
gets the same answer, or a blend of them. Here every episode writes ``pairs`` pairs of random strings
whose members agree on their first ``shown`` bits and differ elsewhere (2·pairs strings), and each
query shows those ``shown`` bits with the rest erased (0.5): both members fit it exactly. Per
temperature τ (``ReadRule.temperature``, the same written memories and queries for every τ), each
query is read ``samples`` times with independent noise, and reported:

- ``nearest_bits``: wrong bits of a read against the nearer member (a blend scores high);
- ``exact``: the fraction of reads that are a stored member (at most 1 wrong bit);
- ``coverage``: the fraction of members that at least one of the ``samples`` reads recovers; a read
  that picks either member with probability 1/2 covers 1 − 2^−samples of them (``coverage_fair``),
  a deterministic read at most 1/2;
- ``control_bits``: the usual benchmark at the same τ, what the noise costs on unambiguous queries
  (the checkpoint's own corruption, N = ``control_patterns``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import torch

from ebmm.build import load_memory
from ebmm.config import Config
from ebmm.corruption import build_corruption
from ebmm.data.binary import random_binary_patterns
from ebmm.memory import EnergyMemory
from experiments.study_output import finish_study


def ambiguous_episodes(episodes: int, pairs: int, dim: int, shown: int, generator: torch.Generator
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """``patterns`` ``(episodes, 2·pairs, dim)``: pairs of strings equal on their first ``shown`` bits
    (members 2p and 2p + 1), and ``queries`` ``(episodes, pairs, dim)``: those bits, the rest 0.5."""
    if not 0 < shown < dim:
        raise ValueError(f"shown must be between 1 and dim - 1 = {dim - 1}, got {shown}")
    common = torch.randint(0, 2, (episodes, pairs, 1, shown), generator=generator).float()
    rest = torch.randint(0, 2, (episodes, pairs, 2, dim - shown), generator=generator).float()
    patterns = torch.cat([common.expand(-1, -1, 2, -1), rest], -1).reshape(episodes, 2 * pairs, dim)
    queries = torch.cat([common[:, :, 0], torch.full((episodes, pairs, dim - shown), 0.5)], -1)
    return patterns, queries


def sample_statistics(reads: torch.Tensor, members: torch.Tensor) -> dict[str, float]:
    """``reads`` ``(B, pairs, S, dim)`` against the two ``members`` ``(B, pairs, 2, dim)`` of each query."""
    wrong = ((reads > 0.5).unsqueeze(3) != (members > 0.5).unsqueeze(2)).sum(-1).float()  # (B, pairs, S, 2)
    nearest = wrong.min(-1).values
    found = (wrong <= 1).any(2)  # (B, pairs, 2): members some read recovered
    return {"nearest_bits": float(nearest.mean()), "exact": float((nearest <= 1).float().mean()),
            "coverage": float(found.float().mean())}


def stochastic_read_study(memory: EnergyMemory, config: Config, temperatures: Sequence[float], episodes: int = 50,
                          pairs: int = 8, shown: int = 64, samples: int = 4, control_patterns: int = 64,
                          seed: int = 7) -> dict[str, Any]:
    """The statistics above for each temperature (see the module docstring)."""
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    (dim,) = memory.pattern_shape
    generator = torch.Generator().manual_seed(seed)
    patterns, queries = ambiguous_episodes(episodes, pairs, dim, shown, generator)
    control = random_binary_patterns(episodes, control_patterns, dim, generator=generator)
    corrupt = build_corruption(config.task.corruption, config.task.corrupt_bits)
    control_queries = corrupt(control, generator)
    members = patterns.reshape(episodes, pairs, 2, dim)
    rows = {}
    with torch.no_grad():
        state, control_state = memory.write(patterns), memory.write(control)
        for index, tau in enumerate(temperatures):
            noise = torch.Generator().manual_seed(seed + 1 + index)
            reads = torch.stack([memory.read(queries, state, temperature=tau, generator=noise).patterns
                                 for _ in range(samples)], 2)
            recalled = memory.read(control_queries, control_state, temperature=tau, generator=noise).patterns
            control_bits = float(((recalled > 0.5) != (control > 0.5)).sum(-1).float().mean())
            rows[f"{tau:g}"] = {**sample_statistics(reads, members), "control_bits": control_bits}
    return {"episodes": episodes, "pairs": pairs, "shown": shown, "samples": samples, "seed": seed,
            "control_patterns": control_patterns,
            "control_corruption": f"{config.task.corruption} {config.task.corrupt_bits}",
            "coverage_fair": 1.0 - 0.5**samples, "results": rows}


def markdown(result: dict[str, Any]) -> str:
    """One row per temperature."""
    lines = [f"| τ | wrong bits (nearer member) | reads that are a member | members found by {result['samples']} "
             f"reads (fair coin: {result['coverage_fair']:.2f}) | control: wrong bits, N = {result['control_patterns']} |",
             "|---|---|---|---|---|"]
    for tau, row in result["results"].items():
        lines.append(f"| {tau} | {row['nearest_bits']:.2f} | {row['exact']:.2f} | {row['coverage']:.2f} | "
                     f"{row['control_bits']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a string memory: shipped name, checkpoint or run folder")
    parser.add_argument("--temperatures", default="0,0.001,0.01,0.03,0.1")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--pairs", type=int, default=8, help="pairs of strings per episode (N = 2 x pairs)")
    parser.add_argument("--shown", type=int, default=64, help="bits the two members of a pair share and the query shows")
    parser.add_argument("--samples", type=int, default=4, help="reads of each query")
    parser.add_argument("--control-patterns", type=int, default=64)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    memory, config = load_memory(args.checkpoint)
    if not isinstance(memory, EnergyMemory) or len(memory.pattern_shape) != 1:
        parser.error(f"{args.checkpoint} is not an EBMM string memory")
    temperatures = [float(t) for t in args.temperatures.split(",")]
    result = stochastic_read_study(memory, config, temperatures, args.episodes, args.pairs, args.shown, args.samples,
                                   args.control_patterns, args.seed)
    return finish_study("experiments.stochastic_read", argv, args.checkpoint, result, markdown, args.json)


if __name__ == "__main__":
    sys.exit(main())
