"""The trivial image references: worst-square selection and paste, codec_nn and the verbatim store."""

from __future__ import annotations

import pytest
import torch

from ebmm.baselines.codec_nn import LinearCodecMemory, VerbatimMemory, select_and_paste, worst_square
from ebmm.energy.image_codecs import LinearCodec
from ebmm.linear_codec import fit_pca
from ebmm.rules import ReadRule, WriteRule


def block(images: torch.Tensor, top: int, left: int, size: int, value: float) -> torch.Tensor:
    out = images.clone()
    out[..., top:top + size, left:left + size] = value
    return out


def test_worst_square_finds_the_corrupted_corner() -> None:
    errors = torch.zeros(2, 1, 8, 8)
    errors[0, 0, 2:5, 3:6] = 1.0
    errors[1, 0, 5:8, 0:3] = 2.0
    sums, corner = worst_square(errors, 3)
    assert sums.tolist() == [9.0, 18.0]
    assert corner.tolist() == [[2, 3], [5, 0]]


def test_select_and_paste_restores_the_block_and_keeps_the_rest() -> None:
    torch.manual_seed(0)
    stored = torch.rand(1, 5, 1, 8, 8).round()
    queries = block(stored, 1, 2, 3, 0.5)  # every image corrupted at the same square
    queries[0, :, :, 7, 7] = 1 - queries[0, :, :, 7, 7]  # and one pixel outside it
    read = select_and_paste(queries, stored, 3)
    assert torch.equal(read[..., 1:4, 2:5], stored[..., 1:4, 2:5])
    outside = torch.ones(8, 8, dtype=torch.bool)
    outside[1:4, 2:5] = False
    assert torch.equal(read[..., outside], queries[..., outside])  # the read never touches the rest


def test_codec_nn_is_exact_for_images_in_its_span() -> None:
    torch.manual_seed(1)
    images = torch.rand(4, 1, 8, 8).round()
    mean, basis = fit_pca(images, 8)  # 4 images span at most 3 directions around their mean
    memory = LinearCodecMemory(mean, basis, (1, 8, 8), window=3)
    patterns = images.unsqueeze(0)
    state = memory.write(patterns)
    assert memory.memory_floats(state) == 4 * basis.shape[0]
    torch.testing.assert_close(memory.decode(state), patterns, atol=1e-5, rtol=0)
    queries = block(patterns, 4, 4, 3, 0.5)
    torch.testing.assert_close(memory.read(queries, state).patterns, patterns, atol=1e-5, rtol=0)


def test_codec_nn_with_fewer_coefficients_is_worse_than_with_more() -> None:
    torch.manual_seed(2)
    images = torch.rand(40, 1, 8, 8)
    mean, basis = fit_pca(images, 30)
    patterns, queries = images[:10].unsqueeze(0), block(images[:10].unsqueeze(0), 2, 2, 4, 0.0)
    errors = []
    for k in (2, 30):
        memory = LinearCodecMemory(mean, basis[:k], (1, 8, 8), window=4)
        errors.append(float((memory.read(queries, memory.write(patterns)).patterns - patterns).pow(2).sum()))
    assert errors[1] < errors[0]


