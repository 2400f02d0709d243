"""ebmm.bench.images and ebmm.bench.harness: the image benchmark on tiny data and an untrained tiny EBMM."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ebmm.baselines.hopfield import HopfieldMemory
from ebmm.baselines.modern_hopfield import ModernHopfieldMemory, default_betas
from ebmm.bench.harness import UNRELATED_SEED_OFFSET, benchmark_memories, format_table, git_revision
from ebmm.bench.images import (
    BETA_EPISODES,
    PAPER_IMAGES,
    UnwrittenMemory,
    benchmark_images,
    checkpoint_name,
    load_checkpoints,
    reference_memories,
    results_record,
    retrieval_grid,
    training_record,
)
from ebmm.bench.metrics import hamming_errors, squared_errors
from ebmm.bench.plots import plot_grid, plot_images
from ebmm.build import build_memory
from ebmm.checkpoint import save_json, save_tensors
from ebmm.config import load_config
from ebmm.corruption import build_corruption
from ebmm.data.images import ImageSet, load_images, sample_episodes
from ebmm.memory import EnergyMemory, MemoryState
from ebmm.rules import ReadRule, RefineRule, WriteRule

PNG = b"\x89PNG\r\n\x1a\n"
SHAPE = (1, 32, 32)
TINY_ARGS = ("{memory_width=2, channels=[4], bottleneck_mid=4, bottleneck_out=6, static_filters=4, "
             "head={kind=\"reconstruct\", pixel_weights=true}}")
TINY_FLOATS = 2 * 3 * 3 * 4 * 2


def block_images(count: int, seed: int, binary: bool) -> torch.Tensor:
    """``count`` 32×32 grey (or 0/1) images of a few random bright blocks on black."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.zeros(count, *SHAPE)
    for i in range(count):
        for _ in range(3):
            top, left = torch.randint(0, 24, (2,), generator=generator).tolist()
            value = 1.0 if binary else float(torch.rand((), generator=generator)) * 0.7 + 0.3
            images[i, :, top : top + 8, left : left + 8] = value
    return images


def image_set(split: str, binary: bool = False, count: int = 16) -> ImageSet:
    seed = 0 if split == "train" else 1
    return ImageSet(block_images(count, seed, binary), binary, "array", split, f"{count} block images ({split})")


def tiny_config(*extra: str):
    return load_config(None, [
        "name=\"tiny_images\"", "model.energy=\"conv\"", f"model.energy_args={TINY_ARGS}", "model.pattern_shape=[1, 32, 32]",
        "model.write_steps=1", "model.read_steps=2", "model.write_terms=[\"energy\", \"prior\"]",
        "model.write_rate_init=[0.05, 0.001, 0.001]", "task.data=\"array\"", "task.corruption=\"block_noise\"",
        "task.corruption_args={size=8}", *extra,
    ])


def tiny_memory() -> EnergyMemory:
    torch.manual_seed(0)
    return build_memory(tiny_config().model).eval()


def save_checkpoint(folder: Path, memory: EnergyMemory, step: int = 7, *extra: str) -> Path:
    """A checkpoint folder as the trainer writes it (model, config, state)."""
    folder.mkdir(parents=True)
    save_tensors(folder / "model.safetensors", memory.state_dict())
    save_json(folder / "config.json", tiny_config(*extra).to_dict())
    save_json(folder / "state.json", {"step": step, "elapsed_seconds": 1.5})
    return folder


CORRUPT = build_corruption("block_noise", size=8)


# ---------------------------------------------------------------- benchmark_images / harness


def test_benchmark_reports_every_model_on_shared_episodes() -> None:
    images = image_set("test")
    models = {"ebmm": tiny_memory(), "modern_hopfield": ModernHopfieldMemory(2.0 / 1024)}
    lines: list[str] = []
    results = benchmark_images(models, images, CORRUPT, [2, 4], episodes=3, seed=0, chunk=2, progress=lines.append)
    assert list(results) == ["query", "ebmm", "modern_hopfield"]
    for name, row in results.items():
        assert list(row) == ["2", "4"]
        for count, cell in row.items():
            assert set(cell) == {"mean", "p5", "p95", "memory_floats", "memory_bits"}
            # with 3 episodes the mean of the per-episode means lies between the 5th and 95th percentiles
            assert cell["p5"] - 1e-9 <= cell["mean"] <= cell["p95"] + 1e-9, (name, count)
            assert cell["mean"] >= 0
    assert [results["query"][n]["memory_floats"] for n in ("2", "4")] == [0, 0]
    assert [results["ebmm"][n]["memory_floats"] for n in ("2", "4")] == [TINY_FLOATS] * 2
    assert [results["modern_hopfield"][n]["memory_floats"] for n in ("2", "4")] == [2 * 1024, 4 * 1024]
    assert len(lines) == 2 and lines[0].startswith("N=2:") and "ebmm" in lines[0]


