"""Fast writing, measured: EBMM's T-step write against plain gradient descent to the same error.

    python -m experiments.writing --checkpoint checkpoints/binary --patterns 64 --episodes 20 \\
        --lrs 1e-2,1e-1,1 --json results/fast_writing.json --plot results/fast_writing.png
    python -m experiments.report results/fast_writing.json    # its Markdown table

The paper's central claim is that a meta-learned write stores a set of patterns in a few gradient
steps where plain optimisation would need many. This benchmark puts a number on it. On ``E``
seeded episodes of ``N`` patterns (drawn and corrupted as the checkpoint's task says), it measures:

- **EBMM**: the wall-clock seconds of ``memory.write(patterns)`` (inference, no graph; all ``E``
  episodes in one batched call; the median of many timed calls, see below) and the
  retrieval error of ``memory.read(queries, state)`` (error per pattern as ``ebmm.tasks`` scores it:
  Hamming bits for binary data). Its error, averaged over all episodes and patterns, is the
  *target*: "the same retrieval error".
- **θ̄**: the error of reading with nothing written (the initial fast weights), and the corrupted
  query's own error, so a reader sees what writing adds.
- **Plain gradient descent**, each run from a fixed start with ``torch.optim.Adam`` at each learning
  rate of a sweep, reading the benchmark queries with the memory's own learned reader from the
  current weights at check steps (steps ``1..dense_steps``, then every ``check_every``), until the
  error is at most the target or a step/time budget is spent:

  ``adam_writing_loss``: from θ̄, minimise the writing loss the write itself descends — the terms
  ``Σ_i E(x_i; θ)``, ``Σ_i ‖∇_x E(x_i; θ)‖²`` (``Σ_i`` a mean over the N patterns when the memory's
  ``write_reduction`` is ``"mean"``) and ``‖θ − θ̄‖²`` — weighted, for each writable tensor ``p``,
  by the meta-learned write rates averaged over the T write steps, ``r̄_{p,k} = mean_t
  memory.write_rates()[t, p, k]``. The write moves tensor ``p`` by ``Σ_k r_{t,p,k} ∇_p term_k``, so
  Adam gets the same per-tensor direction with the averaged rates, ``g_p = Σ_k r̄_{p,k} ∇_p term_k``:
  the gradient of the per-tensor loss ``L_p = Σ_k r̄_{p,k} term_k`` (see ``writing_loss_gradients``). Adam is
  invariant to a constant rescaling of one tensor's gradient, so only the ratios between a tensor's
  three averaged rates matter. Terms the memory does not use get weight 0. One Adam step costs what
  one write step costs (one forward, one backward for ∇_x E and ∇_θ E, one more for the
  gradient-norm term; the prior's gradient is analytic).

  ``adam_energy_only``: the same with the energy term alone (no gradient-norm or prior term; one
  backward pass per step).

  ``adam_writing_loss_fresh``, ``adam_energy_only_fresh``: the same two from the fresh
  initialisation that ``scratch_reconstruction`` starts from (the prior term then pulls towards it),
  which separates what the meta-learned θ̄ contributes from what the objective does.

  ``scratch_reconstruction``: the writable weights from a fresh initialisation (the same energy built
  anew with ``init_seed``; static weights and the reader stay the checkpoint's), trained on
  reconstruction: each step corrupts the stored patterns afresh with the task's corruption, reads
  them with the learned reader (differentiable, the gradient goes to the writable weights only) and
  takes the squared error of the read to the stored patterns, summed.

  Adam optimises a ``(E, ...)`` tensor of fast weights, one memory per episode; every loss is a sum
  over episodes, so each episode's gradient is its own, and Adam's per-element normalisation keeps
  the episodes independent: one run is E independent optimisations, timed together, just as the
  EBMM write of the E episodes is one batched call.

Time is wall-clock of the optimisation steps only (gradient, Adam update and, for reconstruction,
the fresh corruption); the evaluation reads at check steps are excluded. EBMM's write is timed
``write_repeats`` times after one warm-up before the runs and ``write_repeats // 2`` times after
every run, and the median of all those timings is the divisor, so that a change in the machine's
load during the benchmark reaches both sides of the ratio. Gradient evaluations are counted (a step
is one; EBMM's write uses T). The speed-up of a run is its seconds to reach the
target divided by EBMM's write seconds; a run that never reaches the target gives only a lower
bound, its total seconds divided by EBMM's write seconds, labelled so. A target is reached at the
first check whose error is at most the target; the step before it is recorded too
(``previous_check``), since the target may have been crossed anywhere in between.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from ebmm.config import EBMMConfig, ModelConfig
from ebmm.memory import WRITE_TERMS, EnergyMemory, MemoryState
from ebmm.run_folder import CheckpointFolder

METHODS: tuple[str, ...] = ("adam_writing_loss", "adam_energy_only", "adam_writing_loss_fresh",
                            "adam_energy_only_fresh", "scratch_reconstruction")
METHOD_LABELS = {
    "adam_writing_loss": "Adam on the writing loss from θ̄",
    "adam_energy_only": "Adam on the energy term alone from θ̄",
    "adam_writing_loss_fresh": "Adam on the writing loss from a fresh init",
    "adam_energy_only_fresh": "Adam on the energy term alone from a fresh init",
    "scratch_reconstruction": "Adam on reconstruction from a fresh init",
}
# the writing-loss methods: (terms, start), start "theta_bar" (meta-learned) or "fresh" (a new init)
WRITING_LOSS_METHODS: dict[str, tuple[tuple[str, ...], str]] = {
    "adam_writing_loss": (WRITE_TERMS, "theta_bar"),
    "adam_energy_only": (("energy",), "theta_bar"),
    "adam_writing_loss_fresh": (WRITE_TERMS, "fresh"),
    "adam_energy_only_fresh": (("energy",), "fresh"),
}
DEFAULT_LRS: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)

Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Corrupt = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def parse_float_list(text: str) -> list[float]:
    """``"1e-3,0.01,1"`` -> ``[0.001, 0.01, 1.0]``; every value must be positive."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise ValueError(f"expected comma-separated numbers, got {text!r}") from error
    if not values or any(not v > 0 for v in values):
        raise ValueError(f"expected positive numbers, got {text!r}")
    return values


