"""Sums over every square window of an image."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from ebmm.energy.window_sums import window_sums


@settings(max_examples=40, deadline=None)
@given(height=st.integers(1, 9), width=st.integers(1, 9), data=st.data())
def test_window_sums_equal_the_sums_by_hand(height: int, width: int, data: st.DataObject) -> None:
    window = data.draw(st.integers(1, min(height, width)))
    maps = torch.randn(2, 3, height, width, generator=torch.Generator().manual_seed(height * 10 + width),
                       dtype=torch.float64)
    sums = window_sums(maps, window)
    assert sums.shape == (2, 3, height - window + 1, width - window + 1)
    for i in range(height - window + 1):
        for j in range(width - window + 1):
            torch.testing.assert_close(sums[..., i, j], maps[..., i:i + window, j:j + window].sum((-2, -1)))


def test_window_sums_equal_a_stride_one_average_pool_times_the_area() -> None:
    maps = torch.rand(5, 32, 32, generator=torch.Generator().manual_seed(0))
    pooled = F.avg_pool2d(maps.unsqueeze(1), 16, stride=1).squeeze(1) * 256
    torch.testing.assert_close(window_sums(maps, 16), pooled, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("window", [0, 5, 2.0, True])
def test_window_must_fit_the_map(window: object) -> None:
    with pytest.raises(ValueError, match="window must be an int between 1 and the map's smaller side 4"):
        window_sums(torch.zeros(4, 6), window)  # type: ignore[arg-type]