def test_benchmark_query_row_follows_the_documented_episodes() -> None:
    """Per N: a generator seeded seed·1000 + N draws chunks of episodes, then their corruptions."""
    images = image_set("test")
    results = benchmark_images({}, images, CORRUPT, [3], episodes=3, seed=2, chunk=2)
    generator = torch.Generator().manual_seed(2 * 1000 + 3)
    errors = []
    for size in (2, 1):
        patterns = sample_episodes(images.images, size, 3, generator)
        errors.append(squared_errors(CORRUPT(patterns, generator), patterns).mean(1))
    assert results["query"]["3"]["mean"] == pytest.approx(float(torch.cat(errors).mean()))


def test_benchmark_is_seeded() -> None:
    images = image_set("test")
    models = {"ebmm": tiny_memory(), "modern_hopfield": ModernHopfieldMemory(2.0 / 1024)}
    first = benchmark_images(models, images, CORRUPT, [4], episodes=2, seed=3)
    assert benchmark_images(models, images, CORRUPT, [4], episodes=2, seed=3) == first
    other = benchmark_images(models, images, CORRUPT, [4], episodes=2, seed=4)
    assert other["query"]["4"]["mean"] != first["query"]["4"]["mean"]


def test_benchmark_metric_follows_the_images() -> None:
    binary = image_set("test", binary=True)
    results = benchmark_images({}, binary, CORRUPT, [2], episodes=2, seed=0)
    generator = torch.Generator().manual_seed(2)
    patterns = sample_episodes(binary.images, 2, 2, generator)
    expected = hamming_errors(CORRUPT(patterns, generator), patterns).mean()
    assert results["query"]["2"]["mean"] == pytest.approx(float(expected))


def test_harness_counts_memory_and_formats_a_table() -> None:
    def sample(size: int, count: int, generator: torch.Generator):
        patterns = torch.randint(0, 2, (size, count, 8), generator=generator).float()
        return patterns, patterns.clone()

    hebb = HopfieldMemory(rule="hebb", dynamics="sync")
    results = benchmark_memories({"hebb": hebb}, sample, hamming_errors, [2], episodes=4, seed=0, chunk=3)
    assert results["query"]["2"] == {"mean": 0.0, "p5": 0.0, "p95": 0.0, "memory_floats": 0, "memory_bits": 0}
    state = hebb.write(torch.zeros(1, 2, 8))
    assert results["hebb"]["2"]["memory_floats"] == hebb.memory_floats(state) > 0
    table = format_table(results)
    assert "query" in table and "hebb" in table and "N=2" in table
    paper_table = format_table(results, {"hebb": {2: 1.5}})
    assert "paper" in paper_table and "1.50" in paper_table


def test_git_revision_is_a_string() -> None:
    revision = git_revision()
    assert isinstance(revision, str) and revision


# ---------------------------------------------------------------- references


def test_reference_memories_grey_images_get_the_trivial_references_and_modern_hopfield() -> None:
    models, setup = reference_memories(image_set("train"), CORRUPT, 4, seed=0, codec_sizes=[8, 16])
    assert list(models) == ["codec_nn (8 floats)", "codec_nn (16 floats)", "verbatim", "modern_hopfield"]
    assert setup["codec_nn"]["coefficients_per_image"] == [2, 4] and setup["verbatim"]["bits_per_value"] == 8
    beta = setup["modern_hopfield"]["beta"]
    assert isinstance(models["modern_hopfield"], ModernHopfieldMemory) and models["modern_hopfield"].beta == beta
    grid = default_betas(1024)
    assert beta in grid
    table = setup["modern_hopfield"]["beta_table"]
    assert list(table) == [f"{b:.6g}" for b in grid]
    assert table[f"{beta:.6g}"] == min(table.values())
    assert setup["modern_hopfield"]["chosen_on"] == f"{BETA_EPISODES} train-split episodes of 4 images"
    again = reference_memories(image_set("train"), CORRUPT, 4, seed=0, codec_sizes=[8, 16])[1]
    assert again == setup


