"""The stochastic-read study: ambiguous episodes, its statistics, and a short run on the shipped string memory."""

from __future__ import annotations

import pytest
import torch

from ebmm.build import load_memory
from experiments.stochastic_read import ambiguous_episodes, markdown, sample_statistics, stochastic_read_study


def test_ambiguous_episodes_pair_strings_that_the_query_fits_alike() -> None:
    patterns, queries = ambiguous_episodes(3, 4, 16, 6, torch.Generator().manual_seed(0))
    assert patterns.shape == (3, 8, 16) and queries.shape == (3, 4, 16)
    members = patterns.reshape(3, 4, 2, 16)
    assert torch.equal(members[:, :, 0, :6], members[:, :, 1, :6]) and torch.equal(queries[..., :6], members[:, :, 0, :6])
    assert (queries[..., 6:] == 0.5).all()
    with pytest.raises(ValueError, match="shown"):
        ambiguous_episodes(1, 1, 16, 16, torch.Generator())


def test_sample_statistics_by_hand() -> None:
    members = torch.tensor([[[[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]]]])  # one query, two members
    reads = torch.tensor([[[[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]]]])  # three reads
    stats = sample_statistics(reads, members)
    assert stats["nearest_bits"] == pytest.approx(1.0) and stats["exact"] == pytest.approx(2 / 3)
    assert stats["coverage"] == pytest.approx(0.5)  # only the first member was read


def test_noise_makes_the_shipped_string_memory_sample_both_members() -> None:
    memory, config = load_memory("binary_code_slots_episode")
    result = stochastic_read_study(memory, config, [0.0, 0.01], episodes=2, pairs=4, samples=4, control_patterns=16)
    deterministic, noisy = result["results"]["0"], result["results"]["0.01"]
    assert deterministic["exact"] == 1.0 and deterministic["coverage"] <= 0.5  # always the same member
    assert noisy["exact"] == 1.0 and noisy["coverage"] > 0.75 and noisy["control_bits"] == 0.0
    assert markdown(result).count("\n") == 3


def test_the_strings_page_states_the_committed_study() -> None:
    from pathlib import Path

    from ebmm.checkpoint import load_json

    root = Path(__file__).resolve().parents[2]
    result = load_json(root / "results" / "strings" / "stochastic_read.json")
    assert markdown(result) in (root / "docs" / "results" / "strings.md").read_text()
    assert result["command"].startswith("python -m experiments.stochastic_read") and not result["git_revision"].endswith("+dirty")
