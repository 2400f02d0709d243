"""A per-pattern EBMM meta-loss: a test oracle for the library, not a speed baseline.

It follows the method's equations one pattern at a time: Python loops over
episodes and over patterns, each pattern's energy evaluated on its own (unbatched) with
``functional_call``, and one ``torch.autograd.grad`` call per write-loss term (the prior term
included, though its gradient is simply ``2(θ − θ̄)``). No ``vmap``, no batching.

It reads every meta-parameter from an ``EnergyMemory`` (θ̄, write rates, read schedule, write
terms, value range), so for the same memory it computes the same loss as
``memory.episode_loss(patterns, queries, "second_order")`` and the same meta-gradient; the tests
use it as an independent cross-check of the library. Its loops make it far slower than anyone who
batches the patterns would be, so speed is measured against the batched reference
``ebmm.bench.speed.reference_episode_loss`` instead.
"""

from __future__ import annotations

import torch
from torch.func import functional_call

from ebmm.memory import WRITE_TERMS, EnergyMemory


def _energy(memory: EnergyMemory, weights: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Energy (a scalar) of one unbatched pattern ``x`` under the fast weights ``weights``."""
    return functional_call(memory.energy, weights, (x,), strict=False)


def _grad(output: torch.Tensor, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """``∇ output`` w.r.t. each input, keeping the graph (zeros where an input is unused)."""
    grads = torch.autograd.grad(output, inputs, create_graph=True, allow_unused=True)
    return [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads, strict=True)]


def naive_write(
    memory: EnergyMemory, patterns: torch.Tensor, differentiated_steps: int | None = None
) -> dict[str, torch.Tensor]:
    """Write the ``N`` patterns ``(N, *shape)`` of one episode; returns its fast weights θ^(T).

    θ^(t+1) = θ^(t) − Σ_terms rate[t, p, term] · ∇_p term, with terms
    mean_i E(x_i), mean_i ‖∇_x E(x_i)‖² and ‖θ − θ̄‖².
    ``differentiated_steps`` = k (default: all T) differentiates the last k steps through their
    inner gradients; earlier steps use the energy and gradient-norm gradients as constants
    (first order; the prior term's gradient 2(θ − θ̄) stays exact, as in the library).
    """
    if memory.write_chunk is not None or memory.refine_steps:
        raise ValueError("naive_write is the batch write in T plain steps: no write_chunk, no refine steps")
    theta_bar = memory.initial_fast_weights()
    names = list(theta_bar)
    rates = memory.write_rates()
    count = patterns.shape[0]
    divisor = count if memory.write_reduction == "mean" else 1
    theta = dict(theta_bar)
    first_differentiated = memory.write_steps - (memory.write_steps if differentiated_steps is None
                                                 else differentiated_steps)
    for step in range(memory.write_steps):
        params = [theta[name] for name in names]
        term_grads: dict[str, list[torch.Tensor]] = {}
        if "energy" in memory.write_terms:
            energy_term = sum((_energy(memory, theta, patterns[i]) for i in range(count)), patterns.new_zeros(())) / divisor
            term_grads["energy"] = _grad(energy_term, params)
        if "gradnorm" in memory.write_terms:
            norm_term = patterns.new_zeros(())
            for i in range(count):
                x = patterns[i].detach().requires_grad_()
                (grad_x,) = torch.autograd.grad(_energy(memory, theta, x), x, create_graph=True)
                norm_term = norm_term + grad_x.pow(2).sum()
            term_grads["gradnorm"] = _grad(norm_term / divisor, params)
        if "prior" in memory.write_terms:
            prior_term = sum(((theta[name] - theta_bar[name]).pow(2).sum() for name in names), patterns.new_zeros(()))
            term_grads["prior"] = _grad(prior_term, params)
        if step < first_differentiated:
            for term in ("energy", "gradnorm"):
                if term in term_grads:
                    term_grads[term] = [grad.detach() for grad in term_grads[term]]
        theta = {
            name: theta[name] - sum(rates[step, p, WRITE_TERMS.index(term)] * grads[p]
                                    for term, grads in term_grads.items())
            for p, name in enumerate(names)
        }
    return theta


def naive_read(
    memory: EnergyMemory, theta: dict[str, torch.Tensor], query: torch.Tensor
) -> list[torch.Tensor]:
    """Read one unbatched ``query``: K projected Nesterov steps; returns every iterate x^(1..K)."""
    gammas, psis = memory.read_schedule()
    low, high = memory.value_range
    x = query.detach()
    velocity = torch.zeros_like(x)
    iterates = []
    for k in range(memory.read_steps):
        lookahead = x if k == 0 else (x + psis[k] * velocity).clamp(low, high)
        if not lookahead.requires_grad:
            lookahead = lookahead.detach().requires_grad_()
        (grad_x,) = torch.autograd.grad(_energy(memory, theta, lookahead), lookahead, create_graph=True)
        velocity = psis[k] * velocity - gammas[k] * grad_x
        x = (x + velocity).clamp(low, high)
        iterates.append(x)
    return iterates


def naive_episode_loss(
    memory: EnergyMemory, patterns: torch.Tensor, queries: torch.Tensor, differentiated_steps: int | None = None
) -> torch.Tensor:
    """Second-order EBMM meta-loss ``Σ_k mean_{episodes, i} ‖x_i − x_i^(k)‖²``, one pattern at a time.

    ``patterns`` and ``queries`` are ``(B, N, *shape)``; queries[b, i] is a corruption of
    patterns[b, i]. Differentiable w.r.t. every parameter of ``memory``. ``differentiated_steps``
    as in ``naive_write`` (0: first order, k < T: truncated).
    """
    if queries.shape != patterns.shape:
        raise ValueError(f"queries must match patterns, got {tuple(queries.shape)} vs {tuple(patterns.shape)}")
    episodes, count = patterns.shape[:2]
    with torch.enable_grad():
        total = patterns.new_zeros(())
        for b in range(episodes):
            theta = naive_write(memory, patterns[b], differentiated_steps)
            for i in range(count):
                for iterate in naive_read(memory, theta, queries[b, i]):
                    total = total + (iterate - patterns[b, i]).pow(2).sum()
    return total / (episodes * count)