def test_reference_memories_add_classical_rules_for_binary_images() -> None:
    models, _ = reference_memories(image_set("train", binary=True), CORRUPT, 4, seed=0, codec_sizes=[])
    assert list(models) == ["verbatim", "modern_hopfield", "hopfield_pinv", "hopfield_storkey", "hopfield_hebb"]
    assert all(isinstance(models[f"hopfield_{r}"], HopfieldMemory) for r in ("pinv", "storkey", "hebb"))
    forced, _ = reference_memories(image_set("train"), CORRUPT, 4, seed=0, classical=True)
    assert "hopfield_pinv" in forced
    dropped, _ = reference_memories(image_set("train", binary=True), CORRUPT, 4, seed=0, classical=False,
                                    codec_sizes=[])
    assert list(dropped) == ["verbatim", "modern_hopfield"]
    chosen, _ = reference_memories(image_set("train", binary=True), CORRUPT, 4, seed=0, rules=("pinv",),
                                   codec_sizes=[])
    assert list(chosen) == ["verbatim", "modern_hopfield", "hopfield_pinv"]


def test_unwritten_memory_reads_under_the_initial_weights() -> None:
    memory = tiny_memory()
    unwritten = UnwrittenMemory(memory)
    patterns = image_set("test").images[:6].reshape(2, 3, *SHAPE)
    queries = CORRUPT(patterns, torch.Generator().manual_seed(0))
    state = unwritten.write(patterns)
    assert isinstance(state, MemoryState) and state.batch_size == 2 and unwritten.memory_floats(state) == 0
    for name, value in memory.initial_fast_weights().items():
        assert torch.equal(state.fast[name], value.detach().expand(2, *value.shape))
    theta_bar = MemoryState({n: p.detach().unsqueeze(0).expand(2, *p.shape)
                             for n, p in memory.initial_fast_weights().items()})
    torch.testing.assert_close(unwritten.read(queries, state).patterns, memory.read(queries, theta_bar).patterns)
    results = benchmark_images({"ebmm": memory, "ebmm (no write)": unwritten}, image_set("test"), CORRUPT, [4],
                               episodes=2, seed=0)
    assert results["ebmm (no write)"]["4"]["memory_floats"] == 0
    assert results["ebmm"]["4"]["memory_floats"] == TINY_FLOATS


# ---------------------------------------------------------------- retrieval grid and plots


def test_retrieval_grid_rows() -> None:
    memory = tiny_memory()
    images = image_set("test")
    grid = retrieval_grid(memory, images, CORRUPT, count=4, seed=5, show=3)
    assert grid.shape == (2 + memory.read_steps, 3, *SHAPE)
    assert grid.min() >= 0 and grid.max() <= 1
    generator = torch.Generator().manual_seed(5)
    patterns = sample_episodes(images.images, 1, 4, generator)
    queries = CORRUPT(patterns, generator)
    assert torch.equal(grid[0], patterns[0, :3]) and torch.equal(grid[1], queries[0, :3])
    last = memory.read(queries, memory.write(patterns)).patterns
    torch.testing.assert_close(grid[-1], last[0, :3])
    assert torch.equal(retrieval_grid(memory, images, CORRUPT, count=4, seed=5, show=3), grid)


def test_results_record_and_plots(tmp_path: Path) -> None:
    images = image_set("test")
    memory = tiny_memory()
    refs, setup = reference_memories(image_set("train"), CORRUPT, 4, seed=0)
    results = benchmark_images({"ebmm": memory, "ebmm (no write)": UnwrittenMemory(memory), **refs}, images, CORRUPT,
                               [2, 4], episodes=2, seed=0)
    train = benchmark_images({"ebmm": memory}, image_set("train"), CORRUPT, [2, 4], episodes=2, seed=0)
    record = results_record("omniglot", images, CORRUPT, [2, 4], 2, 0, results,
                            {"ebmm": {"checkpoint": "x", "steps": 3}}, setup, train)
    assert record["benchmark"] == "images" and record["metric"] == "squared" and record["split"] == "test"
    assert record["protocol"]["corruption"] == CORRUPT.spec()
    assert record["protocol"]["patterns"] == [2, 4] and record["protocol"]["episodes"] == 2
    assert record["paper_ebmm_conv"] == {str(k): v for k, v in PAPER_IMAGES["omniglot"].items()}
    assert record["references"]["modern_hopfield"]["beta"] == setup["modern_hopfield"]["beta"]
    assert record["results"] is results and record["train_split"] is train
    assert isinstance(record["revision"], str) and isinstance(record["command"], str)
    assert results_record("array", images, CORRUPT, [2], 1, 0, results, {}, {}, None)["paper_ebmm_conv"] == {}

    out = plot_images(record, tmp_path / "plots" / "images.png")
    assert out == tmp_path / "plots" / "images.png" and out.read_bytes().startswith(PNG)
    no_checkpoint = dict(record, checkpoints={}, train_split=None, paper_ebmm_conv={})
    assert plot_images(no_checkpoint, tmp_path / "refs.png").read_bytes().startswith(PNG)
    grid = retrieval_grid(memory, images, CORRUPT, count=4, seed=0, show=4)
    out = plot_grid(grid, tmp_path / "grid.png", "tiny grid")
    assert out.read_bytes().startswith(PNG)
    colour = torch.rand(3, 2, 3, 8, 8)
    assert plot_grid(colour, tmp_path / "colour.png").read_bytes().startswith(PNG)


