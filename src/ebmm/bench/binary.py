"""The binary-string benchmark: every memory on the same episodes, error bits per pattern."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from ebmm.bench.metrics import hamming_errors
from ebmm.corruption import build_corruption
from ebmm.data.binary import random_binary_patterns
from ebmm.protocol import AssociativeMemory

# Mean error bits per pattern at 8,256 floats, METHOD.md §5 (the paper's table). Reference values
# to print beside our measurements, never used as results.
PAPER_BINARY: dict[str, dict[int, float]] = {
    "hopfield_hebb": {16: 0.4, 32: 5.0, 48: 9.8, 64: 13.0, 96: 16.5},
    "hopfield_storkey": {16: 0.0, 32: 0.9, 48: 6.3, 64: 11.3, 96: 17.1},
    "hopfield_pinv": {16: 0.0, 32: 0.0, 48: 0.3, 64: 4.3, 96: 22.5},
    "plasticity": {16: 3.0, 32: 13.2, 48: 20.8, 64: 26.3, 96: 34.9},
    "mann": {16: 0.1, 32: 0.2, 48: 1.8, 64: 4.25, 96: 9.6},
    "lstm": {16: 30, 32: 58, 48: 63, 64: 64, 96: 64},
    "memory_networks": {16: 0.0, 32: 0.0, 48: 0.0, 64: 0.0, 96: 10.5},
    "ebmm": {16: 0.0, 32: 0.0, 48: 0.1, 64: 0.5, 96: 4.2},
}


def git_revision() -> str:
    """The current git commit of the code, with ``+dirty`` when tracked files outside ``results/`` changed."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parent)
        # Changes to results files do not make the code dirty: benchmarks write them.
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":/", ":(exclude,top)results"],
                               capture_output=True, text=True, cwd=Path(__file__).resolve().parent).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def command_line() -> str:
    """The command that is running, as typed (program name shortened to its base name)."""
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])


def _percentile(values: torch.Tensor, q: float) -> float:
    return float(torch.quantile(values.double(), q))


def benchmark_binary(
    models: dict[str, AssociativeMemory],
    pattern_counts: Iterable[int],
    episodes: int,
    seed: int,
    corruption: str = "resample",
    corrupt_bits: int = 64,
    dim: int = 128,
    chunk: int = 50,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """Error bits per pattern for every model on the same seeded episodes.

    For each N, ``episodes`` episodes of N random strings are drawn once and shared by all models.
    Each entry has the mean error bits per pattern, the 5th/95th percentiles of the per-episode
    mean, and the model's memory floats. A model ``"query"`` is always added: the corrupted query
    itself, the error a memory that does nothing would make.
    """
    corrupt = build_corruption(corruption, corrupt_bits)
    results: dict[str, dict[str, dict[str, float]]] = {name: {} for name in ["query", *models]}
    for count in pattern_counts:
        generator = torch.Generator().manual_seed(seed * 1000 + count)
        per_episode: dict[str, list[torch.Tensor]] = {name: [] for name in results}
        floats: dict[str, int] = {}
        for start in range(0, episodes, chunk):
            size = min(chunk, episodes - start)
            patterns = random_binary_patterns(size, count, dim, generator)
            queries = corrupt(patterns, generator)
            per_episode["query"].append(hamming_errors(queries, patterns).mean(1))
            floats["query"] = 0
            for name, model in models.items():
                device = _device_of(model)
                state = model.write(patterns.to(device))
                out = model.read(queries.to(device), state)
                per_episode[name].append(hamming_errors(out.patterns.cpu(), patterns).mean(1))
                floats[name] = int(model.memory_floats(state))
        for name, chunks in per_episode.items():
            values = torch.cat(chunks)
            results[name][str(count)] = {
                "mean": float(values.mean()),
                "p5": _percentile(values, 0.05),
                "p95": _percentile(values, 0.95),
                "memory_floats": floats[name],
            }
        if progress is not None:
            progress(f"N={count}: " + ", ".join(f"{n} {results[n][str(count)]['mean']:.2f}" for n in results))
    return results


def _device_of(model: Any) -> torch.device:
    if isinstance(model, torch.nn.Module):
        for parameter in model.parameters():
            return parameter.device
    return torch.device("cpu")


def format_table(results: dict[str, dict[str, dict[str, float]]], paper: dict[str, dict[int, float]] | None = None) -> str:
    """A plain-text table: one row per model, one column per N, with the paper's row under it."""
    counts = list(next(iter(results.values())).keys())
    width = 20
    header = f"{'model':<20}{'floats':>12}" + "".join(f"{'N=' + n:>{width}}" for n in counts)
    lines = [header, "-" * len(header)]
    for name, row in results.items():
        sizes = sorted({int(row[n]["memory_floats"]) for n in counts})
        floats = str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"
        cells = "".join(
            f"{row[n]['mean']:.2f} [{row[n]['p5']:.1f}, {row[n]['p95']:.1f}]".rjust(width) for n in counts
        )
        lines.append(f"{name:<20}{floats:>12}{cells}")
        if paper and name in paper:
            ref = "".join(f"{paper[name].get(int(n), float('nan')):>{width}.2f}" for n in counts)
            lines.append(f"{'  paper':<20}{'':>12}{ref}")
    return "\n".join(lines)
