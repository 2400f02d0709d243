"""CodecSlotEnergy: writes store each image's code in its own slot; reads repair the worst square."""

from __future__ import annotations

import pytest
import torch

from ebmm.energy.codec_slots import CodecSlotEnergy
from ebmm.energy.image_codecs import LinearCodec
from ebmm.linear_codec import fit_pca
from ebmm.memory import EnergyMemory
from ebmm.rules import ReadRule, WriteRule

SHAPE = (1, 8, 8)


def images(count: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(count, *SHAPE, generator=torch.Generator().manual_seed(seed)).round()


def memory_for(train: torch.Tensor, slots: int, code: int, **energy_args: float) -> EnergyMemory:
    energy = CodecSlotEnergy(SHAPE, slots=slots, code=code, window=3, **energy_args)  # type: ignore[arg-type]
    energy.initialise(train)
    alpha = energy.log_fit_weight.exp().item()
    lam = energy.log_correct_scale.exp().item()
    return EnergyMemory(energy, SHAPE,
                        write=WriteRule(steps=1, terms=("energy",), rate_init=(1 / alpha, 1e-4, 1e-4), reduction="sum", chunk=1),
                        read=ReadRule(steps=1, step_init=1 / (2 * lam), momentum_init=0.01))


def test_one_image_at_a_time_fills_the_slots_in_order_with_exact_codes() -> None:
    train = images(6)
    memory = memory_for(train, slots=6, code=8)
    patterns = train.unsqueeze(0)
    state = memory.write(patterns)
    codes = state.fast["memory.weight"][0]
    energy = memory.energy
    expected = energy.codec.encode(patterns[0])
    torch.testing.assert_close(codes, expected, atol=1e-4, rtol=1e-4)
    assert memory.memory_floats(state) == 6 * 8


def test_read_restores_a_corrupted_square_and_keeps_the_rest() -> None:
    train = images(5, seed=1)  # 5 images span 4 directions: the decoder holds them exactly
    memory = memory_for(train, slots=5, code=8)
    patterns = train.unsqueeze(0)
    queries = patterns.clone()
    queries[..., 2:5, 3:6] = 1 - queries[..., 2:5, 3:6]
    read = memory.read(queries, memory.write(patterns)).patterns
    assert ((read > 0.5) != (patterns > 0.5)).sum() == 0
    outside = torch.ones(8, 8, dtype=torch.bool)
    outside[2:5, 3:6] = False
    assert (read - queries)[..., outside].abs().max() < 0.1  # the rest of the query barely moves


def test_right_write_beats_unrelated_and_nothing_written() -> None:
    train = images(40, seed=2)
    memory = memory_for(train, slots=8, code=16)
    generator = torch.Generator().manual_seed(3)
    patterns = train[torch.randperm(40, generator=generator)[:16]].reshape(2, 8, *SHAPE)
    others = train[torch.randperm(40, generator=generator)[:16]].reshape(2, 8, *SHAPE)
    queries = patterns.clone()
    queries[..., 0:3, 0:3] = torch.rand(queries[..., 0:3, 0:3].shape, generator=generator)

    def errors(state: object) -> float:
        read = memory.read(queries, state).patterns  # type: ignore[arg-type]
        return float(((read > 0.5) != (patterns > 0.5)).float().sum(dim=(2, 3, 4)).mean())

    right, unrelated = errors(memory.write(patterns)), errors(memory.write(others))
    nothing = errors(memory.empty_state(2))
    assert right <= 0.7 * unrelated
    assert right < nothing


def test_free_slot_scores_steer_writes_and_carry_no_gradient() -> None:
    energy = CodecSlotEnergy(SHAPE, slots=4, code=3, window=3)
    codes = torch.zeros(4, 3)
    codes[1] = 1.0  # slot 1 written; slots 0, 2, 3 free
    energy.memory.weight.data.copy_(codes)
    assert energy.written().tolist() == [0.0, 1.0, 0.0, 0.0]
    scores = energy.scores(images(1)).detach()[0]
    priority = energy.log_priority.exp().item()
    assert scores[2] - scores[0] == pytest.approx(priority, rel=1e-5)  # the second free slot is ε worse
    assert scores[3] - scores[2] == pytest.approx(priority, rel=1e-5)
    energy.memory.weight.requires_grad_(True)
    (grad,) = torch.autograd.grad(energy(images(1)).sum(), energy.memory.weight)
    assert torch.isfinite(grad).all()


def test_energy_gradient_matches_finite_differences() -> None:
    torch.manual_seed(4)
    energy = CodecSlotEnergy(SHAPE, slots=3, code=4, window=3, kappa=0.5).double()
    energy.memory.weight.data = torch.randn(3, 4, dtype=torch.float64)
    x = torch.rand(2, *SHAPE, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: energy(v), (x,), eps=1e-6, atol=1e-5)


def test_initialise_uses_the_pca_basis() -> None:
    train = images(30, seed=5)
    energy = CodecSlotEnergy(SHAPE, slots=2, code=5, window=3)
    energy.initialise(train)
    mean, basis = fit_pca(train, 5)
    torch.testing.assert_close(energy.codec.decoder.data, basis)
    torch.testing.assert_close(energy.codec.mean.data, mean)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="shape must be"):
        CodecSlotEnergy((8, 8))
    with pytest.raises(ValueError, match="window must be"):
        CodecSlotEnergy(SHAPE, window=9)
    with pytest.raises(ValueError, match="correct_scale must be positive"):
        CodecSlotEnergy(SHAPE, window=3, correct_scale=0.0)
    with pytest.raises(ValueError, match="basis rows"):
        CodecSlotEnergy(SHAPE, code=2, window=3, codec=LinearCodec(SHAPE, 2, basis=torch.zeros(2, 10)))
    with pytest.raises(ValueError, match="expected images of shape"):
        CodecSlotEnergy(SHAPE, window=3)(torch.zeros(2, 1, 4, 4))
    with pytest.raises(ValueError, match="initialise needs images"):
        CodecSlotEnergy(SHAPE, window=3).initialise(torch.zeros(3, 1, 4, 4))


def test_fewer_images_than_slots_read_from_written_slots_only_when_free_slots_close() -> None:
    train = images(5, seed=1)
    patterns = train[:2].unsqueeze(0)  # 2 images in 5 slots: 3 free slots score b = -100 in the write
    queries = patterns.clone()
    queries[..., 2:5, 3:6] = 1 - queries[..., 2:5, 3:6]
    errors = {}
    for close in (False, True):
        memory = memory_for(train, slots=5, code=8, read_closes_free_slots=close)  # type: ignore[arg-type]
        read = memory.read(queries, memory.write(patterns)).patterns
        errors[close] = int(((read > 0.5) != (patterns > 0.5)).sum())
    assert errors == {False: 18, True: 0}  # open: the free slots (b far below) hold the read in place
