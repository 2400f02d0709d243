"""Classical Hopfield baselines: the rules against hand-written references, recall, checks."""

from __future__ import annotations

import pytest
import torch

from ebmm.baselines import BASELINES, HopfieldMemory, HopfieldState
from ebmm.baselines.hopfield import hebb_weights, projection_matrix, storkey_weights
from ebmm.corruption import BlockNoise
from ebmm.protocol import AssociativeMemory

RULES = ["hebb", "storkey", "pinv"]
DYNAMICS = ["async", "sync"]


def random_bits(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, shape, generator=generator).to(dtype)


def flip_bits(patterns: torch.Tensor, count: int, seed: int = 1) -> torch.Tensor:
    """Flip ``count`` distinct random bits of every pattern."""
    generator = torch.Generator().manual_seed(seed)
    noisy = patterns.clone()
    flat = noisy.view(-1, patterns.shape[-1])
    for row in flat:
        index = torch.randperm(patterns.shape[-1], generator=generator)[:count]
        row[index] = 1.0 - row[index]
    return noisy


def spins(bits: torch.Tensor) -> torch.Tensor:
    return 2.0 * bits - 1.0


# --- rules against references -------------------------------------------------------------


def test_hebb_matches_double_loop_reference() -> None:
    s = spins(random_bits(1, 3, 6, seed=3, dtype=torch.float64))
    weights = hebb_weights(s)[0]
    count, dim = s.shape[1:]
    reference = torch.zeros(dim, dim, dtype=torch.float64)
    for i in range(dim):
        for j in range(dim):
            if i != j:
                reference[i, j] = sum(s[0, mu, i] * s[0, mu, j] for mu in range(count)) / dim
    torch.testing.assert_close(weights, reference)
    torch.testing.assert_close(weights, weights.T)
    assert torch.all(torch.diagonal(weights) == 0)


def test_storkey_matches_per_element_reference() -> None:
    s = spins(random_bits(1, 4, 7, seed=4, dtype=torch.float64))
    count, dim = s.shape[1:]
    reference = torch.zeros(dim, dim, dtype=torch.float64)
    for mu in range(count):
        x = s[0, mu]
        h = torch.zeros(dim, dim, dtype=torch.float64)
        for i in range(dim):
            for j in range(dim):
                h[i, j] = sum(reference[i, k] * x[k] for k in range(dim) if k not in (i, j))
        new = reference.clone()
        for i in range(dim):
            for j in range(dim):
                if i != j:
                    new[i, j] += (x[i] * x[j] - x[i] * h[j, i] - h[i, j] * x[j]) / dim
        reference = new
    weights = storkey_weights(s)[0]
    torch.testing.assert_close(weights, reference, atol=1e-6, rtol=0)
    torch.testing.assert_close(weights, weights.T)
    assert torch.all(torch.diagonal(weights) == 0)


def test_pinv_is_projection_onto_patterns() -> None:
    bits = random_bits(2, 20, 128, seed=5)
    s = spins(bits).to(torch.float64)
    projection = projection_matrix(s)
    torch.testing.assert_close(s @ projection.transpose(1, 2), s)  # P s_mu = s_mu
    torch.testing.assert_close(projection, projection @ projection)
    expected = s.transpose(1, 2) @ torch.linalg.pinv(s.transpose(1, 2))  # S S^+
    torch.testing.assert_close(projection, expected)
    weights = HopfieldMemory("pinv").write(bits).weights
    assert weights.dtype == torch.float32
    assert torch.all(torch.diagonal(weights, dim1=-2, dim2=-1) == 0)
    off_diagonal = ~torch.eye(128, dtype=torch.bool)
    torch.testing.assert_close(weights[:, off_diagonal], projection[:, off_diagonal].float())


# --- recall ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dynamics", DYNAMICS)
@pytest.mark.parametrize("rule", RULES)
def test_recalls_few_patterns_from_clean_and_noisy_queries(rule: str, dynamics: str) -> None:
    patterns = random_bits(2, 3, 128, seed=6)
    memory = HopfieldMemory(rule, dynamics, seed=0)
    state = memory.write(patterns)
    assert memory.read(patterns, state).patterns.equal(patterns)
    noisy = flip_bits(patterns, 8)
    out = memory.read(noisy, state).patterns
    assert out.equal(patterns)
    assert out.dtype == patterns.dtype


