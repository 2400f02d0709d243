"""Smoke test of the speed benchmark on a tiny config: it runs, reports, and writes its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ebmm.bench.speed import _time_phase_isolated, phase_names, run_speed_benchmark, synthetic_batch
from ebmm.config import load_config

TINY = """
name = "tiny_speed"

[model]
energy = "autoencoder"
energy_args = { hidden = 4 }
pattern_dim = 16
write_steps = 2
read_steps = 2
write_rate_init = [0.05, 0.01, 0.01]

[task]
patterns = [3, 5]
corrupt_bits = 4

[train]
meta_batch = 2
"""


IMAGE = """
name = "tiny_conv_speed"

[model]
energy = "conv"
energy_args = { memory_width = 2, channels = [4, 4], bottleneck_mid = 8, bottleneck_out = 8, static_filters = 2, head = "reconstruct" }
pattern_shape = [1, 8, 8]
write_steps = 2
read_steps = 2
write_terms = ["energy", "prior"]
write_rate_init = [0.1, 0.001, 0.01]

[task]
data = "omniglot"
patterns = [3]
corruption = "block_noise"
corruption_args = { size = 4 }
"""


@pytest.mark.parametrize("naive, timed", [(True, True), (False, False), (["tiny_speed"], True), (["other"], False)])
def test_speed_benchmark_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], naive: bool | list[str], timed: bool
) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out = tmp_path / "speed.json"
    result = run_speed_benchmark(str(config), ["train.lr=1e-3"], steps=1, json_out=str(out), device="cpu", naive=naive)
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(result))
    for key in ("command", "git_revision", "device", "configs", "notes", "steps", "isolated_processes"):
        assert key in saved, key
    (entry,) = saved["configs"]
    for key in ("name", "config_path", "config", "summary", "patterns", "meta_batch", "pattern_shape",
                "write_steps", "read_steps", "grad_mode", "memory_floats", "timings", "speedups"):
        assert key in entry, key
    assert entry["patterns"] == 5 and entry["meta_batch"] == 2 and entry["pattern_shape"] == [16]
    assert entry["write_steps"] == 2 and entry["read_steps"] == 2
    assert entry["config"]["train"]["lr"] == 1e-3
    assert saved["device"]["torch_threads"] >= 1 and saved["device"]["torch"]
    phases = {"write", "read", "meta_step", "meta_step_first_order", "meta_step_truncated_1",
              "meta_step_checkpointed"} | ({"naive_step"} if timed else set())
    assert set(entry["timings"]) == phases
    for phase in entry["timings"].values():
        assert phase["median_ms"] > 0 and len(phase["times_ms"]) == 1
        assert phase["peak_memory_mib"] >= 0
    speedups = entry["speedups"]
    assert ("library_over_naive" in speedups) == timed
    meta = entry["timings"]["meta_step"]["median_ms"]
    assert speedups["first_order_over_second_order"] == pytest.approx(
        meta / entry["timings"]["meta_step_first_order"]["median_ms"])
    assert "meta_step" in capsys.readouterr().out


def test_synthetic_batch_follows_the_config(tmp_path: Path) -> None:
    config_path = tmp_path / "conv.toml"
    config_path.write_text(IMAGE)
    config = load_config(config_path)
    patterns, queries = synthetic_batch(config, torch.device("cpu"))
    assert patterns.shape == queries.shape == (1, 3, 1, 8, 8)
    assert set(patterns.unique().tolist()) <= {0.0, 1.0}  # Omniglot-like: binary images
    assert not torch.equal(patterns, queries) and queries.min() >= 0 and queries.max() <= 1


def test_speed_benchmark_times_image_configs_isolated_and_compiled(tmp_path: Path) -> None:
    """Image configs get the channels-last phase and no naive one; compiled and isolated phases run."""
    config = tmp_path / "conv.toml"
    config.write_text(IMAGE)
    result = run_speed_benchmark([str(config)], [], steps=1, json_out=None, device="cpu", naive=True,
                                 channels_last=True, truncate=0)
    (entry,) = result["configs"]
    assert set(entry["timings"]) == {"write", "read", "meta_step", "meta_step_first_order",
                                     "meta_step_checkpointed", "meta_step_channels_last"}
    assert entry["memory_floats"] == 2 * 3 * 3 * 8 * 2
    assert phase_names(load_config(config), naive=False, compile=True, channels_last=False, truncate=1)[:4] == [
        "write", "read", "write_compiled", "read_compiled"]
    with_norm = load_config(config, ['model.write_terms=["energy","gradnorm","prior"]'])
    assert phase_names(with_norm, naive=False, compile=True, channels_last=False, truncate=1)[:3] == [
        "write", "read", "read_compiled"]
    isolated = _time_phase_isolated(load_config(config), "write", 1, "cpu", 1)
    assert isolated["median_ms"] > 0 and isolated["torch_threads"] == 1 and isolated["peak_memory_mib"] >= 0


def test_speed_benchmark_rejects_zero_steps(tmp_path: Path) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    with pytest.raises(ValueError, match="steps"):
        run_speed_benchmark(str(config), [], steps=0, json_out=None, device="cpu")
