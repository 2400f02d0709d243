"""RunFolder and CheckpointFolder: the one place that names a run's files, and the trainer uses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ebmm.checkpoint import save_json
from ebmm.run_folder import CheckpointFolder, RunFolder


def test_names_of_a_run_and_its_checkpoints(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    assert run.config == tmp_path / "config.json" and run.metrics == tmp_path / "metrics.jsonl"
    assert run.checkpoint(12).path == tmp_path / "checkpoint-00000012"
    checkpoint = run.checkpoint(12)
    assert [p.name for p in (checkpoint.model, checkpoint.trainer, checkpoint.config, checkpoint.state)] == [
        "model.safetensors", "trainer.safetensors", "config.json", "state.json"]


def test_latest_checkpoint_follows_latest_json(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    assert not run.has_checkpoint()
    with pytest.raises(FileNotFoundError, match="no latest.json"):
        run.latest_checkpoint()
    save_json(run.latest, {"checkpoint": "checkpoint-00000003", "step": 3})
    assert run.latest_checkpoint() == CheckpointFolder(tmp_path / "checkpoint-00000003")
    assert not run.latest_checkpoint().exists()  # named, but no model written there


def test_the_trainer_writes_the_files_it_names(tmp_path: Path) -> None:
    from ebmm.config import load_config
    from ebmm.train import train

    config = load_config(None, ["train.steps=2", "train.checkpoint_every=2", "train.eval_every=2",
                                "train.eval_episodes=1", "train.eval_patterns=[4]", "task.patterns=[4]",
                                "model.pattern_shape=[16]", "model.energy_args={hidden=4}", "task.corrupt_bits=4"])
    train(config, tmp_path / "run", quiet=True)
    run = RunFolder(tmp_path / "run")
    assert run.config.is_file() and run.metrics.is_file() and run.has_checkpoint()
    checkpoint = run.latest_checkpoint()
    assert checkpoint == run.checkpoint(2)
    assert all(p.is_file() for p in (checkpoint.model, checkpoint.trainer, checkpoint.config, checkpoint.state))
