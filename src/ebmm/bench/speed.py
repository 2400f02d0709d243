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
- ``reference_step`` (``naive=True``): the step with the loss of the *batched straightforward
  reference* ``reference_episode_loss`` (below): the same second-order maths as a competent user
  would write it. The per-pattern loop of ``ebmm.bench.naive`` is a test oracle, not a baseline.

Each phase runs a few warm-up iterations, then ``steps`` timed ones; the median is reported.
Memory: on CUDA, ``torch.cuda.max_memory_allocated`` during the phase. On CPU, the rise of the
process's peak resident set size over its resident size before the phase; with ``isolate=True``
every phase runs in a fresh process, so this is the phase's own peak, otherwise a later phase that
needs less than an earlier one shows no rise.

``run_speed_analysis`` (``python -m ebmm.bench.speed``) answers "how fast, honestly" for one config:
the library's meta-step against the batched reference, the step's matmul FLOPs (``count_flops``:
torch's FLOP formulas, double backward included) against the machine's measured sgemm rate (the FLOP floor), one thread
against two and two one-thread processes, and bf16 autocast (speed and meta-gradient accuracy). It
stores its result under the ``"analysis"`` key of the results file and keeps the file's other keys.
"""

from __future__ import annotations

import copy
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
import torch.nn.functional as F
from torch.func import functional_call

from ebmm.bench.harness import command_line, git_revision
from ebmm.build import build_memory
from ebmm.checkpoint import load_json, save_json
from ebmm.config import Config, EBMMConfig, load_config, pattern_shape
from ebmm.data.binary import random_binary_patterns
from ebmm.energy import GatedRNNEnergy
from ebmm.memory import WRITE_TERMS, EnergyMemory
from ebmm.tasks import build_task
from ebmm.train import make_optimizer

WARMUP = 2
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


# ---------------------------------------------------------------------- the batched reference
ReferenceEnergy = Callable[[dict[str, torch.Tensor], torch.Tensor], torch.Tensor]
"""``(fast weights of one memory, x (N, *shape)) -> energies (N,)``; other weights from the module."""


def module_energy(memory: EnergyMemory) -> ReferenceEnergy:
    """The memory's own energy module, called with one memory's fast weights (``functional_call``)."""

    def energy(weights: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return functional_call(memory.energy, weights, (x,), strict=False)

    return energy


def paper_gated_rnn_energy(memory: EnergyMemory) -> ReferenceEnergy:
    """The gated RNN energy as the paper writes it, for a memory whose energy is ``GatedRNNEnergy``.

    ``z = [x, state]; c = tanh([memory(x), static(z)]); u = σ(gate(z)); state = u·c + (1 − u)·state``
    for ``hops`` hops from ``state = 0``, ``E = out(state)``: the same function as the module, without
    its restructuring (x-projections hoisted out of the hops, no state product at the first hop, the
    two state products fused).
    """
    module = memory.energy
    if not isinstance(module, GatedRNNEnergy):
        raise TypeError(f"paper_gated_rnn_energy needs a GatedRNNEnergy, got {type(module).__name__}")

    def energy(weights: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        p = {**dict(module.named_parameters()), **weights}
        state = x.new_zeros(*x.shape[:-1], module.hidden)
        for _ in range(module.hops):
            z = torch.cat([x, state], dim=-1)
            written = F.linear(x, p["memory.weight"], p["memory.bias"])
            candidate = torch.tanh(torch.cat([written, F.linear(z, p["static.weight"], p["static.bias"])], dim=-1))
            update = torch.sigmoid(F.linear(z, p["gate.weight"], p["gate.bias"]))
            state = update * candidate + (1.0 - update) * state
        return F.linear(state, p["out.weight"], p["out.bias"]).squeeze(-1)

    return energy


def reference_write(memory: EnergyMemory, patterns: torch.Tensor, energy: ReferenceEnergy) -> dict[str, torch.Tensor]:
    """Second-order write of one episode's ``N`` patterns ``(N, *shape)``, batched: θ^(T).

    Each write step evaluates the energies of all N patterns in one call, then takes one
    ``torch.autograd.grad(..., create_graph=True)`` per writing-loss term: ∇_θ mean_i E(x_i),
    ∇_x Σ_i E(x_i) followed by ∇_θ mean_i ‖∇_x E(x_i)‖², and ∇_θ ‖θ − θ̄‖² (four calls a step where the
    library makes two: it takes ∇_x E and ∇_θ E from one call and writes the prior's gradient in
    closed form).
    """
    theta_bar = memory.initial_fast_weights()
    names = list(theta_bar)
    rates = memory.write_rates()
    terms = memory.write_terms
    divisor = patterns.shape[0] if memory.write_reduction == "mean" else 1
    theta = dict(theta_bar)
    for step in range(memory.write_steps):
        params = [theta[name] for name in names]
        x = patterns.detach().requires_grad_("gradnorm" in terms)
        energies = energy(theta, x)
        grads: dict[str, tuple[torch.Tensor, ...]] = {}
        if "energy" in terms:
            grads["energy"] = torch.autograd.grad(energies.sum() / divisor, params, create_graph=True)
        if "gradnorm" in terms:
            (grad_x,) = torch.autograd.grad(energies.sum(), x, create_graph=True)
            grads["gradnorm"] = torch.autograd.grad(grad_x.pow(2).sum() / divisor, params, create_graph=True)
        if "prior" in terms:
            prior = sum(((theta[name] - theta_bar[name]).pow(2).sum() for name in names), patterns.new_zeros(()))
            grads["prior"] = torch.autograd.grad(prior, params, create_graph=True)
        theta = {
            name: theta[name] - sum((rates[step, index, WRITE_TERMS.index(term)] * grads[term][index] for term in grads),
                                    torch.zeros_like(theta[name]))
            for index, name in enumerate(names)
        }
    return theta


def reference_read(
    memory: EnergyMemory, theta: dict[str, torch.Tensor], queries: torch.Tensor, energy: ReferenceEnergy
) -> list[torch.Tensor]:
    """K projected Nesterov steps on all of one episode's queries ``(N, *shape)`` at once; every iterate."""
    gammas, psis = memory.read_schedule()
    low, high = memory.value_range
    x = queries.detach()
    velocity = torch.zeros_like(x)
    iterates = []
    for k in range(memory.read_steps):
        lookahead = x.requires_grad_() if k == 0 else (x + psis[k] * velocity).clamp(low, high)
        (grad_x,) = torch.autograd.grad(energy(theta, lookahead).sum(), lookahead, create_graph=True)
        velocity = psis[k] * velocity - gammas[k] * grad_x
        x = (x + velocity).clamp(low, high)
        iterates.append(x)
    return iterates


def reference_episode_loss(
    memory: EnergyMemory, patterns: torch.Tensor, queries: torch.Tensor, energy: ReferenceEnergy | None = None
) -> torch.Tensor:
    """The second-order meta-loss ``Σ_k mean_{episodes, i} ‖x_i − x_i^(k)‖²``, written straightforwardly.

    The batched reference the library is timed against: every episode's N patterns in one tensor
    (episodes in a Python loop; the paper's configuration has one), ``reference_write`` and
    ``reference_read``, no ``vmap``, no per-pattern loop. ``energy`` defaults to the memory's own
    module (``module_energy``); ``paper_gated_rnn_energy`` is the gated RNN as the paper writes it.
    Same loss and meta-gradient as ``memory.episode_loss(patterns, queries, "second_order")``.
    """
    if queries.shape != patterns.shape:
        raise ValueError(f"queries must match patterns, got {tuple(queries.shape)} vs {tuple(patterns.shape)}")
    if memory.write_chunk is not None or memory.refine_steps:
        raise ValueError("the reference writes all N patterns at once in T plain steps; it has no online "
                         "(write_chunk) write and no refine steps")
    if memory.read_rule.temperature:
        raise ValueError("the reference reads deterministically; this memory's read has a temperature "
                         f"({memory.read_rule.temperature}): time it with model.read_temperature = 0")
    energy = energy or module_energy(memory)
    episodes, count = patterns.shape[:2]
    total = patterns.new_zeros(())
    with torch.enable_grad():
        for b in range(episodes):
            theta = reference_write(memory, patterns[b], energy)
            for iterate in reference_read(memory, theta, queries[b], energy):
                total = total + (iterate - patterns[b]).pow(2).sum()
    return total / (episodes * count)


def has_reference(config: Config) -> bool:
    """Whether ``reference_step`` is timed for ``config``: an EBMM batch write without refine steps, a
    deterministic read and a second-order step (what ``reference_episode_loss`` covers)."""
    model = config.model
    return (isinstance(model, EBMMConfig) and not model.write_chunk and not model.refine_steps
            and not model.read_temperature and config.train.grad_mode == "second_order")


def phase_names(config: Config, naive: bool, compile: bool, channels_last: bool, truncate: int) -> list[str]:
    """The phases timed for ``config``."""
    model = config.ebmm_model("the speed benchmark")  # its phases are EBMM's: gradient modes, compile, the reference
    names = ["write", "read"]
    if compile:  # a write with the gradient-norm term needs a double backward, which compile lacks
        names += (["write_compiled"] if "gradnorm" not in model.write_terms else []) + ["read_compiled"]
    names += ["meta_step", "meta_step_first_order"]
    if 1 <= truncate < model.write_steps:
        names.append(f"meta_step_truncated_{truncate}")
    names.append("meta_step_checkpointed")
    if channels_last and len(pattern_shape(config.model)) == 3:
        names.append("meta_step_channels_last")
    if naive and has_reference(config):
        names.append("reference_step")
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
    memory = build_memory(config.ebmm_model("the speed benchmark"))
    assert isinstance(memory, EnergyMemory)  # an EBMMConfig builds one
    memory = memory.to(target)
    optimizer = make_optimizer(memory, config)
    patterns, queries = synthetic_batch(config, target)
    options = config.gradient_options()
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
    elif phase == "reference_step":
        fn = training_step(memory, optimizer, config, patterns, queries, "second_order",
                           loss_fn=lambda: reference_episode_loss(memory, patterns, queries))
    else:
        raise ValueError(f"unknown phase {phase!r}")
    result = _time_phase(fn, steps, WARMUP, target)
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
        "library_over_reference": ("reference_step", "meta_step"),
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
    options, model = config.gradient_options(), config.ebmm_model("the speed benchmark")
    return (f"{model.energy} energy, shape {list(pattern_shape(model))}, B={config.train.meta_batch}, "
            f"N={patterns}, T={model.write_steps}, K={model.read_steps}, grad_mode={options['mode']}")


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

    ``naive`` times the batched reference (``reference_step``) for every config (``True``), for
    none, or for the configs whose names it lists; only second-order configs with a batch write get
    it (the reference is that step). The name is the CLI's (``--no-naive``, ``--naive-for``).
    ``isolate`` runs each phase in a fresh process (peak memory per phase).
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    paths = [config_paths] if isinstance(config_paths, str) else list(config_paths)
    if threads:
        torch.set_num_threads(threads)
    entries = []
    for path in paths:
        config = load_config(path, overrides)
        model = config.ebmm_model("the speed benchmark")
        with_naive = config.name in naive if not isinstance(naive, bool) else naive
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
            "write_steps": model.write_steps,
            "read_steps": model.read_steps,
            "grad_mode": config.train.grad_mode,
            "memory_floats": build_memory(config.model).memory_floats(None),  # EBMM: no state needed (time_phase refused baselines)
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
            "reference_step": "the step with ebmm.bench.speed.reference_episode_loss: the same second-order "
                              "maths written straightforwardly (patterns batched, one autograd.grad call per "
                              "writing-loss term, no vmap, the library's energy module)",
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


# ---------------------------------------------------------------------- the analysis
STEP_VARIANTS: tuple[str, ...] = ("library", "reference", "reference_paper_energy", "library_bf16")
AnalysisPhase = tuple[str, str, int, int]  # (name, variant, torch threads per process, processes)


def analysis_phases(config: Config, bf16: bool = True) -> list[AnalysisPhase]:
    """The meta-steps ``run_speed_analysis`` times: each variant on 1 and 2 threads, and 2 one-thread processes."""
    phases: list[AnalysisPhase] = [("library_1t", "library", 1, 1), ("reference_1t", "reference", 1, 1)]
    if config.ebmm_model("the speed analysis").energy == "gated_rnn":
        phases.append(("reference_paper_energy_1t", "reference_paper_energy", 1, 1))
    phases += [("library_2t", "library", 2, 1), ("reference_2t", "reference", 2, 1),
               ("library_2p_1t", "library", 1, 2)]
    if bf16:
        phases += [("library_bf16_1t", "library_bf16", 1, 1), ("library_bf16_2t", "library_bf16", 2, 1)]
    return phases


def _autocast(device: torch.device) -> torch.autocast:
    return torch.autocast(device.type, dtype=torch.bfloat16)


def _setup(config: Config, device: torch.device) -> tuple[EnergyMemory, torch.Tensor, torch.Tensor]:
    """The config's freshly seeded memory and synthetic meta-batch (as ``time_phase`` builds them)."""
    if not has_reference(config):
        raise ValueError(f"the speed analysis compares second-order batch-write EBMM steps; {config.name!r} is not one")
    torch.manual_seed(config.train.seed)
    memory = build_memory(config.model)
    assert isinstance(memory, EnergyMemory)
    patterns, queries = synthetic_batch(config, device)
    return memory.to(device), patterns, queries


def variant_loss(
    variant: str, memory: EnergyMemory, patterns: torch.Tensor, queries: torch.Tensor
) -> Callable[[], torch.Tensor]:
    """The meta-loss of a step variant: the library's, the batched reference's (the memory's energy
    module, or the paper's form of the gated RNN), or the library's under bf16 autocast."""
    if variant == "library":
        return lambda: memory.episode_loss(patterns, queries, "second_order")[0]
    if variant == "reference":
        return lambda: reference_episode_loss(memory, patterns, queries)
    if variant == "reference_paper_energy":
        energy = paper_gated_rnn_energy(memory)
        return lambda: reference_episode_loss(memory, patterns, queries, energy)
    if variant == "library_bf16":
        def loss() -> torch.Tensor:
            with _autocast(patterns.device):
                return memory.episode_loss(patterns, queries, "second_order")[0]

        return loss
    raise ValueError(f"unknown step variant {variant!r}; expected one of {STEP_VARIANTS}")


def _variant_step(config: Config, variant: str, device: torch.device) -> Callable[[], None]:
    """One full meta-training step (loss, backward, clipping, AdamW) of a variant, ready to time."""
    memory, patterns, queries = _setup(config, device)
    optimizer = make_optimizer(memory, config)
    return training_step(memory, optimizer, config, patterns, queries, "second_order",
                         loss_fn=variant_loss(variant, memory, patterns, queries))


REPLAYED = ("mm", "addmm", "bmm", "baddbmm")  # the products replay_floor_ms times at their own shapes
MatmulCall = tuple[str, tuple[tuple[int, ...], ...], tuple[bool, ...], str]  # op, shapes, transposed, dtype


def _layout(tensor: torch.Tensor) -> bool:
    """Whether a matrix argument is the transpose of a contiguous tensor (as a backward pass makes them)."""
    return tensor.dim() >= 2 and not tensor.is_contiguous() and tensor.transpose(-2, -1).is_contiguous()


def matmul_calls(fn: Callable[[], Any]) -> dict[str, Any]:
    """The matrix products of one call of ``fn``, every backward pass included.

    Counts at the ATen level with the formulas of ``torch.utils.flop_counter`` (``mm``, ``addmm``,
    ``bmm``, ``baddbmm``, convolutions, attention), so the products of the backward and
    double-backward passes are counted as they run; elementwise operations are not counted. A
    dispatch mode of its own instead of ``FlopCounterMode``, whose module tracker breaks
    ``autograd.grad`` with respect to a module's input (the gradient-norm term's ∇_x E).

    Returns ``{"flops": total, "calls": [[op, shapes, transposed, dtype, count, flops], ...]}``: every
    distinct product of the ``REPLAYED`` ops (its argument shapes, which arguments are transposed
    views, dtype) with how often it ran, for ``replay_floor_ms``; ``"other_flops"``: the FLOPs of the
    rest (convolutions, attention), which are not replayed.
    """
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    calls: dict[MatmulCall, list[int]] = {}
    totals = {"flops": 0, "other_flops": 0}

    class Counter(TorchDispatchMode):
        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            formula = flop_registry.get(func._overloadpacket)
            if formula is not None:
                flops = int(formula(*args, **kwargs, out_val=out))
                totals["flops"] += flops
                name = func._overloadpacket.__name__
                tensors = [a for a in args if isinstance(a, torch.Tensor)]
                if name in REPLAYED and not kwargs and len(tensors) == len(args):
                    key = (name, tuple(tuple(t.shape) for t in tensors), tuple(_layout(t) for t in tensors),
                           str(tensors[0].dtype).removeprefix("torch."))
                    entry = calls.setdefault(key, [0, 0])
                    entry[0] += 1
                    entry[1] += flops
                else:
                    totals["other_flops"] += flops
            return out

    with Counter():
        fn()
    return {**totals, "calls": [[*key, count, flops] for key, (count, flops) in calls.items()]}


def count_flops(fn: Callable[[], Any]) -> int:
    """Matmul and convolution FLOPs of one call of ``fn``, every backward pass included (``matmul_calls``)."""
    return int(matmul_calls(fn)["flops"])


def replay_floor_ms(calls: Sequence[Sequence[Any]], device: torch.device, repeats: int = 3,
                    dtype: str | None = None) -> float:
    """The time the products of ``calls`` (``matmul_calls(...)["calls"]``) take when each runs alone at
    its own shapes and layout on the current torch threads: per distinct product the best of
    ``repeats`` timed runs after one untimed, times how often the step ran it. ``dtype`` replays every
    product in that dtype instead of its own (e.g. ``"bfloat16"`` for an autocast step counted in float32)."""
    generator = torch.Generator().manual_seed(0)
    total = 0.0
    for name, shapes, transposed, own_dtype, count, _ in calls:
        kind = getattr(torch, dtype or own_dtype)
        tensors = []
        for shape, flip in zip(shapes, transposed, strict=True):
            stored = (*shape[:-2], shape[-1], shape[-2]) if flip else tuple(shape)
            tensor = torch.randn(stored, generator=generator).to(device=device, dtype=kind)
            tensors.append(tensor.transpose(-2, -1) if flip else tensor)
        op = getattr(torch.ops.aten, name)
        op(*tensors)
        times = []
        for _ in range(repeats):
            _sync(device)
            start = time.perf_counter()
            op(*tensors)
            _sync(device)
            times.append(time.perf_counter() - start)
        total += count * min(times)
    return total * 1000.0


def matmul_rate(device: torch.device, size: int = 2048, repeats: int = 3, dtype: torch.dtype = torch.float32) -> dict[str, Any]:
    """GFLOP/s of a ``size``² matrix product on the current torch threads (one untimed, then ``repeats``)."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device=device, dtype=dtype)
    b = torch.randn(size, size, generator=generator).to(device=device, dtype=dtype)
    a @ b
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        a @ b
        _sync(device)
        times.append(time.perf_counter() - start)
    flops = 2.0 * size**3
    return {"size": size, "dtype": str(dtype).removeprefix("torch."), "repeats": repeats,
            "best_gflops": flops / min(times) / 1e9, "median_gflops": flops / statistics.median(times) / 1e9}


def _wait(barrier: Any) -> None:
    if barrier is not None:
        barrier.wait(timeout=1800)


def measure_step(
    config: Config, variant: str, threads: int, steps: int, device: str, barrier: Any = None,
    matmul_size: int = 2048, calls: Sequence[Sequence[Any]] | None = None,
) -> dict[str, Any]:
    """Time ``steps`` meta-steps of ``variant`` on ``threads`` torch threads after ``WARMUP`` untimed
    ones, and the matmul rate on the same threads just before (``barrier``: start both together with
    the other processes that share it); with ``calls`` (the step's products, ``matmul_calls``), also
    the time they take alone at their own shapes (``replay_floor_ms``)."""
    torch.set_num_threads(threads)
    target = torch.device(device)
    step = _variant_step(config, variant, target)
    for _ in range(WARMUP):
        step()
    _sync(target)
    _wait(barrier)
    rates = {"float32": matmul_rate(target, matmul_size)}
    if variant.endswith("_bf16"):
        rates["bfloat16"] = matmul_rate(target, matmul_size, dtype=torch.bfloat16)
    replayed = None
    if calls is not None:
        replayed = replay_floor_ms(calls, target, dtype="bfloat16" if variant.endswith("_bf16") else None)
    _wait(barrier)
    start_wall, times = time.time(), []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        _sync(target)
        times.append((time.perf_counter() - start) * 1000.0)
    return {"variant": variant, "torch_threads": torch.get_num_threads(), "median_ms": statistics.median(times),
            "min_ms": min(times), "times_ms": times, "start": start_wall, "end": time.time(), "matmul": rates,
            "shape_floor_ms": replayed,
            "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}


def _measure_worker(
    queue: Any, barrier: Any, config: Config, variant: str, threads: int, steps: int, device: str, matmul_size: int,
    calls: Sequence[Sequence[Any]] | None,
) -> None:
    try:
        queue.put(measure_step(config, variant, threads, steps, device, barrier, matmul_size, calls))
    except BaseException as error:  # report to the parent instead of leaving it waiting
        if barrier is not None:
            barrier.abort()
        queue.put({"error": repr(error)})


def measure_processes(
    config: Config, variant: str, threads: int, steps: int, device: str, processes: int = 1, matmul_size: int = 2048,
    calls: Sequence[Sequence[Any]] | None = None,
) -> list[dict[str, Any]]:
    """``measure_step`` in ``processes`` fresh processes that run concurrently (timed phases aligned)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    barrier = context.Barrier(processes) if processes > 1 else None
    workers = [context.Process(target=_measure_worker, args=(queue, barrier, config, variant, threads, steps, device, matmul_size,
                                                                       calls))
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=3600) for _ in workers]
    for worker in workers:
        worker.join()
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise RuntimeError(f"{variant} on {processes} x {threads} threads failed: {errors[0]}")
    return results


def _phase_summary(results: list[dict[str, Any]], flops: int, dtype: str) -> dict[str, Any]:
    """One analysis phase from its processes' measurements: time, throughput, matmul rate, FLOP floor."""
    steps = sum(len(r["times_ms"]) for r in results)
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    median = statistics.median([t for r in results for t in r["times_ms"]])
    # the floor: the step's FLOPs at the fastest matmul rate this process reached on the same threads
    rate = statistics.median([r["matmul"][dtype]["best_gflops"] for r in results])
    floor = flops / (rate * 1e9) * 1000.0
    # the same products, each timed alone at its own shapes: what the matmuls cost at this step's sizes
    replayed = [r["shape_floor_ms"] for r in results if r.get("shape_floor_ms") is not None]
    shape_floor = statistics.median(replayed) if replayed else None
    shape_floor = shape_floor or None  # 0: the step had no product replay_floor_ms replays (e.g. convolutions only)
    return {"processes": len(results), "torch_threads": results[0]["torch_threads"], "median_ms": median,
            "min_ms": min(t for r in results for t in r["times_ms"]),
            "steps_per_s": steps / wall if len(results) > 1 else 1000.0 / median,
            "matmul_dtype": dtype, "matmul_gflops_per_process": rate, "flop_floor_ms": floor,
            "over_floor": median / floor, "shape_floor_ms": shape_floor,
            "over_shape_floor": None if shape_floor is None else median / shape_floor, "load_average_1m": max(r["load_average_1m"] or 0.0 for r in results),
            "measurements": results}


def meta_gradient(
    memory: EnergyMemory, patterns: torch.Tensor, queries: torch.Tensor, bf16: bool = False
) -> tuple[float, dict[str, torch.Tensor]]:
    """The library's second-order meta-loss and its gradient w.r.t. every parameter (zeros where unused)."""
    params = dict(memory.named_parameters())
    if bf16:
        with _autocast(patterns.device):
            loss = memory.episode_loss(patterns, queries, "second_order")[0]
    else:
        loss = memory.episode_loss(patterns, queries, "second_order")[0]
    grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    return float(loss.detach()), {name: torch.zeros_like(p) if g is None else g.detach()
                         for (name, p), g in zip(params.items(), grads, strict=True)}


def gradient_agreement(approx: dict[str, torch.Tensor], exact: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Relative error ‖a − e‖/‖e‖ and cosine of two gradients (as vectors, in float64), and the tensor
    whose own cosine is lowest."""
    a = torch.cat([approx[name].double().flatten() for name in exact])
    e = torch.cat([exact[name].double().flatten() for name in exact])
    cosines = {name: float(F.cosine_similarity(approx[name].double().flatten(), exact[name].double().flatten(), dim=0))
               for name in exact if exact[name].abs().sum() > 0}
    worst = min(cosines, key=lambda name: cosines[name]) if cosines else None
    return {"relative_error": float((a - e).norm() / e.norm()), "cosine": float(F.cosine_similarity(a, e, dim=0)),
            "worst_tensor": worst, "worst_tensor_cosine": cosines[worst] if worst is not None else None}


def bf16_accuracy(config: Config, device: str) -> dict[str, Any]:
    """The meta-gradient under bf16 autocast against float32 (and both against float64) at the seeded
    initial parameters on the synthetic batch; an error message if autocast fails."""
    target = torch.device(device)
    memory, patterns, queries = _setup(config, target)
    loss32, grad32 = meta_gradient(memory, patterns, queries)
    try:
        loss16, grad16 = meta_gradient(memory, patterns, queries, bf16=True)
    except Exception as error:  # report, do not hide, an autocast that cannot double-backward
        return {"error": repr(error)}
    exact = copy.deepcopy(memory).double()
    loss64, grad64 = meta_gradient(exact, patterns.double(), queries.double())
    return {"loss": {"bfloat16": loss16, "float32": loss32, "float64": loss64},
            "bf16_vs_float32": gradient_agreement(grad16, grad32),
            "bf16_vs_float64": gradient_agreement(grad16, grad64),
            "float32_vs_float64": gradient_agreement(grad32, grad64)}


def _merge_json(path: str, key: str, value: Any) -> None:
    """Store ``value`` under ``key`` of the results file at ``path``, keeping its other keys."""
    data: dict[str, Any] = load_json(path) if Path(path).is_file() else {}
    data.setdefault("benchmark", "speed")
    data.setdefault("configs", [])
    data[key] = value
    save_json(path, data)


def run_speed_analysis(
    config_path: str,
    overrides: Sequence[str] = (),
    steps: int = 5,
    json_out: str | None = None,
    device: str = "cpu",
    note: str = "",
    bf16: bool = True,
    phases: Sequence[AnalysisPhase] | None = None,
    isolate: bool = True,
    matmul_size: int = 2048,
) -> dict[str, Any]:
    """Library vs batched reference, FLOPs and the matmul floor, threads and processes, bf16.

    Every timed phase runs in fresh processes (``analysis_phases``; ``phases`` chooses others;
    ``isolate=False`` times one-process phases in this process, for tests); ``matmul_size``: the
    side of the square matrix product whose rate sets the FLOP floor;
    FLOPs (``count_flops`` of one whole step per variant) and the bf16 accuracy are computed here.
    ``note`` records what else ran on the machine. Prints a Markdown summary; with ``json_out``,
    stores the result under that file's ``"analysis"`` key.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    config = load_config(config_path, list(overrides))
    target = torch.device(device)
    chosen = list(phases) if phases is not None else analysis_phases(config, bf16)
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    started = time.time()
    saved_threads = torch.get_num_threads()
    try:  # FLOPs and accuracy on one thread; the timed phases set their own
        torch.set_num_threads(1)
        variants = dict.fromkeys(["library"] + [variant.removesuffix("_bf16") for _, variant, _, _ in chosen])
        counted = {variant: matmul_calls(_variant_step(config, variant, target)) for variant in variants}
        flops = {variant: int(count["flops"]) for variant, count in counted.items()}
        timed = {}
        for name, variant, threads, processes in chosen:
            if isolate or processes > 1:
                results = measure_processes(config, variant, threads, steps, device, processes, matmul_size,
                                            counted[variant.removesuffix("_bf16")]["calls"])
            else:
                results = [measure_step(config, variant, threads, steps, device, matmul_size=matmul_size,
                                        calls=counted[variant.removesuffix("_bf16")]["calls"])]
            base = variant.removesuffix("_bf16")
            dtype = "bfloat16" if variant != base else "float32"
            timed[name] = {"variant": variant, **_phase_summary(results, flops[base], dtype)}
            print(f"  {name}: {timed[name]['median_ms']:.0f} ms, {timed[name]['steps_per_s']:.2f} steps/s, "
                  f"{timed[name]['over_floor']:.2f}x the FLOP floor, {_optional(timed[name]['over_shape_floor'], '.2f')}x "
                  "its products alone", flush=True)
        torch.set_num_threads(1)
        accuracy = bf16_accuracy(config, device) if bf16 else None
    finally:
        torch.set_num_threads(saved_threads)
    analysis: dict[str, Any] = {
        "command": command_line(),
        "git_revision": git_revision(),
        "config": config.name,
        "config_path": str(config_path),
        "overrides": list(overrides),
        "summary": _summary(config, max(config.task.patterns)),
        "steps": steps,
        "warmup": WARMUP,
        "matmul_size": matmul_size,
        "device": describe_device(target),
        "load_average_before": list(load_before) if load_before else None,
        "load_average_after": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "note": note,
        "seconds": time.time() - started,
        "flops": flops,
        "unreplayed_flops": {variant: int(count["other_flops"]) for variant, count in counted.items()},
        "phases": timed,
        "ratios": _analysis_ratios(timed, flops),
        "bf16_accuracy": accuracy,
        "notes": {
            "library": "memory.episode_loss(patterns, queries, 'second_order') + backward + clip_grad_norm_ + "
                       "AdamW, as ebmm.train takes a step",
            "reference": "the same step with ebmm.bench.speed.reference_episode_loss (patterns batched, one "
                         "autograd.grad(create_graph=True) per writing-loss term, no vmap) and the library's "
                         "energy module",
            "reference_paper_energy": "the reference with the gated RNN written as the paper states it "
                                      "(ebmm.bench.speed.paper_gated_rnn_energy)",
            "library_bf16": "the library step with its loss under torch.autocast(dtype=torch.bfloat16)",
            "flops": "matmul/convolution FLOPs of one whole step (the formulas of torch.utils.flop_counter at "
                     "the ATen level: backward and double backward included, elementwise work not counted)",
            "flop_floor_ms": "flops / the best rate of a matmul_size x matmul_size matrix product in the variant's "
                             "dtype, measured in the same process on the same threads just before the timed steps "
                             "(3 repeats after one untimed)",
            "shape_floor_ms": "the step's matrix products (matmul_calls: each distinct op, shapes, layout and "
                              "dtype, with its count) each timed alone at its own shapes (best of 3 after one "
                              "untimed) on the same threads just before the timed steps, times its count, summed; "
                              "bf16 phases replay in bfloat16. Products of other ops (unreplayed_flops) are not in it",
            "phases": "each in fresh processes; NAME_Nt: N torch threads; NAME_2p_1t: two one-thread processes "
                      "timing the same step concurrently (steps_per_s: both together, over the wall time)",
            "bf16_accuracy": "meta-gradient of the seeded initial parameters on the synthetic batch: bf16 "
                             "autocast against float32 and float64, float32 against float64",
        },
    }
    print(analysis_markdown(analysis))
    if json_out:
        _merge_json(json_out, "analysis", analysis)
        print(f"wrote the analysis into {json_out}")
    return analysis


def _analysis_ratios(timed: dict[str, Any], flops: dict[str, int]) -> dict[str, float]:
    """Ratios of medians and throughputs between analysis phases (greater than 1: the second is faster)."""
    pairs = {
        "reference_over_library_1t": ("reference_1t", "library_1t"),
        "paper_energy_reference_over_library_1t": ("reference_paper_energy_1t", "library_1t"),
        "reference_over_library_2t": ("reference_2t", "library_2t"),
        "library_1t_over_2t": ("library_1t", "library_2t"),
        "library_fp32_over_bf16_1t": ("library_1t", "library_bf16_1t"),
        "library_fp32_over_bf16_2t": ("library_2t", "library_bf16_2t"),
    }
    out = {key: timed[slow]["median_ms"] / timed[fast]["median_ms"] for key, (slow, fast) in pairs.items()
           if slow in timed and fast in timed}
    for many in ("library_2t", "library_2p_1t"):
        if many in timed and "library_1t" in timed:
            out[f"throughput_{many}_over_1t"] = timed[many]["steps_per_s"] / timed["library_1t"]["steps_per_s"]
    if "reference" in flops:
        out["reference_flops_over_library"] = flops["reference"] / flops["library"]
    if "reference_paper_energy" in flops:
        out["paper_energy_reference_flops_over_library"] = flops["reference_paper_energy"] / flops["library"]
    return out


def _optional(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def analysis_markdown(analysis: dict[str, Any]) -> str:
    """The analysis as Markdown: one row per timed phase, then the FLOP counts and the bf16 accuracy."""
    lines = [f"`{analysis['config']}`: {analysis['summary']}; median of {analysis['steps']} steps after "
             f"{analysis['warmup']} warm-up steps.", "",
             "| step | threads × processes | ms per step | steps/s | GFLOP per step | matmul GFLOP/s per process "
             "| FLOP floor ms | × floor | products alone ms | × products |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, phase in analysis["phases"].items():
        base = phase["variant"].removesuffix("_bf16")
        lines.append(
            f"| {name} | {phase['torch_threads']} × {phase['processes']} | {phase['median_ms']:,.0f} | "
            f"{phase['steps_per_s']:.2f} | {analysis['flops'][base] / 1e9:.3g} | "
            f"{phase['matmul_gflops_per_process']:.0f} ({phase['matmul_dtype']}) | {phase['flop_floor_ms']:,.0f} | "
            f"{phase['over_floor']:.2f} | {_optional(phase.get('shape_floor_ms'), ',.0f')} | "
            f"{_optional(phase.get('over_shape_floor'), '.2f')} |")
    ratios = analysis["ratios"]
    if ratios:
        lines += ["", "| ratio | value |", "|---|---|"] + [f"| {key} | {value:.2f} |" for key, value in ratios.items()]
    accuracy = analysis.get("bf16_accuracy")
    if accuracy and "error" in accuracy:
        lines += ["", f"bf16 autocast failed: `{accuracy['error']}`"]
    elif accuracy:
        lines += ["", "| meta-gradient | relative error | cosine | lowest per-tensor cosine |", "|---|---|---|---|"]
        for key in ("bf16_vs_float32", "bf16_vs_float64", "float32_vs_float64"):
            a = accuracy[key]
            worst = "–" if a["worst_tensor"] is None else f"{a['worst_tensor_cosine']:.6f} (`{a['worst_tensor']}`)"
            lines.append(f"| {key.replace('_', ' ')} | {a['relative_error']:.2e} | {a['cosine']:.6f} | {worst} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ebmm.bench.speed --config CONFIG [--steps 5] [--json results/speed.json]``: the analysis."""
    import argparse

    parser = argparse.ArgumentParser(description="EBMM meta-step against the batched reference and the FLOP floor")
    parser.add_argument("--config", required=True)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--json", default=None, help="results file to store the analysis in (its 'analysis' key)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--note", default="", help="what else ran on the machine")
    parser.add_argument("--no-bf16", action="store_true")
    args = parser.parse_args(argv)
    run_speed_analysis(args.config, args.overrides, args.steps, args.json, args.device, args.note, not args.no_bf16)
    return 0


if __name__ == "__main__":
    from ebmm.bench import speed as _speed  # workers must pickle as ebmm.bench.speed, not __main__

    sys.exit(_speed.main())