def lr_key(lr: float) -> str:
    """The JSON key of a learning rate, e.g. ``0.01`` -> ``"0.01"``."""
    return f"{lr:g}"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------------------- the writing loss
def averaged_write_weights(memory: EnergyMemory) -> torch.Tensor:
    """The meta-learned write rates averaged over the T write steps: ``(n_writable, 3)``, terms in
    ``WRITE_TERMS`` order, 0 for a term the memory's write does not use."""
    weights = memory.write_rates().detach().mean(0).clone()
    for index, term in enumerate(WRITE_TERMS):
        if term not in memory.write_terms:
            weights[:, index] = 0.0
    return weights


def writing_loss_gradients(
    memory: EnergyMemory,
    fast: dict[str, torch.Tensor],
    patterns: torch.Tensor,
    theta_bar: dict[str, torch.Tensor],
    weights: torch.Tensor,
    terms: Sequence[str] = WRITE_TERMS,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The per-tensor writing losses ``L_p = Σ_k weights[p, k] · term_k`` of ``B`` memories, shape
    ``(n_writable, B)`` (detached), and ``g_p = ∇_p L_p`` for every writable tensor ``p`` of ``fast``
    (name -> ``(B, *shape)``; summed over the episodes, so each episode's gradient is its own).

    Only the ``terms`` named count. The energy and gradient-norm terms and their gradients are the
    write's own, ``EnergyMemory.write_gradients`` (the backward pass that yields ∇_x E yields ∇_θ E,
    one more for the norm term), so an Adam step costs what a write step costs; the prior term is
    ``‖θ − θ̄‖²`` over all writable tensors (``theta_bar``: name -> ``(*shape)`` or ``(B, *shape)``),
    its gradient 2(θ − θ̄) in closed form. With equal rows of ``weights`` this is one scalar loss.
    """
    unknown = set(terms) - set(WRITE_TERMS)
    if unknown or not terms:
        raise ValueError(f"terms must be a non-empty subset of {WRITE_TERMS}, got {list(terms)}")
    term_grads, values = memory.write_gradients(fast, patterns, terms)
    batch = patterns.shape[0]
    with torch.no_grad():
        if "prior" in terms:
            values["prior"] = sum((fast[n] - theta_bar[n]).pow(2).flatten(1).sum(1) for n in fast)  # type: ignore[assignment]
        gradients, losses = [], []
        for index, (name, value) in enumerate(fast.items()):
            w = weights[index]
            g = torch.zeros_like(value)
            loss = value.new_zeros(batch)
            for k, term in enumerate(WRITE_TERMS):
                if term not in terms:
                    continue
                grad = 2.0 * (value - theta_bar[name]) if term == "prior" else term_grads[term][index]
                g = g + w[k] * grad
                loss = loss + w[k] * values[term]
            gradients.append(g)
            losses.append(loss)
    return gradients, torch.stack(losses)


# ---------------------------------------------------------------------------- measurements
def _error(memory: EnergyMemory, fast: dict[str, torch.Tensor], queries: torch.Tensor, patterns: torch.Tensor,
           metric: Metric) -> float:
    out = memory.read(queries, MemoryState({name: value.detach() for name, value in fast.items()}))
    return float(metric(out.patterns, patterns).mean())


def _batched(weights: dict[str, torch.Tensor], batch: int) -> dict[str, torch.Tensor]:
    """``(*shape)`` tensors repeated to ``(batch, *shape)`` fresh leaves."""
    return {n: v.detach().unsqueeze(0).repeat(batch, *([1] * v.dim())).clone() for n, v in weights.items()}


def _time_writes(memory: EnergyMemory, patterns: torch.Tensor, repeats: int) -> tuple[list[float], MemoryState]:
    """Wall-clock seconds of ``repeats`` inference writes of all episodes in one call, and the last state."""
    device = patterns.device
    times, state = [], None
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        state = memory.write(patterns)
        _sync(device)
        times.append(time.perf_counter() - start)
    assert state is not None
    return times, state


def measure_ebmm_write(
    memory: EnergyMemory, patterns: torch.Tensor, queries: torch.Tensor, metric: Metric, repeats: int = 5,
    warmup: int = 1,
) -> dict[str, Any]:
    """Time ``memory.write(patterns)`` (all episodes in one call) and score the read from its state."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    _time_writes(memory, patterns, warmup)
    times, state = _time_writes(memory, patterns, repeats)
    per_episode = metric(memory.read(queries, state).patterns, patterns).mean(1)
    seconds = statistics.median(times)
    return {
        "write_seconds": seconds,
        "write_seconds_all": times,
        "write_ms_per_episode": 1000.0 * seconds / patterns.shape[0],
        "error": float(per_episode.mean()),
        "error_per_episode": [float(v) for v in per_episode],
        "gradient_evaluations": memory.write_steps,
    }


def _descend(
    step: Callable[[], float],
    evaluate: Callable[[], float],
    target: float,
    max_steps: int,
    max_seconds: float,
    check_every: int,
    dense_steps: int,
    device: torch.device,
) -> dict[str, Any]:
    """Take optimisation steps until ``evaluate() <= target`` at a check or the budget is spent."""
    seconds = 0.0
    curve: list[dict[str, Any]] = [{"step": 0, "error": evaluate(), "seconds": 0.0, "loss": None}]
    reached = curve[0]["error"] <= target
    steps = 0
    while not reached and steps < max_steps and seconds < max_seconds:
        _sync(device)
        start = time.perf_counter()
        loss = step()
        _sync(device)
        seconds += time.perf_counter() - start
        steps += 1
        out_of_budget = steps >= max_steps or seconds >= max_seconds
        if steps <= dense_steps or steps % check_every == 0 or out_of_budget:
            curve.append({"step": steps, "error": evaluate(), "seconds": seconds, "loss": loss})
            reached = curve[-1]["error"] <= target
    result: dict[str, Any] = {
        "reached": reached,
        "steps": steps,
        "seconds": seconds,
        "gradient_evaluations": steps,
        "final_error": curve[-1]["error"],
        "best_error": min(point["error"] for point in curve),
        "previous_check": ({"step": curve[-2]["step"], "seconds": curve[-2]["seconds"]}
                           if reached and len(curve) > 1 else None),
        "stopped_by": "target" if reached else ("max_steps" if steps >= max_steps else "max_seconds"),
        "curve": curve,
    }
    return result


def adam_on_writing_loss(
    memory: EnergyMemory,
    patterns: torch.Tensor,
    queries: torch.Tensor,
    metric: Metric,
    target: float,
    lr: float,
    terms: Sequence[str] = WRITE_TERMS,
    start: dict[str, torch.Tensor] | None = None,
    weights: torch.Tensor | None = None,
    max_steps: int = 2000,
    max_seconds: float = 300.0,
    check_every: int = 10,
    dense_steps: int = 50,
) -> dict[str, Any]:
    """Adam on the writing loss (``writing_loss_gradients``, the ``terms`` named) from ``start``
    (name -> ``(*shape)``; default θ̄, the memory's initial fast weights), until the read error is at
    most ``target`` (see the module docstring). The prior term is measured from ``start``."""
    if start is None:
        start = memory.initial_fast_weights()
    anchor = {name: value.detach() for name, value in start.items()}
    weights = averaged_write_weights(memory) if weights is None else weights
    fast = {name: value.requires_grad_() for name, value in _batched(anchor, patterns.shape[0]).items()}
    optimizer = torch.optim.Adam(list(fast.values()), lr=lr)

    def step() -> float:
        gradients, losses = writing_loss_gradients(memory, fast, patterns, anchor, weights, terms)
        for value, gradient in zip(fast.values(), gradients, strict=True):
            value.grad = gradient
        optimizer.step()
        return float(losses.sum(0).mean())

    return _descend(step, lambda: _error(memory, fast, queries, patterns, metric), target, max_steps, max_seconds,
                    check_every, dense_steps, patterns.device)


def reconstruction_from_scratch(
    memory: EnergyMemory,
    initial: dict[str, torch.Tensor],
    patterns: torch.Tensor,
    queries: torch.Tensor,
    metric: Metric,
    target: float,
    lr: float,
    corrupt: Corrupt,
    generator: torch.Generator,
    max_steps: int = 2000,
    max_seconds: float = 300.0,
    check_every: int = 10,
    dense_steps: int = 50,
) -> dict[str, Any]:
    """Adam on the reconstruction loss from the writable weights ``initial`` (name -> ``(*shape)``),
    until the read error on ``queries`` is at most ``target`` (see the module docstring)."""
    fast = {name: value.requires_grad_() for name, value in _batched(initial, patterns.shape[0]).items()}
    optimizer = torch.optim.Adam(list(fast.values()), lr=lr)
    clean_cpu = patterns.cpu()

    def step() -> float:
        noisy = corrupt(clean_cpu, generator).to(patterns.device)
        out = memory.read(noisy, MemoryState(fast), mode="second_order")
        loss = (out.patterns - patterns).pow(2).sum()
        gradients = torch.autograd.grad(loss, list(fast.values()))
        for value, gradient in zip(fast.values(), gradients, strict=True):
            value.grad = gradient
        optimizer.step()
        return float(loss.detach()) / patterns.shape[0]

    return _descend(step, lambda: _error(memory, fast, queries, patterns, metric), target, max_steps, max_seconds,
                    check_every, dense_steps, patterns.device)


def speedup_record(run: dict[str, Any], ebmm_seconds: float, write_steps: int | None = None) -> dict[str, Any]:
    """Speed-up of EBMM's write over a run: seconds-to-target / EBMM write seconds, or a lower bound;
    with ``write_steps`` (T) also the ratio of gradient evaluations, steps / T."""
    value = run["seconds"] / ebmm_seconds
    bound = not run["reached"]
    extra = {} if write_steps is None else {"gradient_evaluations_ratio": run["steps"] / write_steps}
    return {
        **extra,
        "speedup": value,
        "speedup_is_lower_bound": bound,
        "speedup_label": f">= {value:,.0f}x (lower bound: target not reached within the budget)" if bound
        else f"{value:,.1f}x",
    }


def headline(runs: dict[str, dict[str, Any]], ebmm_seconds: float, write_steps: int | None = None) -> dict[str, Any]:
    """The fastest learning rate that reaches the target; if none does, the smallest lower bound."""
    reached = {lr: run for lr, run in runs.items() if run["reached"]}
    if reached:
        lr = min(reached, key=lambda key: reached[key]["seconds"])
    else:
        lr = min(runs, key=lambda key: runs[key]["seconds"])
    run = runs[lr]
    return {"lr": lr, "reached": run["reached"], "steps": run["steps"], "seconds": run["seconds"],
            "best_error": run["best_error"], **speedup_record(run, ebmm_seconds, write_steps),
            "lrs_reaching": sorted(reached, key=float)}


def benchmark_writing(
    memory: EnergyMemory,
    patterns: torch.Tensor,
    queries: torch.Tensor,
    metric: Metric,
    corrupt: Corrupt,
    fresh_weights: dict[str, torch.Tensor] | None,
    lrs: Sequence[float] = DEFAULT_LRS,
    methods: Sequence[str] = METHODS,
    target: float | None = None,
    max_steps: int = 2000,
    max_seconds: float = 300.0,
    check_every: int = 10,
    dense_steps: int = 50,
    write_repeats: int = 5,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    scratch_lrs: Sequence[float] | None = None,
) -> dict[str, Any]:
    """EBMM's write, θ̄, and every gradient-descent method × learning rate on the same episodes.

    ``target`` defaults to EBMM's error; ``fresh_weights`` (name -> ``(*shape)``) start
    ``scratch_reconstruction``, whose learning rates are ``scratch_lrs`` when given, else ``lrs``.
    Returns the ``ebmm``, ``theta_bar``, ``query``, ``target_error``, ``runs`` (method -> lr -> run
    with its speed-up) and ``headline`` (method -> best lr) entries.
    """
    unknown = set(methods) - set(METHODS)
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty subset of {METHODS}, got {list(methods)}")
    scratch_lrs = lrs if scratch_lrs is None else scratch_lrs
    if not lrs or not scratch_lrs or any(not lr > 0 for lr in [*lrs, *scratch_lrs]):
        raise ValueError(f"learning rates must be positive, got {list(lrs)} and {list(scratch_lrs)}")
    if max_steps < 1 or check_every < 1 or dense_steps < 0 or not max_seconds > 0:
        raise ValueError("max_steps and check_every must be >= 1, dense_steps >= 0 and max_seconds > 0")
    needs_fresh = [m for m in methods
                   if m == "scratch_reconstruction" or WRITING_LOSS_METHODS.get(m, ("", ""))[1] == "fresh"]
    if needs_fresh and fresh_weights is None:
        raise ValueError(f"{', '.join(needs_fresh)} need fresh_weights")
    say = progress or (lambda line: None)
    previous = {name: p.requires_grad for name, p in memory.named_parameters()}
    memory.requires_grad_(False)  # gradients go to the fast weights only
    try:
        ebmm = measure_ebmm_write(memory, patterns, queries, metric, repeats=write_repeats)
        theta_bar = _batched(memory.initial_fast_weights(), patterns.shape[0])
        result: dict[str, Any] = {
            "ebmm": ebmm,
            "theta_bar": {"error": _error(memory, theta_bar, queries, patterns, metric)},
            "query": {"error": float(metric(queries, patterns).mean())},
            "target_error": ebmm["error"] if target is None else float(target),
            "write_weights": averaged_write_weights(memory).tolist(),
            "writable": list(memory.writable),
        }
        if fresh_weights is not None:
            result["fresh_init"] = {"error": _error(memory, _batched(fresh_weights, patterns.shape[0]), queries,
                                                    patterns, metric)}
        say(f"EBMM write: {1000 * ebmm['write_seconds']:.1f} ms for {patterns.shape[0]} episodes, error "
            f"{ebmm['error']:.2f}; nothing written (θ̄): {result['theta_bar']['error']:.2f}; "
            f"query: {result['query']['error']:.2f}; target {result['target_error']:.2f}")
        budget: dict[str, Any] = dict(
            max_steps=max_steps, max_seconds=max_seconds, check_every=check_every, dense_steps=dense_steps
        )
        runs: dict[str, dict[str, Any]] = {}
        for method in methods:
            runs[method] = {}
            for index, lr in enumerate(scratch_lrs if method == "scratch_reconstruction" else lrs):
                if method == "scratch_reconstruction":
                    assert fresh_weights is not None
                    generator = torch.Generator().manual_seed(seed * 1000 + 7 + index)
                    run = reconstruction_from_scratch(memory, fresh_weights, patterns, queries, metric,
                                                      result["target_error"], lr, corrupt, generator, **budget)
                else:
                    terms, start = WRITING_LOSS_METHODS[method]
                    run = adam_on_writing_loss(memory, patterns, queries, metric, result["target_error"], lr, terms,
                                               fresh_weights if start == "fresh" else None, **budget)
                # EBMM's write timed again beside every run, so that a change in the machine's load
                # reaches both sides of the ratio
                times, _ = _time_writes(memory, patterns, max(1, write_repeats // 2))
                ebmm["write_seconds_all"].extend(times)
                run.update(lr=lr, ebmm_write_seconds_after_run=statistics.median(times))
                runs[method][lr_key(lr)] = run
                say(f"{method} lr={lr:g}: {'reached' if run['reached'] else 'NOT reached'} after {run['steps']} "
                    f"steps, {run['seconds']:.2f} s (best error {run['best_error']:.2f}, final "
                    f"{run['final_error']:.2f}); EBMM write beside it {1000 * statistics.median(times):.1f} ms")
        ebmm["write_seconds"] = statistics.median(ebmm["write_seconds_all"])
        ebmm["write_ms_per_episode"] = 1000.0 * ebmm["write_seconds"] / patterns.shape[0]
        for method_runs in runs.values():
            for run in method_runs.values():
                run.update(speedup_record(run, ebmm["write_seconds"], memory.write_steps))
        result["runs"] = runs
        result["headline"] = {method: headline(runs[method], ebmm["write_seconds"], memory.write_steps)
                              for method in methods}
    finally:
        for name, p in memory.named_parameters():
            p.requires_grad_(previous[name])
    return result


# ---------------------------------------------------------------------------- checkpoint entry point
def fresh_writable_weights(model_config: ModelConfig, seed: int, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """The writable weights of the same energy built anew from ``model_config`` with ``seed``."""
    from ebmm.build import build_memory

    if not isinstance(model_config, EBMMConfig):
        raise ValueError(f"fast-writing weights need an EBMM model, got model.kind = {model_config.kind!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = build_memory(model_config)
    assert isinstance(fresh, EnergyMemory)  # an EBMMConfig builds one
    return {name: value.detach().to(device) for name, value in fresh.initial_fast_weights().items()}


NOTES = {
    "target": "EBMM's mean read error over all episodes and patterns; a gradient-descent run reaches it at the "
              "first check (steps 1..dense_steps, then every check_every, and the last step) whose mean read "
              "error over the same episodes and queries is <= target",
    "timing": "wall-clock seconds; EBMM: median of all timed batched inference writes of all episodes "
              "(write_repeats after one warm-up, then write_repeats // 2 after every gradient-descent run, so load "
              "changes reach both sides of the ratio; write_seconds_all); gradient descent: the sum over "
              "optimisation steps (gradient, Adam update, fresh "
              "corruption) of all episodes together, evaluation reads excluded",
    "speedup": "gradient-descent seconds to reach the target / EBMM write seconds; when the target was not "
               "reached within max_steps/max_seconds, total seconds / EBMM write seconds, a lower bound",
    "headline": "per method, the learning rate that reaches the target fastest; if none does, the smallest "
                "lower bound over the learning rates tried",
    "adam_writing_loss": "Adam from θ̄ on the write's three terms (energy, gradient norm, prior), each writable "
                         "tensor weighted by its meta-learned write rates averaged over the T steps "
                         "(write_weights: rows = writable tensors, columns = energy, gradnorm, prior)",
    "adam_energy_only": "the same with the energy term only",
    "adam_writing_loss_fresh": "adam_writing_loss from the fresh initialisation of scratch_reconstruction "
                               "(prior term towards it) instead of θ̄",
    "adam_energy_only_fresh": "adam_energy_only from that fresh initialisation",
    "scratch_reconstruction": "Adam from a fresh initialisation of the writable weights on the squared error of "
                              "the learned reader's output to the stored patterns, queries corrupted afresh each "
                              "step; the reader and the static weights stay the checkpoint's",
    "independence": "one (episodes, ...) tensor of fast weights, losses summed over episodes: each episode's "
                    "gradient and Adam statistics are its own",
    "gradient_evaluations": "optimisation steps taken (one gradient each); EBMM's write takes T; "
                            "gradient_evaluations_ratio = steps / T, a load-independent companion of the speed-up "
                            "(a step's cost differs between methods: energy-only steps skip the gradient-norm "
                            "backward pass, reconstruction steps differentiate through the K read steps)",
    "fresh_init": "read error with the fresh initialisation of the writable weights (nothing written)",
}


def run_write_benchmark(
    checkpoint: str,
    patterns: int = 64,
    episodes: int = 20,
    seed: int = 0,
    lrs: Sequence[float] = DEFAULT_LRS,
    methods: Sequence[str] = METHODS,
    max_steps: int = 2000,
    max_seconds: float = 300.0,
    check_every: int = 10,
    dense_steps: int = 50,
    write_repeats: int = 5,
    init_seed: int = 1,
    device: str = "cpu",
    json_out: str | None = None,
    plot_out: str | None = None,
    target: float | None = None,
    progress: Callable[[str], None] | None = None,
    scratch_lrs: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Load ``checkpoint``, draw its task's episodes, run ``benchmark_writing``, print a table, save
    the JSON (and a plot) when asked. Returns the results record."""
    from ebmm.bench.harness import command_line, git_revision
    from ebmm.bench.speed import describe_device
    from ebmm.build import load_memory, resolve_checkpoint
    from ebmm.checkpoint import load_json, save_json
    from ebmm.tasks import METRICS, build_task

    if patterns < 1 or episodes < 1:
        raise ValueError(f"patterns and episodes must be positive, got {patterns}, {episodes}")
    started = time.perf_counter()
    target_device = torch.device(device)
    memory, config = load_memory(checkpoint, device=target_device)
    if not isinstance(memory, EnergyMemory):
        raise ValueError(f"the writing benchmark needs an EBMM checkpoint; {checkpoint} holds {config.model.kind!r}")
    memory.eval()
    task = build_task(config)
    generator = torch.Generator().manual_seed(seed)
    clean, corrupted = task.sample(episodes, patterns, generator, "test")
    clean, corrupted = clean.to(target_device), corrupted.to(target_device)
    metric = METRICS[task.metric_name]
    fresh = fresh_writable_weights(config.model, init_seed, target_device)
    results = benchmark_writing(memory, clean, corrupted, metric, task.corrupt, fresh, lrs, methods, target,
                                max_steps, max_seconds, check_every, dense_steps, write_repeats, seed,
                                progress or (lambda line: print(line, file=sys.stderr, flush=True)), scratch_lrs)
    folder = resolve_checkpoint(checkpoint)
    info: dict[str, Any] = {"path": str(checkpoint)}
    if CheckpointFolder(folder).state.is_file():
        info.update(load_json(CheckpointFolder(folder).state))
    corruption = task.corrupt.describe() if hasattr(task.corrupt, "describe") else str(task.corrupt)
    payload: dict[str, Any] = {
        "benchmark": "write",
        "command": command_line(),
        "git_revision": git_revision(),
        "device": describe_device(target_device),
        "checkpoint": info,
        "settings": {
            "patterns": patterns, "episodes": episodes, "seed": seed, "lrs": list(lrs),
            "scratch_lrs": list(lrs if scratch_lrs is None else scratch_lrs), "methods": list(methods),
            "max_steps": max_steps, "max_seconds": max_seconds, "check_every": check_every,
            "dense_steps": dense_steps, "write_repeats": write_repeats, "init_seed": init_seed,
            "target": "EBMM's error" if target is None else float(target),
            "data": config.task.data, "corruption": corruption, "metric": task.metric_name,
            "energy": config.ebmm_model("the writing benchmark").energy, "write_steps": memory.write_steps, "read_steps": memory.read_steps,
            "write_terms": list(memory.write_terms), "write_reduction": memory.write_reduction,
            "memory_floats": memory.memory_floats(),
        },
        **results,
        "notes": NOTES,
    }
    payload["seconds"] = time.perf_counter() - started
    print(format_write_table(payload))
    if json_out:
        save_json(json_out, payload)
        print(f"wrote {json_out}")
    if plot_out:
        print(f"wrote {plot_writing(payload, plot_out)}")
    return payload


# ---------------------------------------------------------------------------- tables and plot
def _rows(result: dict[str, Any]) -> Iterable[tuple[str, str, str, str, str, str, str]]:
    """(method, lr, reached, steps, seconds, best error, speed-up) per run."""
    for method, runs in result["runs"].items():
        for lr, run in runs.items():
            steps = f"{run['steps']:,}"
            if run["reached"] and run.get("previous_check"):
                steps = f"{run['previous_check']['step'] + 1:,}–{run['steps']:,}" if \
                    run["previous_check"]["step"] + 1 < run["steps"] else steps
            yield (method, lr, "yes" if run["reached"] else "no", steps, f"{run['seconds']:.2f}",
                   f"{run['best_error']:.2f}", run["speedup_label"])


def format_write_table(result: dict[str, Any]) -> str:
    """A plain-text summary: EBMM, θ̄, then one line per method and learning rate."""
    ebmm = result["ebmm"]
    settings = result.get("settings", {})
    lines = [
        f"{settings.get('episodes', '?')} episodes of {settings.get('patterns', '?')} patterns; "
        f"target = EBMM's error {result['target_error']:.3f}",
        f"EBMM write: {1000 * ebmm['write_seconds']:.2f} ms ({ebmm['gradient_evaluations']} gradient steps), "
        f"error {ebmm['error']:.3f}; nothing written (θ̄): {result['theta_bar']['error']:.3f}; "
        f"corrupted query: {result['query']['error']:.3f}",
        f"{'method':<24}{'lr':>8}{'reached':>9}{'steps':>13}{'seconds':>10}{'best err':>10}  speed-up",
    ]
    for method, lr, reached, steps, seconds, best, speedup in _rows(result):
        lines.append(f"{method:<24}{lr:>8}{reached:>9}{steps:>13}{seconds:>10}{best:>10}  {speedup}")
    for method, head in result["headline"].items():
        lines.append(f"headline {method}: lr {head['lr']}, {head['steps']} steps, {head['seconds']:.2f} s: "
                     f"EBMM's write faster by {head['speedup_label']}")
    return "\n".join(lines)


def writing_markdown(result: dict[str, Any]) -> str:
    """The headline per method as a Markdown table, for the README."""
    ebmm = result["ebmm"]
    steps_t = ebmm["gradient_evaluations"]
    lines = [
        "| how the patterns are written | best lr | gradient steps | seconds | read error | "
        "EBMM's write faster by (seconds) | (gradient steps) |",
        "|---|---|---|---|---|---|---|",
        f"| EBMM write (T = {steps_t}) | – | {steps_t} | {ebmm['write_seconds']:.3f} | {ebmm['error']:.2f} "
        "| – | – |",
        f"| nothing written (θ̄) | – | 0 | 0 | {result['theta_bar']['error']:.2f} | – | – |",
    ]
    for method, head in result["headline"].items():
        run = result["runs"][method][head["lr"]]
        error = run["curve"][-1]["error"]
        if head["speedup_is_lower_bound"]:
            speed = f"≥ {head['speedup']:,.0f}× (not reached)"
            ratio, steps = f"≥ {head['steps'] / steps_t:,.0f}×", f"> {head['steps']:,}"
        else:
            speed, ratio, steps = f"{head['speedup']:,.1f}×", f"{head['steps'] / steps_t:,.1f}×", f"{head['steps']:,}"
        lines.append(f"| {METHOD_LABELS.get(method, method)} | {head['lr']} | {steps} | {head['seconds']:.3f} | "
                     f"{error:.2f} | {speed} | {ratio} |")
    return "\n".join(lines)


def plot_writing(result: dict[str, Any], out: str | Path) -> Path:
    """Read error against optimisation seconds (log x): one panel per method, one curve per learning
    rate, EBMM's write as a star, its error (the target), θ̄ and the corrupted query as lines."""
    from matplotlib.ticker import NullFormatter

    from ebmm.bench.plots import _save, plt

    methods = list(result["runs"])
    columns = min(3, len(methods))
    rows = -(-len(methods) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.8 * rows), sharex=True,
                             sharey=True, squeeze=False)
    ebmm = result["ebmm"]
    for ax in axes.flat[len(methods):]:
        ax.set_visible(False)
    for ax, method in zip(axes.flat, methods, strict=False):
        for lr, run in result["runs"][method].items():
            points = [p for p in run["curve"] if p["seconds"] > 0]
            if not points:
                continue
            line, = ax.plot([p["seconds"] for p in points], [p["error"] for p in points], lw=1.1,
                            label=f"lr {lr}" + ("" if run["reached"] else " (not reached)"))
            if run["reached"]:
                ax.plot([run["seconds"]], [run["curve"][-1]["error"]], "o", color=line.get_color(), markersize=6)
        ax.axhline(result["target_error"], color="black", linestyle="--", lw=0.8, label="target: EBMM's error")
        ax.axhline(result["theta_bar"]["error"], color="grey", linestyle=":", lw=0.9, label="nothing written (θ̄)")
        ax.axhline(result["query"]["error"], color="grey", linestyle="-.", lw=0.8, label="corrupted query")
        ax.plot([ebmm["write_seconds"]], [ebmm["error"]], "k*", markersize=13,
                label=f"EBMM write (T={ebmm['gradient_evaluations']})")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.tick_params(axis="x", labelbottom=True)
        ax.set_xlabel("optimisation wall-clock seconds (all episodes)", fontsize=8)
        ax.set_title(METHOD_LABELS.get(method, method), fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    settings = result.get("settings", {})
    unit = " (bits)" if settings.get("metric") == "hamming" else ""
    for row in axes:
        row[0].set_ylabel("read error per pattern" + unit)
    fig.suptitle(f"{result.get('checkpoint', {}).get('path', '')}: {settings.get('episodes', '?')} episodes x "
                 f"{settings.get('patterns', '?')} patterns; gradient descent until EBMM's read error", fontsize=9)
    return _save(fig, out, rect=(0, 0, 1, 0.96))


# ---------------------------------------------------------------------------- command line
def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """"(default: X)" after an option's help, unless the default is None or the help states it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m experiments.writing`` (formerly ``ebmm bench write``)."""
    from ebmm.cli import DEFAULT_CHECKPOINT

    parser = argparse.ArgumentParser(prog="python -m experiments.writing", description=__doc__.splitlines()[0],
                                     formatter_class=_HelpFormatter)
    add = parser.add_argument
    add("--checkpoint", default=DEFAULT_CHECKPOINT, help="checkpoint or run folder, or the name of a shipped checkpoint")
    add("--patterns", type=_positive_int, default=64, help="patterns written per episode")
    add("--episodes", type=_positive_int, default=20, help="episodes (independent memories, batched)")
    add("--seed", type=int, default=0, help="seed of the episodes")
    add("--lrs", default="1e-3,1e-2,1e-1,1", help="comma-separated Adam learning rates (all methods)")
    add("--methods", default=",".join(METHODS), help="comma-separated subset of the gradient-descent methods")
    add("--scratch-lrs", default=None, help="learning rates for scratch_reconstruction (default: --lrs)")
    add("--max-steps", type=_positive_int, default=2000, help="step budget per run")
    add("--max-seconds", type=float, default=300.0, help="optimisation-time budget per run")
    add("--check-every", type=_positive_int, default=10, help="read the queries every this many steps")
    add("--dense-steps", type=int, default=50, help="also read after each of the first this many steps")
    add("--write-repeats", type=_positive_int, default=5, help="timed EBMM writes (median)")
    add("--init-seed", type=int, default=1, help="seed of the fresh init (scratch_reconstruction and the *_fresh methods)")
    add("--json", default=None, help="write the results here")
    add("--plot", default=None, help="write a PNG of error against seconds here")
    add("--device", default="cpu", help="torch device")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark with the options of ``build_parser``; 2 (and the reason) on bad input."""
    from ebmm.build import check_device

    args = build_parser().parse_args(argv)
    try:
        check_device(args.device)
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        run_write_benchmark(args.checkpoint, args.patterns, args.episodes, args.seed, parse_float_list(args.lrs),
                            methods, args.max_steps, args.max_seconds, args.check_every, args.dense_steps,
                            args.write_repeats, args.init_seed, args.device, args.json, args.plot,
                            scratch_lrs=parse_float_list(args.scratch_lrs) if args.scratch_lrs else None)
    except (ValueError, FileNotFoundError, TypeError, RuntimeError) as error:
        print(f"python -m experiments.writing: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
