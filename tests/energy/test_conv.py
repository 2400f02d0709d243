"""ebmm.energy.conv: memory sizes of docs/method.md#energies-shipped, shapes, per-image independence, gradients,
the reconstruct head's formula, argument errors, the energies inside an EnergyMemory, and the shipped conv
checkpoints (saved before heads were parts of their own) loading with their energies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ebmm.build import load_memory
from ebmm.checkpoint import load_tensors
from ebmm.energy.base import count_floats, writable_names
from ebmm.energy.conv import ConvEnergy, FCEnergy, imagenet64_energy
from ebmm.energy.heads import GatedHead, ReconstructHead
from ebmm.energy.registry import build_energy
from ebmm.memory import EnergyMemory, MemoryState
from ebmm.rules import ReadRule, WriteRule

SHAPE = (1, 8, 8)
REPO = Path(__file__).resolve().parents[2]
CONV_CHECKPOINTS = [folder for folder in sorted((REPO / "checkpoints").iterdir())
                    if (folder / "config.json").is_file()
                    and json.loads((folder / "config.json").read_text())["model"].get("energy") == "conv"]


def memory_floats(energy: torch.nn.Module) -> int:
    writable = set(writable_names(energy))
    return count_floats({n: p for n, p in energy.named_parameters() if n in writable})


def tiny(head: str = "reconstruct", pixel_weights: bool = True, **kwargs) -> ConvEnergy:
    """A ConvEnergy on 1×8×8 images: one ResBlock (8 → 4) and a downsampling bottleneck (4 → 2); the
    head's options among ``kwargs`` go into its spec."""
    options = {key: kwargs.pop(key) for key in ("weight_floor", "residual_power", "hops", "hidden") if key in kwargs}
    spec = {"kind": head, **({"pixel_weights": pixel_weights} if head == "reconstruct" else {"readout": 8}), **options}
    settings_ = dict(shape=SHAPE, channels=(4,), bottleneck_mid=4, bottleneck_out=6, memory_width=2,
                     downsample=(False, True), head=spec)
    settings_.update(kwargs)
    return ConvEnergy(**settings_)


# ---------------------------------------------------------------- memory sizes (docs/method.md#energies-shipped)


@pytest.mark.parametrize("d, floats", [(2, 2304), (4, 4608), (8, 9216), (14, 16128)])
def test_conv_memory_floats_match_method(d: int, floats: int) -> None:
    assert floats == 2 * 3 * 3 * 64 * d
    torch.manual_seed(0)
    paper = ConvEnergy(memory_width=d)
    narrow = ConvEnergy(memory_width=d, channels=(16, 32), static_filters=32 - d,
                        head={"kind": "reconstruct", "pixel_weights": True})
    for energy in (paper, narrow):
        assert memory_floats(energy) == floats
        assert writable_names(energy) == [
            "encoder.bottlenecks.0.split.memory.weight", "encoder.bottlenecks.1.split.memory.weight",
        ]
        for block in energy.encoder.bottlenecks:
            assert block.split.memory.weight.shape == (d, 64, 3, 3)
            assert block.split.memory.bias is None
    assert narrow.encoder.bottlenecks[0].split.static.out_channels == 32 - d
    assert paper.encoder.bottlenecks[0].split.static.out_channels == 128 - d


def test_only_writable_filters_keep_the_memory_size() -> None:
    torch.manual_seed(0)
    energy = tiny(static_filters=0)
    assert energy.encoder.bottlenecks[0].split.static is None and energy.encoder.out_channels == 2
    assert memory_floats(energy) == 2 * 3 * 3 * 4 * 2
    assert energy(torch.rand(3, *SHAPE)).shape == (3,)


@pytest.mark.parametrize("d, floats", [(12, 3072), (64, 16384)])
def test_fc_memory_floats_match_method(d: int, floats: int) -> None:
    energy = FCEnergy(memory_width=d)
    assert memory_floats(energy) == floats == 256 * d
    assert writable_names(energy) == ["memory.weight"]
    assert energy.static.out_features == 512 - d


def test_imagenet64_memory_floats() -> None:
    torch.manual_seed(0)
    energy = imagenet64_energy()
    assert energy.shape == (3, 64, 64)
    assert memory_floats(energy) == 2 * 3 * 3 * 128 * 8 == 18_432
    out = energy(torch.rand(1, 3, 64, 64))
    assert out.shape == (1,) and torch.isfinite(out).all()


