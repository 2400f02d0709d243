"""experiments.writing: the writing loss, Adam on it, reaching/not reaching the target, the JSON, the
command line (``python -m experiments.writing``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ebmm.bench.metrics import hamming_errors
from ebmm.build import build_memory
from ebmm.cli import main
from ebmm.config import EBMMConfig
from ebmm.corruption import build_corruption
from ebmm.data.binary import random_binary_patterns
from ebmm.memory import WRITE_TERMS, EnergyMemory, MemoryState
from ebmm.rules import WriteRule
from experiments import writing
from experiments.writing import (
    METHODS,
    adam_on_writing_loss,
    averaged_write_weights,
    benchmark_writing,
    fresh_writable_weights,
    headline,
    parse_float_list,
    speedup_record,
    writing_loss_gradients,
    writing_markdown,
)

from conftest import QuadraticEnergy  # tests/ is on sys.path (pytest's rootdir conftest)

REPO = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"
TINY = EBMMConfig(energy="sign_slots", energy_args={"slots": 6}, pattern_shape=[16], write_steps=2, read_steps=2,
                   write_rate_init=[1.0, 0.01, 0.05], write_reduction="sum", read_step_init=0.25)


def tiny_memory(seed: int = 0) -> EnergyMemory:
    torch.manual_seed(seed)
    return build_memory(TINY)


def episodes(count: int = 2, patterns: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    clean = random_binary_patterns(count, patterns, 16, generator)
    return clean, build_corruption("resample", 4)(clean, generator)


def reference_losses(memory: EnergyMemory, fast: dict[str, torch.Tensor], patterns: torch.Tensor,
                     theta_bar: dict[str, torch.Tensor], weights: torch.Tensor,
                     terms: tuple[str, ...] = WRITE_TERMS) -> torch.Tensor:
    """The per-tensor writing losses ``(n_writable, B)`` written out from the energies, differentiable
    in ``fast``: an oracle for ``writing_loss_gradients``, which takes them from EnergyMemory."""
    x = patterns.detach().requires_grad_()
    energy = memory.energies(MemoryState(fast), x)  # (B, N)
    divisor = energy.shape[1] if memory.write_reduction == "mean" else 1
    (grad_x,) = torch.autograd.grad(energy.sum(), x, create_graph=True)
    values = {"energy": energy.sum(1) / divisor, "gradnorm": grad_x.pow(2).flatten(2).sum(-1).sum(1) / divisor,
              "prior": sum((fast[n] - theta_bar[n]).pow(2).flatten(1).sum(1) for n in fast)}
    return torch.stack([sum(weights[p, k] * values[term] for k, term in enumerate(WRITE_TERMS) if term in terms)
                        for p in range(len(fast))])


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_writing_loss_matches_hand_computation(reduction: str) -> None:
    torch.manual_seed(0)
    memory = EnergyMemory(QuadraticEnergy(5, 3), (5,),
                          write=WriteRule(steps=3, reduction=reduction, rate_init=(0.3, 0.02, 0.1))).double()
    w_bar = memory.energy.memory.weight.detach()
    fast = {"memory.weight": (w_bar.unsqueeze(0) + 0.1 * torch.randn(2, 3, 5, dtype=torch.float64)).requires_grad_()}
    x = torch.rand(2, 4, 5, dtype=torch.float64)
    ones = torch.ones(1, 3, dtype=torch.float64)
    terms = {term: writing_loss_gradients(memory, fast, x, {"memory.weight": w_bar}, ones, (term,))[1][0]
             for term in WRITE_TERMS}
    divisor = 4 if reduction == "mean" else 1
    for b in range(2):
        w = fast["memory.weight"][b].detach()
        energy = sum(0.5 * (w @ xi).pow(2).sum() for xi in x[b]) / divisor
        gradnorm = sum((w.T @ w @ xi).pow(2).sum() for xi in x[b]) / divisor
        prior = (w - w_bar).pow(2).sum()
        assert torch.allclose(terms["energy"][b], energy)
        assert torch.allclose(terms["gradnorm"][b], gradnorm)
        assert torch.allclose(terms["prior"][b], prior)
    rates = memory.write_rates().detach().mean(0)  # (1, 3): one writable tensor
    assert torch.allclose(averaged_write_weights(memory), rates)
    assert torch.allclose(rates[0], torch.tensor([0.3, 0.02, 0.1], dtype=torch.float64))
    _, losses = writing_loss_gradients(memory, fast, x, {"memory.weight": w_bar}, rates)
    expected = rates[0, 0] * terms["energy"] + rates[0, 1] * terms["gradnorm"] + rates[0, 2] * terms["prior"]
    assert losses.shape == (1, 2) and torch.allclose(losses[0], expected)


@pytest.mark.parametrize("terms", [("energy", "gradnorm", "prior"), ("energy",)])
def test_gradients_are_those_of_the_per_tensor_losses(terms: tuple[str, ...]) -> None:
    memory = tiny_memory().double()
    memory.requires_grad_(False)
    theta_bar = {n: v.detach() for n, v in memory.initial_fast_weights().items()}
    fast = {n: (v.unsqueeze(0) + 0.05 * torch.randn(3, *v.shape, dtype=torch.float64)).requires_grad_()
            for n, v in theta_bar.items()}
    x = episodes(3)[0].double()
    weights = averaged_write_weights(memory)
    assert weights.shape == (2, 3)  # memory.weight, memory.bias
    gradients, losses = writing_loss_gradients(memory, fast, x, theta_bar, weights, terms)
    reference = reference_losses(memory, fast, x, theta_bar, weights, terms)
    assert torch.allclose(losses, reference.detach())
    for index, name in enumerate(fast):
        (expected,) = torch.autograd.grad(reference[index].sum(), fast[name], retain_graph=True)
        assert torch.allclose(gradients[index], expected, atol=1e-10), name
    # episodes are independent: changing episode 2's patterns leaves episode 0's gradient alone
    other = x.clone()
    other[2] = 1.0 - other[2]
    again, _ = writing_loss_gradients(memory, fast, other, theta_bar, weights, terms)
    for g, h in zip(gradients, again, strict=True):
        assert torch.allclose(g[0], h[0]) and not torch.allclose(g[2], h[2])


def test_adam_lowers_the_writing_loss() -> None:
    memory = tiny_memory()
    clean, queries = episodes()
    run = adam_on_writing_loss(memory, clean, queries, hamming_errors, target=-1.0, lr=0.01, max_steps=15,
                              dense_steps=15)
    losses = [point["loss"] for point in run["curve"][1:]]
    assert len(losses) == 15 and losses[-1] < losses[0]
    assert not run["reached"] and run["steps"] == 15 and run["stopped_by"] == "max_steps"
    assert run["gradient_evaluations"] == 15 and run["seconds"] > 0


def test_check_schedule_and_time_budget() -> None:
    memory = tiny_memory()
    clean, queries = episodes()
    run = adam_on_writing_loss(memory, clean, queries, hamming_errors, target=-1.0, lr=0.01, max_steps=25,
                              check_every=10, dense_steps=3)
    assert [p["step"] for p in run["curve"]] == [0, 1, 2, 3, 10, 20, 25]
    assert [p["seconds"] for p in run["curve"]] == sorted(p["seconds"] for p in run["curve"])
    fast = adam_on_writing_loss(memory, clean, queries, hamming_errors, target=-1.0, lr=0.01, max_steps=10_000,
                               max_seconds=1e-9)
    assert fast["steps"] == 1 and fast["stopped_by"] == "max_seconds"


def run_benchmark(target: float, **kwargs) -> dict:
    memory = tiny_memory()
    clean, queries = episodes()
    fresh = fresh_writable_weights(TINY, seed=5)
    return benchmark_writing(memory, clean, queries, hamming_errors, build_corruption("resample", 4), fresh,
                             lrs=[0.01, 0.1], target=target, max_steps=4, check_every=2, dense_steps=1,
                             write_repeats=2, **kwargs)


def test_target_reached_at_step_zero() -> None:
    result = run_benchmark(target=1e9)
    assert set(result["runs"]) == set(METHODS)
    for runs in result["runs"].values():
        for run in runs.values():
            assert run["reached"] and run["steps"] == 0 and run["seconds"] == 0.0
            assert run["speedup"] == 0.0 and not run["speedup_is_lower_bound"]
            assert run["previous_check"] is None and run["stopped_by"] == "target"
    for head in result["headline"].values():
        assert head["reached"] and head["steps"] == 0 and head["lrs_reaching"] == ["0.01", "0.1"]


def test_unreachable_target_gives_a_lower_bound() -> None:
    result = run_benchmark(target=-1.0, scratch_lrs=[0.5])
    assert result["target_error"] == -1.0
    write_seconds = result["ebmm"]["write_seconds"]
    assert write_seconds > 0 and result["ebmm"]["gradient_evaluations"] == 2
    assert list(result["runs"]["scratch_reconstruction"]) == ["0.5"]
    for runs in result["runs"].values():
        for run in runs.values():
            assert not run["reached"] and run["steps"] == 4 and run["gradient_evaluations"] == 4
            assert [p["step"] for p in run["curve"]] == [0, 1, 2, 4]
            assert run["speedup"] == pytest.approx(run["seconds"] / write_seconds)
            assert run["speedup_is_lower_bound"] and run["speedup_label"].startswith(">= ")
    for method, head in result["headline"].items():
        fastest = min(result["runs"][method].values(), key=lambda r: r["seconds"])
        assert not head["reached"] and head["seconds"] == fastest["seconds"] and head["speedup_is_lower_bound"]
        assert head["lrs_reaching"] == []


def test_speedup_and_headline_are_seconds_ratios() -> None:
    slow = {"reached": True, "seconds": 3.0, "steps": 30, "best_error": 1.0}
    quick = {"reached": True, "seconds": 0.5, "steps": 300, "best_error": 1.0}
    never = {"reached": False, "seconds": 0.1, "steps": 9, "best_error": 9.0}
    assert speedup_record(slow, 0.01) == {"speedup": pytest.approx(300.0), "speedup_is_lower_bound": False,
                                          "speedup_label": "300.0x"}
    assert speedup_record(never, 0.01)["speedup_label"].startswith(">= 10x (lower bound")
    head = headline({"0.1": slow, "1": quick, "10": never}, 0.01)
    assert head["lr"] == "1" and head["speedup"] == pytest.approx(50.0) and head["lrs_reaching"] == ["0.1", "1"]


def test_parse_float_list() -> None:
    assert parse_float_list("1e-3, 0.1,1") == [1e-3, 0.1, 1.0]
    for bad in ("", "x", "0.1,-1", "0"):
        with pytest.raises(ValueError):
            parse_float_list(bad)


def test_cli_end_to_end(tmp_path: Path) -> None:
    run = tmp_path / "run"
    overrides = ["model.pattern_shape=[16]", "model.energy_args={slots=6}", "model.write_steps=2", "task.patterns=[4]",
                 "task.corrupt_bits=4", "train.steps=2", "train.meta_batch=1", "train.log_every=1",
                 "train.eval_every=2", "train.checkpoint_every=2", "train.eval_patterns=[4]", "train.eval_episodes=2"]
    sets = [arg for o in overrides for arg in ("--set", o)]
    assert main(["train", "--config", str(REPO / "configs" / "binary_sign_slots.toml"), *sets, "--out", str(run),
                 "--quiet"]) == 0
    out, plot = tmp_path / "write.json", tmp_path / "write.png"
    code = writing.main(["--checkpoint", str(run), "--patterns", "4", "--episodes", "2", "--seed", "3",
                         "--lrs", "0.01,0.1", "--scratch-lrs", "0.1", "--max-steps", "3", "--max-seconds", "30",
                         "--check-every", "2", "--dense-steps", "1", "--write-repeats", "2", "--json", str(out),
                         "--plot", str(plot)])
    assert code == 0
    result = json.loads(out.read_text())
    for key in ("benchmark", "command", "git_revision", "device", "checkpoint", "settings", "ebmm", "theta_bar",
                "query", "target_error", "runs", "headline", "notes", "seconds", "write_weights"):
        assert key in result, key
    assert result["benchmark"] == "write" and isinstance(result["command"], str)
    assert result["device"]["torch_threads"] >= 1 and "load_average_1m" in result["device"]
    settings = result["settings"]
    assert settings["patterns"] == 4 and settings["episodes"] == 2 and settings["lrs"] == [0.01, 0.1]
    assert settings["scratch_lrs"] == [0.1] and settings["write_steps"] == 2 and settings["metric"] == "hamming"
    assert result["target_error"] == result["ebmm"]["error"]
    assert set(result["runs"]) == set(METHODS) and set(result["runs"]["adam_writing_loss"]) == {"0.01", "0.1"}
    for runs in result["runs"].values():
        for run_record in runs.values():
            ratio = run_record["seconds"] / result["ebmm"]["write_seconds"]
            assert run_record["speedup"] == pytest.approx(ratio)
            assert run_record["speedup_is_lower_bound"] == (not run_record["reached"])
            assert all({"step", "error", "seconds"} <= set(point) for point in run_record["curve"])
    assert plot.read_bytes().startswith(PNG)
    table = writing_markdown(result)
    assert len(table.splitlines()) == 4 + len(METHODS) and "| EBMM write (T = 2) | – | 2 |" in table


@pytest.mark.parametrize("name", ["fast_writing", "fast_writing_peel"])
def test_readme_tables_match_the_results_files(name: str) -> None:
    from ebmm.checkpoint import load_json

    root = Path(__file__).resolve().parents[2]
    result = load_json(root / "results" / f"{name}.json")
    assert writing_markdown(result) in (root / "docs" / "results" / "writing.md").read_text()
    assert not result["git_revision"].endswith("+dirty")