# ---------------------------------------------------------------- checkpoints


def test_load_checkpoints_names_records_and_shape_check(tmp_path: Path) -> None:
    memory = tiny_memory()
    run = tmp_path / "run_d2"
    save_checkpoint(run / "checkpoint-00000007", memory)
    save_json(run / "latest.json", {"checkpoint": "checkpoint-00000007", "step": 7})
    bare = save_checkpoint(tmp_path / "bare", memory, 3)

    assert checkpoint_name(run) == "run_d2"
    assert checkpoint_name(run / "checkpoint-00000007") == "run_d2"
    assert checkpoint_name(bare) == "bare"
    record = training_record(run)
    assert record == {"checkpoint": str(run), "steps": 7, "seconds": 1.5, "config": "tiny_images",
                      "device": "cpu", "trained_on": "array"}

    loaded = load_checkpoints([run, bare], SHAPE)
    assert list(loaded) == ["run_d2", "bare"]
    for model in loaded.values():
        assert isinstance(model, EnergyMemory) and model.memory_floats() == TINY_FLOATS
        for name, value in memory.state_dict().items():
            assert torch.equal(model.state_dict()[name], value)
    with pytest.raises(ValueError, match=r"shape \(1, 32, 32\).*\(3, 32, 32\)"):
        load_checkpoints([run], (3, 32, 32))
    with pytest.raises(ValueError, match="both named 'run_d2'"):
        load_checkpoints([run, run / "checkpoint-00000007"], SHAPE)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoints([tmp_path / "nothing"], SHAPE)


def test_benchmark_on_loaded_data_and_checkpoint(tmp_path: Path) -> None:
    """The pieces together, on images read back through load_images from an .npz."""
    import numpy as np

    np.savez(tmp_path / "blocks.npz", images=(block_images(20, 0, False).numpy() * 255).astype(np.uint8))
    test = load_images("array", path=tmp_path / "blocks.npz", split="test")
    train = load_images("array", path=tmp_path / "blocks.npz", split="train")
    assert len(test) == 4 and len(train) == 16 and not test.binary
    checkpoint = save_checkpoint(tmp_path / "ckpt", tiny_memory())
    models = dict(load_checkpoints([checkpoint], tuple(test.images.shape[1:])))
    refs, _ = reference_memories(train, CORRUPT, 4, seed=0, codec_sizes=[])
    results = benchmark_images({**models, **refs}, test, CORRUPT, [4], episodes=2, seed=0)
    assert list(results) == ["query", "ckpt", "verbatim", "modern_hopfield"]
    assert results["ckpt"]["4"]["memory_floats"] == TINY_FLOATS