@pytest.mark.parametrize("dynamics", DYNAMICS)
def test_pinv_recalls_twenty_patterns(dynamics: str) -> None:
    patterns = random_bits(2, 20, 128, seed=7)
    memory = HopfieldMemory("pinv", dynamics, seed=0)
    state = memory.write(patterns)
    assert memory.read(patterns, state).patterns.equal(patterns)
    assert memory.read(flip_bits(patterns, 4), state).patterns.equal(patterns)


@pytest.mark.parametrize("rule", RULES)
def test_stored_patterns_are_fixed_points(rule: str) -> None:
    patterns = random_bits(2, 3, 128, seed=8)
    state = HopfieldMemory(rule).write(patterns)
    s = spins(patterns)
    field = s @ state.weights.transpose(1, 2) - state.bias[:, None, :]
    assert torch.all(field * s > 0)


def test_queries_thresholded_at_half_with_ties_to_one() -> None:
    patterns = random_bits(1, 1, 128, seed=9)
    memory = HopfieldMemory("hebb", "sync", max_sweeps=1)
    state = memory.write(patterns)
    soft = torch.where(patterns > 0, 0.5, 0.49)  # 0.5 -> +1, below -> -1
    assert memory.read(soft, state).patterns.equal(patterns)


@pytest.mark.parametrize("dynamics", DYNAMICS)
@pytest.mark.parametrize("rule", RULES)
def test_batched_equals_per_episode(rule: str, dynamics: str) -> None:
    patterns = random_bits(3, 12, 128, seed=10)
    queries = flip_bits(patterns[:, :4], 30, seed=11)
    batched_state = HopfieldMemory(rule, dynamics, seed=1).write(patterns)
    batched = HopfieldMemory(rule, dynamics, seed=1).read(queries, batched_state).patterns
    for b in range(3):
        state = HopfieldMemory(rule, dynamics, seed=1).write(patterns[b : b + 1])
        torch.testing.assert_close(state.weights[0], batched_state.weights[b])
        single = HopfieldMemory(rule, dynamics, seed=1).read(queries[b : b + 1], state).patterns
        assert single[0].equal(batched[b])


def test_same_seed_same_result() -> None:
    patterns = random_bits(2, 15, 128, seed=12)
    queries = flip_bits(patterns, 40, seed=13)
    outs = []
    for _ in range(2):
        memory = HopfieldMemory("hebb", "async", seed=3)
        outs.append(memory.read(queries, memory.write(patterns)).patterns)
    assert outs[0].equal(outs[1])


# --- size and registry ---------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 3, 40])
@pytest.mark.parametrize("rule", RULES)
def test_memory_floats_independent_of_count(rule: str, count: int) -> None:
    memory = HopfieldMemory(rule)
    state = memory.write(random_bits(1, count, 128, seed=16))
    assert isinstance(state, HopfieldState)
    assert state.weights.shape == (1, 128, 128) and state.bias.shape == (1, 128)
    assert memory.memory_floats(state) == 8256


