"""Multi-process meta-training: 2 gloo processes under torchrun match one process with the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from ebmm import distributed
from ebmm.build import resolve_checkpoint
from ebmm.checkpoint import load_tensors
from ebmm.config import load_config
from ebmm.train import _rank_slice, read_metrics, train

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="torch.distributed with gloo is unavailable"
)

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "binary_sign_slots.toml"
TINY = [
    "model.pattern_shape=[16]",
    "model.energy_args={slots=8, levels=0}",
    "model.write_steps=2",
    "model.read_steps=3",
    "task.patterns=[4, 6]",
    "task.corrupt_bits=4",
    "train.steps=3",
    "train.meta_batch=4",
    "train.log_every=1",
    "train.eval_every=1000",
    "train.checkpoint_every=3",
    "train.eval_patterns=[4]",
    "train.eval_episodes=2",
]
ATOL = 1e-5


def torchrun(run: Path, *extra: str, overrides: list[str] = TINY) -> subprocess.CompletedProcess[str]:
    """``ebmm train`` in 2 gloo processes (torchrun's standalone mode picks a free port)."""
    sets = [arg for item in overrides for arg in ("--set", item)]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "ebmm.cli", "train", "--config", str(CONFIG), *sets, "--out", str(run), "--quiet", *extra]
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", PYTHONFAULTHANDLER="1")  # a crashing worker shows its Python stack
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def assert_runs_match(a: Path, b: Path) -> None:
    model_a = load_tensors(resolve_checkpoint(a) / "model.safetensors")
    model_b = load_tensors(resolve_checkpoint(b) / "model.safetensors")
    assert sorted(model_a) == sorted(model_b)
    for key in model_a:
        torch.testing.assert_close(model_a[key], model_b[key], atol=ATOL, rtol=0, msg=key)
    records_a, records_b = read_metrics(a), read_metrics(b)
    assert [(r["step"], r["kind"]) for r in records_a] == [(r["step"], r["kind"]) for r in records_b]
    for ra, rb in zip(records_a, records_b, strict=True):
        for key, value in ra.items():
            if key == "seconds":
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                assert rb[key] == pytest.approx(value, rel=1e-5, abs=1e-6), (ra["step"], key)
            else:  # strings, flags and nested records must match exactly
                assert rb[key] == value, (ra["step"], key)


@pytest.fixture(scope="module")
def single_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("single") / "run"
    train(load_config(CONFIG, TINY), run, quiet=True)
    assert not dist.is_initialized()  # a single-process run never touches torch.distributed
    return run


def test_two_processes_match_one(single_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    done = torchrun(run)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("error on fresh episodes") == 1  # only rank 0 evaluates
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in single_run.iterdir())
    assert len(read_metrics(run)) == 4  # 3 train lines and 1 eval line, from rank 0 alone
    assert_runs_match(single_run, run)


def test_resume_under_torchrun(single_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    first = torchrun(run, "--max-steps", "2")
    assert first.returncode == 0, first.stdout + first.stderr
    assert resolve_checkpoint(run).name == "checkpoint-00000002"
    second = torchrun(run, "--resume")
    assert second.returncode == 0, second.stdout + second.stderr
    assert_runs_match(single_run, run)


def test_global_batch_must_divide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _rank_slice(4, distributed.Context(rank=1, world_size=2)) == slice(2, 4)
    # train() checks before any collective or file: pretend to be rank 0 of 2 without a process group
    monkeypatch.setattr(distributed, "setup", lambda device: distributed.Context(rank=0, world_size=2))
    config = load_config(CONFIG, [*TINY, "train.meta_batch=3"])
    with pytest.raises(ValueError, match=r"train\.meta_batch \(3\) must be divisible by the number of processes \(2\)"):
        train(config, tmp_path / "run", quiet=True)
    assert not (tmp_path / "run").exists()
