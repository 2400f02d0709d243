"""EnergyMemory against hand-unrolled references, gradcheck, and the behaviour of writes."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from ebmm.energy import AutoencoderEnergy, GatedRNNEnergy
from ebmm.memory import EnergyMemory, MemoryState
from ebmm.rules import ReadRule, RefineRule, WriteRule

from conftest import QuadraticEnergy  # tests/ is on sys.path (pytest's rootdir conftest)


def _make(energy: nn.Module, dim: int, read_steps: int = 2, **write_options) -> EnergyMemory:
    write = {"steps": 2, "rate_init": (0.05, 0.02, 0.3), **write_options}
    read = ReadRule(steps=read_steps, step_init=0.2, momentum_init=0.6, step_decay_init=0.7, momentum_decay_init=0.8)
    return EnergyMemory(energy, (dim,), write=WriteRule(**write), read=read).double()


def _hand_write(w0: torch.Tensor, x: torch.Tensor, rates: torch.Tensor) -> torch.Tensor:
    """T write steps for the quadratic energy, gradients derived by hand. x: (N, D), rates: (T, 3)."""
    w = w0
    for step in range(rates.shape[0]):
        wx = x @ w.T  # (N, H)
        g = wx @ w  # ∇_x E = WᵀW x, (N, D)
        grad_energy = wx.T @ x / x.shape[0]
        grad_norm = 2.0 * (wx.T @ g + (g @ w.T).T @ x) / x.shape[0]
        grad_prior = 2.0 * (w - w0)
        w = w - rates[step, 0] * grad_energy - rates[step, 1] * grad_norm - rates[step, 2] * grad_prior
    return w


def _hand_read(w: torch.Tensor, query: torch.Tensor, gammas: torch.Tensor, psis: torch.Tensor) -> list[torch.Tensor]:
    x, v, out = query, torch.zeros_like(query), []
    for k in range(len(gammas)):
        look = x if k == 0 else (x + psis[k] * v).clamp(0, 1)
        v = psis[k] * v - gammas[k] * (look @ w.T @ w)
        x = (x + v).clamp(0, 1)
        out.append(x)
    return out


def test_write_and_read_match_hand_unrolled_reference() -> None:
    torch.manual_seed(0)
    dim, width = 6, 4
    memory = _make(QuadraticEnergy(dim, width), dim)
    patterns = torch.rand(2, 5, dim, dtype=torch.float64)
    queries = torch.rand(2, 3, dim, dtype=torch.float64)
    state = memory.write(patterns)
    rates = memory.write_rates()[:, 0, :].detach()
    w0 = memory.energy.memory.weight.detach()
    gammas, psis = (t.detach() for t in memory.read_schedule())
    retrieval = memory.read(queries, state, keep_iterates=True)
    for b in range(2):
        expected_w = _hand_write(w0, patterns[b], rates)
        torch.testing.assert_close(state.fast["memory.weight"][b], expected_w, atol=1e-6, rtol=0)
        expected = _hand_read(expected_w, queries[b], gammas, psis)
        for got, want in zip(retrieval.iterates, expected, strict=True):
            torch.testing.assert_close(got[b], want, atol=1e-6, rtol=0)


def test_stochastic_read_matches_hand_unrolled_langevin_steps() -> None:
    """τ > 0: each step adds √(2γ_k τ)·ξ_k to the velocity, ξ drawn in order from the generator."""
    torch.manual_seed(0)
    dim, width, tau = 6, 4, 0.02
    memory = _make(QuadraticEnergy(dim, width), dim, read_steps=3)
    patterns = torch.rand(1, 5, dim, dtype=torch.float64)
    queries = torch.rand(1, 3, dim, dtype=torch.float64)
    state = memory.write(patterns)
    gammas, psis = (t.detach() for t in memory.read_schedule())
    got = memory.read(queries, state, temperature=tau, generator=torch.Generator().manual_seed(5)).patterns
    draws = torch.Generator().manual_seed(5)
    w = state.fast["memory.weight"][0]
    x, v = queries, torch.zeros_like(queries)
    for k in range(3):
        look = x if k == 0 else (x + psis[k] * v).clamp(0, 1)
        xi = torch.randn(queries.shape, generator=draws, dtype=torch.float64)
        v = psis[k] * v - gammas[k] * (look @ w.T @ w) + torch.sqrt(2 * gammas[k] * tau) * xi
        x = (x + v).clamp(0, 1)
    torch.testing.assert_close(got, x, atol=1e-10, rtol=0)


def test_stochastic_read_is_seeded_and_zero_temperature_is_the_deterministic_read() -> None:
    torch.manual_seed(1)
    memory = _make(QuadraticEnergy(6, 4), 6, read_steps=3)
    patterns, queries = torch.rand(2, 5, 6, dtype=torch.float64), torch.rand(2, 3, 6, dtype=torch.float64)
    state = memory.write(patterns)
    plain = memory.read(queries, state).patterns

    def noisy(seed: int, tau: float = 0.05) -> torch.Tensor:
        return memory.read(queries, state, temperature=tau, generator=torch.Generator().manual_seed(seed)).patterns

    torch.testing.assert_close(noisy(0, 0.0), plain, atol=0, rtol=0)
    torch.testing.assert_close(noisy(3), noisy(3), atol=0, rtol=0)
    assert not torch.equal(noisy(3), noisy(4)) and not torch.equal(noisy(3), plain)
    stochastic = EnergyMemory(QuadraticEnergy(6, 4), (6,), write=memory.write_rule,
                              read=dataclasses.replace(memory.read_rule, temperature=0.05)).double()
    stochastic.load_state_dict(memory.state_dict())
    torch.testing.assert_close(stochastic.read(queries, state, generator=torch.Generator().manual_seed(3)).patterns,
                               noisy(3), atol=0, rtol=0)  # the rule's temperature is the default
    torch.testing.assert_close(stochastic.read(queries, state, temperature=0.0).patterns, plain, atol=0, rtol=0)
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
        memory.read(queries, state, temperature=-1.0)


def test_checkpointed_stochastic_read_recomputes_the_same_noise() -> None:
    torch.manual_seed(2)
    memory = _make(QuadraticEnergy(6, 4), 6, read_steps=3)
    patterns, queries = torch.rand(1, 5, 6, dtype=torch.float64), torch.rand(1, 5, 6, dtype=torch.float64)

    def gradient(checkpoint: bool) -> tuple[torch.Tensor, ...]:
        state = memory.write(patterns, "second_order", checkpoint=checkpoint)
        read = memory.read(queries, state, "second_order", checkpoint=checkpoint, temperature=0.01,
                           generator=torch.Generator().manual_seed(9))
        loss = (read.patterns - patterns).pow(2).sum()
        return torch.autograd.grad(loss, list(memory.parameters()), allow_unused=False)

    for plain, recomputed in zip(gradient(False), gradient(True), strict=True):
        torch.testing.assert_close(recomputed, plain, atol=1e-10, rtol=0)


def test_read_schedule_is_non_increasing_and_positive() -> None:
    memory = _make(QuadraticEnergy(4, 2), 4, read_steps=5)
    gammas, psis = memory.read_schedule()
    assert (gammas > 0).all() and (psis > 0).all() and (psis < 1).all()
    assert (gammas[1:] <= gammas[:-1]).all() and (psis[1:] <= psis[:-1]).all()


@pytest.mark.parametrize("term_subset", [("energy",), ("energy", "prior"), ("energy", "gradnorm", "prior")])
def test_write_terms_subset_matches_reference(term_subset: tuple[str, ...]) -> None:
    torch.manual_seed(1)
    memory = _make(QuadraticEnergy(5, 3), 5, terms=term_subset)
    patterns = torch.rand(1, 4, 5, dtype=torch.float64)
    rates = memory.write_rates()[:, 0, :].detach().clone()
    for index, term in enumerate(("energy", "gradnorm", "prior")):
        if term not in term_subset:
            rates[:, index] = 0
    expected = _hand_write(memory.energy.memory.weight.detach(), patterns[0], rates)
    torch.testing.assert_close(memory.write(patterns).fast["memory.weight"][0], expected, atol=1e-6, rtol=0)


def _tiny_autoencoder_memory() -> EnergyMemory:
    torch.manual_seed(2)
    return _make(AutoencoderEnergy(dim=5, hidden=3), 5)


def test_gradcheck_through_write_and_read() -> None:
    memory = _tiny_autoencoder_memory()
    patterns = torch.rand(2, 3, 5, dtype=torch.float64) * 0.8 + 0.1
    queries = (patterns + 0.05 * torch.randn_like(patterns)).clamp(0.05, 0.95)
    names = ["energy.memory.weight", "energy.encoder.0.weight", "write_rate_raw", "read_step_raw", "momentum_raw"]
    params = dict(memory.named_parameters())

    def loss(*values: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(memory, dict(zip(names, values, strict=True)), (patterns, queries), strict=False)

    inputs = tuple(params[name].detach().clone().requires_grad_() for name in names)
    assert torch.autograd.gradcheck(loss, inputs, eps=1e-6, atol=1e-5)


def test_first_order_mode_drops_only_write_second_derivatives() -> None:
    memory = _tiny_autoencoder_memory()
    patterns = torch.rand(1, 3, 5, dtype=torch.float64)
    queries = torch.rand(1, 3, 5, dtype=torch.float64)
    values = {}
    for mode in ("second_order", "first_order"):
        memory.zero_grad()
        loss, _, _ = memory.episode_loss(patterns, queries, mode)
        loss.backward()
        values[mode] = (loss.detach(), memory.energy.encoder[0].weight.grad.clone(), memory.write_rate_raw.grad.clone())
    torch.testing.assert_close(values["second_order"][0], values["first_order"][0])  # same forward value
    assert values["first_order"][1].abs().sum() > 0  # static weights still learn through the read
    assert values["first_order"][2].abs().sum() > 0  # write rates still learn
    assert not torch.allclose(values["second_order"][1], values["first_order"][1])


def test_inference_mode_keeps_no_graph() -> None:
    memory = _tiny_autoencoder_memory()
    patterns = torch.rand(2, 3, 5, dtype=torch.float64)
    state = memory.write(patterns)
    out = memory.read(patterns, state)
    assert not any(v.requires_grad for v in state.fast.values())
    assert not out.patterns.requires_grad and out.patterns.grad_fn is None


@pytest.mark.parametrize(
    "energy_factory, specific",
    [(lambda: AutoencoderEnergy(dim=32, hidden=16), True),
     # An untrained gated RNN lowers the energy of fresh strings about as much (docs/results/learning.md):
     # only the drop of the stored patterns' energy is asserted for it.
     (lambda: GatedRNNEnergy(dim=32, hidden=48, memory_width=16, hops=2), False)],
)
def test_writing_lowers_energy_of_stored_patterns(energy_factory, specific: bool) -> None:
    torch.manual_seed(3)
    memory = EnergyMemory(energy_factory(), (32,),
                          write=WriteRule(steps=3, terms=("energy", "prior"), rate_init=(0.05, 1e-3, 1e-3)))
    generator = torch.Generator().manual_seed(0)
    stored = torch.randint(0, 2, (4, 8, 32), generator=generator).float()
    fresh = torch.randint(0, 2, (4, 8, 32), generator=generator).float()
    theta_bar = MemoryState({n: v.detach().expand(4, *v.shape) for n, v in memory.initial_fast_weights().items()})
    before = memory.energies(theta_bar, stored)
    state = memory.write(stored)
    after_stored, after_fresh = memory.energies(state, stored), memory.energies(state, fresh)
    assert (after_stored.mean(1) < before.mean(1)).all()
    if specific:
        assert (after_stored.mean(1) < after_fresh.mean(1)).all()


def test_batched_write_and_read_equal_per_episode_calls() -> None:
    memory = _tiny_autoencoder_memory()
    patterns = torch.rand(3, 4, 5, dtype=torch.float64)
    queries = torch.rand(3, 4, 5, dtype=torch.float64)
    batched = memory.read(queries, memory.write(patterns)).patterns
    for b in range(3):
        single = memory.read(queries[b : b + 1], memory.write(patterns[b : b + 1])).patterns
        torch.testing.assert_close(batched[b : b + 1], single)


def test_memory_floats_and_state_roundtrip(tmp_path) -> None:
    memory = EnergyMemory(AutoencoderEnergy(dim=128, hidden=63), (128,))
    state = memory.write(torch.randint(0, 2, (2, 4, 128)).float())
    assert memory.memory_floats(state) == memory.memory_floats() == 63 * 128 + 128
    state.save(tmp_path / "state.safetensors")
    loaded = MemoryState.load(tmp_path / "state.safetensors")
    assert loaded.batch_size == 2
    for name in state.fast:
        torch.testing.assert_close(loaded.fast[name], state.fast[name])


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.rand(4, 5), "shape"),
        (torch.rand(1, 4, 6), "pattern shape"),
        (torch.full((1, 4, 5), float("nan")), "NaN"),
        (torch.rand(1, 4, 5) + 1.5, r"\[0.0, 1.0\]"),
        (torch.rand(1, 0, 5), "empty pattern set"),
        (torch.randint(0, 2, (1, 4, 5)), "floating-point"),
    ],
)
def test_bad_patterns_raise_clear_errors(bad: torch.Tensor, message: str) -> None:
    memory = EnergyMemory(AutoencoderEnergy(dim=5, hidden=3), (5,))
    with pytest.raises((ValueError, TypeError), match=message):
        memory.write(bad)


def test_query_batch_must_match_state() -> None:
    memory = EnergyMemory(AutoencoderEnergy(dim=5, hidden=3), (5,))
    state = memory.write(torch.rand(2, 3, 5))
    with pytest.raises(ValueError, match="episodes"):
        memory.read(torch.rand(3, 3, 5), state)
    with pytest.raises(ValueError, match="mode"):
        memory.read(torch.rand(2, 3, 5), state, mode="third_order")  # type: ignore[arg-type]


def test_patterns_of_another_dtype_raise_a_type_error_naming_both() -> None:
    """float64 patterns (NumPy's default) into a float32 memory: a TypeError that names both dtypes, not a
    conversion (the memory does not change the dtype of what it is given) nor a raw matmul error."""
    memory = EnergyMemory(AutoencoderEnergy(dim=5, hidden=3), (5,))
    assert memory.dtype == torch.float32
    with pytest.raises(TypeError, match=r"patterns have dtype torch.float64.*expected patterns of dtype torch.float32"):
        memory.write(torch.rand(2, 3, 5, dtype=torch.float64))
    state = memory.write(torch.rand(2, 3, 5))
    with pytest.raises(TypeError, match=r"queries have dtype torch.float64.*expected queries of dtype torch.float32"):
        memory.read(torch.rand(2, 3, 5, dtype=torch.float64), state)
    with pytest.raises(TypeError, match=r"x have dtype torch.float16"):
        memory.energies(state, torch.rand(2, 3, 5).half())
    double = memory.double()  # the way to use float64 patterns: a float64 memory
    assert double.dtype == torch.float64
    out = double.read(torch.rand(2, 3, 5, dtype=torch.float64), double.write(torch.rand(2, 3, 5, dtype=torch.float64)))
    assert out.patterns.dtype == torch.float64


@pytest.mark.parametrize("x, message", [
    (torch.rand(2, 3, 4), r"x must have shape \(B, M, 5\).*got \(2, 3, 4\)"),
    (torch.rand(3, 5), r"x must have shape \(B, M, 5\).*got \(3, 5\)"),
    (torch.rand(3, 3, 5), r"3 sets of patterns.*holds 2 memories"),
])
def test_energies_checks_the_shape_of_x(x: torch.Tensor, message: str) -> None:
    memory = EnergyMemory(AutoencoderEnergy(dim=5, hidden=3), (5,))
    state = memory.write(torch.rand(2, 3, 5))
    assert memory.energies(state, torch.rand(2, 4, 5)).shape == (2, 4)
    with pytest.raises(ValueError, match=message):
        memory.energies(state, x)


@pytest.mark.parametrize("energy, shape, message", [
    (lambda: AutoencoderEnergy(dim=128, hidden=8), (64,), r"does not accept patterns of shape \(64,\).*RuntimeError"),
    (lambda: GatedRNNEnergy(dim=128, hidden=8, memory_width=4), (64,), r"does not accept patterns of shape \(64,\)"),
    (lambda: AutoencoderEnergy(dim=64, hidden=8), (2, 64), r"does not accept patterns of shape \(2, 64\).*to \(1, 2\)"),
])
def test_constructor_probes_the_energy_with_the_pattern_shape(energy, shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EnergyMemory(energy(), pattern_shape=shape)


def test_the_constructor_probe_leaves_the_random_stream_alone() -> None:
    torch.manual_seed(5)
    energy = AutoencoderEnergy(dim=5, hidden=3)
    expected = torch.rand(3)
    torch.manual_seed(5)
    energy = AutoencoderEnergy(dim=5, hidden=3)
    EnergyMemory(energy, (5,))
    assert torch.equal(torch.rand(3), expected)


def test_constructor_rejects_bad_settings() -> None:
    with pytest.raises(TypeError, match="write must be a WriteRule"):
        EnergyMemory(AutoencoderEnergy(dim=5, hidden=3), (5,), write=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="refine must be a RefineRule or None"):
        EnergyMemory(AutoencoderEnergy(dim=5, hidden=3), (5,), refine=ReadRule())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="writable"):
        EnergyMemory(nn.Sequential(nn.Linear(5, 1)), (5,))


def test_sum_reduction_equals_mean_reduction_with_rates_times_n() -> None:
    torch.manual_seed(4)
    patterns = torch.rand(2, 4, 5, dtype=torch.float64)
    summed = _make(QuadraticEnergy(5, 3), 5, reduction="sum", rate_init=(0.01, 0.005, 0.3))
    averaged = _make(QuadraticEnergy(5, 3), 5, rate_init=(0.04, 0.02, 0.3))
    averaged.load_state_dict(summed.state_dict())
    with torch.no_grad():  # rates of the energy and gradient-norm terms times N = 4
        averaged.write_rate_raw[..., :2] = torch.log(torch.expm1(4 * summed.write_rates()[..., :2]))
    torch.testing.assert_close(summed.write(patterns).fast["memory.weight"],
                               averaged.write(patterns).fast["memory.weight"], atol=1e-9, rtol=0)


def test_gradient_options_are_checked() -> None:
    memory = _make(QuadraticEnergy(4, 3), 4)
    patterns = torch.rand(1, 2, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="truncate in \\[1, write_steps=2\\]"):
        memory.write(patterns, "truncated")
    with pytest.raises(ValueError, match="truncate in \\[1, write_steps=2\\]"):
        memory.write(patterns, "truncated", truncate=3)
    with pytest.raises(ValueError, match="only meaningful with mode 'truncated'"):
        memory.write(patterns, "second_order", truncate=1)
    assert [memory.differentiated_write_steps(m, t) for m, t in
            (("first_order", None), ("truncated", 1), ("second_order", None), ("none", None))] == [0, 1, 2, 0]


def test_read_returns_energies_only_when_asked() -> None:
    memory = _make(QuadraticEnergy(4, 3), 4)
    patterns = torch.rand(2, 3, 4, dtype=torch.float64)
    state = memory.write(patterns)
    with_energies = memory.read(patterns, state, keep_iterates=True)
    assert with_energies.energies is not None and len(with_energies.energies) == memory.read_steps
    torch.testing.assert_close(with_energies.energies[-1], memory.energies(state, with_energies.patterns))
    without = memory.read(patterns, state, keep_iterates=True, keep_energies=False)
    assert without.energies is None and without.iterates is not None
    torch.testing.assert_close(without.patterns, with_energies.patterns)


def test_checkpointing_keeps_the_loss_and_the_gradient() -> None:
    torch.manual_seed(0)
    memory = _make(GatedRNNEnergy(dim=6, hidden=10, memory_width=3, hops=2), 6)
    patterns = (torch.rand(2, 3, 6, dtype=torch.float64) > 0.5).double()
    queries = (patterns + 0.3 * torch.rand_like(patterns)).clamp(0, 1)
    results = []
    for checkpoint in (False, True):
        loss = memory(patterns, queries, "second_order", checkpoint=checkpoint)
        results.append((loss, torch.autograd.grad(loss, list(memory.parameters()), allow_unused=True)))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=0.0, atol=1e-12)
    for plain, checkpointed in zip(results[0][1], results[1][1], strict=True):
        if plain is None:
            assert checkpointed is None
        else:
            torch.testing.assert_close(plain, checkpointed, rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's own, raised while compiling
def test_compiled_inference_matches_eager() -> None:
    """``compile_inference`` changes how reads (and writes without the norm term) run, not what they give."""
    torch.manual_seed(0)
    memory = _make(QuadraticEnergy(4, 3), 4, terms=("energy", "prior"))
    patterns = torch.rand(2, 3, 4, dtype=torch.float64)
    state = memory.write(patterns)
    eager = memory.read(patterns, state).patterns
    from torch._dynamo.utils import counters

    counters.clear()
    memory.compile_inference(backend="aot_eager")  # dynamo + AOTAutograd without C++ code generation
    try:
        compiled_state = memory.write(patterns)
        compiled = memory.read(patterns, compiled_state).patterns
        assert counters["stats"]["unique_graphs"] > 0  # the compiled energy did run
        trained = memory(patterns, patterns, "second_order")  # training stays eager: double backward works
        torch.autograd.grad(trained, [memory.write_rate_raw])
    finally:
        memory.compile_inference(False)
    for name, value in state.fast.items():
        torch.testing.assert_close(compiled_state.fast[name], value)
    torch.testing.assert_close(compiled, eager)


def _chunk_memory(chunk: int | None) -> EnergyMemory:
    from ebmm.energy.slots import SlotEnergy

    torch.manual_seed(0)
    energy = SlotEnergy(dim=8, slots=5)
    return EnergyMemory(energy, (8,),
                        write=WriteRule(steps=2, terms=("energy", "prior"), rate_init=(0.3, 1e-4, 0.1), chunk=chunk),
                        read=ReadRule(steps=1))


def test_write_chunk_equal_to_n_is_the_batch_write() -> None:
    patterns = torch.rand(2, 6, 8, generator=torch.Generator().manual_seed(1)).round()
    batch, chunked = _chunk_memory(None), _chunk_memory(6)
    chunked.load_state_dict(batch.state_dict())
    torch.testing.assert_close(chunked.write(patterns).fast, batch.write(patterns).fast)


def test_online_write_is_a_sequence_of_steps_over_the_chunks() -> None:
    """Hand-written reference: T steps on chunk 1, then T steps on chunk 2 (prior from θ̄ throughout)."""
    patterns = torch.rand(1, 4, 8, generator=torch.Generator().manual_seed(2)).round()
    memory = _chunk_memory(2)
    rates = memory.write_rates().detach()
    theta_bar = {n: v.detach() for n, v in memory.initial_fast_weights().items()}
    fast = {n: v.unsqueeze(0).clone() for n, v in theta_bar.items()}
    first = True
    for part in (patterns[:, :2], patterns[:, 2:]):
        for step in range(memory.write_steps):
            leaves = {n: v.detach().requires_grad_() for n, v in fast.items()}
            energy = memory._energy(leaves, part).sum() / part.shape[1]
            grads = torch.autograd.grad(energy, list(leaves.values()))
            fast = {}
            for index, (name, value) in enumerate(leaves.items()):
                delta = rates[step, index, 0] * grads[index]
                if not first:
                    delta = delta + rates[step, index, 2] * 2 * (value - theta_bar[name])
                fast[name] = (value - delta).detach()
            first = False
    torch.testing.assert_close(memory.write(patterns).fast, fast)


def _refine_memory(refine_steps: int = 3, chunk: int | None = 1) -> EnergyMemory:
    from ebmm.energy.slots import SlotEnergy

    torch.manual_seed(0)
    energy = SlotEnergy(dim=8, slots=5)
    return EnergyMemory(energy, (8,),
                        write=WriteRule(steps=1, terms=("energy", "prior"), rate_init=(0.3, 1e-4, 0.1), chunk=chunk),
                        read=ReadRule(steps=1),
                        refine=RefineRule(steps=refine_steps, rate_init=(0.05, 1e-4, 0.02), momentum_init=0.7) if refine_steps else None).double()


def test_refine_steps_are_nesterov_steps_on_all_patterns_after_the_write() -> None:
    """Hand-written reference: the online write, then R look-ahead momentum steps over all N patterns."""
    patterns = torch.rand(2, 4, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64).round()
    memory = _refine_memory()
    plain = _refine_memory(refine_steps=0)
    plain.load_state_dict(memory.state_dict(), strict=False)
    fast = {n: v.detach() for n, v in plain.write(patterns).fast.items()}
    theta_bar = {n: v.detach() for n, v in memory.initial_fast_weights().items()}
    rates, momentum = (t.detach() for t in memory.refine_schedule())
    velocity = {n: torch.zeros_like(v) for n, v in fast.items()}
    for step in range(memory.refine_steps):
        look = {n: (v + momentum * velocity[n]).requires_grad_() for n, v in fast.items()}
        grads = torch.autograd.grad(memory._energy(look, patterns).sum() / patterns.shape[1], list(look.values()))
        for index, name in enumerate(fast):
            delta = rates[step, index, 0] * grads[index] + rates[step, index, 2] * 2 * (look[name] - theta_bar[name])
            velocity[name] = (momentum * velocity[name] - delta).detach()
            fast[name] = fast[name] + velocity[name]
    torch.testing.assert_close(memory.write(patterns).fast, fast)


def test_refine_steps_take_part_in_the_meta_gradient() -> None:
    memory = _refine_memory(refine_steps=2, chunk=2)
    patterns = torch.rand(1, 4, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    queries = (patterns + 0.1).clamp(0, 1)
    names = ["refine_rate_raw", "refine_momentum_raw", "write_rate_raw", "energy.memory.weight"]
    params = dict(memory.named_parameters())

    def loss(*values: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(memory, dict(zip(names, values, strict=True)), (patterns, queries), strict=False)

    inputs = tuple(params[name].detach().clone().requires_grad_() for name in names)
    assert torch.autograd.gradcheck(loss, inputs, eps=1e-6, atol=1e-5)
    memory(patterns, queries, "truncated", truncate=3)  # the last write step and both refine steps
    with pytest.raises(ValueError, match=r"truncate in \[1, write_steps=1 \+ refine_steps=2\]"):
        memory(patterns, queries, "truncated", truncate=4)


def test_without_refine_steps_a_memory_has_no_refine_parameters() -> None:
    memory = _refine_memory(refine_steps=0)
    assert not any(name.startswith("refine_") for name, _ in memory.named_parameters())
    with pytest.raises(ValueError, match="no refine steps"):
        memory.refine_schedule()