@pytest.mark.parametrize("name", ["hopfield_hebb", "hopfield_storkey", "hopfield_pinv"])
def test_registry_builds_hopfield(name: str) -> None:
    memory = BASELINES[name](seed=0)
    assert isinstance(memory, HopfieldMemory) and isinstance(memory, AssociativeMemory)
    assert memory.rule == name.removeprefix("hopfield_")


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "patterns, error",
    [
        (torch.zeros(3, 128), ValueError),
        (torch.zeros(2), ValueError),
        (torch.full((1, 2, 8), float("nan")), ValueError),
        (torch.full((1, 2, 8), 2.0), ValueError),
        (torch.full((1, 2, 8), 0.5), ValueError),  # not binary
        (torch.zeros(1, 0, 8), ValueError),
        (torch.zeros(1, 2, 8, dtype=torch.long), TypeError),
        ([[[0.0, 1.0]]], TypeError),
    ],
)
def test_write_rejects_bad_patterns(patterns: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="patterns"):
        HopfieldMemory().write(patterns)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "queries",
    [
        torch.zeros(2, 8),
        torch.zeros(2, 1, 9),
        torch.full((2, 1, 8), float("nan")),
        torch.full((2, 1, 8), -0.1),
        torch.zeros(2, 0, 8),
        torch.zeros(3, 1, 8),
    ],
)
def test_read_rejects_bad_queries(queries: torch.Tensor) -> None:
    memory = HopfieldMemory()
    state = memory.write(random_bits(2, 2, 8))
    with pytest.raises(ValueError, match="queries"):
        memory.read(queries, state)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"rule": "oja"}, "rule"),
        ({"dynamics": "chaotic"}, "dynamics"),
        ({"max_sweeps": 0}, "max_sweeps"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        HopfieldMemory(**kwargs)


# --- image-shaped patterns ------------------------------------------------------------------


@pytest.mark.parametrize("dynamics", DYNAMICS)
@pytest.mark.parametrize("rule", RULES)
def test_image_patterns_equal_flattened_vectors(rule: str, dynamics: str) -> None:
    images = random_bits(2, 6, 2, 4, 8, seed=20)  # (B, N, C, H, W), D = 64
    queries = flip_bits(images.flatten(2), 6, seed=21).reshape(images.shape)
    image_state = HopfieldMemory(rule, dynamics, seed=2).write(images)
    flat_state = HopfieldMemory(rule, dynamics, seed=2).write(images.flatten(2))
    assert image_state.shape == (2, 4, 8) and image_state.pattern_shape == (2, 4, 8)
    assert flat_state.shape is None and flat_state.pattern_shape == (64,)
    assert torch.equal(image_state.weights, flat_state.weights)
    image_out = HopfieldMemory(rule, dynamics, seed=2).read(queries, image_state).patterns
    flat_out = HopfieldMemory(rule, dynamics, seed=2).read(queries.flatten(2), flat_state).patterns
    assert image_out.shape == images.shape and image_out.dtype == images.dtype
    assert torch.equal(image_out.flatten(2), flat_out)
    assert HopfieldMemory(rule).memory_floats(image_state) == 64 * 63 // 2 + 64


@pytest.mark.parametrize("shape", [(4, 4), (1, 2, 2, 4)])
def test_other_pattern_shapes_round_trip(shape: tuple[int, ...]) -> None:
    patterns = random_bits(1, 2, *shape, seed=22)
    memory = HopfieldMemory("pinv", "sync")
    out = memory.read(patterns, memory.write(patterns)).patterns
    assert out.equal(patterns)


def test_pinv_recalls_64_binary_images_of_1024_units_from_block_noise() -> None:
    images = random_bits(2, 64, 1, 32, 32, seed=23)
    queries = BlockNoise(16, binary=True)(images, torch.Generator().manual_seed(24))
    memory = HopfieldMemory("pinv", "sync")
    state = memory.write(images)
    assert state.weights.shape == (2, 1024, 1024)
    assert memory.read(queries, state).patterns.equal(images)
    assert memory.memory_floats(state) == 1024 * 1023 // 2 + 1024


@pytest.mark.parametrize("queries_shape", [(2, 1, 64), (2, 1, 2, 8, 4), (2, 1, 1, 4, 8)])
def test_image_read_rejects_other_shapes(queries_shape: tuple[int, ...]) -> None:
    memory = HopfieldMemory()
    state = memory.write(random_bits(2, 3, 2, 4, 8, seed=25))
    with pytest.raises(ValueError, match=r"queries must have .*2, 4, 8\)"):
        memory.read(torch.zeros(queries_shape), state)


def test_write_rejects_empty_pattern_shape() -> None:
    with pytest.raises(ValueError, match="at least one unit"):
        HopfieldMemory().write(torch.zeros(1, 2, 0, 4))
