"""experiments.tune_refine: a checkpoint with refine steps added, its energy and rules unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ebmm.build import load_memory, resolve_checkpoint
from ebmm.checkpoint import save_tensors
from ebmm.config import load_config
from ebmm.run_folder import CheckpointFolder
from ebmm.train import train
from experiments.tune_refine import with_overrides, with_refinement

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


def test_with_overrides_restarts_only_what_the_changed_fields_initialise(tmp_path: Path) -> None:
    config = load_config(REPO / "configs" / "binary_autoencoder.toml", TINY)
    train(config, tmp_path / "run", quiet=True, max_steps=0)
    base, _ = load_memory(tmp_path / "run")
    with torch.no_grad():  # a "trained" read step, so that keeping it is visible
        base.read_step_raw.add_(1.0)
    save_tensors(CheckpointFolder(resolve_checkpoint(tmp_path / "run")).model, base.state_dict())
    longer = with_overrides(str(tmp_path / "run"), {"read_steps": base.read_steps + 3, "momentum_init": 0.3})
    assert longer.read_steps == base.read_steps + 3 and longer.read_decay_raw.shape[0] == base.read_steps + 2
    gammas, psis = (t.detach() for t in longer.read_schedule())
    assert float(psis[0]) == pytest.approx(0.3)  # momentum_init restarts its parameter
    torch.testing.assert_close(longer.read_step_raw, base.read_step_raw)  # kept: not touched by the overrides
    for name, value in base.state_dict().items():
        if name.startswith("energy.") or name.startswith("write_"):
            torch.testing.assert_close(longer.state_dict()[name], value, rtol=0, atol=0)
    with pytest.raises(ValueError, match="cannot tune model.energy"):
        with_overrides(str(tmp_path / "run"), {"energy": "gated_rnn"})


def test_the_cli_tunes_a_grid_of_fields_and_records_every_point(tmp_path: Path) -> None:
    from ebmm.checkpoint import load_json
    from experiments.tune_refine import main

    config = load_config(REPO / "configs" / "binary_autoencoder.toml", TINY)
    train(config, tmp_path / "run", quiet=True, max_steps=0)
    out = tmp_path / "tuning.json"
    assert main([str(tmp_path / "run"), "--grid", "read_steps=[2,3]", "--grid", "momentum_init=[0.1,0.5]",
                 "--episodes", "1", "--json", str(out)]) == 0
    record = load_json(out)
    assert [(t["read_steps"], t["momentum_init"]) for t in record["trials"]] == [(2, 0.1), (2, 0.5), (3, 0.1), (3, 0.5)]
    assert record["best"]["error"] == min(t["error"] for t in record["trials"])
    with pytest.raises(SystemExit):
        main([str(tmp_path / "run"), "--grid", "read_steps=20"])


def test_an_energy_option_override_restarts_only_the_parameter_it_initialises(tmp_path: Path) -> None:
    config = load_config(REPO / "configs" / "binary_code_slots_episode.toml", [
        "model.pattern_shape=[16]", "model.energy_args={slots = 4, code = 8, novelty = 50.0, layout = \"per_episode\"}",
        "train.init_from=\"\"", "task.corrupt_bits=4", "task.patterns=[4]", "train.eval_patterns=[4]"])
    train(config, tmp_path / "run", quiet=True, max_steps=0)
    base, _ = load_memory(tmp_path / "run")
    with torch.no_grad():  # a "trained" projection and β, so that keeping them is visible
        base.energy.projection.mul_(-1.0)
        base.energy.log_beta.add_(0.5)
    save_tensors(CheckpointFolder(resolve_checkpoint(tmp_path / "run")).model, base.state_dict())
    lower = with_overrides(str(tmp_path / "run"), {"energy_args.novelty": 5.0, "read_steps": 7})
    assert float(lower.energy.novelty.detach()) == 5.0 and lower.read_steps == 7
    for name in ("energy.projection", "energy.log_beta", "energy.log_priority", "write_rate_raw"):
        torch.testing.assert_close(lower.state_dict()[name], base.state_dict()[name], rtol=0, atol=0)
    with pytest.raises(ValueError, match="change the shape of the energy's parameters"):
        with_overrides(str(tmp_path / "run"), {"energy_args.code": 6})
