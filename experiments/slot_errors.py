"""Where a code-slot string memory's errors come from: each wrong read classified by its cause.

    python -m experiments.slot_errors CHECKPOINT --patterns 16,32,48,64,96 --episodes 30 --seed 5 \\
        --json results/strings/slot_errors_NAME.json

For a memory whose energy keeps one code per slot (``CodeSlotEnergy``), on seeded episodes of random
strings corrupted as the checkpoint's task says (or as ``--corruption`` says), every query whose
read has at least one wrong bit falls in one of three classes, decided in code space (the static
projection z(x) = V(2x − 1)):

- ``shared_slot``: its string has no slot of its own (its nearest written code is nearer another
  string, so two strings were merged by the write);
- ``wrong_slot``: its string has a slot, but the corrupted query's code is nearer another written
  slot (the code keeps ``w`` of the ``dim`` directions, so some distance is lost);
- ``unfinished``: the query's code is nearest its own slot, but the read ends off the string (too
  few or too short read steps, or the read drifts elsewhere).

Reported per N: the mean error bits, how many queries are wrong, and each class's count and bits.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import torch

from ebmm.bench.harness import git_revision
from ebmm.build import load_memory
from ebmm.checkpoint import save_json
from ebmm.corruption import build_corruption
from ebmm.data.binary import random_binary_patterns
from ebmm.energy.code_slots import CodeSlotEnergy
from ebmm.memory import EnergyMemory

CLASSES = ("shared_slot", "wrong_slot", "unfinished")


def classify(memory: EnergyMemory, patterns: torch.Tensor, queries: torch.Tensor) -> dict[str, Any]:
    """Error bits and their causes for one batch of episodes ``(B, N, dim)``."""
    energy = memory.energy
    if not isinstance(energy, CodeSlotEnergy):
        raise ValueError(f"slot_errors needs a code_slots energy, got {type(energy).__name__}")
    with torch.no_grad():
        state = memory.write(patterns)
        reads = memory.read(queries, state).patterns
        errors = ((reads > 0.5) != (patterns > 0.5)).sum(-1).float()  # (B, N)
        codes, projection = energy.codes_of(state.fast["memory.weight"], state.patterns)  # (B, slots, w), (w, dim)
        written = codes.pow(2).sum(-1) >= energy.empty_radius**2  # (B, slots)
        project = projection.detach().T

        def distances(x: torch.Tensor) -> torch.Tensor:  # to every written slot, (B, N, slots)
            return torch.cdist((2 * x - 1) @ project, codes).masked_fill(~written.unsqueeze(1), float("inf"))

        own = distances(patterns).argmin(-1)  # (B, N): the slot nearest each stored string
        owners = torch.zeros_like(written, dtype=torch.long).scatter_add_(1, own, torch.ones_like(own))
        shared = owners.gather(1, own) > 1
        wrong_slot = distances(queries).argmin(-1) != own
    wrong = errors > 0
    causes = {"shared_slot": wrong & shared, "wrong_slot": wrong & ~shared & wrong_slot,
              "unfinished": wrong & ~shared & ~wrong_slot}
    return {"mean_error": float(errors.mean()), "queries": errors.numel(), "wrong_queries": int(wrong.sum()),
            "classes": {name: {"queries": int(mask.sum()), "bits_per_query": float((errors * mask).sum()) / errors.numel()}
                        for name, mask in causes.items()}}


def slot_errors_markdown(record: dict[str, Any]) -> str:
    """The record as a table: one row per N, each class's wrong queries and error bits per query."""
    lines = ["| N | error bits | wrong queries | " + " | ".join(f"{name.replace('_', ' ')} (queries, bits)" for name in CLASSES)
             + " |", "|---" * (3 + len(CLASSES)) + "|"]
    for count, result in record["per_count"].items():
        cells = [f"{result['classes'][name]['queries']}, {result['classes'][name]['bits_per_query']:.3f}" for name in CLASSES]
        lines.append(f"| {count} | {result['mean_error']:.3f} | {result['wrong_queries']:,} of {result['queries']:,} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.slot_errors", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--patterns", default="16,32,48,64,96", help="comma-separated memory loads N")
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--corruption", default=None,
                        help="the queries' corruption, e.g. erase (default: the checkpoint's task.corruption)")
    parser.add_argument("--corrupt-bits", type=int, default=None,
                        help="positions corrupted (default: the checkpoint's task.corrupt_bits)")
    parser.add_argument("--json", default=None, help="write the record here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    memory, config = load_memory(args.checkpoint)
    if not isinstance(memory, EnergyMemory) or not isinstance(memory.energy, CodeSlotEnergy):
        parser.error(f"{args.checkpoint} is not a code-slot string memory (energy = {getattr(config.model, 'energy', config.model.kind)!r})")
    corruption = args.corruption or config.task.corruption
    bits = args.corrupt_bits if args.corrupt_bits is not None else config.task.corrupt_bits
    corrupt = build_corruption(corruption, bits)
    generator = torch.Generator().manual_seed(args.seed)
    record: dict[str, Any] = {"benchmark": "slot_errors", "checkpoint": args.checkpoint,
                              "episodes": args.episodes, "seed": args.seed,
                              "corruption": f"{corruption} {bits}", "per_count": {}}
    for count in (int(n) for n in args.patterns.split(",")):
        patterns = random_binary_patterns(args.episodes, count, memory.pattern_shape[0], generator)
        result = classify(memory, patterns, corrupt(patterns, generator))
        record["per_count"][str(count)] = result
        cells = ", ".join(f"{name} {c['queries']} ({c['bits_per_query']:.3f} bits)" for name, c in result["classes"].items())
        print(f"N={count}: {result['mean_error']:.3f} bits, {result['wrong_queries']} of {result['queries']} "
              f"queries wrong: {cells}", flush=True)
    given = sys.argv[1:] if argv is None else argv
    record.update(command=" ".join(["python -m experiments.slot_errors", *given]), revision=git_revision())
    if args.json:
        save_json(args.json, record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
