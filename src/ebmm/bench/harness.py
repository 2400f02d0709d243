"""The shared benchmark harness: every memory on the same seeded episodes, per-episode statistics."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from ebmm.protocol import AssociativeMemory
from ebmm.quantize import quantize_state

EpisodeSampler = Callable[[int, int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]
Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


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


UNRELATED_SEED_OFFSET = 500_000  # the unrelated patterns' generator, apart from the episodes'


def _percentile(values: torch.Tensor, q: float) -> float:
    return float(torch.quantile(values.double(), q))


def benchmark_memories(
    models: dict[str, AssociativeMemory],
    sample: EpisodeSampler,
    metric: Metric,
    pattern_counts: Iterable[int],
    episodes: int,
    seed: int,
    chunk: int = 50,
    progress: Callable[[str], None] | None = None,
    *,
    specificity: bool = False,
    quantize: Sequence[int] = (),
) -> dict[str, dict[str, dict[str, Any]]]:
    """Error per pattern for every model on the same seeded episodes.

    ``sample(episodes, N, generator)`` returns ``(patterns, queries)``; for each N, ``episodes``
    episodes are drawn once (in chunks of ``chunk``) and shared by all models. Each entry has the
    mean error per pattern, the 5th/95th percentiles of the per-episode mean, and the model's memory
    floats and bits (``memory_bits(state)`` where a model has it, else 32 per float). A model
    ``"query"`` is always added: the corrupted query itself, the error a memory that does nothing
    would make.

    ``specificity``: also read the same queries after writing *unrelated* patterns drawn from the
    same sampler (``unrelated``) and, for models with ``empty_state(batch)``, from a memory with
    nothing written (``nothing``); ``right_over_unrelated`` is their ratio. A memory whose error
    after the right write is not clearly below its error after an unrelated write stores nothing.
    ``quantize``: also read after rounding the written state to each of these bit depths
    (``ebmm.quantize``), reported under ``quantized[bits]`` with ``memory_bits = floats · bits``;
    models that count their own bits (``memory_bits``, e.g. the verbatim store) are not re-quantised.
    The extra draws come from their own generator, so the main episodes do not change.
    """
    results: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in ["query", *models]}
    for count in pattern_counts:
        generator = torch.Generator().manual_seed(seed * 1000 + count)
        others_generator = torch.Generator().manual_seed(seed * 1000 + count + UNRELATED_SEED_OFFSET)
        per_episode: dict[str, dict[str, list[torch.Tensor]]] = {name: {} for name in results}
        floats: dict[str, int] = {"query": 0}
        bits: dict[str, int] = {"query": 0}
        for start in range(0, episodes, chunk):
            size = min(chunk, episodes - start)
            patterns, queries = sample(size, count, generator)
            others = sample(size, count, others_generator)[0] if specificity else None
            query_error = metric(queries, patterns).mean(1)
            per_episode["query"].setdefault("mean", []).append(query_error)
            if specificity:
                for key in ("unrelated", "nothing"):
                    per_episode["query"].setdefault(key, []).append(query_error)
            for name, model in models.items():
                device = device_of(model)
                record = per_episode[name]

                def error(state: Any, model: AssociativeMemory = model, device: torch.device = device,
                          queries: torch.Tensor = queries, patterns: torch.Tensor = patterns) -> torch.Tensor:
                    out = model.read(queries.to(device), state)
                    return metric(out.patterns.cpu(), patterns).mean(1)

                with torch.no_grad():  # an EnergyMemory turns gradients back on for its own steps
                    state = model.write(patterns.to(device))
                    record.setdefault("mean", []).append(error(state))
                    if others is not None:
                        record.setdefault("unrelated", []).append(error(model.write(others.to(device))))
                        empty = getattr(model, "empty_state", None)
                        if empty is not None:
                            record.setdefault("nothing", []).append(error(empty(size)))
                    if getattr(model, "memory_bits", None) is None:  # a store with its own precision is not re-quantised
                        for depth in quantize:
                            record.setdefault(f"q{depth}", []).append(error(quantize_state(state, depth)))
                floats[name] = int(model.memory_floats(state))
                counter = getattr(model, "memory_bits", None)
                bits[name] = int(counter(state)) if counter is not None else 32 * floats[name]
        for name, record in per_episode.items():
            values = torch.cat(record["mean"])
            entry: dict[str, Any] = {
                "mean": float(values.mean()),
                "p5": _percentile(values, 0.05),
                "p95": _percentile(values, 0.95),
                "memory_floats": floats[name],
                "memory_bits": bits[name],
            }
            for key in ("unrelated", "nothing"):
                if key in record:
                    entry[key] = float(torch.cat(record[key]).mean())
            if "unrelated" in entry and entry["unrelated"] > 0:
                entry["right_over_unrelated"] = entry["mean"] / entry["unrelated"]
            depths = {str(d): {"mean": float(torch.cat(record[f"q{d}"]).mean()), "memory_bits": floats[name] * d}
                      for d in quantize if f"q{d}" in record}
            if depths:
                entry["quantized"] = depths
            results[name][str(count)] = entry
        if progress is not None:
            progress(f"N={count}: " + ", ".join(f"{n} {results[n][str(count)]['mean']:.2f}" for n in results))
    return results


def device_of(model: Any) -> torch.device:
    if isinstance(model, torch.nn.Module):
        for parameter in model.parameters():
            return parameter.device
    return torch.device("cpu")


def format_table(results: dict[str, dict[str, dict[str, float]]], paper: dict[str, dict[int, float]] | None = None) -> str:
    """A plain-text table: one row per model, one column per N, with the paper's row under it."""
    counts = list(next(iter(results.values())).keys())
    width = 24
    header = f"{'model':<20}{'floats':>12} " + "".join(f"{'N=' + n:>{width}}" for n in counts)
    lines = [header, "-" * len(header)]
    for name, row in results.items():
        sizes = sorted({int(row[n]["memory_floats"]) for n in counts})
        floats = str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"
        cells = "".join(
            f"{row[n]['mean']:.2f} [{row[n]['p5']:.1f}, {row[n]['p95']:.1f}]".rjust(width) for n in counts
        )
        lines.append(f"{name:<20}{floats:>12} {cells}")
        if paper and name in paper:
            ref = "".join(f"{paper[name].get(int(n), float('nan')):>{width}.2f}" for n in counts)
            lines.append(f"{'  paper':<20}{'':>12} {ref}")
    return "\n".join(lines)


def format_specificity(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Right / unrelated / nothing-written errors per model and N, and right ÷ unrelated."""
    counts = list(next(iter(results.values())).keys())
    lines = [f"{'model':<34}{'N':>5}{'right':>10}{'unrelated':>11}{'nothing':>10}{'right/unrel':>13}"]
    for name, row in results.items():
        for n in counts:
            cell = row[n]
            if "unrelated" not in cell:
                continue
            nothing = f"{cell['nothing']:.2f}" if "nothing" in cell else "-"
            ratio = f"{cell['right_over_unrelated']:.2f}" if "right_over_unrelated" in cell else "-"
            lines.append(f"{name:<34}{n:>5}{cell['mean']:>10.2f}{cell['unrelated']:>11.2f}{nothing:>10}{ratio:>13}")
    return "\n".join(lines)
