"""The straightforward reference meta-loss agrees with the library's batched second-order one."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import torch
from torch import nn

from ebmm.bench.naive import naive_episode_loss
from ebmm.energy import AutoencoderEnergy, GatedRNNEnergy, SignSlotEnergy, SlotEnergy
from ebmm.memory import WRITE_TERMS, EnergyMemory
from ebmm.rules import ReadRule, WriteRule

DIM, EPISODES, PATTERNS = 8, 2, 3


def _memory(energy: nn.Module, write_terms: Sequence[str] = WRITE_TERMS, reduction: str = "mean") -> EnergyMemory:
    return EnergyMemory(energy, (DIM,),
                        write=WriteRule(steps=2, terms=write_terms, rate_init=(0.05, 0.05, 0.05), reduction=reduction),
                        read=ReadRule(steps=3, step_init=0.2, momentum_init=0.5)).double()


def _episodes(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    patterns = torch.randint(0, 2, (EPISODES, PATTERNS, DIM), generator=generator).double()
    flip = torch.rand(EPISODES, PATTERNS, DIM, generator=generator, dtype=torch.float64) < 0.3
    return patterns, torch.where(flip, 1.0 - patterns, patterns)


def _grads(loss: torch.Tensor, memory: EnergyMemory) -> list[torch.Tensor]:
    params = list(memory.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True, retain_graph=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]


CASES: dict[str, tuple[Callable[[], nn.Module], tuple[str, ...], str]] = {
    "autoencoder": (lambda: AutoencoderEnergy(dim=DIM, hidden=3), WRITE_TERMS, "mean"),
    "gated_rnn": (lambda: GatedRNNEnergy(dim=DIM, hidden=12, memory_width=3, hops=2), WRITE_TERMS, "mean"),
    "autoencoder_no_gradnorm": (lambda: AutoencoderEnergy(dim=DIM, hidden=3), ("energy", "prior"), "mean"),
    "slots_sum": (lambda: SlotEnergy(dim=DIM, slots=4, beta_init=2.0, init_scale=0.3), WRITE_TERMS, "sum"),
    "peeling_sum": (lambda: SignSlotEnergy(dim=DIM, slots=3, levels=2, beta_init=1.0), WRITE_TERMS, "sum"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_naive_matches_library_second_order(case: str) -> None:
    torch.manual_seed(0)
    make_energy, terms, reduction = CASES[case]
    memory = _memory(make_energy(), terms, reduction)
    patterns, queries = _episodes(1)

    # Writing must actually move the fast weights, or the write terms would go untested.
    state = memory.write(patterns)
    moved = max(float((state.fast[n] - v.detach()).abs().max()) for n, v in memory.initial_fast_weights().items())
    assert moved > 1e-3

    library, _, _ = memory.episode_loss(patterns, queries, "second_order")
    naive = naive_episode_loss(memory, patterns, queries)
    assert naive.dtype == torch.float64 and naive.dim() == 0
    torch.testing.assert_close(naive, library, rtol=0.0, atol=1e-8)

    names = [name for name, _ in memory.named_parameters()]
    for name, g_naive, g_library in zip(names, _grads(naive, memory), _grads(library, memory), strict=True):
        torch.testing.assert_close(g_naive, g_library, rtol=1e-6, atol=1e-6, msg=lambda m, name=name: f"{name}: {m}")
        assert torch.isfinite(g_naive).all()
    # The meta-gradient reaches the write rates and the initial fast weights.
    grads = dict(zip(names, _grads(naive, memory), strict=True))
    assert float(grads["write_rate_raw"].abs().sum()) > 0
    assert float(grads["energy.memory.weight"].abs().sum()) > 0


def test_naive_rejects_mismatched_queries() -> None:
    memory = _memory(AutoencoderEnergy(dim=DIM, hidden=3))
    patterns, queries = _episodes(2)
    with pytest.raises(ValueError, match="queries must match"):
        naive_episode_loss(memory, patterns, queries[:, :2])


@pytest.mark.parametrize("case", ["autoencoder", "gated_rnn"])
def test_library_write_values_do_not_depend_on_grad_mode(case: str) -> None:
    """The written weights are the same numbers whichever gradient mode builds (or skips) the graph."""
    torch.manual_seed(0)
    memory = _memory(CASES[case][0]())
    patterns, _ = _episodes(3)
    reference = memory.write(patterns, "none").fast
    for mode, truncate in (("first_order", None), ("second_order", None), ("truncated", 1)):
        written = memory.write(patterns, mode, truncate=truncate, checkpoint=mode == "truncated").fast  # type: ignore[arg-type]
        for name, value in reference.items():
            torch.testing.assert_close(written[name].detach(), value, rtol=0.0, atol=1e-12)


GRADIENT_MODES = [("first_order", None, 0), ("truncated", 1, 1), ("truncated", 2, 2), ("second_order", None, 2)]


@pytest.mark.parametrize("case", ["gated_rnn", "peeling_sum", "autoencoder_no_gradnorm"])
@pytest.mark.parametrize("mode,truncate,differentiated", GRADIENT_MODES)
@pytest.mark.parametrize("checkpoint", [False, True])
def test_every_gradient_mode_matches_the_naive_reference(
    case: str, mode: str, truncate: int | None, differentiated: int, checkpoint: bool
) -> None:
    """First-order, truncated (last k of T = 2 write steps) and second-order meta-gradients, with
    and without gradient checkpointing, equal the naive loop that detaches the inner gradients of
    the first T − k steps."""
    torch.manual_seed(0)
    make_energy, terms, reduction = CASES[case]
    memory = _memory(make_energy(), terms, reduction)
    patterns, queries = _episodes(4)
    library, _, _ = memory.episode_loss(patterns, queries, mode, truncate=truncate, checkpoint=checkpoint)  # type: ignore[arg-type]
    naive = naive_episode_loss(memory, patterns, queries, differentiated_steps=differentiated)
    torch.testing.assert_close(naive, library, rtol=0.0, atol=1e-8)
    names = [name for name, _ in memory.named_parameters()]
    for name, g_naive, g_library in zip(names, _grads(naive, memory), _grads(library, memory), strict=True):
        torch.testing.assert_close(g_naive, g_library, rtol=1e-6, atol=1e-6, msg=lambda m, name=name: f"{name}: {m}")


def test_truncation_changes_the_meta_gradient() -> None:
    """The three depths of differentiation give three different meta-gradients (so the test above
    can tell them apart)."""
    torch.manual_seed(0)
    memory = _memory(CASES["gated_rnn"][0]())
    patterns, queries = _episodes(5)
    flat = []
    for mode, truncate in (("first_order", None), ("truncated", 1), ("second_order", None)):
        loss = memory(patterns, queries, mode, truncate=truncate)
        flat.append(torch.cat([g.flatten() for g in _grads(loss, memory)]))
    assert not torch.allclose(flat[0], flat[1], atol=1e-8)
    assert not torch.allclose(flat[1], flat[2], atol=1e-8)
