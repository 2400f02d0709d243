"""Suite-wide settings: one torch thread, so small tensors do not fight over the cores (and runs are
not slowed by other jobs on a 2-core machine)."""

import torch

torch.set_num_threads(1)
