"""Tasks: where episodes come from, how queries are corrupted, and how reads are scored.

A task samples ``(patterns, queries)`` batches of ``(B, N, *shape)`` episodes from a split and
evaluates a memory on fresh episodes. ``BinaryTask`` draws random strings (every split is the same
distribution); ``ImageTask`` draws distinct images from a dataset split of ``ebmm.data``, so train
and test episodes never share an image.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any, Protocol

import torch

from ebmm.bench.metrics import hamming_errors, squared_errors
from ebmm.config import Config
from ebmm.corruption import build_corruption
from ebmm.data.binary import random_binary_patterns
from ebmm.protocol import TrainableMemory

Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
METRICS: dict[str, Metric] = {"hamming": hamming_errors, "squared": squared_errors}


class Task(Protocol):
    metric_name: str

    def sample(self, episodes: int, count: int, generator: torch.Generator, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]: ...

    def fresh(self, episodes: int, count: int, generator: torch.Generator, split: str = "train") -> torch.Tensor: ...


class BinaryTask:
    """Random binary strings of ``dim`` bits, corrupted by a binary corruption of ``corrupt_bits``."""

    metric_name = "hamming"
    splits = ("test",)

    def __init__(self, dim: int, corruption: str, corrupt_bits: int):
        self.dim = dim
        self.corrupt = build_corruption(corruption, corrupt_bits)

    def fresh(self, episodes: int, count: int, generator: torch.Generator, split: str = "train") -> torch.Tensor:
        return random_binary_patterns(episodes, count, self.dim, generator)

    def sample(self, episodes: int, count: int, generator: torch.Generator, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
        patterns = self.fresh(episodes, count, generator, split)
        return patterns, self.corrupt(patterns, generator)


class ImageTask:
    """Episodes of distinct images from one split of an image dataset, corrupted by ``corruption``."""

    splits = ("test", "train")

    def __init__(self, dataset: str, data_dir: str | None, corruption: str, corruption_args: dict[str, Any],
                 split_seed: int = 0, size: int = 32):
        self.dataset, self.data_dir, self.split_seed, self.size = dataset, data_dir or None, split_seed, size
        self.corrupt = build_corruption(corruption, **corruption_args)

    def images(self, split: str):  # -> ebmm.data.images.ImageSet
        from ebmm.data.images import load_images

        return load_images(self.dataset, self.data_dir, split, size=self.size, seed=self.split_seed)

    @cached_property
    def metric_name(self) -> str:  # type: ignore[override]
        return "hamming" if self.images("train").binary else "squared"

    def fresh(self, episodes: int, count: int, generator: torch.Generator, split: str = "train") -> torch.Tensor:
        from ebmm.data.images import sample_episodes

        return sample_episodes(self.images(split).images, episodes, count, generator)

    def sample(self, episodes: int, count: int, generator: torch.Generator, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
        patterns = self.fresh(episodes, count, generator, split)
        return patterns, self.corrupt(patterns, generator)


def build_task(config: Config) -> BinaryTask | ImageTask:
    """The task ``config.task`` describes (``data = "binary"`` or an image dataset)."""
    task = config.task
    if task.data == "binary":
        return BinaryTask(config.model.pattern_shape[0], task.corruption, task.corrupt_bits)
    size = config.model.pattern_shape[-1]
    return ImageTask(task.data, task.data_dir, task.corruption, task.corruption_args, task.split_seed, size)


def evaluate(
    memory: TrainableMemory,
    task: BinaryTask | ImageTask,
    counts: list[int],
    episodes: int,
    seed: int,
    splits: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Error, the query's error and the stored-vs-fresh energy gap on fresh episodes, without graphs.

    Keys: ``<metric>@N`` and ``query_<metric>@N`` on the test split (for binary strings there is one
    distribution), ``train_<metric>@N`` on the train split for image tasks, ``energy_gap@N``
    (mean energy of stored minus unseen patterns after the write; negative = writes are specific),
    and the specificity controls on the test split: ``unrelated_<metric>@N`` (the same queries read
    after writing other patterns of the split) and, for memories with ``empty_state``,
    ``nothing_<metric>@N`` (read with nothing written).
    """
    device = next(memory.parameters()).device
    metric = METRICS[task.metric_name]
    name = task.metric_name
    result: dict[str, Any] = {}
    for split in splits or task.splits:
        generator = torch.Generator(device="cpu").manual_seed(seed)
        prefix = "" if split == "test" else f"{split}_"
        for count in counts:
            patterns, queries = task.sample(episodes, count, generator, split)
            patterns, queries = patterns.to(device), queries.to(device)
            with torch.no_grad():  # an EnergyMemory turns gradients back on for its own steps
                state = memory.write(patterns)
                out = memory.read(queries, state)
            result[f"{prefix}{name}@{count}"] = float(metric(out.patterns, patterns).mean())
            if split == "test":
                fresh = task.fresh(episodes, count, generator, split).to(device)
                result[f"query_{name}@{count}"] = float(metric(queries, patterns).mean())
                with torch.no_grad():
                    unrelated = memory.read(queries, memory.write(fresh)).patterns
                    result[f"unrelated_{name}@{count}"] = float(metric(unrelated, patterns).mean())
                    if hasattr(memory, "empty_state"):
                        nothing = memory.read(queries, memory.empty_state(patterns.shape[0])).patterns
                        result[f"nothing_{name}@{count}"] = float(metric(nothing, patterns).mean())
                if hasattr(memory, "energies"):  # learned baselines have no energy
                    with torch.no_grad():
                        gap = (memory.energies(state, patterns) - memory.energies(state, fresh)).mean()
                    result[f"energy_gap@{count}"] = float(gap)
    return result
