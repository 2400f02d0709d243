"""EnergyMemory: write by a few meta-learned gradient steps, read by projected Nesterov descent.

Writing (docs/method.md#writing): from the meta-learned initial fast weights θ̄,

    θ^(t+1) = θ^(t) − Σ_k r^(t)_{p,k} ∇_p term_k,   terms: E(x), ‖∇_x E(x)‖², ‖θ − θ̄‖²

with one softplus-positive rate per write step × writable tensor × term (``ebmm.rules.WriteRule``).
An online write (``WriteRule.chunk``) takes the T steps for each chunk of patterns in turn; a
``RefineRule`` of R steps then descends the same writing loss over all N patterns together, with
its own rates and Nesterov momentum μ (v ← μv − Δ(θ + μv), θ ← θ + v): the slots an online write
filled one pattern at a time are then fitted jointly (docs/method.md#refining-a-write). ∇_θ E comes from the same
backward pass that computes ∇_x E, ∇_θ‖∇_x E‖² from one more (double-)backward pass, and the prior
term's gradient is analytic, 2(θ − θ̄): one backward pass over θ per step.

Reading (``ReadRule``): ``K`` projected gradient steps on the query with Nesterov momentum, learned
non-increasing step sizes γ and momenta ψ, projection = clipping to the data range.

Gradient modes: ``"second_order"`` differentiates through every inner gradient (full
meta-gradient), ``"first_order"`` treats the write-step gradients as constants (the read stays
differentiable, or nothing would train the static weights), ``"truncated"`` differentiates
through the inner gradients of the last ``truncate`` write steps only (first order before them),
``"none"`` keeps no graph at all (inference).

Gradient checkpointing (``checkpoint=True``) keeps only each write and read step's inputs and
recomputes the step's graph during the backward pass: the same meta-gradient with less memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap
from torch.utils.checkpoint import checkpoint as checkpoint_step

from ebmm.energy.base import (
    WritablePredicate,
    count_floats,
    episode,
    has_episode_layout,
    is_memory_parameter,
    reading,
    writable_names,
)
from ebmm.protocol import GRAD_MODES, GradMode, Retrieval, check_batch_matches, check_patterns
from ebmm.protocol import TRAINING_GRAD_MODES as TRAINING_GRAD_MODES  # re-exported
from ebmm.rules import WRITE_TERMS as WRITE_TERMS  # re-exported
from ebmm.rules import ReadRule, RefineRule, WriteRule, check_temperature

EnergyFn = Callable[[dict[str, torch.Tensor], torch.Tensor], torch.Tensor]  # (fast weights, x) -> energies


def _inverse_softplus(value: float) -> float:
    if value <= 0:
        raise ValueError(f"a softplus-parametrised rate must start positive, got {value}")
    return value + math.log(-math.expm1(-value)) if value < 20 else value


def _logit(value: float) -> float:
    if not 0.0 < value < 1.0:
        raise ValueError(f"a sigmoid-parametrised value must start in (0, 1), got {value}")
    return math.log(value / (1.0 - value))


@dataclass
class MemoryState:
    """Written fast weights of ``B`` independent memories: name -> tensor ``(B, *param_shape)``.

    ``patterns``: how many patterns the write stored per memory (``None``: unknown, e.g. nothing
    written). An energy that lays out its weights per episode reads the state with that layout.
    """

    fast: dict[str, torch.Tensor]
    patterns: int | None = None

    @property
    def batch_size(self) -> int:
        return next(iter(self.fast.values())).shape[0]

    def floats(self) -> int:
        """Floats one written memory occupies (the batch axis excluded)."""
        return count_floats(self.fast, batch_dims=1)

    def detach(self) -> MemoryState:
        return MemoryState({name: value.detach() for name, value in self.fast.items()}, self.patterns)

    def save(self, path: str | Path) -> None:
        """Save the written weights as safetensors (atomic write)."""
        from ebmm.checkpoint import save_tensors

        metadata = None if self.patterns is None else {"patterns": str(self.patterns)}
        save_tensors(path, {name: value.detach() for name, value in self.fast.items()}, metadata)

    @classmethod
    def load(cls, path: str | Path) -> MemoryState:
        from safetensors import safe_open

        from ebmm.checkpoint import load_tensors

        tensors = load_tensors(path)
        with safe_open(str(path), framework="pt") as handle:
            patterns = (handle.metadata() or {}).get("patterns")
        return cls(tensors, None if patterns is None else int(patterns))


class EnergyMemory(nn.Module):
    """An energy network turned into an associative memory, with every meta-parameter inside.

    Arguments:
        energy: any module mapping ``(..., *pattern_shape)`` to energies ``(...)``.
        pattern_shape: the shape of one pattern, e.g. ``(128,)``.
        write: the write rule (``ebmm.rules.WriteRule``; ``None``: its defaults, the paper's): T steps,
            loss terms, initial rates, reduction over patterns, batch or online (``chunk``).
        read: the read rule (``ebmm.rules.ReadRule``; ``None``: its defaults): K projected Nesterov
            steps, where their learned step sizes and momenta start, and an optional temperature.
        refine: ``None`` or a ``RefineRule``: R more steps on all N patterns together after the write,
            with their own learned rates and Nesterov momentum.
        writable: predicate over parameter names choosing the fast weights (default: modules named
            ``memory``). Their initial values in ``energy`` are θ̄, meta-learned.
        value_range: the data range reads are projected onto.
    """

    def __init__(
        self,
        energy: nn.Module,
        pattern_shape: Sequence[int],
        write: WriteRule | None = None,
        read: ReadRule | None = None,
        refine: RefineRule | None = None,
        writable: WritablePredicate = is_memory_parameter,
        value_range: tuple[float, float] = (0.0, 1.0),
    ):
        super().__init__()
        write = WriteRule() if write is None else write
        read = ReadRule() if read is None else read
        for rule, kind, name in ((write, WriteRule, "write"), (read, ReadRule, "read"), (refine, RefineRule, "refine")):
            if not isinstance(rule, kind) and not (rule is None and name == "refine"):
                allowed = f"a {kind.__name__}" + (" or None" if name == "refine" else "")
                raise TypeError(f"{name} must be {allowed} (ebmm.rules), got {type(rule).__name__}")
        self.write_rule, self.read_rule, self.refine_rule = write, read, refine
        self.energy = energy
        self.pattern_shape = tuple(int(s) for s in pattern_shape)
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.writable = writable_names(energy, writable)
        _probe_energy(energy, self.pattern_shape)
        self._episode_layout = has_episode_layout(energy)
        raw_rates = torch.tensor([_inverse_softplus(r) for r in write.rate_init])
        self.write_rate_raw = nn.Parameter(raw_rates.expand(write.steps, len(self.writable), 3).clone())
        if refine is not None:  # no parameters otherwise, so that memories without refinement load as before
            rates = write.rate_init if refine.rate_init is None else refine.rate_init
            raw_refine = torch.tensor([_inverse_softplus(r) for r in rates])
            self.refine_rate_raw = nn.Parameter(raw_refine.expand(refine.steps, len(self.writable), 3).clone())
            self.refine_momentum_raw = nn.Parameter(torch.tensor(_logit(refine.momentum_init)))
        self.read_step_raw = nn.Parameter(torch.tensor(_inverse_softplus(read.step_init)))
        self.read_decay_raw = nn.Parameter(torch.full((read.steps - 1,), _logit(read.step_decay_init)))
        self.momentum_raw = nn.Parameter(torch.tensor(_logit(read.momentum_init)))
        self.momentum_decay_raw = nn.Parameter(torch.full((read.steps - 1,), _logit(read.momentum_decay_init)))

    # ------------------------------------------------------------------ rules, in short
    @property
    def write_steps(self) -> int:
        """T (``write.steps``)."""
        return self.write_rule.steps

    @property
    def write_terms(self) -> tuple[str, ...]:
        """The writing loss's terms (``write.terms``), in ``WRITE_TERMS`` order."""
        return self.write_rule.terms

    @property
    def write_reduction(self) -> str:
        return self.write_rule.reduction

    @property
    def write_chunk(self) -> int | None:
        """``None``: batch write; ``c``: online write, ``c`` patterns at a time (``write.chunk``)."""
        return self.write_rule.chunk

    @property
    def refine_steps(self) -> int:
        """R (0 without a refine rule)."""
        return 0 if self.refine_rule is None else self.refine_rule.steps

    @property
    def read_steps(self) -> int:
        """K (``read.steps``)."""
        return self.read_rule.steps

    # ------------------------------------------------------------------ parameters
    def initial_fast_weights(self) -> dict[str, torch.Tensor]:
        """θ̄: the meta-learned initial values of the writable weights."""
        params = dict(self.energy.named_parameters())
        return {name: params[name] for name in self.writable}

    def write_rates(self) -> torch.Tensor:
        """Positive write rates, shape ``(T, n_writable, 3)`` (terms in ``WRITE_TERMS`` order)."""
        return F.softplus(self.write_rate_raw)

    def refine_schedule(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Positive refine rates ``(R, n_writable, 3)`` and the refine momentum μ in (0, 1)."""
        if not self.refine_steps:
            raise ValueError("this memory has no refine steps (no RefineRule)")
        return F.softplus(self.refine_rate_raw), torch.sigmoid(self.refine_momentum_raw)

    def read_schedule(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Step sizes γ^(1..K) and momenta ψ^(1..K), each non-increasing in k."""
        gamma0 = F.softplus(self.read_step_raw).reshape(1)
        psi0 = torch.sigmoid(self.momentum_raw).reshape(1)
        gammas = torch.cumprod(torch.cat([gamma0, torch.sigmoid(self.read_decay_raw)]), 0)
        psis = torch.cumprod(torch.cat([psi0, torch.sigmoid(self.momentum_decay_raw)]), 0)
        return gammas, psis

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype of the memory's weights; patterns and queries must have it (see ``write``)."""
        return next((p.dtype for p in self.energy.parameters() if p.is_floating_point()), self.read_step_raw.dtype)

    def _check_dtype(self, tensor: torch.Tensor, name: str) -> None:
        if tensor.dtype != self.dtype:
            raise TypeError(
                f"{name} have dtype {tensor.dtype}, but this memory's weights are {self.dtype}: expected {name} of "
                f"dtype {self.dtype}. Convert them with {name}.to({self.dtype}), or the memory with "
                f"memory.to({tensor.dtype})"
            )

    def memory_floats(self, state: MemoryState | None = None) -> int:
        """Floats a written memory occupies: the number of writable weights."""
        if state is not None:
            return state.floats()
        return count_floats(self.initial_fast_weights())

    def empty_state(self, batch: int) -> MemoryState:
        """``batch`` memories with nothing written: the initial fast weights θ̄ (detached)."""
        return MemoryState({name: value.detach().unsqueeze(0).expand(batch, *value.shape)
                            for name, value in self.initial_fast_weights().items()})

    # ------------------------------------------------------------------ energy
    def energies(self, state: MemoryState, x: torch.Tensor) -> torch.Tensor:
        """Energies ``(B, M)`` of ``x`` ``(B, M, *shape)`` under each written memory.

        ``x`` must have one set of patterns per memory in ``state`` and this memory's pattern shape
        and dtype; anything else raises ``ValueError``/``TypeError`` naming the expected and given shape.
        """
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        expected = f"(B, M, {', '.join(map(str, self.pattern_shape))})"
        if x.dim() != 2 + len(self.pattern_shape) or tuple(x.shape[2:]) != self.pattern_shape:
            raise ValueError(f"x must have shape {expected} (patterns of shape {self.pattern_shape}), "
                             f"got {tuple(x.shape)}")
        if x.shape[0] != state.batch_size:
            raise ValueError(f"x has {x.shape[0]} sets of patterns (B = {x.shape[0]}) but the memory state holds "
                             f"{state.batch_size} memories: expected shape {expected} with B = {state.batch_size}")
        self._check_dtype(x, "x")
        return self._for_episode(self._energy, state.patterns)(state.fast, x)

    def _for_episode(self, energy_fn: EnergyFn, patterns: int | None) -> EnergyFn:
        """``energy_fn`` evaluated under the layout of an episode of ``patterns`` patterns (see
        ``ebmm.energy.base.episode``); unchanged for an energy whose layout is fixed."""
        if not self._episode_layout or patterns is None:
            return energy_fn

        def in_episode(fast: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
            with episode(self.energy, patterns):  # inside each call: a checkpointed step recomputes alike
                return energy_fn(fast, x)

        return in_episode

    def _energy(self, fast: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        def one_memory(weights: dict[str, torch.Tensor], patterns: torch.Tensor) -> torch.Tensor:
            return functional_call(self.energy, weights, (patterns,), strict=False)

        if x.shape[0] == 1:  # one memory: skip vmap's batching overhead
            out = one_memory({name: value[0] for name, value in fast.items()}, x[0])
            return out.unsqueeze(0)
        return vmap(one_memory)(fast, x)

    def compile_inference(self, enabled: bool = True, **options: Any) -> None:
        """Use ``torch.compile`` for the energy in inference calls (``mode="none"``), or stop.

        Covers every inference read and the inference write when the writing loss needs no
        double backward (no ``"gradnorm"`` term). Training calls stay eager: in torch 2.x
        AOTAutograd does not support the double backward that meta-gradients need.
        ``options`` go to ``torch.compile`` (e.g. ``dynamic=False``).
        """
        self._compiled_energy = torch.compile(self._energy, **options) if enabled else None

    def _inference_energy(self, needs_double_backward: bool) -> EnergyFn:
        compiled = getattr(self, "_compiled_energy", None)
        return compiled if compiled is not None and not needs_double_backward else self._energy

    def differentiated_write_steps(self, mode: GradMode, truncate: int | None = None) -> int:
        """How many of the last write steps a mode differentiates through their inner gradients."""
        _check_mode(mode)
        steps = self.write_steps + self.refine_steps
        if mode == "truncated":
            if truncate is None or not 1 <= truncate <= steps:
                raise ValueError(
                    f"mode 'truncated' needs truncate in [1, write_steps={self.write_steps}"
                    f"{f' + refine_steps={self.refine_steps}' if self.refine_steps else ''}], got {truncate!r}"
                )
            return int(truncate)
        if truncate is not None:
            raise ValueError(f"truncate is only meaningful with mode 'truncated', got mode {mode!r}")
        return steps if mode == "second_order" else 0

    # ------------------------------------------------------------------ write
    def write(
        self,
        patterns: torch.Tensor,
        mode: GradMode = "none",
        *,
        truncate: int | None = None,
        checkpoint: bool = False,
    ) -> MemoryState:
        """Write ``patterns`` ``(B, N, *shape)`` into ``B`` independent memories.

        ``patterns`` must have the memory's dtype (``memory.dtype``, float32 unless the memory was
        converted): another one (e.g. float64 from NumPy) raises ``TypeError`` naming both rather than
        being converted silently, so that a read's output always has the dtype its queries had.

        ``truncate`` (mode ``"truncated"``): differentiate the inner gradients of the last
        ``truncate`` steps only. ``checkpoint``: recompute each step's graph in the backward pass.
        """
        differentiated = self.differentiated_write_steps(mode, truncate)
        check_patterns(patterns, "patterns", self.pattern_shape, self.value_range)
        self._check_dtype(patterns, "patterns")
        batch, count = patterns.shape[0], patterns.shape[1]
        chunk = count if self.write_chunk is None else min(self.write_chunk, count)
        chunks = [patterns[:, start:start + chunk] for start in range(0, count, chunk)]
        total_steps = self.write_steps * len(chunks) + self.refine_steps
        # steps that keep their inner graph: all (second order), none (first order) or the last k
        graph_steps = total_steps if differentiated == self.write_steps + self.refine_steps else differentiated
        track = mode != "none"
        theta_bar = self.initial_fast_weights()
        if not track:
            theta_bar = {name: value.detach() for name, value in theta_bar.items()}
        fast = {name: value.unsqueeze(0).expand(batch, *value.shape) for name, value in theta_bar.items()}
        rates = self.write_rates() if track else self.write_rates().detach()
        use = {term: term in self.write_terms for term in WRITE_TERMS}
        energy = self._for_episode(self._energy if track else self._inference_energy(use["gradnorm"]), count)
        with torch.enable_grad():
            done = 0
            for part in chunks:
                for step in range(self.write_steps):
                    create_graph = done >= total_steps - graph_steps
                    args = (energy, step, part, fast, theta_bar, rates, use, create_graph, track, done == 0)
                    if checkpoint and track:
                        fast = checkpoint_step(self._write_step, *args, use_reentrant=False)
                    else:
                        fast = self._write_step(*args)
                    done += 1
            if self.refine_steps:
                refine_rates, momentum = self.refine_schedule()
                if not track:
                    refine_rates, momentum = refine_rates.detach(), momentum.detach()
                velocity = {name: torch.zeros_like(value) for name, value in fast.items()}
                for step in range(self.refine_steps):
                    create_graph = done >= total_steps - graph_steps
                    refine_args = (energy, step, patterns, fast, velocity, theta_bar, refine_rates, momentum, use,
                                   create_graph, track)
                    if checkpoint and track:
                        fast, velocity = checkpoint_step(self._refine_step, *refine_args, use_reentrant=False)
                    else:
                        fast, velocity = self._refine_step(*refine_args)
                    done += 1
        return MemoryState(fast, count)

    def _write_step(
        self,
        energy_fn: EnergyFn,  # _energy or its compiled version
        step: int,
        patterns: torch.Tensor,
        fast: dict[str, torch.Tensor],
        theta_bar: dict[str, torch.Tensor],
        rates: torch.Tensor,
        use: dict[str, bool],
        create_graph: bool,
        track: bool,
        at_start: bool,
    ) -> dict[str, torch.Tensor]:
        """θ^(t+1) from θ^(t): one gradient step on the three-term writing loss (``at_start``: θ^(t) = θ̄)."""
        if not track:
            fast = {name: value.detach().requires_grad_() for name, value in fast.items()}
        delta = self._write_delta(energy_fn, rates[step], patterns, fast, theta_bar, use, create_graph, at_start)
        updated = {name: value - delta[name] for name, value in fast.items()}
        return updated if track else {name: value.detach() for name, value in updated.items()}

    def _refine_step(
        self,
        energy_fn: EnergyFn,
        step: int,
        patterns: torch.Tensor,
        fast: dict[str, torch.Tensor],
        velocity: dict[str, torch.Tensor],
        theta_bar: dict[str, torch.Tensor],
        rates: torch.Tensor,
        momentum: torch.Tensor,
        use: dict[str, bool],
        create_graph: bool,
        track: bool,
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """One Nesterov step of a refinement: the writing loss's step Δ at the look-ahead θ + μv."""
        lookahead = {name: value + momentum * velocity[name] for name, value in fast.items()} if step else fast
        if not track:
            lookahead = {name: value.detach().requires_grad_() for name, value in lookahead.items()}
        delta = self._write_delta(energy_fn, rates[step], patterns, lookahead, theta_bar, use, create_graph, False)
        velocity = {name: momentum * velocity[name] - delta[name] for name in fast}
        updated = {name: value + velocity[name] for name, value in fast.items()}
        if not track:
            return ({name: value.detach() for name, value in updated.items()},
                    {name: value.detach() for name, value in velocity.items()})
        return updated, velocity

    def _write_delta(
        self,
        energy_fn: EnergyFn,
        rate: torch.Tensor,
        patterns: torch.Tensor,
        fast: dict[str, torch.Tensor],
        theta_bar: dict[str, torch.Tensor],
        use: dict[str, bool],
        create_graph: bool,
        at_start: bool,
    ) -> dict[str, torch.Tensor]:
        """Σ_k r_{p,k} ∇_p term_k at ``fast`` for each writable tensor p (``rate``: ``(n_writable, 3)``)."""
        grads, _ = self.write_gradients(fast, patterns, self.write_terms, create_graph, energy_fn)
        deltas = {}
        for index, (name, value) in enumerate(fast.items()):
            delta = torch.zeros_like(value)
            for term_index, term in enumerate(("energy", "gradnorm")):
                if use[term]:
                    delta = delta + rate[index, term_index] * grads[term][index]
            if use["prior"] and not at_start:  # at θ̄ the prior's gradient is zero
                delta = delta + rate[index, 2] * 2.0 * (value - theta_bar[name])
            deltas[name] = delta
        return deltas

    def write_gradients(
        self,
        fast: dict[str, torch.Tensor],
        patterns: torch.Tensor,
        terms: Sequence[str] = WRITE_TERMS,
        create_graph: bool = False,
        energy_fn: EnergyFn | None = None,
    ) -> tuple[dict[str, tuple[torch.Tensor, ...]], dict[str, torch.Tensor]]:
        """∇_θ of the energy and gradient-norm writing terms, and the terms' values per memory.

        ``fast``: writable weights ``(B, *shape)`` that require grad; ``patterns``: ``(B, N, *shape)``.
        Returns ``grads[term]`` (one tensor per writable weight) and ``values[term]`` ``(B,)``
        (detached) for ``"energy"`` = Σ_i E(x_i; θ) and ``"gradnorm"`` = Σ_i ‖∇_x E(x_i; θ)‖² among
        ``terms`` (Σ_i a mean over the N patterns when ``write_reduction`` is ``"mean"``); the prior
        term's gradient is 2(θ − θ̄) in closed form and is not computed here.

        The backward pass that yields ∇_x E (needed for the gradient-norm term) yields ∇_θ E in the
        same call; the gradient-norm term then takes one more backward pass. So a step costs one
        forward and two backward passes with all terms, one backward pass without the norm term.
        An energy laid out per episode sees an episode of these N patterns (``energy_fn``, which a
        write passes, already carries its episode).
        """
        use = {term: term in terms for term in WRITE_TERMS}
        grads: dict[str, tuple[torch.Tensor, ...]] = {}
        values: dict[str, torch.Tensor] = {}
        if not (use["energy"] or use["gradnorm"]):
            return grads, values
        # A fresh leaf per write step: θ^(t) depends on the patterns through earlier steps, and
        # ∇_x E must be the partial derivative at fixed θ^(t), not the total one.
        x = patterns.detach().requires_grad_(use["gradnorm"])
        inputs = list(fast.values())
        if energy_fn is None:  # a call of its own: the episode is these N patterns (a write passes its own)
            energy_fn = self._for_episode(self._energy, patterns.shape[1])
        energy = energy_fn(fast, x)  # (B, N)
        divisor = energy.shape[1] if self.write_reduction == "mean" else 1
        if use["energy"]:
            values["energy"] = energy.detach().sum(1) / divisor
        if not use["gradnorm"]:
            grads["energy"] = torch.autograd.grad(energy.sum() / divisor, inputs, create_graph=create_graph)
            return grads, values
        wrt = [x, *inputs] if use["energy"] else [x]
        first = torch.autograd.grad(energy.sum(), wrt, create_graph=True)
        grad_x = first[0]
        if use["energy"]:
            grads["energy"] = tuple(
                (g if create_graph else g.detach()) / divisor for g in first[1:]
            )
        norm = grad_x.pow(2).flatten(2).sum(-1).sum(1) / divisor  # (B,)
        values["gradnorm"] = norm.detach()
        grads["gradnorm"] = torch.autograd.grad(norm.sum(), inputs, create_graph=create_graph)
        return grads, values

    # ------------------------------------------------------------------ read
    def read(
        self,
        queries: torch.Tensor,
        state: MemoryState,
        mode: GradMode = "none",
        keep_iterates: bool = False,
        *,
        keep_energies: bool | None = None,
        checkpoint: bool = False,
        temperature: float | None = None,
        generator: torch.Generator | None = None,
    ) -> Retrieval:
        """Retrieve from ``queries`` ``(B, M, *shape)``: K projected Nesterov steps on the energy.

        Every mode but ``"none"`` differentiates the read fully. ``keep_iterates`` returns every
        iterate; ``keep_energies`` (default: as ``keep_iterates``) also their energies, which costs
        one more forward pass per step. ``checkpoint``: recompute each step's graph in the backward.

        ``temperature`` τ (default: the read rule's, 0 unless set): τ > 0 adds Langevin noise
        √(2γ_k τ)·ξ_k to each step's velocity, so that a query between several stored patterns
        settles on one of them instead of a blend (a stochastic read; repeat the queries for several
        samples). ``generator`` draws ξ (default: torch's global generator).
        """
        _check_mode(mode)
        check_patterns(queries, "queries", self.pattern_shape, self.value_range)
        check_batch_matches(queries, state.batch_size)
        self._check_dtype(queries, "queries")
        track = mode != "none"
        fast = state.fast if track else {n: v.detach() for n, v in state.fast.items()}
        gammas, psis = self.read_schedule()
        if not track:
            gammas, psis = gammas.detach(), psis.detach()
        energy = self._for_episode(self._energy if track else self._inference_energy(False), state.patterns)
        tau = self.read_rule.temperature if temperature is None else check_temperature(temperature, "temperature")
        x = queries.detach()
        velocity = torch.zeros_like(x)
        iterates: list[torch.Tensor] = []
        with torch.enable_grad():
            for k in range(self.read_steps):
                noise = None  # drawn here, so that a checkpointed step recomputes with the same ξ
                if tau > 0:
                    xi = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
                    noise = torch.sqrt(2.0 * gammas[k] * tau) * xi
                args = (energy, k, x, velocity, fast, gammas, psis, track, noise)
                if checkpoint and track:
                    x, velocity = checkpoint_step(self._read_step, *args, use_reentrant=False)
                else:
                    x, velocity = self._read_step(*args)
                iterates.append(x)
        energies = None
        if keep_energies if keep_energies is not None else keep_iterates:
            with torch.no_grad(), reading(self.energy):
                energies = [energy(fast, it.detach()) for it in iterates]
        return Retrieval(patterns=x, iterates=iterates if keep_iterates else None, energies=energies)

    def _read_step(
        self,
        energy_fn: EnergyFn,
        k: int,
        x: torch.Tensor,
        velocity: torch.Tensor,
        fast: dict[str, torch.Tensor],
        gammas: torch.Tensor,
        psis: torch.Tensor,
        track: bool,
        noise: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One projected Nesterov step: gradient at the look-ahead point (plus ``noise``, a stochastic
        read's), then clip to the range."""
        low, high = self.value_range
        lookahead = x if k == 0 else (x + psis[k] * velocity).clamp(low, high)
        if not lookahead.requires_grad:
            lookahead = lookahead.detach().requires_grad_()
        with reading(self.energy):  # inside the step, so that a checkpointed step recomputes it alike
            energy = energy_fn(fast, lookahead)
        (grad_x,) = torch.autograd.grad(energy.sum(), lookahead, create_graph=track)
        velocity = psis[k] * velocity - gammas[k] * grad_x
        if noise is not None:
            velocity = velocity + noise
        x = (x + velocity).clamp(low, high)
        if not track:
            x, velocity = x.detach(), velocity.detach()
        return x, velocity

    # ------------------------------------------------------------------ meta-learning
    def forward(
        self,
        patterns: torch.Tensor,
        queries: torch.Tensor,
        mode: GradMode = "second_order",
        *,
        truncate: int | None = None,
        checkpoint: bool = False,
    ) -> torch.Tensor:
        """The meta-loss of a batch of episodes (see ``episode_loss``)."""
        return self.episode_loss(patterns, queries, mode, truncate=truncate, checkpoint=checkpoint)[0]

    def episode_loss(
        self,
        patterns: torch.Tensor,
        queries: torch.Tensor,
        mode: GradMode = "second_order",
        *,
        truncate: int | None = None,
        checkpoint: bool = False,
    ) -> tuple[torch.Tensor, MemoryState, Retrieval]:
        """Meta-loss of a batch of episodes: squared error summed over all read iterates.

        ``L = Σ_k mean_{episodes, i} ‖x_i − x_i^(k)‖²``; queries[b, i] is a corruption of patterns[b, i].
        ``truncate`` and ``checkpoint`` as in ``write``.
        """
        if queries.shape != patterns.shape:
            raise ValueError(
                f"queries must match patterns one to one, got {tuple(queries.shape)} vs {tuple(patterns.shape)}"
            )
        state = self.write(patterns, mode, truncate=truncate, checkpoint=checkpoint)
        retrieval = self.read(queries, state, mode, keep_iterates=True, keep_energies=False, checkpoint=checkpoint)
        assert retrieval.iterates is not None
        loss = patterns.new_zeros(())
        for iterate in retrieval.iterates:
            loss = loss + (iterate - patterns).pow(2).flatten(2).sum(-1).mean()
        return loss, state, retrieval


def _probe_energy(energy: nn.Module, pattern_shape: tuple[int, ...]) -> None:
    """Raise ``ValueError`` unless ``energy`` maps one zero pattern of ``pattern_shape`` to one energy.

    Catches a pattern shape that does not fit the energy (e.g. ``pattern_shape=(64,)`` around a
    128-dim energy) when the memory is built, instead of as a raw einsum/matmul error in a write.
    The random number generator is left as it was."""
    weights = [p for p in energy.parameters() if p.is_floating_point()]
    probe = torch.zeros((1, *pattern_shape), dtype=weights[0].dtype if weights else torch.get_default_dtype(),
                        device=weights[0].device if weights else None)
    name = type(energy).__name__
    try:
        with torch.random.fork_rng(devices=[]):
            out = energy(probe)
    except Exception as error:
        raise ValueError(
            f"the energy {name} does not accept patterns of shape {pattern_shape}: a zero pattern of that shape "
            f"fails in it ({type(error).__name__}: {error}). Give the pattern_shape the energy was built for"
        ) from error
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1,):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"the energy {name} does not accept patterns of shape {pattern_shape}: it maps a batch of one such "
            f"pattern to {got}, expected shape (1,) (one energy per pattern)"
        )


def _check_mode(mode: str) -> None:
    if mode not in GRAD_MODES:
        raise ValueError(f"mode must be one of {GRAD_MODES}, got {mode!r}")
