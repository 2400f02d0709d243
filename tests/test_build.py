"""ebmm.build: an EnergyMemory from a config, and back from a checkpoint."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from ebmm.build import build_memory, load_memory, resolve_checkpoint
from ebmm.checkpoint import load_json, load_tensors, save_json
from ebmm.config import ModelConfig, load_config
from ebmm.energy import AutoencoderEnergy, GatedRNNEnergy
from ebmm.memory import EnergyMemory
from ebmm.train import train

TINY = [
    "model.pattern_dim=16", "model.energy_args={hidden=4}", "task.patterns=[4]", "task.corrupt_bits=4",
    "train.steps=2", "train.meta_batch=2", "train.log_every=1", "train.eval_every=2",
    "train.checkpoint_every=2", "train.eval_patterns=[4]", "train.eval_episodes=2",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("build") / "run"
    train(load_config(None, TINY), folder, quiet=True)
    return folder


def test_build_memory_follows_the_model_config() -> None:
    model = ModelConfig(energy="autoencoder", energy_args={"hidden": 4}, pattern_dim=16, write_steps=2,
                        read_steps=4, write_terms=["energy", "prior"], write_rate_init=[0.1, 0.2, 0.3],
                        read_step_init=0.25)
    memory = build_memory(model)
    assert isinstance(memory, EnergyMemory) and isinstance(memory.energy, AutoencoderEnergy)
    assert memory.pattern_shape == (16,)
    assert (memory.write_steps, memory.read_steps) == (2, 4)
    assert memory.write_terms == ("energy", "prior")
    assert memory.memory_floats() == 4 * 16 + 16
    rates = memory.write_rates()
    assert rates.shape == (2, 2, 3)
    assert torch.allclose(rates[0, 0].detach(), torch.tensor([0.1, 0.2, 0.3]))
    gammas, _ = memory.read_schedule()
    assert float(gammas[0].detach()) == pytest.approx(0.25)


def test_build_memory_gated_rnn() -> None:
    model = ModelConfig(energy="gated_rnn", energy_args={"hidden": 16, "memory_width": 4, "hops": 1}, pattern_dim=8)
    memory = build_memory(model)
    assert isinstance(memory.energy, GatedRNNEnergy)
    assert memory.memory_floats() == 8 * 4 + 4


def test_build_memory_bad_energy_raises() -> None:
    with pytest.raises(ValueError, match="unknown energy"):
        build_memory(ModelConfig(energy="nope"))
    with pytest.raises(ValueError, match="hidden"):
        build_memory(ModelConfig(energy_args={"hidden": 0}, pattern_dim=8))


def test_load_memory_roundtrip(run: Path) -> None:
    memory, config = load_memory(run)
    assert config == load_config(None, TINY)
    saved = load_tensors(run / "checkpoint-00000002" / "model.safetensors")
    state = memory.state_dict()
    assert sorted(state) == sorted(saved)
    for key in saved:
        assert torch.equal(state[key], saved[key]), key
    # and the loaded memory works
    patterns = torch.randint(0, 2, (1, 3, 16), generator=torch.Generator().manual_seed(0)).float()
    out = memory.read(patterns, memory.write(patterns))
    assert out.patterns.shape == patterns.shape


def test_load_memory_from_the_checkpoint_folder_itself(run: Path) -> None:
    a, _ = load_memory(run)
    b, _ = load_memory(run / "checkpoint-00000002")
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), name


def test_resolve_checkpoint(run: Path) -> None:
    assert resolve_checkpoint(run) == run / "checkpoint-00000002"
    assert resolve_checkpoint(str(run / "checkpoint-00000002")) == run / "checkpoint-00000002"


def test_resolve_checkpoint_without_a_checkpoint_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        resolve_checkpoint(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_memory(tmp_path / "missing")


def test_corrupted_model_file_raises_value_error(run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    (copy / "checkpoint-00000002" / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ValueError, match="model.safetensors"):
        load_memory(copy)


def test_checkpoint_that_does_not_match_its_config_raises(run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    config_path = copy / "checkpoint-00000002" / "config.json"
    config = load_json(config_path)
    config["model"]["energy_args"] = {"hidden": 5}
    save_json(config_path, config)
    with pytest.raises(ValueError, match="does not match its config"):
        load_memory(copy)


def test_load_memory_device(run: Path) -> None:
    memory, _ = load_memory(run, device="cpu")
    assert all(p.device == torch.device("cpu") for p in memory.parameters())
