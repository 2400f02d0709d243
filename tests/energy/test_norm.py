"""ebmm.energy.norm: MapNorm is GroupNorm with one group, and works under vmap."""

from __future__ import annotations

import pytest
import torch

from ebmm.energy.norm import MapNorm


@pytest.mark.parametrize("channels", [1, 3, 6])
def test_map_norm_equals_group_norm_with_one_group(channels: int) -> None:
    torch.manual_seed(0)
    norm = MapNorm(channels)
    with torch.no_grad():
        norm.weight.copy_(torch.randn(channels, 1, 1))
        norm.bias.copy_(torch.randn(channels, 1, 1))
    reference = torch.nn.GroupNorm(1, channels, eps=norm.eps)
    with torch.no_grad():
        reference.weight.copy_(norm.weight.flatten())
        reference.bias.copy_(norm.bias.flatten())
    x = torch.randn(4, channels, 5, 7) * 3 + 1
    torch.testing.assert_close(norm(x), reference(x), atol=1e-5, rtol=1e-5)


def test_map_norm_works_under_vmap() -> None:
    torch.manual_seed(0)
    norm = MapNorm(3)
    x = torch.randn(2, 4, 3, 5, 5)
    torch.testing.assert_close(torch.func.vmap(norm)(x), norm(x.reshape(8, 3, 5, 5)).reshape(x.shape))


