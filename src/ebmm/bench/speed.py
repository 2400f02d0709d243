"""Speed benchmark: milliseconds per meta-training step, per write and per read; peak memory.

Times, on one meta-batch of random binary episodes drawn as the config describes:

- ``meta_step``: a full library meta-training step (``episode_loss`` in ``train.grad_mode``,
  backward, gradient clipping, AdamW step), exactly as ``ebmm.train`` does it;
- ``meta_step_first_order``: the same with ``grad_mode = "first_order"``;
- ``write`` / ``read``: inference write and read of one episode (no graphs);
- ``naive_step`` (optional): the same step as ``meta_step`` with the loss computed by the
  straightforward second-order reference ``ebmm.bench.naive.naive_episode_loss``.

Each phase runs a few warm-up iterations, then ``steps`` timed ones; the median is reported.
Peak memory is ``torch.cuda.max_memory_allocated`` per phase on CUDA. On CPU it is the process's
peak resident set size (``ru_maxrss``) after each phase: a process-wide high-water mark, so a
phase that needs less memory than an earlier one shows no increase.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch

from ebmm.bench.harness import command_line, git_revision
from ebmm.bench.naive import naive_episode_loss
from ebmm.build import build_memory
from ebmm.checkpoint import save_json
from ebmm.config import Config, load_config
from ebmm.corruption import build_corruption
from ebmm.data.binary import random_binary_patterns
from ebmm.memory import EnergyMemory, GradMode
from ebmm.train import make_optimizer

LIBRARY_WARMUP = 2
NAIVE_WARMUP = 1


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


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_phase(fn: Callable[[], Any], steps: int, warmup: int, device: torch.device) -> dict[str, Any]:
    """Run ``fn`` ``warmup`` times untimed, then ``steps`` times timed; times and peak memory."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    rss_before = _peak_rss_mib()
    for _ in range(warmup):
        fn()
    _sync(device)
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
    }
    if device.type == "cuda":
        result["peak_cuda_allocated_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        rss_after = _peak_rss_mib()
        result["process_peak_rss_mib"] = rss_after
        result["process_peak_rss_increase_mib"] = rss_after - rss_before
    return result


def _training_step(
    memory: EnergyMemory,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[], torch.Tensor],
    clip_norm: float,
) -> Callable[[], None]:
    """One meta-training step as ``ebmm.train`` takes it, with the loss from ``loss_fn``."""

    def step() -> None:
        loss = loss_fn()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(memory.parameters(), clip_norm)
        optimizer.step()

    return step


