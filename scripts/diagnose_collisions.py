"""Where the errors of a slot-style EBMM come from: strings that share a key.

For a checkpoint whose energy has writable keys (``slots`` or ``sign_slots``), writes fresh episodes
and reports, per N: the fraction of strings whose best key under θ̄ is shared with another string
(what a one-shot write would collide on), the fraction still sharing their best key after the
T-step write, and the mean error bits of strings that do and do not share their final key.

    python scripts/diagnose_collisions.py checkpoints/binary --patterns 16,48,96 --episodes 100
"""

from __future__ import annotations

import argparse

import torch

from ebmm.bench.metrics import hamming_errors
from ebmm.build import load_memory
from ebmm.corruption import ResampleBits
from ebmm.memory import MemoryState


def best_keys(memory, state: MemoryState, patterns: torch.Tensor) -> torch.Tensor:
    """Index of the best-scoring key (level 0) for each pattern, under each written memory."""
    weights = state.fast["memory.weight"]  # (B, slots, dim)
    if hasattr(memory.energy, "keys"):  # SignSlotEnergy: score with the sign keys
        weights = torch.stack([memory.energy.keys(w)[0] for w in weights])
    return torch.einsum("bnd,bjd->bnj", 2 * patterns - 1, weights).argmax(-1)


def shared(keys: torch.Tensor, slots: int) -> torch.Tensor:
    counts = torch.nn.functional.one_hot(keys, slots).sum(1)
    return counts.gather(1, keys) > 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--patterns", default="16,48,96")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    memory, _ = load_memory(args.checkpoint)
    generator = torch.Generator().manual_seed(args.seed)
    theta_bar = {n: v.detach().unsqueeze(0).expand(args.episodes, *v.shape) for n, v in memory.initial_fast_weights().items()}
    slots = theta_bar["memory.weight"].shape[1]
    print(f"{'N':>4} {'shared under θ̄':>16} {'shared after write':>19} {'bits, own key':>14} {'bits, shared':>13} {'bits, all':>10}")
    for count in (int(n) for n in args.patterns.split(",")):
        patterns = torch.randint(0, 2, (args.episodes, count, 128), generator=generator).float()
        queries = ResampleBits(64)(patterns, generator)
        state = memory.write(patterns)
        errors = hamming_errors(memory.read(queries, state).patterns, patterns)
        before = shared(best_keys(memory, MemoryState(theta_bar), patterns), slots)
        after = shared(best_keys(memory, state, patterns), slots)
        own = errors[~after].mean().item() if (~after).any() else float("nan")
        both = errors[after].mean().item() if after.any() else float("nan")
        print(f"{count:>4} {before.float().mean().item():>16.2f} {after.float().mean().item():>19.2f} "
              f"{own:>14.2f} {both:>13.2f} {errors.mean().item():>10.2f}")


if __name__ == "__main__":
    main()
