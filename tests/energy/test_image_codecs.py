"""Image codecs: the linear codec inverts itself on its span; the conv codec learns to autoencode."""

from __future__ import annotations

import pytest
import torch

from ebmm.energy.codec_slots import CodecSlotEnergy
from ebmm.energy.image_codecs import ConvCodec, LinearCodec
from ebmm.rules import ReadRule, WriteRule

SHAPE = (1, 8, 8)


def binary_images(count: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(count, *SHAPE, generator=torch.Generator().manual_seed(seed)).round()


def test_linear_codec_started_from_pca_decodes_its_own_codes_exactly() -> None:
    images = binary_images(5)  # 5 images span 4 directions around their mean
    codec = LinearCodec(SHAPE, code=6)
    codec.initialise(images)
    torch.testing.assert_close(codec.decode(codec.encode(images)), images, atol=1e-5, rtol=0)


def test_conv_codec_training_lowers_the_reconstruction_loss_and_decodes_into_unit_range() -> None:
    torch.manual_seed(0)
    images = torch.zeros(8, *SHAPE)
    for row in range(8):  # eight images, one horizontal bar each: a code of 4 floats can name them
        images[row, 0, row] = 1
    codec = ConvCodec(SHAPE, code=4, width=8, fit_steps=300, fit_batch=8, fit_lr=1e-2, fit_shift=0, fit_holdout=0)
    before = codec.reconstruction_loss(images).item()
    losses = codec.initialise(images)
    after = codec.reconstruction_loss(images).item()
    assert len(losses) == 300
    assert after < 0.05 * before
    decoded = codec.decode(codec.encode(images))
    assert decoded.shape == images.shape and decoded.min() >= 0 and decoded.max() <= 1


def test_conv_codec_uses_squared_error_for_grey_images() -> None:
    codec = ConvCodec(SHAPE, code=4, width=2)
    grey = torch.full((3, *SHAPE), 0.3)
    expected = (codec.decode(codec.encode(grey)) - grey).pow(2).flatten(1).sum(1).mean()
    torch.testing.assert_close(codec.reconstruction_loss(grey), expected)


def test_conv_codec_training_is_reproducible() -> None:
    images = binary_images(8, seed=2)
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        codec = ConvCodec(SHAPE, code=4, width=2, fit_steps=5, fit_batch=4, fit_holdout=0.25, fit_check=2)
        runs.append(codec.initialise(images))
    assert runs[0] == runs[1]


def test_conv_codec_keeps_the_weights_that_scored_best_on_the_held_out_images() -> None:
    torch.manual_seed(0)
    images = binary_images(20, seed=6)
    codec = ConvCodec(SHAPE, code=4, width=4, fit_steps=40, fit_batch=8, fit_lr=3e-2, fit_holdout=0.25, fit_check=10)
    history = codec.initialise(images)
    assert len(history) == 5  # steps 0, 10, 20, 30 and the end
    generator = torch.Generator().manual_seed(0)
    holdout = images[torch.randperm(20, generator=generator)[:5]]
    assert codec.reconstruction_loss(holdout).item() == pytest.approx(min(history), rel=1e-5)


def test_shifted_images_are_translations_with_replicated_edges() -> None:
    from ebmm.energy.image_codecs import _shifted

    images = torch.arange(2 * 64, dtype=torch.float32).reshape(2, 1, 8, 8)
    generator = torch.Generator().manual_seed(0)
    assert _shifted(images, 0, generator) is images
    moved = _shifted(images, 2, generator)
    assert moved.shape == images.shape
    for original, shifted in zip(images, moved, strict=True):
        # every shifted pixel comes from the original within two rows and columns, in order
        offsets = {(int(v) % 64) // 8 - r for r, row in enumerate(shifted[0]) for v in row[2:6]}
        assert len(offsets) >= 1 and all(-2 <= o <= 2 for o in offsets)
        torch.testing.assert_close(shifted[0, 2:6, 2:6] - shifted[0, 2:6, 2:6][0, 0],
                                   original[0, 2:6, 2:6] - original[0, 2:6, 2:6][0, 0])


def test_a_conv_codec_slot_energy_writes_the_encoders_codes() -> None:
    torch.manual_seed(0)
    from ebmm.memory import EnergyMemory

    images = binary_images(12, seed=4)
    energy = CodecSlotEnergy(SHAPE, slots=4, code=6, window=3, codec="conv", empty_radius=1e-3,
                             codec_args={"width": 4, "fit_steps": 20, "fit_batch": 8})
    energy.initialise(images)
    alpha = energy.log_fit_weight.exp().item()
    memory = EnergyMemory(energy, SHAPE,
                          write=WriteRule(steps=1, terms=("energy",), rate_init=(1 / alpha, 1e-4, 1e-4), reduction="sum", chunk=1),
                          read=ReadRule(steps=1))
    patterns = images[:4].unsqueeze(0)
    state = memory.write(patterns)
    expected = energy.codec.encode(patterns[0]).detach()
    assert (expected.norm(dim=-1) >= energy.empty_radius).all()  # every code leaves the free radius
    torch.testing.assert_close(state.fast["memory.weight"][0], expected, atol=1e-4, rtol=1e-4)


def test_checkpoints_from_before_codec_modules_still_load() -> None:
    energy = CodecSlotEnergy(SHAPE, slots=2, code=3, window=3)
    state = energy.state_dict()
    old = {("decoder" if k == "codec.decoder" else "mean" if k == "codec.mean" else k): v.clone() + 1
           for k, v in state.items()}
    fresh = CodecSlotEnergy(SHAPE, slots=2, code=3, window=3)
    fresh.load_state_dict(old)
    torch.testing.assert_close(fresh.codec.decoder.data, state["codec.decoder"] + 1)


def test_bad_codec_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="codec must be one of"):
        CodecSlotEnergy(SHAPE, window=3, codec="jpeg")
    with pytest.raises(ValueError, match="codec_args build a codec named by a string"):
        CodecSlotEnergy(SHAPE, window=3, codec=LinearCodec(SHAPE, 36), codec_args={"width": 8})
    with pytest.raises(ValueError, match="this energy needs shape"):
        CodecSlotEnergy(SHAPE, window=3, code=4, codec=LinearCodec(SHAPE, 5))
    with pytest.raises(ValueError, match="multiples of 8"):
        ConvCodec((1, 12, 12), code=4)
    with pytest.raises(ValueError, match="fit_steps"):
        ConvCodec(SHAPE, code=4, fit_steps=-1)
    with pytest.raises(ValueError, match="fit_shift"):
        ConvCodec(SHAPE, code=4, fit_shift=8)
    with pytest.raises(ValueError, match="holds out no image"):
        ConvCodec(SHAPE, code=4, fit_holdout=0.1).initialise(binary_images(4))
    with pytest.raises(ValueError, match="at least two images"):
        ConvCodec(SHAPE, code=4).initialise(torch.zeros(3, 1, 4, 4))


def test_a_spatial_code_round_trips_with_few_static_weights() -> None:
    torch.manual_seed(0)
    shape = (3, 16, 16)  # a 2x2 grid: codes of 4k floats
    dense, spatial = ConvCodec(shape, code=32, width=4), ConvCodec(shape, code=32, width=4, spatial=True)
    images = torch.rand(5, *shape)
    codes = spatial.encode(images)
    assert codes.shape == (5, 32) and spatial.decode(codes).shape == images.shape
    assert sum(p.numel() for p in spatial.parameters()) < sum(p.numel() for p in dense.parameters())
    with pytest.raises(ValueError, match="multiple of 4"):
        ConvCodec(shape, code=30, spatial=True)


def test_a_conv_codec_memory_recalls_what_it_wrote_and_not_what_it_did_not() -> None:
    from ebmm.memory import EnergyMemory

    torch.manual_seed(0)
    bars = torch.zeros(16, *SHAPE)  # 16 images: one horizontal and one vertical bar each
    for index in range(16):
        bars[index, 0, index // 4 * 2] = 1
        bars[index, 0, :, index % 4 * 2 + 1] = 1
    energy = CodecSlotEnergy(SHAPE, slots=4, code=8, window=3, codec="conv", fit_weight=1e-5, correct_scale=100.0,
                             codec_args={"width": 8, "fit_steps": 300, "fit_batch": 16, "fit_lr": 1e-2,
                                         "fit_shift": 0, "fit_holdout": 0})
    energy.initialise(bars)
    memory = EnergyMemory(energy, SHAPE,
                          write=WriteRule(steps=1, terms=("energy",), rate_init=(1e5, 1e-4, 1e-4), reduction="sum", chunk=1),
                          read=ReadRule(steps=1, step_init=1 / 200, momentum_init=0.01))
    patterns, others = bars[[0, 5, 10, 15]].unsqueeze(0), bars[[3, 6, 9, 12]].unsqueeze(0)
    queries = patterns.clone()
    queries[..., 2:5, 2:5] = torch.rand(queries[..., 2:5, 2:5].shape, generator=torch.Generator().manual_seed(1))

    def errors(state: object) -> float:
        read = memory.read(queries, state).patterns  # type: ignore[arg-type]
        return float(((read > 0.5) != (patterns > 0.5)).float().sum(dim=(2, 3, 4)).mean())

    right, unrelated = errors(memory.write(patterns)), errors(memory.write(others))
    assert right <= 0.5 and right <= 0.3 * unrelated


def test_a_codec_built_already_is_the_energys_codec() -> None:
    codec = LinearCodec(SHAPE, 4, basis=torch.eye(4, 64), mean=torch.full((64,), 0.5))
    energy = CodecSlotEnergy(SHAPE, window=3, code=4, codec=codec)
    assert energy.codec is codec
    torch.testing.assert_close(energy.codec.decoder[:4], torch.eye(4, 64))