def _batch(config: Config, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(config.train.seed)
    count = max(config.task.patterns)
    patterns = random_binary_patterns(config.train.meta_batch, count, config.model.pattern_dim, generator)
    queries = build_corruption(config.task.corruption, config.task.corrupt_bits)(patterns, generator)
    return patterns.to(device), queries.to(device)


def format_speed_table(result: dict[str, Any]) -> str:
    """The timings as a readable table."""
    memory_key = "peak_cuda_allocated_mib" if "cuda" in result["device"]["device"] else "process_peak_rss_mib"
    memory_label = "peak CUDA alloc MiB" if memory_key.startswith("peak_cuda") else "process peak RSS MiB"
    rows = [f"{'phase':<24}{'median ms':>12}{'min ms':>12}{memory_label:>24}"]
    for name, phase in result["timings"].items():
        rows.append(f"{name:<24}{phase['median_ms']:>12.2f}{phase['min_ms']:>12.2f}{phase[memory_key]:>24.1f}")
    if result.get("speedup_library_over_naive") is not None:
        rows.append(f"speed-up of the library step over the naive step: {result['speedup_library_over_naive']:.1f}x")
    return "\n".join(rows)


def run_speed_benchmark(
    config_path: str,
    overrides: list[str],
    steps: int,
    json_out: str | None,
    device: str,
    naive: bool = True,
) -> dict[str, Any]:
    """Time meta-training steps, inference write/read and (optionally) the naive step; print a table.

    Returns the result dictionary and, when ``json_out`` is given, writes it there as JSON.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    config = load_config(config_path, overrides)
    target = torch.device(device)
    torch.manual_seed(config.train.seed)
    memory = build_memory(config.model).to(target)
    optimizer = make_optimizer(memory, config)
    patterns, queries = _batch(config, target)
    one_pattern, one_query = patterns[:1], queries[:1]
    grad_mode: GradMode = config.train.grad_mode  # type: ignore[assignment]  # load_config validated it
    clip = config.train.clip_norm

    state_box: dict[str, Any] = {"state": memory.write(one_pattern)}

    def write() -> None:
        state_box["state"] = memory.write(one_pattern)

    def read() -> None:
        memory.read(one_query, state_box["state"])

    phases: dict[str, tuple[Callable[[], Any], int]] = {
        "write": (write, LIBRARY_WARMUP),
        "read": (read, LIBRARY_WARMUP),
        "meta_step_first_order": (_training_step(
            memory, optimizer, lambda: memory.episode_loss(patterns, queries, "first_order")[0], clip), LIBRARY_WARMUP),
        "meta_step": (_training_step(
            memory, optimizer, lambda: memory.episode_loss(patterns, queries, grad_mode)[0], clip), LIBRARY_WARMUP),
    }
    if naive:
        phases["naive_step"] = (_training_step(
            memory, optimizer, lambda: naive_episode_loss(memory, patterns, queries), clip), NAIVE_WARMUP)

    timings = {}
    for name, (fn, warmup) in phases.items():
        timings[name] = _time_phase(fn, steps, warmup, target)

    speedup = None
    if naive:
        speedup = timings["naive_step"]["median_ms"] / timings["meta_step"]["median_ms"]
    result: dict[str, Any] = {
        "benchmark": "speed",
        "command": command_line(),
        "git_revision": git_revision(),
        "config_path": str(config_path),
        "overrides": list(overrides),
        "config": config.to_dict(),
        "device": describe_device(target),
        "patterns": patterns.shape[1],
        "meta_batch": config.train.meta_batch,
        "pattern_dim": config.model.pattern_dim,
        "write_steps": config.model.write_steps,
        "read_steps": config.model.read_steps,
        "grad_mode": grad_mode,
        "steps": steps,
        "timings": timings,
        "speedup_library_over_naive": speedup,
        "notes": {
            "timing": "wall-clock ms, median of `steps` runs after warm-up; CUDA synchronised around each run",
            "meta_step": f"episode_loss(grad_mode={grad_mode!r}) + backward + clip_grad_norm_ + AdamW step on "
                         "the whole meta-batch",
            "meta_step_first_order": "the same with grad_mode='first_order'",
            "write": "inference write (no graph) of one episode of `patterns` patterns",
            "read": "inference read (no graph) of that episode's `patterns` queries",
            "naive_step": "as meta_step, the loss from ebmm.bench.naive.naive_episode_loss (full second order, "
                          "loops over episodes and patterns)",
            "speedup_library_over_naive": "naive_step median / meta_step median (greater than 1: library faster); "
                                          "a like-for-like comparison only when grad_mode is 'second_order'",
            "memory": ("peak_cuda_allocated_mib: torch.cuda.max_memory_allocated per phase" if target.type == "cuda"
                       else "process_peak_rss_mib: the whole process's peak resident set size (ru_maxrss) after "
                            "the phase, a high-water mark over the process lifetime (includes Python, torch and "
                            "earlier phases); process_peak_rss_increase_mib: how much the phase raised it"),
        },
    }
    print(f"{config.name}: {config.model.energy} energy, B={config.train.meta_batch}, N={patterns.shape[1]}, "
          f"dim={config.model.pattern_dim}, T={config.model.write_steps}, K={config.model.read_steps}, "
          f"grad_mode={grad_mode}; {result['device']['cpu']}, {result['device']['torch_threads']} torch threads"
          + (f", {result['device']['gpu']}" if "gpu" in result["device"] else ""))
    print(format_speed_table(result))
    if json_out:
        save_json(json_out, result)
        print(f"wrote {json_out}")
    return result
