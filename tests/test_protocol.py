"""ebmm.protocol: EnergyMemory and every learned baseline are one ``TrainableMemory``, called alike.

The trainer's own runs over both kinds (EBMM and each learned baseline, train + resume + load) are
in tests/test_train.py; here: the protocol at runtime, the calls the trainer, ``tasks.evaluate``
and checkpoints make, and the gradient options a learned baseline refuses instead of ignoring.
"""

from __future__ import annotations

import pytest
import torch

from ebmm.baselines import BASELINES, LEARNED, build_learned
from ebmm.build import build_memory
from ebmm.config import EBMMConfig
from ebmm.protocol import DEFAULT_GRADIENTS, AssociativeMemory, Retrieval, TrainableMemory

DIM = 16


def ebmm_memory() -> TrainableMemory:
    return build_memory(EBMMConfig(energy="autoencoder", energy_args={"hidden": 4}, pattern_shape=[DIM],
                                    write_steps=2, read_steps=2))


def learned_memory(name: str) -> TrainableMemory:
    return build_learned(name, (DIM,), code=8, budget=64, codec={"hidden": 8})


def episodes(count: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    patterns = (torch.rand(2, count, DIM, generator=generator) > 0.5).float()
    return patterns, (patterns + 0.3 * torch.rand(2, count, DIM, generator=generator)).clamp(0, 1)


MEMORIES = {"ebmm": ebmm_memory, **{name: (lambda name=name: learned_memory(name)) for name in LEARNED}}


@pytest.mark.parametrize("name", sorted(MEMORIES))
def test_every_trainable_memory_satisfies_the_protocol(name: str) -> None:
    memory = MEMORIES[name]()
    assert isinstance(memory, TrainableMemory) and isinstance(memory, AssociativeMemory)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_untrained_baselines_are_memories_but_not_trainable(name: str) -> None:
    memory = BASELINES[name]()
    assert isinstance(memory, AssociativeMemory) and not isinstance(memory, TrainableMemory)


@pytest.mark.parametrize("name", sorted(MEMORIES))
def test_the_trainers_calls_work_alike(name: str) -> None:
    torch.manual_seed(0)
    memory = MEMORIES[name]()
    patterns, queries = episodes()
    loss, state, out = memory.episode_loss(patterns, queries, **DEFAULT_GRADIENTS)
    assert loss.dim() == 0 and torch.isfinite(loss) and out.patterns.shape == patterns.shape
    loss.backward()
    assert any(p.grad is not None for p in memory.parameters())
    with torch.no_grad():  # tasks.evaluate
        read = memory.read(queries, memory.write(patterns))
    assert isinstance(read, Retrieval) and read.patterns.shape == patterns.shape
    assert memory.memory_floats(state) > 0
    copy = MEMORIES[name]()  # a checkpoint round trip
    copy.load_state_dict(memory.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(copy.state_dict().values(), memory.state_dict().values(), strict=True))
    assert copy.to("cpu") is copy


@pytest.mark.parametrize("name", sorted(MEMORIES))
def test_keep_iterates_is_one_keyword_for_both(name: str) -> None:
    memory = MEMORIES[name]()
    patterns, queries = episodes()
    out = memory.read(queries, memory.write(patterns), keep_iterates=True)  # type: ignore[call-arg]
    assert out.iterates and out.iterates[-1].shape == patterns.shape


@pytest.mark.parametrize("name", sorted(LEARNED))
@pytest.mark.parametrize("option, value", [("mode", "first_order"), ("mode", "truncated"), ("truncate", 1),
                                           ("checkpoint", True)])
def test_learned_baselines_refuse_gradient_options_they_cannot_use(name: str, option: str, value: object) -> None:
    memory = learned_memory(name)
    patterns, queries = episodes()
    with pytest.raises(ValueError, match=f"no write steps to differentiate.*{option}={value!r}"):
        memory.episode_loss(patterns, queries, **{**DEFAULT_GRADIENTS, option: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(LEARNED))
def test_learned_read_takes_no_ebmm_read_options(name: str) -> None:
    memory = learned_memory(name)
    patterns, queries = episodes()
    with pytest.raises(TypeError):
        memory.read(queries, memory.write(patterns), mode="second_order")  # type: ignore[call-arg]


def test_ebmm_keeps_its_gradient_options() -> None:
    torch.manual_seed(0)
    memory = ebmm_memory()
    patterns, queries = episodes()
    plain = memory.episode_loss(patterns, queries, **DEFAULT_GRADIENTS)[0]
    for options in ({"mode": "first_order"}, {"mode": "truncated", "truncate": 1}, {"checkpoint": True}):
        loss = memory.episode_loss(patterns, queries, **{**DEFAULT_GRADIENTS, **options})[0]  # type: ignore[arg-type]
        torch.testing.assert_close(loss, plain)  # the same loss; only its gradient differs
