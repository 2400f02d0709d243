"""The speed benchmark on tiny configs: it runs, reports and writes its JSON; the batched reference
computes the library's loss and meta-gradient; FLOP counting and the analysis (no timing assertions)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from ebmm.bench.naive import naive_episode_loss
from ebmm.bench.speed import (
    _phase_summary,
    _time_phase_isolated,
    analysis_markdown,
    analysis_phases,
    count_flops,
    gradient_agreement,
    matmul_calls,
    paper_gated_rnn_energy,
    phase_names,
    reference_episode_loss,
    replay_floor_ms,
    run_speed_analysis,
    run_speed_benchmark,
    synthetic_batch,
)
from ebmm.checkpoint import load_json, save_json
from ebmm.config import load_config
from ebmm.energy import GatedRNNEnergy
from ebmm.memory import EnergyMemory
from ebmm.rules import ReadRule, WriteRule

ROOT = Path(__file__).resolve().parents[2]

TINY = """
name = "tiny_speed"

[model]
energy = "autoencoder"
energy_args = { hidden = 4 }
pattern_shape = [16]
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
              "meta_step_checkpointed"} | ({"reference_step"} if timed else set())
    assert set(entry["timings"]) == phases
    for phase in entry["timings"].values():
        assert phase["median_ms"] > 0 and len(phase["times_ms"]) == 1
        assert phase["peak_memory_mib"] >= 0
    speedups = entry["speedups"]
    assert ("library_over_reference" in speedups) == timed
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
    """Image configs get the channels-last phase (and the reference); compiled and isolated phases run."""
    config = tmp_path / "conv.toml"
    config.write_text(IMAGE)
    result = run_speed_benchmark([str(config)], [], steps=1, json_out=None, device="cpu", naive=True,
                                 channels_last=True, truncate=0)
    (entry,) = result["configs"]
    assert set(entry["timings"]) == {"write", "read", "meta_step", "meta_step_first_order",
                                     "meta_step_checkpointed", "meta_step_channels_last", "reference_step"}
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


GATED = """
name = "tiny_gated"

[model]
energy = "gated_rnn"
energy_args = { hidden = 12, memory_width = 3, hops = 2 }
pattern_shape = [8]
write_steps = 2
read_steps = 2
write_rate_init = [0.05, 0.05, 0.05]

[task]
patterns = [4]
corrupt_bits = 2
"""


def _gated_memory(dtype: torch.dtype) -> EnergyMemory:
    """The paper's binary configuration in miniature: gated RNN energy, all three writing terms."""
    torch.manual_seed(0)
    energy = GatedRNNEnergy(dim=8, hidden=12, memory_width=3, hops=2)
    return EnergyMemory(energy, (8,),
                        write=WriteRule(steps=3, rate_init=(0.05, 0.05, 0.05)),
                        read=ReadRule(steps=3, step_init=0.2)).to(dtype)


def _gated_episodes(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    patterns = torch.randint(0, 2, (2, 5, 8), generator=generator).to(dtype)
    flip = torch.rand(2, 5, 8, generator=generator) < 0.3
    return patterns, torch.where(flip, 1.0 - patterns, patterns)


def _meta_gradient(loss: torch.Tensor, memory: EnergyMemory) -> torch.Tensor:
    params = list(memory.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).flatten() for p, g in zip(params, grads, strict=True)])


@pytest.mark.parametrize("paper_energy", [False, True])
def test_batched_reference_gives_the_library_loss_and_meta_gradient(paper_energy: bool) -> None:
    """float32, as timed: same loss and second-order meta-gradient as the library to ~1e-5."""
    memory = _gated_memory(torch.float32)
    patterns, queries = _gated_episodes(torch.float32)
    library = memory.episode_loss(patterns, queries, "second_order")[0]
    reference = reference_episode_loss(memory, patterns, queries, paper_gated_rnn_energy(memory) if paper_energy else None)
    torch.testing.assert_close(reference, library, rtol=1e-5, atol=1e-5)
    g_reference, g_library = _meta_gradient(reference, memory), _meta_gradient(library, memory)
    assert g_library.abs().max() > 1e-3  # a meta-gradient worth comparing
    torch.testing.assert_close(g_reference, g_library, rtol=1e-5, atol=1e-5)


