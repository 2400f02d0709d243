"""Suite-wide settings: one torch thread, so small tensors do not fight over the cores (and runs are
not slowed by other jobs on a 2-core machine); a fresh in-process image cache for every test; and
``QuadraticEnergy``, a tiny energy with closed-form gradients that several test modules use."""

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from ebmm.data.images import clear_image_cache

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _fresh_image_cache() -> Iterator[None]:
    clear_image_cache()
    yield
    clear_image_cache()


class QuadraticEnergy(nn.Module):
    """E(x) = ½‖W x‖² with W writable: every gradient has a closed form (∇_x E = WᵀW x)."""

    def __init__(self, dim: int, width: int):
        super().__init__()
        self.memory = nn.Linear(dim, width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.memory(x).pow(2).sum(-1)
