"""experiments.tune_refine: a checkpoint with refine steps added, its energy and rules unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ebmm.build import load_memory
from ebmm.config import load_config
from ebmm.train import train
from experiments.tune_refine import with_refinement

REPO = Path(__file__).resolve().parents[2]
TINY = ["model.pattern_dim=16", "task.corrupt_bits=4", "model.energy_args={hidden = 8}", "train.steps=1", "train.eval_every=1", "train.eval_episodes=1",
        "train.eval_patterns=[4]", "task.patterns=[4]", "train.meta_batch=1", "train.log_every=1"]


def test_with_refinement_adds_refine_steps_and_keeps_every_trained_parameter(tmp_path: Path) -> None:
    config = load_config(REPO / "configs" / "binary_autoencoder.toml", TINY)
    train(config, tmp_path / "run", quiet=True, max_steps=0)
    base, _ = load_memory(tmp_path / "run")
    refined = with_refinement(str(tmp_path / "run"), steps=3, rate=0.25, momentum=0.8)
    assert refined.refine_steps == 3
    rates, momentum = (t.detach() for t in refined.refine_schedule())
    assert torch.allclose(rates[:, :, 0], torch.tensor(0.25)) and float(momentum) == pytest.approx(0.8)
    for name, value in base.state_dict().items():
        torch.testing.assert_close(refined.state_dict()[name], value, rtol=0, atol=0)
    patterns = (torch.rand(1, 4, base.pattern_shape[0], generator=torch.Generator().manual_seed(0)) > 0.5).float()
    assert not torch.equal(refined.write(patterns).fast["memory.weight"],
                           base.write(patterns).fast["memory.weight"])  # the refine steps move the write
