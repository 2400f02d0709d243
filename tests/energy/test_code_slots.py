"""CodeSlotEnergy: one string per free slot, exact codes, reads that fill in the query's bits."""

from __future__ import annotations

import pytest
import torch

from ebmm.energy.code_slots import CodeSlotEnergy
from ebmm.memory import EnergyMemory


def memory(slots: int, code: int, dim: int = 32, novelty: float = 8.0) -> EnergyMemory:
    torch.manual_seed(0)
    energy = CodeSlotEnergy(dim=dim, slots=slots, code=code, novelty=novelty, priority=10.0)
    return EnergyMemory(energy, (dim,), write_steps=1, read_steps=10, write_terms=["energy"],
                        write_rate_init=(1.0, 1e-4, 1e-4), write_reduction="sum", write_chunk=1,
                        read_step_init=0.5, read_step_decay_init=0.999, momentum_init=0.01)


def strings(episodes: int, count: int, dim: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 2, (episodes, count, dim), generator=torch.Generator().manual_seed(seed)).float()


def test_each_string_gets_its_own_slot_and_its_exact_code() -> None:
    mem = memory(slots=6, code=48, dim=64, novelty=16.0)  # strings ≈ 48 apart in score: no leaks
    patterns = strings(2, 4, dim=64)
    codes = mem.write(patterns).fast["memory.weight"]
    projection = mem.energy.projection.detach()  # type: ignore[union-attr]
    expected = (2 * patterns - 1) @ projection.T
    torch.testing.assert_close(codes[:, :4], expected, atol=1e-4, rtol=1e-4)
    assert codes[:, 4:].abs().max() < 1e-3  # the two slots left over stay free (only e^{-ε} leaks)


def test_full_codes_recall_corrupted_strings_exactly() -> None:
    mem = memory(slots=8, code=32)  # code = dim: the codes hold every bit
    patterns = strings(3, 8, seed=1)
    queries = patterns.clone()
    queries[..., :6] = 1 - queries[..., :6]  # 6 of 32 bits flipped
    read = mem.read(queries, mem.write(patterns)).patterns
    assert torch.equal(read > 0.5, patterns > 0.5)


def test_right_write_beats_unrelated_and_nothing() -> None:
    mem = memory(slots=8, code=24)
    patterns, others = strings(4, 8, seed=2), strings(4, 8, seed=3)
    queries = patterns.clone()
    queries[..., :5] = 1 - queries[..., :5]

    def errors(state: object) -> float:
        read = mem.read(queries, state).patterns  # type: ignore[arg-type]
        return float(((read > 0.5) != (patterns > 0.5)).float().sum(-1).mean())

    right = errors(mem.write(patterns))
    assert right <= 0.7 * errors(mem.write(others))
    assert right < errors(mem.empty_state(4))


def test_a_free_slot_scores_every_pattern_alike_and_pulls_nothing() -> None:
    energy = CodeSlotEnergy(dim=16, slots=3, code=8, novelty=5.0, priority=2.0)
    x = torch.rand(4, 16, requires_grad=True)
    scores = energy.scores(x)
    torch.testing.assert_close(scores, torch.tensor([5.0, 7.0, 9.0]).expand(4, 3))
    (grad,) = torch.autograd.grad(energy(x).sum(), x)
    assert grad.abs().max() < 1e-5  # nothing written: the energy is flat in x


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="code"):
        CodeSlotEnergy(dim=8, code=9)
    with pytest.raises(ValueError, match="slots must be a positive int"):
        CodeSlotEnergy(slots=0)
    with pytest.raises(ValueError, match="expected patterns of 16"):
        CodeSlotEnergy(dim=16, code=4).scores(torch.zeros(2, 8))
