"""Smoke test of the speed benchmark on a tiny config: it runs, reports, and writes its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ebmm.bench.speed import run_speed_benchmark

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


@pytest.mark.parametrize("naive", [True, False])
def test_speed_benchmark_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str], naive: bool) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out = tmp_path / "speed.json"
    result = run_speed_benchmark(str(config), ["train.lr=1e-3"], steps=1, json_out=str(out), device="cpu", naive=naive)
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(result))
    for key in ("command", "git_revision", "config_path", "config", "device", "patterns", "meta_batch",
                "write_steps", "read_steps", "grad_mode", "timings", "speedup_library_over_naive", "notes"):
        assert key in saved, key
    assert saved["patterns"] == 5 and saved["meta_batch"] == 2
    assert saved["write_steps"] == 2 and saved["read_steps"] == 2
    assert saved["config"]["train"]["lr"] == 1e-3
    assert saved["device"]["torch_threads"] >= 1 and saved["device"]["torch"]
    phases = {"meta_step", "meta_step_first_order", "write", "read"} | ({"naive_step"} if naive else set())
    assert set(saved["timings"]) == phases
    for phase in saved["timings"].values():
        assert phase["median_ms"] > 0 and len(phase["times_ms"]) == 1
        assert phase["process_peak_rss_mib"] > 0
    if naive:
        assert saved["speedup_library_over_naive"] > 0
    else:
        assert saved["speedup_library_over_naive"] is None
    assert "meta_step" in capsys.readouterr().out


def test_speed_benchmark_rejects_zero_steps(tmp_path: Path) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    with pytest.raises(ValueError, match="steps"):
        run_speed_benchmark(str(config), [], steps=0, json_out=None, device="cpu")
