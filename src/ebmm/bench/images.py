"""The image benchmark: EBMM checkpoints at several memory sizes against reference memories.

Every model sees the same seeded episodes of N distinct test-split images and the same corrupted
queries. References (their memory is the stored images themselves, N·C·H·W floats, or a D×D
weight matrix, far more than any EBMM checkpoint): the corrupted query, a modern continuous
Hopfield retrieval (Ramsauer et al. 2020) whose β is chosen on train-split episodes, and on binary
images the classical Hopfield rules (pseudo-inverse, Storkey, Hebb) with synchronous dynamics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from ebmm.baselines.codec_nn import (
    CodecHopfieldMemory,
    CodecMemory,
    LinearCodecMemory,
    VerbatimMemory,
    choose_codec_beta,
)
from ebmm.baselines.hopfield import HopfieldMemory
from ebmm.baselines.modern_hopfield import ModernHopfieldMemory, choose_beta
from ebmm.bench.harness import benchmark_memories, command_line, device_of, git_revision
from ebmm.build import load_memory, resolve_checkpoint
from ebmm.checkpoint import load_json
from ebmm.corruption import Corruption
from ebmm.data.images import ImageSet, sample_episodes
from ebmm.linear_codec import fit_pca
from ebmm.memory import EnergyMemory, MemoryState
from ebmm.protocol import AssociativeMemory
from ebmm.run_folder import CheckpointFolder
from ebmm.tasks import METRICS

# The paper's EBMM conv errors at 64 images and a 16×16 noise block, read off its plots
# (docs/method.md#the-papers-numbers): memory floats -> error. Reference values to draw beside our measurements.
PAPER_IMAGES: dict[str, dict[int, float]] = {
    "omniglot": {2300: 19.0, 3500: 12.0, 4600: 9.2, 9200: 4.0, 11500: 3.1, 13800: 2.2, 16100: 1.8},
    "cifar10": {2300: 10.6, 3500: 10.0, 4600: 8.5, 9200: 6.7, 11500: 6.2, 13800: 6.0, 16100: 5.8},
}
BETA_EPISODES = 8
CODEC_SIZES = (2304, 4608, 9216, 16384)  # codec_nn memory sizes (floats) in every image table


def checkpoint_name(path: str | Path) -> str:
    """A short model name for a checkpoint path: its folder name (the run's, for a run folder)."""
    folder = resolve_checkpoint(path)
    return folder.parent.name if folder.name.startswith("checkpoint-") else folder.name


def training_record(path: str | Path) -> dict[str, Any]:
    """What a checkpoint says of its training: config name, steps, seconds, device."""
    folder = resolve_checkpoint(path)
    record: dict[str, Any] = {"checkpoint": str(path)}
    files = CheckpointFolder(folder)
    if files.state.is_file():
        state = load_json(files.state)
        record.update(steps=state.get("step"), seconds=state.get("elapsed_seconds"))
    config = load_json(files.config)
    record.update(config=config.get("name"), device=config.get("train", {}).get("device"),
                  trained_on=config.get("task", {}).get("data"))
    return record


def load_checkpoints(paths: Sequence[str | Path], shape: tuple[int, ...], device: str = "cpu") -> dict[str, EnergyMemory]:
    """Load every checkpoint, checking that it stores images of ``shape``."""
    models: dict[str, EnergyMemory] = {}
    for path in paths:
        memory, _ = load_memory(path, device=device)
        if tuple(memory.pattern_shape) != tuple(shape):
            raise ValueError(
                f"checkpoint {path} stores patterns of shape {memory.pattern_shape}, but the images are {tuple(shape)}"
            )
        name = checkpoint_name(path)
        if name in models:
            raise ValueError(f"two checkpoints are both named {name!r}; give distinct folders")
        models[name] = memory
    return models


class UnwrittenMemory:
    """An EnergyMemory that writes nothing: reads run under the meta-learned initial weights θ̄.

    Beside the written memory it separates what the memory stores from what the meta-learned
    energy restores by itself (a generic denoiser would do as well written or not).
    """

    def __init__(self, memory: EnergyMemory):
        self.memory = memory

    def write(self, patterns: torch.Tensor) -> MemoryState:
        return self.memory.empty_state(patterns.shape[0])

    def read(self, queries: torch.Tensor, state: MemoryState):  # -> Retrieval
        return self.memory.read(queries, state)

    def memory_floats(self, state: MemoryState) -> int:
        return 0

    def parameters(self):  # for the harness's device lookup
        return self.memory.parameters()


def beta_episodes(train: ImageSet, corrupt: Corruption, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``BETA_EPISODES`` train-split episodes of ``count`` images, and their corrupted queries, on
    which every Hopfield reference chooses its β (the same draw for all of them, given ``seed``)."""
    generator = torch.Generator().manual_seed(seed + 7919)
    patterns = sample_episodes(train.images, BETA_EPISODES, count, generator)
    return patterns, corrupt(patterns, generator)


def reference_memories(
    train: ImageSet,
    corrupt: Corruption,
    count: int,
    seed: int,
    classical: bool | None = None,
    rules: Sequence[str] = ("pinv", "storkey", "hebb"),
    codec_sizes: Sequence[int] = CODEC_SIZES,
    window: int = 16,
) -> tuple[dict[str, AssociativeMemory], dict[str, Any]]:
    """The reference memories and how they were set up (β table of the modern Hopfield net).

    β is chosen on ``BETA_EPISODES`` episodes of ``count`` train-split images. Classical Hopfield
    ``rules`` are added for binary images (``classical`` None) or when asked. ``codec_nn`` at each of
    ``codec_sizes`` floats (``size // count`` PCA coefficients per image, basis fitted on ``train``)
    and the verbatim store read the way ``ebmm.baselines.codec_nn`` describes, with a
    ``window``-sided repair square.
    """
    patterns, queries = beta_episodes(train, corrupt, count, seed)
    metric = METRICS["hamming" if train.binary else "squared"]
    beta, table = choose_beta(patterns, queries, metric)
    models: dict[str, AssociativeMemory] = {}
    shape = tuple(train.images.shape[1:])
    sizes = sorted({size // count for size in codec_sizes if size // count >= 1})
    if sizes:
        mean, basis = fit_pca(train.images, max(sizes))
        sizes = sorted({min(k, basis.shape[0]) for k in sizes})  # the data may have fewer directions
        for k in sizes:
            models[f"codec_nn ({k * count} floats)"] = LinearCodecMemory(mean, basis[:k], shape, window)
    models["verbatim"] = VerbatimMemory(shape, 1 if train.binary else 8, window)
    models["modern_hopfield"] = ModernHopfieldMemory(beta)
    if train.binary if classical is None else classical:
        for rule in rules:
            models[f"hopfield_{rule}"] = HopfieldMemory(rule=rule, dynamics="sync", seed=seed)
    setup = {"codec_nn": {"coefficients_per_image": sizes, "basis": f"PCA of the {train.split} split",
                          "window": window},
             "verbatim": {"bits_per_value": 1 if train.binary else 8, "window": window},
             "modern_hopfield": {"beta": beta, "beta_table": {f"{b:.6g}": v for b, v in table.items()},
                                 "chosen_on": f"{BETA_EPISODES} train-split episodes of {count} images"}}
    return models, setup


def same_codec_references(
    checkpoints: dict[str, EnergyMemory],
    window: int = 16,
    train: ImageSet | None = None,
    corrupt: Corruption | None = None,
    count: int = 64,
    seed: int = 0,
) -> tuple[dict[str, CodecMemory], dict[str, Any]]:
    """The references over each checkpoint's own static codec, and how they were set up.

    One ``codec_nn[name]`` per checkpoint whose energy has a codec (``CodecSlotEnergy``): it stores
    the codes the encoder gives, under the same decoder, and reads by selecting and pasting. Given
    ``train`` images and ``corrupt``, also ``hopfield_codec[name]``: a modern Hopfield network over the
    same codes, β chosen on ``BETA_EPISODES`` train-split episodes of ``count`` images. A checkpoint
    whose codec equals an earlier one's (e.g. the same checkpoint with refine steps) adds no rows: the
    setup's ``"shared_codecs"`` names the checkpoint whose rows stand for it.
    """
    models: dict[str, CodecMemory] = {}
    setup: dict[str, Any] = {}
    seen: list[tuple[str, nn.Module]] = []
    episodes = beta_episodes(train, corrupt, count, seed) if train is not None and corrupt is not None else None
    for name, memory in checkpoints.items():
        codec = getattr(memory.energy, "codec", None)
        if codec is None:
            continue
        same = next((first for first, other in seen if _same_module(codec, other)), None)
        if same is not None:
            setup.setdefault("shared_codecs", {})[name] = same
            continue
        seen.append((name, codec))
        shape = tuple(memory.pattern_shape)
        models[f"codec_nn[{name}]"] = CodecMemory(codec, shape, window)
        if episodes is not None:
            assert train is not None
            metric = METRICS["hamming" if train.binary else "squared"]
            with torch.no_grad():
                beta, table = choose_codec_beta(codec, shape, *episodes, metric, window)
            models[f"hopfield_codec[{name}]"] = CodecHopfieldMemory(codec, shape, window, beta)
            setup[f"hopfield_codec[{name}]"] = {"beta": beta, "beta_table": {f"{b:.6g}": v for b, v in table.items()},
                                               "chosen_on": f"{BETA_EPISODES} train-split episodes of {count} images"}
    return models, setup


def _same_module(a: nn.Module, b: nn.Module) -> bool:
    """Whether two modules are of one class with equal parameters and buffers."""
    if type(a) is not type(b):
        return False
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(sa[k].shape == sb[k].shape and torch.equal(sa[k], sb[k]) for k in sa)


def benchmark_images(
    models: dict[str, AssociativeMemory],
    images: ImageSet,
    corrupt: Corruption,
    pattern_counts: Sequence[int],
    episodes: int,
    seed: int,
    chunk: int = 10,
    progress: Callable[[str], None] | None = None,
    *,
    specificity: bool = False,
    quantize: Sequence[int] = (),
) -> dict[str, dict[str, dict[str, Any]]]:
    """Error per image (Hamming for binary images, else squared error) of every model.

    ``specificity`` and ``quantize`` as in ``ebmm.bench.harness.benchmark_memories`` (unrelated
    images are other images of the same split).
    """
    metric = METRICS["hamming" if images.binary else "squared"]

    def sample(size: int, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        patterns = sample_episodes(images.images, size, count, generator)
        return patterns, corrupt(patterns, generator)

    return benchmark_memories(models, sample, metric, pattern_counts, episodes, seed, chunk, progress,
                              specificity=specificity, quantize=quantize)


def retrieval_grid(
    memory: EnergyMemory, images: ImageSet, corrupt: Corruption, count: int, seed: int, show: int = 8
) -> torch.Tensor:
    """Rows of ``show`` images from one episode: originals, queries, then every read iterate.

    Returns ``(rows, show, C, H, W)`` in [0, 1].
    """
    generator = torch.Generator().manual_seed(seed)
    patterns = sample_episodes(images.images, 1, count, generator)
    queries = corrupt(patterns, generator)
    device = next(memory.parameters()).device
    state = memory.write(patterns.to(device))
    out = memory.read(queries.to(device), state, keep_iterates=True)
    assert out.iterates is not None
    rows = [patterns[0, :show], queries[0, :show], *[it[0, :show].detach().cpu() for it in out.iterates]]
    return torch.stack(rows)


def recall_grid(
    models: dict[str, AssociativeMemory], images: ImageSet, corrupt: Corruption, count: int, seed: int, show: int = 8
) -> torch.Tensor:
    """Rows of ``show`` images from one episode: originals, queries, then each model's read.

    Every model writes the same ``count`` images and reads the same queries. Returns
    ``(2 + len(models), show, C, H, W)`` in [0, 1].
    """
    generator = torch.Generator().manual_seed(seed)
    patterns = sample_episodes(images.images, 1, count, generator)
    queries = corrupt(patterns, generator)
    rows = [patterns[0, :show], queries[0, :show]]
    for model in models.values():
        device = device_of(model)
        with torch.no_grad():
            out = model.read(queries.to(device), model.write(patterns.to(device)))
        rows.append(out.patterns[0, :show].detach().cpu())
    return torch.stack(rows)


def results_record(
    dataset: str,
    images: ImageSet,
    corrupt: Corruption,
    pattern_counts: Sequence[int],
    episodes: int,
    seed: int,
    results: dict[str, Any],
    checkpoints: dict[str, dict[str, Any]],
    references: dict[str, Any],
    train_split: dict[str, Any] | None,
) -> dict[str, Any]:
    """The JSON document ``ebmm bench images`` writes."""
    return {
        "benchmark": "images",
        "dataset": dataset,
        "split": images.split,
        "source": images.source,
        "metric": "hamming" if images.binary else "squared",
        "protocol": {
            "corruption": corrupt.spec() if hasattr(corrupt, "spec") else str(corrupt),
            "patterns": list(pattern_counts),
            "episodes": episodes,
            "seed": seed,
            "metric_detail": ("error bits per image after thresholding at 0.5" if images.binary
                              else "squared error per image, summed over all values in [0, 1]"),
            "reference_memory": ("codec_nn stores k PCA coefficients per image (N·k floats); codec_nn[name] stores "
                                 "the codes of checkpoint name's own codec and reads the same way; verbatim stores the "
                                 "images at their own precision (memory_floats = bits / 32); modern Hopfield "
                                 "stores the raw images (N·C·H·W floats); classical Hopfield a D×D matrix"),
            "specificity": ("unrelated: the same queries read after writing other images of the same split; "
                            "nothing: read with nothing written (EBMM: θ̄); query rows: the query itself"),
        },
        "checkpoints": checkpoints,
        "references": references,
        "results": results,
        "train_split": train_split,
        "paper_ebmm_conv": {str(k): v for k, v in PAPER_IMAGES.get(dataset, {}).items()},
        "command": command_line(),
        "revision": git_revision(),
    }