@pytest.mark.parametrize(("bits", "floats"), [(1, 2 * 64 // 32), (8, 2 * 3 * 64 * 8 // 32)])
def test_verbatim_counts_bits_and_reads_exactly(bits: int, floats: int) -> None:
    channels = 1 if bits == 1 else 3
    torch.manual_seed(3)
    patterns = torch.rand(1, 2, channels, 8, 8)
    patterns = patterns.round() if bits == 1 else torch.round(patterns * 255) / 255
    memory = VerbatimMemory((channels, 8, 8), bits, window=3)
    state = memory.write(patterns)
    assert memory.memory_bits(state) == 2 * channels * 64 * bits
    assert memory.memory_floats(state) == floats
    read = memory.read(block(patterns, 0, 0, 3, 0.5), state).patterns
    torch.testing.assert_close(read, patterns)


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="basis must be"):
        LinearCodecMemory(torch.zeros(4), torch.zeros(2, 5), (1, 2, 2))
    with pytest.raises(ValueError, match="bits must be"):
        VerbatimMemory((1, 4, 4), bits=3)
    with pytest.raises(ValueError, match="window"):
        select_and_paste(torch.zeros(1, 1, 1, 4, 4), torch.zeros(1, 1, 1, 4, 4), 5)


def test_codec_memory_over_an_ebmm_codec_stores_what_the_ebmm_write_stores() -> None:
    from ebmm.baselines.codec_nn import CodecMemory
    from ebmm.energy.codec_slots import CodecSlotEnergy
    from ebmm.memory import EnergyMemory

    torch.manual_seed(0)
    shape = (1, 8, 8)
    train = torch.rand(12, *shape, generator=torch.Generator().manual_seed(5)).round()
    energy = CodecSlotEnergy(shape, slots=4, code=6, window=3, codec="conv", fit_weight=0.001, empty_radius=1e-3,
                             codec_args={"width": 4, "fit_steps": 10, "fit_batch": 8})
    energy.initialise(train)
    ebmm = EnergyMemory(energy, shape,
                        write=WriteRule(steps=1, terms=("energy",), rate_init=(1000.0, 1e-4, 1e-4), reduction="sum", chunk=1),
                        read=ReadRule(steps=1))
    patterns = train[:4].unsqueeze(0)
    reference = CodecMemory(energy.codec, shape, window=3)
    stored = reference.write(patterns).records[0]
    assert (stored.norm(dim=-1) >= energy.empty_radius).all()  # every code leaves the free radius
    torch.testing.assert_close(ebmm.write(patterns).fast["memory.weight"][0], stored, atol=1e-3, rtol=1e-3)
    assert reference.memory_floats(reference.write(patterns)) == 4 * 6
    decoded = reference.decode(reference.write(patterns))
    assert decoded.shape == patterns.shape and decoded.min() >= 0 and decoded.max() <= 1


def test_codec_hopfield_with_a_large_beta_recalls_the_nearest_code_and_pastes_the_worst_square() -> None:
    from ebmm.baselines.codec_nn import CodecHopfieldMemory

    shape = (1, 8, 8)
    codec = LinearCodec(shape, 64, basis=torch.eye(64), mean=torch.zeros(64))  # the identity codec
    patterns = torch.zeros(1, 2, *shape)
    patterns[0, 0, :, :4] = 1.0  # top half
    patterns[0, 1, :, :, :4] = 1.0  # left half
    queries = patterns.clone()
    queries[..., :4, 4:] = 0.5  # a grey 4x4 block where the two patterns differ
    memory = CodecHopfieldMemory(codec, shape, window=4, beta=50.0)
    read = memory.read(queries, memory.write(patterns)).patterns
    torch.testing.assert_close(read, patterns)
    soft = CodecHopfieldMemory(codec, shape, window=4, beta=1e-6).read(queries, memory.write(patterns)).patterns
    assert ((soft != queries).flatten(2).sum(-1) <= 16).all()  # only one 4x4 square is ever replaced
    assert not torch.equal(soft, patterns)  # a near-uniform average of the codes restores nothing exactly


def test_choose_codec_beta_prefers_a_sharp_lookup_for_distinct_codes() -> None:
    from ebmm.baselines.codec_nn import choose_codec_beta
    from ebmm.bench.metrics import squared_errors

    shape = (1, 8, 8)
    codec = LinearCodec(shape, 64, basis=torch.eye(64), mean=torch.zeros(64))
    patterns = (torch.rand(3, 5, *shape, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    queries = patterns.clone()
    queries[..., :3, :3] = 0.5
    beta, table = choose_codec_beta(codec, shape, patterns, queries, squared_errors, window=3)
    assert len(table) == 15 and beta > min(table)
    assert table[max(table)] < table[min(table)]  # sharp beats near-uniform averaging
