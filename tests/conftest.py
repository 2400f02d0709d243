"""Suite-wide settings: one torch thread, so small tensors do not fight over the cores (and runs are
not slowed by other jobs on a 2-core machine); a fresh in-process image cache for every test."""

from collections.abc import Iterator

import pytest
import torch

from ebmm.data.images import clear_image_cache

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _fresh_image_cache() -> Iterator[None]:
    clear_image_cache()
    yield
    clear_image_cache()