def test_specificity_and_quantised_reads_are_computed_as_stated() -> None:
    """right = error after writing the episode's images, unrelated = after writing other images of the
    split, nothing = with nothing written; quantised reads use the state rounded to b bits."""
    from ebmm.baselines.codec_nn import VerbatimMemory
    from ebmm.quantize import quantize_state

    images = image_set("test")
    verbatim = VerbatimMemory(SHAPE, bits=8, window=8)
    memory = tiny_memory()
    models = {"verbatim": verbatim, "ebmm": memory}
    results = benchmark_images(models, images, CORRUPT, [3], episodes=2, seed=5, specificity=True, quantize=[4])
    metric = squared_errors
    generator = torch.Generator().manual_seed(5 * 1000 + 3)
    others_generator = torch.Generator().manual_seed(5 * 1000 + 3 + UNRELATED_SEED_OFFSET)
    patterns = sample_episodes(images.images, 2, 3, generator)
    queries = CORRUPT(patterns, generator)
    others = sample_episodes(images.images, 2, 3, others_generator)
    for name, model in models.items():
        with torch.no_grad():
            state = model.write(patterns)
            right = metric(model.read(queries, state).patterns, patterns).mean()
            unrelated = metric(model.read(queries, model.write(others)).patterns, patterns).mean()
            quantised = metric(model.read(queries, quantize_state(state, 4)).patterns, patterns).mean()
        cell = results[name]["3"]
        assert cell["mean"] == pytest.approx(float(right), rel=1e-5)
        assert cell["unrelated"] == pytest.approx(float(unrelated), rel=1e-5)
        assert cell["right_over_unrelated"] == pytest.approx(cell["mean"] / cell["unrelated"])
        if name == "verbatim":  # a store with its own precision is not re-quantised
            assert "quantized" not in cell and cell["memory_bits"] == 3 * 1024 * 8
            continue
        assert cell["quantized"]["4"]["mean"] == pytest.approx(float(quantised), rel=1e-5)
        assert cell["quantized"]["4"]["memory_bits"] == 4 * cell["memory_floats"]
    with torch.no_grad():
        nothing = metric(memory.read(queries, memory.empty_state(2)).patterns, patterns).mean()
    assert results["ebmm"]["3"]["nothing"] == pytest.approx(float(nothing), rel=1e-5)
    assert "nothing" not in results["verbatim"]["3"]  # no empty state to read from
    assert results["verbatim"]["3"]["mean"] < results["verbatim"]["3"]["unrelated"]
    assert results["query"]["3"]["unrelated"] == results["query"]["3"]["mean"]


def test_same_codec_references_wrap_each_codec_checkpoint_and_plot_as_their_own_curve(tmp_path: Path) -> None:
    from ebmm.baselines.codec_nn import CodecMemory
    from ebmm.bench.images import same_codec_references
    from ebmm.bench.plots import model_family
    from ebmm.energy.codec_slots import CodecSlotEnergy

    shape = (1, 8, 8)
    energy = CodecSlotEnergy(shape, slots=2, code=3, window=3)
    memory = EnergyMemory(energy, shape, write=WriteRule(steps=1, terms=("energy",)), read=ReadRule(steps=1))
    other = EnergyMemory(CodecSlotEnergy(shape, slots=2, code=3, window=3), shape,
                         write=WriteRule(steps=1, terms=("energy",)),
                         read=ReadRule(steps=1))  # another draw of the codec's weights
    refs, setup = same_codec_references({"omniglot_codec_slots_c36": memory, "other": other}, window=3)
    assert list(refs) == ["codec_nn[omniglot_codec_slots_c36]", "codec_nn[other]"] and setup == {}
    assert isinstance(refs["codec_nn[other]"], CodecMemory) and refs["codec_nn[other]"].codec is other.energy.codec
    twin = EnergyMemory(CodecSlotEnergy(shape, slots=2, code=3, window=3), shape,
                        write=WriteRule(steps=1, terms=("energy",)),
                        read=ReadRule(steps=1),
                        refine=RefineRule(steps=2))
    twin.energy.load_state_dict(energy.state_dict())  # the same codec, another write rule
    refs, setup = same_codec_references({"omniglot_codec_slots_c36": memory, "twin": twin, "other": other}, window=3)
    assert list(refs) == ["codec_nn[omniglot_codec_slots_c36]", "codec_nn[other]"]
    assert setup == {"shared_codecs": {"twin": "omniglot_codec_slots_c36"}}
    assert model_family("codec_nn[omniglot_codec_slots_c36]") == "codec_nn[omniglot_codec_slots]"
    assert model_family("hopfield_codec[omniglot_codec_slots_c36]") == "hopfield_codec[omniglot_codec_slots]"
    assert model_family("codec_nn (2304 floats)") == "codec_nn"
    big = EnergyMemory(CodecSlotEnergy((1, 32, 32), slots=4, code=3, window=8), (1, 32, 32),
                       write=WriteRule(steps=1, terms=("energy",)),
                       read=ReadRule(steps=1))
    with_hopfield, setup = same_codec_references({"other": big}, window=8, train=image_set("train"),
                                                 corrupt=CORRUPT, count=4)
    assert list(with_hopfield) == ["codec_nn[other]", "hopfield_codec[other]"]
    assert setup["hopfield_codec[other]"]["beta"] == with_hopfield["hopfield_codec[other]"].beta
