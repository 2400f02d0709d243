"""Modern continuous Hopfield retrieval: the update against a reference, recall, β search, checks."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ebmm.baselines import BASELINES, ModernHopfieldMemory, ModernHopfieldState, choose_beta
from ebmm.baselines.modern_hopfield import default_betas
from ebmm.bench.binary import benchmark_binary
from ebmm.bench.metrics import hamming_errors, squared_errors
from ebmm.corruption import BlockNoise, FlipBits, GaussianNoise
from ebmm.protocol import AssociativeMemory

FAST = settings(max_examples=25, deadline=None)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_bits(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 2, shape, generator=gen(seed)).float()


def reference_read(patterns: torch.Tensor, queries: torch.Tensor, beta: float, steps: int, centre: bool) -> torch.Tensor:
    """ξ ← Xᵀ softmax(β φ(X) φ(ξ)), one episode and one query at a time, in float64."""
    out = torch.empty(queries.shape, dtype=torch.float64)
    shift = 0.5 if centre else 0.0
    for b in range(queries.shape[0]):
        x = patterns[b].flatten(1).double()  # (N, D)
        for m in range(queries.shape[1]):
            xi = queries[b, m].flatten().double()
            for _ in range(steps):
                xi = x.T @ torch.softmax(beta * ((x - shift) @ (xi - shift)), dim=0)
            out[b, m] = xi.reshape(queries.shape[2:])
    return out


# --- the update -----------------------------------------------------------------------------


@FAST
@given(
    batch=st.integers(1, 3),
    count=st.integers(1, 6),
    queries=st.integers(1, 4),
    shape=st.sampled_from([(5,), (2, 3), (1, 2, 3)]),
    beta=st.floats(0.01, 50),
    steps=st.integers(1, 3),
    centre=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_read_matches_per_query_reference(
    batch: int, count: int, queries: int, shape: tuple[int, ...], beta: float, steps: int, centre: bool, seed: int
) -> None:
    generator = gen(seed)
    patterns = torch.rand(batch, count, *shape, generator=generator, dtype=torch.float64)
    query = torch.rand(batch, queries, *shape, generator=generator, dtype=torch.float64)
    memory = ModernHopfieldMemory(beta, steps=steps, centre=centre)
    out = memory.read(query, memory.write(patterns)).patterns
    assert out.shape == query.shape and out.dtype == query.dtype
    assert ((out >= 0) & (out <= 1)).all()
    torch.testing.assert_close(out, reference_read(patterns, query, beta, steps, centre))


def test_exact_recall_of_binary_images_from_mild_corruption_at_large_beta() -> None:
    images = random_bits(3, 16, 1, 8, 8, seed=1)
    queries = FlipBits(8)(images.flatten(2), gen(2)).reshape(images.shape)
    memory = ModernHopfieldMemory(beta=100.0)  # overlap gap ≥ ~3 (of 12) times β: past float32 exp underflow
    out = memory.read(queries, memory.write(images)).patterns
    assert out.shape == images.shape
    assert out.equal(images)


def test_exact_recall_of_continuous_images_from_block_noise() -> None:
    images = torch.rand(2, 10, 3, 16, 16, generator=gen(3))
    queries = BlockNoise(6)(images, gen(4))
    memory = ModernHopfieldMemory(beta=8.0, steps=2)
    assert memory.read(queries, memory.write(images)).patterns.equal(images)
    queries = GaussianNoise(0.05)(images, gen(5))
    assert memory.read(queries, memory.write(images)).patterns.equal(images)


def test_queries_need_not_match_the_number_of_stored_patterns() -> None:
    patterns = random_bits(2, 7, 32, seed=6)
    memory = ModernHopfieldMemory(beta=100.0)
    out = memory.read(patterns[:, :3], memory.write(patterns))
    assert out.patterns.shape == (2, 3, 32) and out.patterns.equal(patterns[:, :3])


def test_small_beta_averages_the_stored_patterns() -> None:
    patterns = torch.rand(2, 5, 3, 4, 4, generator=gen(7))
    memory = ModernHopfieldMemory(beta=1e-9)
    out = memory.read(torch.rand(2, 3, 3, 4, 4, generator=gen(8)), memory.write(patterns)).patterns
    torch.testing.assert_close(out, patterns.mean(1, keepdim=True).expand_as(out))


def test_attention_is_the_first_update_softmax() -> None:
    patterns = torch.rand(2, 6, 10, generator=gen(9))
    queries = torch.rand(2, 4, 10, generator=gen(10))
    memory = ModernHopfieldMemory(beta=3.0)
    state = memory.write(patterns)
    weights = memory.attention(queries, state)
    assert weights.shape == (2, 4, 6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4))
    torch.testing.assert_close(weights @ patterns, memory.read(queries, state).patterns)


def test_centring_stops_bright_patterns_from_winning() -> None:
    # Raw dot products: x_bright · q = |q| = q · q, a tie at best; any brighter pattern wins.
    target = torch.tensor([1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])
    patterns = torch.stack([torch.ones(8), target])[None]
    queries = target[None, None]
    raw = ModernHopfieldMemory(beta=50.0, centre=False)
    centred = ModernHopfieldMemory(beta=50.0)
    assert not raw.read(queries, raw.write(patterns)).patterns[0, 0].equal(target)
    assert centred.read(queries, centred.write(patterns)).patterns[0, 0].equal(target)


def test_batched_equals_per_episode() -> None:
    patterns = torch.rand(4, 12, 3, 8, 8, generator=gen(11))
    queries = BlockNoise(4)(patterns, gen(12))
    memory = ModernHopfieldMemory(beta=0.05, steps=3)
    batched = memory.read(queries, memory.write(patterns)).patterns
    for b in range(4):
        single = memory.read(queries[b : b + 1], memory.write(patterns[b : b + 1])).patterns
        torch.testing.assert_close(single[0], batched[b], rtol=1e-6, atol=1e-6)


def test_code_replaces_the_feature_map() -> None:
    patterns = torch.rand(2, 5, 12, generator=gen(13))
    queries = torch.rand(2, 3, 12, generator=gen(14))
    plain = ModernHopfieldMemory(beta=2.0, centre=False)
    identity = ModernHopfieldMemory(beta=2.0, code=lambda x: x)
    centred = ModernHopfieldMemory(beta=2.0)
    shifted = ModernHopfieldMemory(beta=2.0, code=lambda x: x - 0.5)
    state = plain.write(patterns)
    torch.testing.assert_close(identity.read(queries, state).patterns, plain.read(queries, state).patterns)
    torch.testing.assert_close(shifted.read(queries, state).patterns, centred.read(queries, state).patterns)
    halves = ModernHopfieldMemory(beta=2.0, code=lambda x: x[..., :6])  # F < D: values still come from X
    out = halves.read(queries, state).patterns
    expected = torch.softmax(2.0 * queries[..., :6] @ patterns[..., :6].transpose(1, 2), -1) @ patterns
    torch.testing.assert_close(out, expected)


def test_code_with_wrong_output_raises() -> None:
    memory = ModernHopfieldMemory(code=lambda x: x.sum(-1))
    state = memory.write(torch.rand(1, 2, 4, generator=gen(15)))
    with pytest.raises(ValueError, match="code must map"):
        memory.read(torch.rand(1, 1, 4, generator=gen(16)), state)


# --- size, state, registry ------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(128,), (3, 32, 32), (1, 28, 28)])
@pytest.mark.parametrize("count", [1, 64])
def test_memory_floats_is_n_times_d(shape: tuple[int, ...], count: int) -> None:
    memory = ModernHopfieldMemory()
    state = memory.write(torch.zeros(2, count, *shape))
    assert isinstance(state, ModernHopfieldState)
    assert state.shape == shape and state.patterns.shape == (2, count, math.prod(shape))
    assert memory.memory_floats(state) == count * math.prod(shape)


def test_write_copies_the_patterns() -> None:
    patterns = torch.rand(1, 3, 4, generator=gen(17))
    memory = ModernHopfieldMemory()
    state = memory.write(patterns)
    patterns.zero_()
    assert state.patterns.abs().sum() > 0


def test_registry_and_protocol() -> None:
    memory = BASELINES["modern_hopfield"]()
    assert isinstance(memory, ModernHopfieldMemory) and isinstance(memory, AssociativeMemory)
    assert memory.beta == 8.0 and memory.steps == 1 and memory.centre and memory.code is None
    assert "beta=8.0" in repr(memory)


def test_runs_in_the_binary_benchmark() -> None:
    out = benchmark_binary({"modern_hopfield": BASELINES["modern_hopfield"]()}, [8], episodes=4, seed=0, corrupt_bits=32)
    cell = out["modern_hopfield"]["8"]
    assert cell["mean"] == 0.0 and cell["memory_floats"] == 8 * 128


# --- choose_beta ----------------------------------------------------------------------------


def test_choose_beta_returns_a_grid_member_and_the_table() -> None:
    images = torch.rand(3, 8, 3, 8, 8, generator=gen(18))
    queries = BlockNoise(4)(images, gen(19))
    grid = [0.001, 0.01, 0.1, 1.0, 10.0]
    best, table = choose_beta(images, queries, squared_errors, grid)
    assert best in grid and list(table) == grid
    assert table[best] == min(table.values())
    for beta, value in table.items():
        memory = ModernHopfieldMemory(beta)
        expected = squared_errors(memory.read(queries, memory.write(images)).patterns, images).mean()
        assert value == pytest.approx(float(expected), rel=1e-6)
    assert table[0.001] > table[10.0]  # an average of 8 images is far worse than the nearest one


def test_choose_beta_default_grid_scales_with_dimension() -> None:
    bits = random_bits(2, 8, 1, 8, 8, seed=20)
    queries = BlockNoise(4, binary=True)(bits, gen(21))
    best, table = choose_beta(bits, queries, hamming_errors)
    assert list(table) == list(default_betas(64))
    assert default_betas(64)[0] == 0.5 / 64 and default_betas(64)[-1] == 4096 / 64
    assert best in table and table[best] == 0.0


def test_choose_beta_ties_go_to_the_smallest_and_nan_is_worst() -> None:
    bits = random_bits(1, 2, 16, seed=22)
    best, table = choose_beta(bits, bits, lambda r, p: torch.zeros(r.shape[:2]), [4.0, 2.0, 8.0])
    assert best == 2.0 and list(table) == [4.0, 2.0, 8.0]
    calls = iter([float("nan"), 3.0, 5.0])
    best, table = choose_beta(bits, bits, lambda r, p: torch.full(r.shape[:2], next(calls)), [1.0, 2.0, 3.0])
    assert best == 2.0 and math.isnan(table[1.0])


def test_choose_beta_passes_steps_and_centre() -> None:
    images = torch.rand(2, 6, 24, generator=gen(23))
    queries = GaussianNoise(0.2)(images, gen(24))
    _, table = choose_beta(images, queries, squared_errors, [0.5], steps=3, centre=False)
    memory = ModernHopfieldMemory(0.5, steps=3, centre=False)
    expected = squared_errors(memory.read(queries, memory.write(images)).patterns, images).mean()
    assert table[0.5] == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.parametrize(
    "queries, betas, match",
    [
        (torch.zeros(2, 3, 4), [1.0], "one query per stored pattern"),
        (torch.zeros(2, 4, 5), [1.0], "queries"),
        (torch.zeros(2, 4, 4), [], "betas is empty"),
        (torch.zeros(2, 4, 4), [1.0, 0.0], "beta must be"),
        (torch.zeros(2, 4, 4), [1.0, 1.0], "repeated"),
    ],
)
def test_choose_beta_rejects_bad_input(queries: torch.Tensor, betas: list[float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        choose_beta(torch.zeros(2, 4, 4), queries, squared_errors, betas)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.0, -1.0, float("nan"), float("inf"), True, "8"])
def test_rejects_bad_beta(beta: object) -> None:
    with pytest.raises(ValueError, match="beta must be a finite number > 0"):
        ModernHopfieldMemory(beta=beta)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs, error, match", [
    ({"steps": 0}, ValueError, "steps"),
    ({"steps": 1.5}, ValueError, "steps"),
    ({"code": "identity"}, TypeError, "code"),
    ({"centre": 1}, ValueError, "centre"),
])
def test_rejects_bad_arguments(kwargs: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        ModernHopfieldMemory(**kwargs)


@pytest.mark.parametrize(
    "patterns, error",
    [
        (torch.zeros(3, 128), ValueError),
        (torch.full((1, 2, 8), float("nan")), ValueError),
        (torch.full((1, 2, 8), 1.5), ValueError),
        (torch.zeros(1, 0, 8), ValueError),
        (torch.zeros(1, 2, 0), ValueError),
        (torch.zeros(1, 2, 8, dtype=torch.long), TypeError),
        ([[[0.0, 1.0]]], TypeError),
    ],
)
def test_write_rejects_bad_patterns(patterns: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="patterns"):
        ModernHopfieldMemory().write(patterns)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "queries",
    [
        torch.zeros(2, 48),
        torch.zeros(2, 1, 48),  # flattened queries for image patterns: the shape must match
        torch.zeros(2, 1, 3, 4, 3),
        torch.full((2, 1, 3, 4, 4), -0.1),
        torch.zeros(2, 0, 3, 4, 4),
        torch.zeros(3, 1, 3, 4, 4),
    ],
)
def test_read_rejects_bad_queries(queries: torch.Tensor) -> None:
    memory = ModernHopfieldMemory()
    state = memory.write(torch.zeros(2, 2, 3, 4, 4))
    with pytest.raises(ValueError, match="queries"):
        memory.read(queries, state)
