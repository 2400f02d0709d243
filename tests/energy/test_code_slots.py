"""CodeSlotEnergy: one string per free slot, exact codes, reads that fill in the query's bits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ebmm.energy.base import reading
from ebmm.energy.code_slots import CodeSlotEnergy
from ebmm.memory import EnergyMemory, MemoryState
from ebmm.quantize import quantize_state
from ebmm.rules import ReadRule, WriteRule


def memory(slots: int, code: int, dim: int = 32, novelty: float = 8.0) -> EnergyMemory:
    torch.manual_seed(0)
    energy = CodeSlotEnergy(dim=dim, slots=slots, code=code, novelty=novelty, priority=10.0)
    return EnergyMemory(energy, (dim,),
                        write=WriteRule(steps=1, terms=("energy",), rate_init=(1.0, 1e-4, 1e-4), reduction="sum", chunk=1),
                        read=ReadRule(steps=10, step_init=0.5, step_decay_init=0.999, momentum_init=0.01))


def strings(episodes: int, count: int, dim: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 2, (episodes, count, dim), generator=torch.Generator().manual_seed(seed)).float()


def meta_gradients(mem: EnergyMemory, loss: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    return torch.autograd.grad(loss, [p for p in mem.parameters() if p.requires_grad], allow_unused=True)


def assert_same_gradients(plain: tuple[torch.Tensor | None, ...], recomputed: tuple[torch.Tensor | None, ...]) -> None:
    for a, b in zip(plain, recomputed, strict=True):
        if a is None:
            assert b is None
        else:
            torch.testing.assert_close(a, b)


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


def closed_memory(close: bool) -> EnergyMemory:
    torch.manual_seed(0)
    energy = CodeSlotEnergy(dim=32, slots=8, code=32, novelty=8.0, priority=10.0, read_closes_free_slots=close)
    return EnergyMemory(energy, (32,),
                        write=WriteRule(steps=1, terms=("energy",), rate_init=(1.0, 1e-4, 1e-4), reduction="sum", chunk=1),
                        read=ReadRule(steps=10, step_init=0.5, step_decay_init=0.999, momentum_init=0.01))


def test_closing_free_slots_at_read_stops_free_slot_capture() -> None:
    # 10 flipped bits put a query 0.5·4·10 = 20 from its own slot, above b = 8: with the free slots
    # open the query settles on a free slot and comes back unchanged; closed, it is recalled exactly.
    patterns = strings(2, 2, seed=4)
    queries = patterns.clone()
    queries[..., :10] = 1 - queries[..., :10]
    for close, expected_errors in ((False, 10.0), (True, 0.0)):
        mem = closed_memory(close)
        state = mem.write(patterns)
        assert int(mem.energy.written().sum()) == 0  # type: ignore[operator]  # θ̄ itself: nothing written
        read = mem.read(queries, state).patterns
        errors = ((read > 0.5) != (patterns > 0.5)).float().sum(-1)
        assert torch.equal(errors, torch.full_like(errors, expected_errors))


def test_closed_slots_change_only_reads_and_only_free_slots() -> None:
    energy = CodeSlotEnergy(dim=16, slots=3, code=8, novelty=5.0, priority=2.0, read_closes_free_slots=True)
    x = torch.rand(4, 16)
    unwritten = energy(x)
    with reading(energy):  # nothing written: nothing to close, the energy is unchanged (and finite)
        torch.testing.assert_close(energy(x), unwritten)
    with torch.no_grad():
        energy.memory.weight[1] = 3.0
    open_energy = energy(x)
    beta = energy.log_beta.exp()
    with reading(energy):
        closed = energy(x)
    assert energy.reading is False  # restored after the block
    torch.testing.assert_close(closed, energy.scores(x)[:, 1])  # only the written slot is left
    assert (open_energy < closed).all()  # the open energy also counts the free slots
    torch.testing.assert_close(open_energy, -torch.logsumexp(-beta * energy.scores(x), -1) / beta)


def test_checkpointed_read_closes_the_same_slots_when_it_recomputes() -> None:
    patterns = strings(2, 3, seed=5)
    queries = patterns.clone()
    queries[..., :10] = 1 - queries[..., :10]
    grads = []
    for use_checkpoint in (False, True):
        mem = closed_memory(True)
        state = mem.write(patterns, "second_order")
        out = mem.read(queries, state, "second_order", checkpoint=use_checkpoint).patterns
        loss = (out - patterns).pow(2).sum()
        grads.append(meta_gradients(mem, loss))
    assert_same_gradients(*grads)


def test_read_closes_free_slots_must_be_a_bool() -> None:
    with pytest.raises(ValueError, match="read_closes_free_slots"):
        CodeSlotEnergy(read_closes_free_slots="yes")  # type: ignore[arg-type]


def episode_memory(slots: int = 6, code: int = 32, dim: int = 64) -> EnergyMemory:
    torch.manual_seed(0)
    # b = 4: far below any two strings' score (≥ 17 here), so nothing leaks into a written slot; reads
    # close the free slots, so b does not limit them
    energy = CodeSlotEnergy(dim=dim, slots=slots, code=code, novelty=4.0, priority=10.0,
                            read_closes_free_slots=True, layout="per_episode")
    return EnergyMemory(energy, (dim,),
                        write=WriteRule(steps=1, terms=("energy",), rate_init=(1.0, 1e-4, 1e-4), reduction="sum", chunk=1),
                        read=ReadRule(steps=10, step_init=0.5, step_decay_init=0.999, momentum_init=0.01))


def test_per_episode_layout_shares_the_floats_among_the_episodes_strings() -> None:
    energy = CodeSlotEnergy(dim=128, slots=96, code=86, layout="per_episode")
    assert energy.memory.weight.shape == (8256,)  # the fixed layout's 96 × 86 floats
    torch.testing.assert_close(energy.projection @ energy.projection.T, torch.eye(128), atol=1e-4, rtol=0)
    assert energy.slot_layout(16) == (16, 128) and energy.slot_layout(64) == (64, 128)
    assert energy.slot_layout(96) == (96, 86) and energy.slot_layout(200) == (200, 41)
    assert energy.slot_layout() == (96, 86)  # no episode: the fixed layout's shape
    with pytest.raises(ValueError, match="between 1 and 8256 patterns"):
        energy.slot_layout(8257)
    with pytest.raises(ValueError, match="layout must be one of"):
        CodeSlotEnergy(layout="adaptive")


def test_per_episode_write_stores_full_codes_when_few_strings_are_written() -> None:
    mem = episode_memory()  # 192 floats: 3 strings get 64 floats each (every bit), 6 get 32
    for count, width in ((3, 64), (6, 32)):
        patterns = strings(2, count, dim=64, seed=count)
        state = mem.write(patterns)
        assert state.patterns == count and state.floats() == 192
        codes = state.fast["memory.weight"][:, : count * width].reshape(2, count, width)
        expected = (2 * patterns - 1) @ mem.energy.projection.detach()[:width].T  # type: ignore[index]
        torch.testing.assert_close(codes, expected, atol=1e-4, rtol=1e-4)
        assert torch.all(state.fast["memory.weight"][:, count * width:] == 0)  # floats no slot uses (3 × 64 < 192)


def test_per_episode_layout_recalls_what_a_fixed_layout_cannot() -> None:
    # 3 strings: the per-episode layout keeps all 64 bits of each, so a query recalls its string
    # exactly; the fixed layout's 32-float codes leave 32 directions to the corrupted query.
    patterns = strings(4, 3, dim=64, seed=7)
    queries = patterns.clone()
    queries[..., :8] = 1 - queries[..., :8]
    per_episode = episode_memory()
    read = per_episode.read(queries, per_episode.write(patterns)).patterns
    assert torch.equal(read > 0.5, patterns > 0.5)
    fixed = memory(slots=6, code=32, dim=64, novelty=12.0)
    fixed_read = fixed.read(queries, fixed.write(patterns)).patterns
    assert ((fixed_read > 0.5) != (patterns > 0.5)).any()


def test_per_episode_state_round_trips_its_pattern_count(tmp_path: Path) -> None:
    mem = episode_memory()
    state = mem.write(strings(1, 3, dim=64))
    state.save(tmp_path / "state.safetensors")
    loaded = MemoryState.load(tmp_path / "state.safetensors")
    assert loaded.patterns == 3 and state.detach().patterns == 3
    assert quantize_state(state, 8).patterns == 3
    queries = strings(1, 3, dim=64, seed=9)
    torch.testing.assert_close(mem.energies(loaded, queries), mem.energies(state, queries))
    # read under another layout (6 slots of 32 floats), the same floats mean other codes
    assert not torch.allclose(mem.energies(MemoryState(state.fast), queries), mem.energies(state, queries))


def test_checkpointed_per_episode_write_and_read_recompute_the_same_layout() -> None:
    patterns = strings(2, 3, dim=64, seed=5)
    queries = patterns.clone()
    queries[..., :8] = 1 - queries[..., :8]
    grads = []
    for use_checkpoint in (False, True):
        mem = episode_memory()
        loss = mem.episode_loss(patterns, queries, "second_order", checkpoint=use_checkpoint)[0]
        grads.append(meta_gradients(mem, loss))
    assert_same_gradients(*grads)


def test_a_fixed_layout_checkpoint_loads_into_the_per_episode_layout() -> None:
    fixed = CodeSlotEnergy(dim=16, slots=6, code=10, seed=3)
    with torch.no_grad():
        fixed.memory.weight.normal_()
    per_episode = CodeSlotEnergy(dim=16, slots=6, code=10, layout="per_episode")
    per_episode.load_state_dict(fixed.state_dict())
    torch.testing.assert_close(per_episode.projection[:10], fixed.projection)
    torch.testing.assert_close(per_episode.projection @ per_episode.projection.T, torch.eye(16), atol=1e-4, rtol=0)
    torch.testing.assert_close(per_episode.memory.weight, fixed.memory.weight.reshape(-1))
    x = torch.rand(5, 16)
    torch.testing.assert_close(per_episode(x), fixed(x))  # no episode: the same 6 codes of 10 floats


def test_write_gradients_called_alone_use_the_episode_of_its_patterns() -> None:
    mem = episode_memory()  # 1 string: 1 slot of 64 floats; the default layout is 6 slots of 32
    patterns = strings(1, 1, dim=64, seed=12)
    fast = {name: value.detach().unsqueeze(0).clone().requires_grad_() for name, value in mem.initial_fast_weights().items()}
    grads, _ = mem.write_gradients(fast, patterns, ["energy"])
    step = -grads["energy"][0][0]  # a free slot's gradient is m − z(x): one step at rate 1 stores the code
    codes = (2 * patterns[0] - 1) @ mem.energy.projection.detach().T  # type: ignore[operator]
    torch.testing.assert_close(step[:64], codes[0], atol=1e-3, rtol=1e-3)  # slot 0, all 64 directions
