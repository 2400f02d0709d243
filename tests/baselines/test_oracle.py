"""Nearest-neighbour oracle: exact nearest stored pattern, size, shapes, checks."""

from __future__ import annotations

import pytest
import torch

from ebmm.baselines import BASELINES, NearestNeighbourOracle, OracleState
from ebmm.protocol import AssociativeMemory


def test_returns_exact_closest_stored_pattern() -> None:
    generator = torch.Generator().manual_seed(0)
    patterns = torch.rand(3, 10, 16, generator=generator)
    queries = torch.rand(3, 5, 16, generator=generator)
    oracle = NearestNeighbourOracle()
    state = oracle.write(patterns)
    out = oracle.read(queries, state).patterns
    assert out.shape == queries.shape
    for b in range(3):
        for m in range(5):
            distances = ((patterns[b] - queries[b, m]) ** 2).sum(-1)
            assert out[b, m].equal(patterns[b, int(distances.argmin())])


def test_recalls_noisy_binary_patterns() -> None:
    generator = torch.Generator().manual_seed(1)
    patterns = torch.randint(0, 2, (2, 6, 128), generator=generator).float()
    noisy = patterns.clone()
    noisy[..., :10] = 1.0 - noisy[..., :10]
    oracle = NearestNeighbourOracle()
    assert oracle.read(noisy, oracle.write(patterns)).patterns.equal(patterns)


def test_ties_go_to_lowest_index() -> None:
    patterns = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]])
    queries = torch.tensor([[[0.5, 0.5], [1.0, 0.0]]])
    oracle = NearestNeighbourOracle()
    state = oracle.write(patterns)
    assert oracle.nearest_indices(queries, state).tolist() == [[0, 0]]


def test_memory_floats_is_n_times_pattern_size() -> None:
    oracle = NearestNeighbourOracle()
    state = oracle.write(torch.zeros(2, 7, 128))
    assert isinstance(state, OracleState)
    assert oracle.memory_floats(state) == 7 * 128


def test_image_shaped_patterns() -> None:
    generator = torch.Generator().manual_seed(2)
    patterns = torch.rand(2, 5, 1, 4, 4, generator=generator)
    oracle = NearestNeighbourOracle()
    state = oracle.write(patterns)
    queries = (patterns[:, [3, 1]] + 0.01).clamp(0, 1)
    assert oracle.read(queries, state).patterns.equal(patterns[:, [3, 1]])
    assert oracle.memory_floats(state) == 5 * 16


def test_write_keeps_a_copy() -> None:
    patterns = torch.zeros(1, 2, 4)
    oracle = NearestNeighbourOracle()
    state = oracle.write(patterns)
    patterns += 1.0
    assert torch.all(state.patterns == 0)


def test_registry_builds_oracle() -> None:
    oracle = BASELINES["oracle"]()
    assert isinstance(oracle, NearestNeighbourOracle) and isinstance(oracle, AssociativeMemory)


@pytest.mark.parametrize(
    "patterns, error",
    [
        (torch.zeros(3, 4), ValueError),
        (torch.full((1, 2, 4), float("nan")), ValueError),
        (torch.full((1, 2, 4), 1.5), ValueError),
        (torch.zeros(1, 0, 4), ValueError),
        (torch.zeros(1, 2, 4, dtype=torch.int64), TypeError),
    ],
)
def test_write_rejects_bad_patterns(patterns: torch.Tensor, error: type[Exception]) -> None:
    with pytest.raises(error, match="patterns"):
        NearestNeighbourOracle().write(patterns)


@pytest.mark.parametrize(
    "queries",
    [
        torch.zeros(2, 1, 5),
        torch.zeros(2, 1, 1, 4),
        torch.zeros(1, 1, 4),
        torch.full((2, 1, 4), -1.0),
    ],
)
def test_read_rejects_bad_queries(queries: torch.Tensor) -> None:
    oracle = NearestNeighbourOracle()
    state = oracle.write(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="queries"):
        oracle.read(queries, state)


def test_oracle_counts_a_bit_packed_store() -> None:
    oracle = NearestNeighbourOracle()
    binary = oracle.write(torch.randint(0, 2, (2, 5, 16)).float())
    assert oracle.memory_bits(binary) == 5 * 16 and oracle.memory_floats(binary) == 5 * 16
    continuous = oracle.write(torch.rand(2, 5, 16) * 0.5 + 0.25)
    assert oracle.memory_bits(continuous) == 5 * 16 * 32