def test_batched_reference_agrees_with_the_per_pattern_oracle_in_float64() -> None:
    memory = _gated_memory(torch.float64)
    patterns, queries = _gated_episodes(torch.float64)
    oracle = naive_episode_loss(memory, patterns, queries)
    g_oracle = _meta_gradient(oracle, memory)
    for energy in (None, paper_gated_rnn_energy(memory)):
        reference = reference_episode_loss(memory, patterns, queries, energy)
        torch.testing.assert_close(reference, oracle.detach(), rtol=0.0, atol=1e-10)
        torch.testing.assert_close(_meta_gradient(reference, memory), g_oracle, rtol=1e-8, atol=1e-10)


def test_batched_reference_rejects_what_it_does_not_cover() -> None:
    memory = _gated_memory(torch.float32)
    patterns, queries = _gated_episodes(torch.float32)
    with pytest.raises(ValueError, match="match"):
        reference_episode_loss(memory, patterns, queries[:, :2])
    memory.write_rule = dataclasses.replace(memory.write_rule, chunk=2)
    with pytest.raises(ValueError, match="write_chunk"):
        reference_episode_loss(memory, patterns, queries)
    memory.write_rule = dataclasses.replace(memory.write_rule, chunk=None)
    memory.read_rule = dataclasses.replace(memory.read_rule, temperature=0.1)
    with pytest.raises(ValueError, match="reads deterministically"):
        reference_episode_loss(memory, patterns, queries)


def test_count_flops_counts_products_of_every_backward_pass() -> None:
    assert count_flops(lambda: torch.ones(4, 8) @ torch.ones(8, 3)) == 2 * 4 * 8 * 3
    memory = _gated_memory(torch.float32)
    patterns, queries = _gated_episodes(torch.float32)

    def step(mode: str) -> int:
        return count_flops(lambda: memory.episode_loss(patterns, queries, mode)[0].backward())  # type: ignore[arg-type]

    second, first = step("second_order"), step("first_order")
    assert second > first > 0 and step("second_order") == second  # deterministic; double backward counted
    reference = count_flops(lambda: reference_episode_loss(memory, patterns, queries).backward())
    assert reference > second  # the separate energy-term backward pass


def test_matmul_calls_list_each_distinct_product_with_its_count_and_layout() -> None:
    a, b = torch.ones(4, 8), torch.ones(8, 3)
    counted = matmul_calls(lambda: [a @ b, a @ b, a.t().t() @ b, b.t() @ a.t(), torch.ones(2, 4, 8) @ torch.ones(2, 8, 3)])
    assert counted["flops"] == 4 * 2 * 4 * 8 * 3 + 2 * 2 * 4 * 8 * 3 and counted["other_flops"] == 0
    calls = {(name, shapes, transposed): (count, flops) for name, shapes, transposed, dtype, count, flops in counted["calls"]}
    assert calls[("mm", ((4, 8), (8, 3)), (False, False))] == (3, 3 * 192)  # a.t().t() is a itself
    assert calls[("mm", ((3, 8), (8, 4)), (True, True))] == (1, 192)  # transposed views, as a backward pass makes them
    assert calls[("bmm", ((2, 4, 8), (2, 8, 3)), (False, False))] == (1, 384)
    assert {call[3] for call in counted["calls"]} == {"float32"}
    with torch.no_grad():
        conv = matmul_calls(lambda: torch.nn.functional.conv1d(torch.ones(1, 2, 5), torch.ones(3, 2, 2)))
    assert conv["calls"] == [] and conv["other_flops"] == conv["flops"] > 0  # counted, not replayed


def test_replay_floor_times_every_product_at_its_own_shapes() -> None:
    calls = matmul_calls(lambda: torch.ones(16, 32) @ torch.ones(32, 8))["calls"]
    assert replay_floor_ms(calls, torch.device("cpu"), repeats=1) > 0
    assert replay_floor_ms(calls, torch.device("cpu"), repeats=1, dtype="bfloat16") > 0
    assert replay_floor_ms([], torch.device("cpu")) == 0.0


