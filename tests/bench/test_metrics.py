"""ebmm.bench.metrics: per-pattern Hamming and squared errors."""

from __future__ import annotations

import pytest
import torch

from ebmm.bench.metrics import hamming_errors, squared_errors


def test_hamming_hand_example() -> None:
    patterns = torch.tensor([[[0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]]])
    retrieved = torch.tensor([[[0.2, 0.9, 0.4, 0.6], [1.0, 1.0, 1.0, 1.0]]])
    errors = hamming_errors(retrieved, patterns)
    assert errors.dtype == torch.float32
    assert errors.tolist() == [[2.0, 0.0]]


def test_hamming_threshold_is_strict() -> None:
    one, half = torch.tensor([[[1.0]]]), torch.tensor([[[0.5]]])
    assert hamming_errors(half, one).tolist() == [[1.0]]  # 0.5 is not above 0.5: it reads as 0
    assert hamming_errors(half, one, threshold=0.4).tolist() == [[0.0]]
    assert hamming_errors(torch.tensor([[[0.7]]]), one, threshold=0.8).tolist() == [[1.0]]


def test_hamming_sums_over_all_pattern_axes() -> None:
    patterns = torch.zeros(2, 3, 4, 5)
    retrieved = patterns.clone()
    retrieved[1, 2, :, 0] = 1.0
    retrieved[0, 0, 3, 4] = 0.9
    errors = hamming_errors(retrieved, patterns)
    assert errors.shape == (2, 3)
    assert errors[1, 2] == 4 and errors[0, 0] == 1 and errors.sum() == 5


def test_hamming_of_complement_is_dim() -> None:
    patterns = torch.randint(0, 2, (2, 3, 16), generator=torch.Generator().manual_seed(0)).float()
    assert (hamming_errors(1 - patterns, patterns) == 16).all()
    assert (hamming_errors(patterns, patterns) == 0).all()


def test_squared_hand_example() -> None:
    patterns = torch.tensor([[[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]])
    retrieved = torch.tensor([[[0.5, 1.0, 0.0], [1.0, 0.0, 0.0]]])
    assert torch.allclose(squared_errors(retrieved, patterns), torch.tensor([[1.25, 0.0]]))


def test_squared_sums_over_all_pattern_axes() -> None:
    errors = squared_errors(torch.full((1, 2, 3, 2), 2.0), torch.zeros(1, 2, 3, 2))
    assert errors.tolist() == [[24.0, 24.0]]


@pytest.mark.parametrize("metric", [hamming_errors, squared_errors])
def test_shape_mismatch_raises(metric) -> None:
    with pytest.raises(ValueError, match=r"\(1, 2, 4\).*\(1, 2, 5\)"):
        metric(torch.zeros(1, 2, 4), torch.zeros(1, 2, 5))
    with pytest.raises(ValueError, match="shape"):
        metric(torch.zeros(2, 2, 4), torch.zeros(1, 2, 4))