def test_imagenet64_gated_head_defaults_to_hidden_256_unless_its_spec_says() -> None:
    torch.manual_seed(0)
    small = dict(shape=(3, 16, 16), memory_width=2)
    assert imagenet64_energy(**small).head.hops.hidden == 256
    tuned = imagenet64_energy(**small, head={"kind": "gated", "hops": 1})
    assert tuned.head.hops.hidden == 256 and tuned.head.hops.hops == 1
    assert imagenet64_energy(**small, head={"kind": "gated", "hidden": 8}).head.hops.hidden == 8
    rebuilt = imagenet64_energy(**small, head="reconstruct")
    assert rebuilt.head_kind == "reconstruct" and rebuilt(torch.rand(2, 3, 16, 16)).shape == (2,)


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: ConvEnergy(memory_width=2), (1, 32, 32)),
        (lambda: ConvEnergy(shape=(3, 32, 32), memory_width=4, channels=(16, 32), static_filters=28,
                            head={"kind": "reconstruct", "pixel_weights": True}), (3, 32, 32)),
        (lambda: FCEnergy(memory_width=12), (1, 32, 32)),
    ],
    ids=["conv-gated", "conv-reconstruct", "fc"],
)
def test_forward_returns_one_finite_energy_per_image(make, shape) -> None:
    torch.manual_seed(0)
    energy = make()
    out = energy(torch.rand(2, 3, *shape))
    assert out.shape == (2, 3)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    assert energy(torch.rand(*shape)).shape == ()


@settings(max_examples=10, deadline=None)
@given(lead=st.lists(st.integers(1, 3), min_size=0, max_size=3), head=st.sampled_from(["gated", "reconstruct"]))
def test_tiny_energy_any_leading_dims(lead: list[int], head: str) -> None:
    torch.manual_seed(0)
    energy = tiny(head)
    out = energy(torch.rand(*lead, *SHAPE))
    assert out.shape == tuple(lead) and torch.isfinite(out).all()


def test_reconstruction_has_the_image_shape_and_range() -> None:
    torch.manual_seed(0)
    energy = tiny()
    x = torch.rand(2, 3, *SHAPE)
    r = energy.reconstruct(x)
    assert r.shape == x.shape
    assert (r > 0).all() and (r < 1).all()


# ---------------------------------------------------------------- per-image independence