def test_gradient_agreement() -> None:
    exact = {"a": torch.tensor([3.0, 0.0]), "b": torch.tensor([[4.0]])}
    same = gradient_agreement(exact, exact)
    assert same["relative_error"] == 0.0 and same["cosine"] == pytest.approx(1.0)
    off = gradient_agreement({"a": torch.tensor([3.0, 0.0]), "b": torch.tensor([[-4.0]])}, exact)
    assert off["relative_error"] == pytest.approx(8.0 / 5.0) and off["cosine"] == pytest.approx(-7.0 / 25.0)
    assert off["worst_tensor"] == "b" and off["worst_tensor_cosine"] == pytest.approx(-1.0)


def test_speed_analysis_stores_its_result_beside_the_tables(tmp_path: Path) -> None:
    config = tmp_path / "gated.toml"
    config.write_text(GATED)
    names = [name for name, *_ in analysis_phases(load_config(config))]
    assert names[:3] == ["library_1t", "reference_1t", "reference_paper_energy_1t"] and "library_2p_1t" in names
    out = tmp_path / "speed.json"
    save_json(out, {"benchmark": "speed", "configs": [{"name": "kept"}]})
    threads = torch.get_num_threads()
    phases = [("library_1t", "library", 1, 1), ("reference_1t", "reference", 1, 1),
              ("library_bf16_1t", "library_bf16", 1, 1)]
    analysis = run_speed_analysis(str(config), [], steps=1, json_out=str(out), note="quiet", phases=phases,
                                  isolate=False, matmul_size=128)
    assert torch.get_num_threads() == threads
    saved = load_json(out)
    assert saved["configs"] == [{"name": "kept"}] and saved["analysis"] == json.loads(json.dumps(analysis))
    assert set(analysis["phases"]) == {"library_1t", "reference_1t", "library_bf16_1t"}
    assert set(analysis["flops"]) == {"library", "reference"} and analysis["flops"]["reference"] > analysis["flops"]["library"]
    for phase in analysis["phases"].values():
        assert phase["median_ms"] > 0 and phase["flop_floor_ms"] > 0 and phase["processes"] == 1
        assert phase["shape_floor_ms"] > 0 and phase["over_shape_floor"] == phase["median_ms"] / phase["shape_floor_ms"]
    assert analysis["phases"]["library_bf16_1t"]["matmul_dtype"] == "bfloat16"
    for key in ("reference_over_library_1t", "library_fp32_over_bf16_1t", "reference_flops_over_library"):
        assert key in analysis["ratios"], key
    accuracy = analysis["bf16_accuracy"]
    assert 0.0 < accuracy["bf16_vs_float32"]["relative_error"] < 0.1 and accuracy["bf16_vs_float32"]["cosine"] > 0.99
    assert accuracy["float32_vs_float64"]["relative_error"] < 1e-5
    assert analysis["note"] == "quiet" and "| library_1t | 1 × 1 |" in analysis_markdown(analysis)


def test_phase_summary_of_two_concurrent_processes() -> None:
    """Throughput of concurrent processes is all their steps over the wall time from first start to last end."""
    def measured(start: float, times: list[float]) -> dict[str, object]:
        return {"torch_threads": 1, "times_ms": times, "start": start, "end": start + sum(times) / 1000.0,
                "matmul": {"float32": {"best_gflops": 100.0}}, "load_average_1m": 1.5}

    summary = _phase_summary([measured(10.0, [400.0, 600.0]), measured(10.5, [500.0, 500.0])], 50 * 10**9, "float32")
    assert summary["processes"] == 2 and summary["median_ms"] == 500.0
    assert summary["steps_per_s"] == pytest.approx(4 / 1.5)
    assert summary["flop_floor_ms"] == pytest.approx(500.0) and summary["over_floor"] == pytest.approx(1.0)
    single = _phase_summary([measured(0.0, [250.0, 200.0, 300.0])], 50 * 10**9, "float32")
    assert single["steps_per_s"] == pytest.approx(4.0) and single["over_floor"] == pytest.approx(0.5)


def test_docs_state_the_committed_analysis() -> None:
    result = load_json(ROOT / "results" / "speed.json")
    assert "analysis" in result, "results/speed.json has no analysis: run scripts/bench_speed.sh"
    assert analysis_markdown(result["analysis"]) in (ROOT / "docs" / "speed.md").read_text()
    assert not result["analysis"]["git_revision"].endswith("+dirty")
