"""The files of a training run and of its checkpoints, named in one place.

A run folder holds ``config.json`` (the resolved config), ``metrics.jsonl`` (one JSON record per
logging or evaluation step), ``latest.json`` (which checkpoint is the newest) and checkpoint folders
``checkpoint-<step:08d>``. A checkpoint folder holds ``model.safetensors`` (every meta-parameter),
``trainer.safetensors`` (optimiser and data-RNG state, for resuming), ``config.json`` and
``state.json`` (step and elapsed seconds). Shipped checkpoints are checkpoint folders without the
trainer file, plus ``TRAINING.md`` and the run's ``metrics.jsonl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ebmm.checkpoint import load_json


@dataclass(frozen=True)
class CheckpointFolder:
    """One checkpoint's files."""

    path: Path

    @property
    def model(self) -> Path:
        return self.path / "model.safetensors"

    @property
    def trainer(self) -> Path:
        return self.path / "trainer.safetensors"

    @property
    def config(self) -> Path:
        return self.path / "config.json"

    @property
    def state(self) -> Path:
        return self.path / "state.json"

    def exists(self) -> bool:
        """Whether the folder holds a model (the one file inference needs)."""
        return self.model.is_file()


@dataclass(frozen=True)
class RunFolder:
    """One training run's files."""

    path: Path

    @property
    def config(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def latest(self) -> Path:
        return self.path / "latest.json"

    @staticmethod
    def checkpoint_name(step: int) -> str:
        return f"checkpoint-{step:08d}"

    def checkpoint(self, step: int) -> CheckpointFolder:
        return CheckpointFolder(self.path / self.checkpoint_name(step))

    def has_checkpoint(self) -> bool:
        """Whether a checkpoint was written (``latest.json`` exists)."""
        return self.latest.is_file()

    def latest_checkpoint(self) -> CheckpointFolder:
        """The newest checkpoint; ``FileNotFoundError`` when the run wrote none."""
        if not self.has_checkpoint():
            raise FileNotFoundError(f"{self.path} is not a run folder with a checkpoint (no {self.latest.name})")
        return CheckpointFolder(self.path / load_json(self.latest)["checkpoint"])