@pytest.mark.parametrize(
    "make",
    [lambda: tiny("gated"), lambda: tiny("reconstruct"), lambda: FCEnergy(shape=(1, 16, 16), memory_width=4,
                                                                          channels=(4, 4), code=16, width=24,
                                                                          readout=8)],
    ids=["gated", "reconstruct", "fc"],
)
def test_energy_of_an_image_ignores_the_rest_of_the_batch(make) -> None:
    torch.manual_seed(0)
    energy = make()
    shape = energy.shape
    batch = torch.rand(5, *shape)
    other = batch.clone()
    other[1:] = torch.rand(4, *shape)  # same first image, different companions
    with torch.no_grad():
        alone = energy(batch[:1])
        together = energy(batch)
        with_others = energy(other)
        reordered = energy(batch.flip(0))
    torch.testing.assert_close(together[:1], alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(with_others[0], together[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(reordered.flip(0), together, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("head, pixel_weights", [("reconstruct", True), ("reconstruct", False), ("gated", False)])
def test_input_gradient_passes_gradcheck(head: str, pixel_weights: bool) -> None:
    torch.manual_seed(0)
    energy = tiny(head, pixel_weights).double()
    x = torch.rand(2, *SHAPE, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: energy(x), (x,), eps=1e-6, atol=1e-5)


def test_input_gradient_passes_gradgradcheck() -> None:
    """The gradient-norm writing term differentiates ∇_x E again."""
    torch.manual_seed(0)
    energy = tiny("reconstruct", True).double()
    x = torch.rand(1, *SHAPE, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda x: energy(x), (x,), eps=1e-6, atol=1e-4)


# ---------------------------------------------------------------- the reconstruct head's formula


@pytest.mark.parametrize("floor", [0.0, 0.05, 0.5])
def test_reconstruct_head_with_pixel_weights_matches_hand_computation(floor: float) -> None:
    torch.manual_seed(0)
    energy = tiny("reconstruct", True, weight_floor=floor)
    x = torch.rand(2, 3, *SHAPE)
    with torch.no_grad():
        r = energy.reconstruct(x)
        w = energy.head.pixel_weights(x.reshape(-1, *SHAPE)).reshape(x.shape)
        expected = 0.5 * ((floor + (1 - floor) * torch.sigmoid(w)) * (x - r).pow(2)).flatten(2).sum(-1)
        torch.testing.assert_close(energy(x), expected, atol=1e-5, rtol=1e-5)


def test_reconstruct_head_without_pixel_weights_is_half_squared_residual() -> None:
    torch.manual_seed(0)
    energy = tiny("reconstruct", False)
    assert energy.head.pixel_weights is None
    x = torch.rand(4, *SHAPE)
    with torch.no_grad():
        expected = 0.5 * (x - energy.reconstruct(x)).pow(2).flatten(1).sum(-1)
        torch.testing.assert_close(energy(x), expected, atol=1e-5, rtol=1e-5)
    assert (energy(x) >= 0).all()


@pytest.mark.parametrize("power", [1.5, 3.0, 4.0])
def test_reconstruct_head_residual_power(power: float) -> None:
    torch.manual_seed(0)
    energy = tiny("reconstruct", False, residual_power=power)
    x = torch.rand(4, *SHAPE)
    with torch.no_grad():
        expected = (x - energy.reconstruct(x)).abs().pow(power).flatten(1).sum(-1) / power
        torch.testing.assert_close(energy(x), expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="residual_power"):
        tiny("reconstruct", False, residual_power=0.5)


# ---------------------------------------------------------------- errors


def test_clear_errors() -> None:
    energy = tiny()
    with pytest.raises(ValueError, match=r"expected images of shape \(\.\.\., 1, 8, 8\)"):
        energy(torch.rand(2, 1, 8, 9))
    with pytest.raises(ValueError, match="expected images of shape"):
        energy(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match="expected images of shape"):
        FCEnergy(memory_width=4)(torch.rand(2, 1, 16, 16))
    with pytest.raises(ValueError, match="not divisible"):
        ConvEnergy(shape=(1, 30, 30))
    with pytest.raises(ValueError, match="not divisible"):
        tiny(shape=(1, 6, 8))
    with pytest.raises(ValueError, match="not divisible"):
        FCEnergy(shape=(1, 20, 20))
    with pytest.raises(ValueError, match=r"head.pixel_weights: not an option of the 'gated' head"):
        ConvEnergy(head={"kind": "gated", "pixel_weights": True})
    with pytest.raises(ValueError, match="memory_width"):
        ConvEnergy(memory_width=0)
    with pytest.raises(ValueError, match="memory_width"):
        FCEnergy(memory_width=0)
    with pytest.raises(ValueError, match="memory_width"):
        FCEnergy(memory_width=512)
    with pytest.raises(ValueError, match="head must be one of.*'transformer'"):
        ConvEnergy(head="transformer")
    with pytest.raises(ValueError, match=r"shape must be \(C, H, W\)"):
        ConvEnergy(shape=(32, 32))
    with pytest.raises(ValueError, match="weight_floor"):
        ConvEnergy(head={"kind": "reconstruct", "pixel_weights": True, "weight_floor": 1.0})
    with pytest.raises(ValueError, match="exceed"):
        ConvEnergy(memory_width=200)
    with pytest.raises(ValueError, match="hops"):
        ConvEnergy(head={"kind": "gated", "hops": 0})
    with pytest.raises(ValueError, match="reconstruct\\(\\) needs head='reconstruct'; this energy's head is 'gated'"):
        tiny("gated").reconstruct(torch.rand(1, *SHAPE))
    with pytest.raises(TypeError, match="pixel_weights"):  # the old flat spelling is the config loader's to upgrade
        ConvEnergy(head="reconstruct", pixel_weights=True)


# ---------------------------------------------------------------- inside EnergyMemory


def tiny_memory(head: str = "reconstruct", terms: tuple[str, ...] = ("energy", "prior")) -> EnergyMemory:
    return EnergyMemory(tiny(head), SHAPE,
                        write=WriteRule(steps=2, terms=list(terms), rate_init=(0.05, 0.001, 0.001)),
                        read=ReadRule(steps=3))


@pytest.mark.parametrize(
    "head, terms",
    [("reconstruct", ("energy", "prior")), ("reconstruct", ("energy", "gradnorm", "prior")), ("gated", ("energy", "prior"))],
)
def test_batched_episodes_match_one_episode_at_a_time(head: str, terms: tuple[str, ...]) -> None:
    torch.manual_seed(0)
    memory = tiny_memory(head, terms)
    patterns, queries = torch.rand(2, 3, *SHAPE), torch.rand(2, 3, *SHAPE)
    state = memory.write(patterns)  # vmap over the two memories
    out = memory.read(queries, state)
    assert state.batch_size == 2 and state.floats() == memory.memory_floats() == 2 * 9 * 4 * 2
    assert out.patterns.shape == queries.shape
    for b in range(2):
        single = memory.write(patterns[b : b + 1])  # the one-memory path (no vmap)
        for name, value in state.fast.items():
            torch.testing.assert_close(single.fast[name][0], value[b], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(memory.read(queries[b : b + 1], single).patterns[0], out.patterns[b],
                                   atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(memory.energies(single, queries[b : b + 1])[0],
                                   memory.energies(state, queries)[b], atol=1e-5, rtol=1e-5)


def test_a_write_lowers_the_energy_of_the_stored_images() -> None:
    torch.manual_seed(0)
    memory = tiny_memory()
    batch = 2
    patterns = torch.rand(batch, 4, *SHAPE)
    state = memory.write(patterns)
    unwritten = MemoryState({n: p.detach().unsqueeze(0).expand(batch, *p.shape)
                             for n, p in memory.initial_fast_weights().items()})
    with torch.no_grad():
        before = memory.energies(unwritten, patterns)
        after = memory.energies(state, patterns)
    assert before.shape == after.shape == (batch, 4)
    assert after.mean() < before.mean()
    for name, value in state.fast.items():  # only the writable filters changed, and they did
        assert not torch.equal(value, unwritten.fast[name])


def test_meta_gradient_reaches_every_parameter() -> None:
    torch.manual_seed(0)
    memory = tiny_memory()
    patterns = torch.rand(2, 3, *SHAPE)
    queries = patterns.clone()
    queries[..., :4, :4] = torch.rand(2, 3, 1, 4, 4)
    loss = memory(patterns, queries, "second_order")
    loss.backward()
    assert torch.isfinite(loss)
    for name, parameter in memory.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    assert memory.energy.encoder.bottlenecks[0].split.memory.weight.grad.abs().sum() > 0


# ---------------------------------------------------------------- registry


def test_registry_builds_the_image_energies() -> None:
    torch.manual_seed(0)
    conv = build_energy("conv", shape=(1, 32, 32), memory_width=2)
    assert isinstance(conv, ConvEnergy) and memory_floats(conv) == 2304 and conv.head_kind == "gated"
    narrow = build_energy("conv", shape=(3, 32, 32), memory_width=8, channels=[16, 32], bottleneck_mid=64,
                          static_filters=24, head={"kind": "reconstruct", "pixel_weights": True, "weight_floor": 0.05})
    assert narrow.head_kind == "reconstruct" and narrow.head.pixel_weights is not None
    assert memory_floats(narrow) == 9216 and narrow.shape == (3, 32, 32)
    fc = build_energy("fc", shape=(1, 32, 32), memory_width=12)
    assert isinstance(fc, FCEnergy) and memory_floats(fc) == 3072
    big = build_energy("conv_imagenet64", memory_width=8)
    assert isinstance(big, ConvEnergy) and memory_floats(big) == 18_432
    assert memory_floats(build_energy("conv_imagenet64", memory_width=2)) == 2 * 3 * 3 * 128 * 2
    with pytest.raises(ValueError, match="bad arguments for energy 'conv'"):
        build_energy("conv", shape=(1, 32, 32), dim=8)
    with pytest.raises(ValueError, match="bad arguments for energy 'conv_imagenet64'"):
        build_energy("conv_imagenet64", bogus=1)
    with pytest.raises(ValueError, match="not divisible"):
        build_energy("conv", shape=(1, 28, 28))
    with pytest.raises(ValueError, match=r"head.hop: not an option of the 'gated' head"):
        build_energy("conv", shape=(1, 32, 32), head={"kind": "gated", "hop": 2})


def test_reconstruct_head_rejects_an_encoder_that_never_downsamples() -> None:
    with pytest.raises(ValueError, match="downsamples"):
        ConvEnergy(shape=(1, 8, 8), channels=(), downsample=(False, False), head="reconstruct",
                   bottleneck_mid=4, bottleneck_out=6, memory_width=2)


# ---------------------------------------------------------------- the head as a part; checkpoints saved before


def test_the_head_is_a_submodule_and_its_parameters_follow_the_encoders() -> None:
    gated, rebuilt = tiny("gated"), tiny("reconstruct")
    assert isinstance(gated.head, GatedHead) and isinstance(rebuilt.head, ReconstructHead)
    for energy, parts in ((gated, ("hops", "readout", "out")), (rebuilt, ("decoder", "pixel_weights"))):
        names = [name for name, _ in energy.named_parameters()]
        heads = [name.split(".")[1] for name in names if name.startswith("head.")]
        assert names[: len(names) - len(heads)] == [n for n in names if n.startswith("encoder.")]
        assert list(dict.fromkeys(heads)) == list(parts)


@pytest.mark.parametrize("head", ["gated", "reconstruct"])
def test_a_state_dict_with_the_old_top_level_head_names_loads(head: str) -> None:
    """Before heads were modules, their parts sat at the energy's top level (``readout.weight``)."""
    torch.manual_seed(0)
    trained = tiny(head)
    old = {name.removeprefix("head."): value.clone() for name, value in trained.state_dict().items()}
    assert any(name.startswith(("readout.", "decoder.")) for name in old)
    torch.manual_seed(1)
    fresh = tiny(head)
    fresh.load_state_dict(old)  # strict: every old name lands on a parameter
    x = torch.rand(3, *SHAPE)
    with torch.no_grad():
        assert not torch.equal(tiny(head)(x), trained(x))  # a fresh build differs: the load did the work
        torch.testing.assert_close(fresh(x), trained(x), atol=0, rtol=0)
    inside = EnergyMemory(tiny(head), SHAPE)  # under a prefix, as in a checkpoint of a whole memory
    inside.load_state_dict({**{f"energy.{n}": v for n, v in old.items()},
                            **{n: v for n, v in inside.state_dict().items() if not n.startswith("energy.")}})
    torch.testing.assert_close(inside.energy.head.state_dict(), trained.head.state_dict(), atol=0, rtol=0)


def _old_energy_args(saved: dict) -> tuple[dict, dict]:
    """A conv checkpoint's saved flat ``energy_args``, read by hand: the encoder's arguments and the head spec."""
    head_keys = {"hidden", "hops", "readout", "pixel_weights", "weight_floor", "residual_power"}
    encoder = {k: v for k, v in saved.items() if k not in head_keys | {"head"}}
    return encoder, {"kind": saved.get("head", "gated"), **{k: v for k, v in saved.items() if k in head_keys}}


def test_the_shipped_conv_checkpoints_are_found() -> None:
    assert len(CONV_CHECKPOINTS) >= 9
    assert any("quartic" in folder.name for folder in CONV_CHECKPOINTS)


@pytest.mark.parametrize("folder", CONV_CHECKPOINTS, ids=[folder.name for folder in CONV_CHECKPOINTS])
def test_a_shipped_conv_checkpoint_loads_with_its_energies(folder: Path) -> None:
    """``load_memory`` (the legacy config upgrade and the state-dict renames) gives the energies of the same
    weights put by hand into an energy built from the saved arguments."""
    saved = json.loads((folder / "config.json").read_text())["model"]
    assert "head" in saved["energy_args"] and not isinstance(saved["energy_args"]["head"], dict)  # the old spelling
    memory, config = load_memory(folder)
    shape = tuple(config.model.pattern_shape)
    encoder, head = _old_energy_args(saved["energy_args"])
    assert config.model.energy_args["head"] == head
    fresh = ConvEnergy(shape=shape, **encoder, head=head)
    tensors = {name.removeprefix("energy."): value for name, value in load_tensors(folder / "model.safetensors").items()
               if name.startswith("energy.")}
    fresh.encoder.load_state_dict({n.removeprefix("encoder."): v for n, v in tensors.items() if n.startswith("encoder.")})
    fresh.head.load_state_dict({n: v for n, v in tensors.items() if not n.startswith("encoder.")})  # old top-level names
    assert memory.energy.head.residual_power == head.get("residual_power", 2.0)
    x = torch.rand(2, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(memory.energy(x), fresh(x), atol=0, rtol=0)
