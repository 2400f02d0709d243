"""Speed benchmark: milliseconds per meta-training step, per write and per read; peak memory.

For each config, on one meta-batch of synthetic episodes of the config's shape (random patterns;
the time does not depend on their values), it times the phases:

- ``write`` / ``read``: inference write and read of one episode of N patterns (no graphs);
- ``write_compiled`` / ``read_compiled`` (``compile=True``): the same through ``torch.compile``
  (``EnergyMemory.compile_inference``); compilation happens in the warm-up and is timed apart; no
  compiled write when the writing loss has the gradient-norm term (a double backward);
- ``meta_step``: a full library meta-training step as ``ebmm.train`` takes it (``episode_loss``
  in the config's gradient mode, backward, clipping, AdamW step);
- ``meta_step_first_order``, ``meta_step_truncated_<k>``: the same step with cheaper meta-gradients;
- ``meta_step_checkpointed``: the config's step with gradient checkpointing (same gradient);
- ``meta_step_channels_last`` (``channels_last=True``, image configs): the step with the energy's
  weights and the patterns in channels-last layout;
- ``naive_step`` (``naive=True``): the step with the loss of the straightforward second-order
  reference ``ebmm.bench.naive.naive_episode_loss``.

Each phase runs a few warm-up iterations, then ``steps`` timed ones; the median is reported.
Memory: on CUDA, ``torch.cuda.max_memory_allocated`` during the phase. On CPU, the rise of the
process's peak resident set size over its resident size before the phase; with ``isolate=True``
every phase runs in a fresh process, so this is the phase's own peak, otherwise a later phase that
needs less than an earlier one shows no rise.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from ebmm.bench.harness import command_line, git_revision
from ebmm.bench.naive import naive_episode_loss
from ebmm.build import build_memory
from ebmm.checkpoint import save_json
from ebmm.config import Config, load_config, pattern_shape
from ebmm.data.binary import random_binary_patterns
from ebmm.memory import EnergyMemory
from ebmm.tasks import build_task
from ebmm.train import make_optimizer

LIBRARY_WARMUP = 2
NAIVE_WARMUP = 1
BINARY_IMAGE_DATASETS = ("omniglot", "mnist", "fashion-mnist")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def describe_device(device: torch.device) -> dict[str, Any]:
    """CPU model, core and thread counts, torch version, load average and, on CUDA, the GPU.

    The load average (other processes competing for the cores) is recorded because on a busy
    machine multi-threaded torch ops can slow down by an order of magnitude.
    """
    info: dict[str, Any] = {
        "device": str(device),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def _peak_rss_mib() -> float:
    """The process's peak resident set size so far, in MiB (``ru_maxrss`` is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def _current_rss_mib() -> float:
    """The process's resident set size now, in MiB (Linux ``/proc``; else the peak so far)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return _peak_rss_mib()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_phase(fn: Callable[[], Any], steps: int, warmup: int, device: torch.device) -> dict[str, Any]:
    """Run ``fn`` ``warmup`` times untimed, then ``steps`` times timed; times and peak memory."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    rss_before = _current_rss_mib()
    start = time.perf_counter()
    for _ in range(warmup):
        fn()
    _sync(device)
    warmup_seconds = time.perf_counter() - start
    times = []
    for _ in range(steps):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - start) * 1000.0)
    result: dict[str, Any] = {
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "max_ms": max(times),
        "times_ms": times,
        "warmup": warmup,
        "warmup_seconds": warmup_seconds,
    }
    if device.type == "cuda":
        result["peak_memory_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        result["peak_memory_mib"] = max(0.0, _peak_rss_mib() - rss_before)
        result["process_peak_rss_mib"] = _peak_rss_mib()
    return result


def synthetic_batch(config: Config, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """One meta-batch of the config's largest N: random patterns of its shape, corrupted as it says.

    Binary strings and binary image datasets get {0, 1} patterns, other images uniform values.
    """
    generator = torch.Generator().manual_seed(config.train.seed)
    count, episodes = max(config.task.patterns), config.train.meta_batch
    shape = pattern_shape(config.model)
    if config.task.data == "binary":
        patterns = random_binary_patterns(episodes, count, shape[0], generator)
    else:
        patterns = torch.rand(episodes, count, *shape, generator=generator)
        if config.task.data in BINARY_IMAGE_DATASETS:
            patterns = (patterns > 0.5).float()
    queries = build_task(config).corrupt(patterns, generator)
    return patterns.to(device), queries.to(device)


def training_step(
    memory: EnergyMemory,
    optimizer: torch.optim.Optimizer,
    config: Config,
    patterns: torch.Tensor,
    queries: torch.Tensor,
    mode: str,
    truncate: int | None = None,
    checkpoint: bool = False,
    loss_fn: Callable[[], torch.Tensor] | None = None,
) -> Callable[[], None]:
    """One meta-training step as ``ebmm.train`` takes it (``loss_fn`` replaces the library loss)."""

    def step() -> None:
        if loss_fn is None:
            loss = memory.episode_loss(patterns, queries, mode, truncate=truncate, checkpoint=checkpoint)[0]  # type: ignore[arg-type]
        else:
            loss = loss_fn()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(memory.parameters(), config.train.clip_norm)
        optimizer.step()

    return step


def phase_names(config: Config, naive: bool, compile: bool, channels_last: bool, truncate: int) -> list[str]:
    """The phases timed for ``config``."""
    names = ["write", "read"]
    if compile:  # a write with the gradient-norm term needs a double backward, which compile lacks
        names += (["write_compiled"] if "gradnorm" not in config.model.write_terms else []) + ["read_compiled"]
    names += ["meta_step", "meta_step_first_order"]
    if 1 <= truncate < config.model.write_steps:
        names.append(f"meta_step_truncated_{truncate}")
    names.append("meta_step_checkpointed")
    if channels_last and len(pattern_shape(config.model)) == 3:
        names.append("meta_step_channels_last")
    if naive:
        names.append("naive_step")
    return names


def _to_channels_last(tensor: torch.Tensor) -> torch.Tensor:
    """A ``(B, N, C, H, W)`` batch whose images are channels-last (one memory: B = 1)."""
    return tensor[0].contiguous(memory_format=torch.channels_last).unsqueeze(0)


def time_phase(config: Config, phase: str, steps: int, device: str, threads: int | None) -> dict[str, Any]:
    """Build the config's memory and a synthetic batch, then time one phase (see the module doc)."""
    if threads:
        torch.set_num_threads(threads)
    target = torch.device(device)
    torch.manual_seed(config.train.seed)
    memory = build_memory(config.model)
    if not isinstance(memory, EnergyMemory):  # the phases are EBMM's: gradient modes, compile, the naive loss
        raise ValueError(f"the speed benchmark times EBMM; model.memory = {config.model.memory!r} is a baseline")
    memory = memory.to(target)
    optimizer = make_optimizer(memory, config)
    patterns, queries = synthetic_batch(config, target)
    options = config.gradient_options()
    warmup = LIBRARY_WARMUP
    if phase in ("write", "read", "write_compiled", "read_compiled"):
        one_pattern, one_query = patterns[:1], queries[:1]
        if phase.endswith("_compiled"):
            memory.compile_inference(dynamic=False)
        state = memory.write(one_pattern)
        fn: Callable[[], Any] = (
            (lambda: memory.write(one_pattern)) if phase.startswith("write") else (lambda: memory.read(one_query, state))
        )
    elif phase == "meta_step":
        fn = training_step(memory, optimizer, config, patterns, queries, options["mode"], options["truncate"])
    elif phase == "meta_step_first_order":
        fn = training_step(memory, optimizer, config, patterns, queries, "first_order")
    elif phase.startswith("meta_step_truncated_"):
        truncate = int(phase.rsplit("_", 1)[1])
        fn = training_step(memory, optimizer, config, patterns, queries, "truncated", truncate)
    elif phase == "meta_step_checkpointed":
        fn = training_step(memory, optimizer, config, patterns, queries, options["mode"], options["truncate"],
                           checkpoint=True)
    elif phase == "meta_step_channels_last":
        if patterns.shape[0] != 1:
            raise ValueError("channels-last timing needs train.meta_batch = 1 (one memory, no vmap)")
        # Module.to accepts memory_format (for 4-D parameters), which torch's annotations of it leave out
        memory.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        fn = training_step(memory, optimizer, config, _to_channels_last(patterns), _to_channels_last(queries),
                           options["mode"], options["truncate"])
    elif phase == "naive_step":
        fn = training_step(memory, optimizer, config, patterns, queries, "second_order",
                           loss_fn=lambda: naive_episode_loss(memory, patterns, queries))
        warmup = NAIVE_WARMUP
    else:
        raise ValueError(f"unknown phase {phase!r}")
    result = _time_phase(fn, steps, warmup, target)
    result["torch_threads"] = torch.get_num_threads()
    return result


def _time_phase_isolated(config: Config, phase: str, steps: int, device: str, threads: int | None) -> dict[str, Any]:
    """``time_phase`` in a fresh process, so that the peak memory is the phase's own."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(time_phase, (config, phase, steps, device, threads))


def format_speed_table(result: dict[str, Any]) -> str:
    """The timings of every config as readable tables."""
    unit = "peak CUDA MiB" if "cuda" in result["device"]["device"] else "peak RSS rise MiB"
    blocks = []
    for entry in result["configs"]:
        rows = [f"{entry['name']}: {entry['summary']}",
                f"{'phase':<28}{'median ms':>12}{'min ms':>12}{unit:>20}"]
        for name, phase in entry["timings"].items():
            rows.append(f"{name:<28}{phase['median_ms']:>12.1f}{phase['min_ms']:>12.1f}{phase['peak_memory_mib']:>20.1f}")
        for name, value in entry["speedups"].items():
            rows.append(f"{name}: {value:.2f}x")
        blocks.append("\n".join(rows))
    return "\n\n".join(blocks)


def _speedups(timings: dict[str, Any]) -> dict[str, float]:
    """Ratios of medians (greater than 1: the second phase is faster)."""
    pairs = {
        "library_over_naive": ("naive_step", "meta_step"),
        "first_order_over_second_order": ("meta_step", "meta_step_first_order"),
        "compiled_write_over_eager": ("write", "write_compiled"),
        "compiled_read_over_eager": ("read", "read_compiled"),
        "channels_last_over_contiguous": ("meta_step", "meta_step_channels_last"),
        "checkpointed_over_plain": ("meta_step", "meta_step_checkpointed"),
    }
    pairs.update({f"truncated_{name.rsplit('_', 1)[1]}_over_full": ("meta_step", name)
                  for name in timings if name.startswith("meta_step_truncated_")})
    return {key: timings[slow]["median_ms"] / timings[fast]["median_ms"]
            for key, (slow, fast) in pairs.items() if slow in timings and fast in timings}


def _summary(config: Config, patterns: int) -> str:
    options = config.gradient_options()
    return (f"{config.model.energy} energy, shape {list(pattern_shape(config.model))}, B={config.train.meta_batch}, "
            f"N={patterns}, T={config.model.write_steps}, K={config.model.read_steps}, grad_mode={options['mode']}")


def run_speed_benchmark(
    config_paths: str | list[str],
    overrides: list[str],
    steps: int,
    json_out: str | None,
    device: str,
    naive: bool | Sequence[str] = True,
    compile: bool = False,
    channels_last: bool = False,
    truncate: int = 1,
    isolate: bool = False,
    threads: int | None = None,
) -> dict[str, Any]:
    """Time every phase of every config (see the module docstring); print tables, write JSON.

    ``naive`` times the straightforward reference for every binary config (``True``), for none, or
    for the configs whose names it lists (its Python loops take minutes a step on large meta-batches,
    and on images). ``isolate`` runs each phase in a fresh process (peak memory per phase).
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    paths = [config_paths] if isinstance(config_paths, str) else list(config_paths)
    if threads:
        torch.set_num_threads(threads)
    entries = []
    for path in paths:
        config = load_config(path, overrides)
        with_naive = config.name in naive if not isinstance(naive, bool) else naive and config.task.data == "binary"
        names = phase_names(config, with_naive, compile, channels_last, truncate)
        timer = _time_phase_isolated if isolate else time_phase
        timings = {}
        for name in names:
            timings[name] = timer(config, name, steps, device, threads)
            print(f"  {config.name} {name}: {timings[name]['median_ms']:.1f} ms", flush=True)
        patterns = max(config.task.patterns)
        entries.append({
            "name": config.name,
            "config_path": str(path),
            "config": config.to_dict(),
            "summary": _summary(config, patterns),
            "patterns": patterns,
            "meta_batch": config.train.meta_batch,
            "pattern_shape": list(pattern_shape(config.model)),
            "write_steps": config.model.write_steps,
            "read_steps": config.model.read_steps,
            "grad_mode": config.train.grad_mode,
            "memory_floats": build_memory(config.model).memory_floats(),
            "timings": timings,
            "speedups": _speedups(timings),
        })
    target = torch.device(device)
    result: dict[str, Any] = {
        "benchmark": "speed",
        "command": command_line(),
        "git_revision": git_revision(),
        "overrides": list(overrides),
        "steps": steps,
        "isolated_processes": isolate,
        "device": describe_device(target),
        "configs": entries,
        "notes": {
            "timing": "wall-clock ms, median of `steps` runs after warm-up; CUDA synchronised around each run; "
                      "patterns are synthetic (random, of the config's shape and largest N)",
            "write/read": "inference (no graph) of one episode of N patterns",
            "*_compiled": "torch.compile'd energy for inference (EnergyMemory.compile_inference); compilation is "
                          "in warmup_seconds",
            "meta_step": "episode_loss in the config's grad_mode + backward + clip_grad_norm_ + AdamW step on "
                         "the whole meta-batch, as ebmm.train does",
            "meta_step_first_order / meta_step_truncated_k": "the same step, first-order meta-gradient / second "
                                                             "order through the last k write steps only",
            "meta_step_checkpointed": "the config's step with gradient checkpointing of each write and read step",
            "meta_step_channels_last": "the config's step with weights and images in channels-last layout",
            "naive_step": "the step with ebmm.bench.naive.naive_episode_loss (second order, Python loops over "
                          "episodes and patterns, one autograd.grad call per writing-loss term)",
            "speedups": "median of the slower phase / median of the faster one (greater than 1: faster)",
            "memory": ("peak_memory_mib: torch.cuda.max_memory_allocated during the phase" if target.type == "cuda"
                       else "peak_memory_mib: rise of the process's peak RSS over its RSS before the phase"
                            + (" (each phase in a fresh process)" if isolate else
                               " (all phases in one process: a phase that needs less than an earlier one shows "
                               "no rise)")),
        },
    }
    print(format_speed_table(result))
    if json_out:
        save_json(json_out, result)
        print(f"wrote {json_out}")
    return result
