"""ebmm.tasks: binary and image episodes, disjoint splits, metric choice, and evaluate()'s keys."""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ebmm.config import load_config
from ebmm.data.images import load_images
from ebmm.energy.conv import ConvEnergy
from ebmm.memory import EnergyMemory
from ebmm.rules import ReadRule, WriteRule
from ebmm.tasks import METRICS, BinaryTask, ImageTask, build_task, evaluate

REPO = Path(__file__).resolve().parents[1]


def write_grey_npz(path: Path, count: int = 40, side: int = 8, seed: int = 0) -> Path:
    """``count`` distinct uint8 grey images ``side × side × 1`` under the key "images"."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, side, side, 1), dtype=np.uint8)
    assert len({im.tobytes() for im in images}) == count
    np.savez(path, images=images)
    return path


def write_omniglot_zip(root: Path, alphabets: int = 2, characters: int = 5, drawers: int = 2) -> Path:
    """An Omniglot-style ``images_background.zip``: 105×105 1-bit PNGs, white background, black ink squares."""
    root.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(root / "images_background.zip", "w") as z:
        k = 0
        for a in range(alphabets):
            for c in range(characters):
                rng = np.random.default_rng(k)
                for d in range(drawers):
                    ink = np.ones((105, 105), dtype=bool)
                    for _ in range(3):
                        top, left = rng.integers(0, 80, 2)
                        ink[top : top + 25, left : left + 25] = False
                    buf = io.BytesIO()
                    Image.fromarray(ink.astype(np.uint8) * 255).convert("1").save(buf, format="PNG")
                    z.writestr(f"images_background/Alpha{a}/character{c + 1:02d}/{k:04d}_{d + 1:02d}.png", buf.getvalue())
                k += 1
    return root


def tiny_memory(side: int = 8, channels: int = 1) -> EnergyMemory:
    torch.manual_seed(0)
    energy = ConvEnergy(shape=(channels, side, side), channels=(4,), bottleneck_mid=4, bottleneck_out=6, memory_width=2,
                        head={"kind": "reconstruct", "pixel_weights": True})
    return EnergyMemory(energy, (channels, side, side),
                        write=WriteRule(steps=1, terms=("energy", "prior"), rate_init=(0.05, 0.001, 0.001)),
                        read=ReadRule(steps=2))


def pictures(images: torch.Tensor) -> set[bytes]:
    return {im.numpy().tobytes() for im in images.reshape(-1, *images.shape[-3:])}


# ---------------------------------------------------------------- BinaryTask


def test_binary_task_shapes_values_and_determinism() -> None:
    task = BinaryTask(dim=16, corruption="flip", corrupt_bits=3)
    assert task.metric_name == "hamming" and task.splits == ("test",)
    patterns, queries = task.sample(3, 5, torch.Generator().manual_seed(1))
    assert patterns.shape == queries.shape == (3, 5, 16)
    assert set(patterns.unique().tolist()) <= {0.0, 1.0} and set(queries.unique().tolist()) <= {0.0, 1.0}
    assert ((patterns != queries).sum(-1) == 3).all()
    again = task.sample(3, 5, torch.Generator().manual_seed(1))
    assert torch.equal(again[0], patterns) and torch.equal(again[1], queries)
    other = task.sample(3, 5, torch.Generator().manual_seed(2))
    assert not torch.equal(other[0], patterns)
    assert task.fresh(2, 4, torch.Generator().manual_seed(0), "test").shape == (2, 4, 16)


def test_binary_task_from_config_and_its_evaluation_keys() -> None:
    config = load_config(REPO / "configs" / "binary_autoencoder.toml",
                         ["model.pattern_shape=[16]", "model.energy_args={hidden=4}", "task.corrupt_bits=4"])
    task = build_task(config)
    assert isinstance(task, BinaryTask) and task.dim == 16
    from ebmm.build import build_memory

    torch.manual_seed(0)
    memory = build_memory(config.model)
    result = evaluate(memory, task, [2, 3], episodes=2, seed=5)
    keys = ("hamming", "query_hamming", "energy_gap", "unrelated_hamming", "nothing_hamming")
    assert set(result) == {f"{k}@{n}" for k in keys for n in (2, 3)}
    assert all(math.isfinite(v) for v in result.values())
    assert evaluate(memory, task, [2, 3], episodes=2, seed=5) == result


# ---------------------------------------------------------------- ImageTask on an array dataset


@pytest.fixture
def grey_npz(tmp_path: Path) -> Path:
    return write_grey_npz(tmp_path / "grey.npz")


def test_image_task_episodes_shapes_and_determinism(grey_npz: Path) -> None:
    task = ImageTask("array", str(grey_npz), "block_noise", {"size": 4}, split_seed=0, size=8)
    patterns, queries = task.sample(3, 4, torch.Generator().manual_seed(0), "train")
    assert patterns.shape == queries.shape == (3, 4, 1, 8, 8)
    assert patterns.dtype == torch.float32 and patterns.min() >= 0 and patterns.max() <= 1
    assert queries.min() >= 0 and queries.max() <= 1
    # block noise: each query differs from its image only inside one 4×4 block
    changed = (patterns != queries).reshape(3, 4, 8, 8)
    for mask in changed.reshape(12, 8, 8):
        rows, cols = mask.nonzero(as_tuple=True)
        if len(rows):
            assert rows.max() - rows.min() < 4 and cols.max() - cols.min() < 4
    for episode in patterns:  # distinct images within an episode
        assert len(pictures(episode)) == 4
    again = task.sample(3, 4, torch.Generator().manual_seed(0), "train")
    assert torch.equal(again[0], patterns) and torch.equal(again[1], queries)
    assert not torch.equal(task.sample(3, 4, torch.Generator().manual_seed(1), "train")[0], patterns)


def test_image_task_train_and_test_episodes_never_share_an_image(grey_npz: Path) -> None:
    task = ImageTask("array", str(grey_npz), "block_noise", {"size": 4}, split_seed=3, size=8)
    generator = torch.Generator().manual_seed(0)
    train = pictures(task.fresh(30, 4, generator, "train"))
    test = pictures(task.fresh(30, 4, generator, "test"))
    assert train and test and not (train & test)
    train_set = pictures(load_images("array", grey_npz, "train", size=8, seed=3).images)
    test_set = pictures(load_images("array", grey_npz, "test", size=8, seed=3).images)
    assert len(train_set) == 32 and len(test_set) == 8  # test_fraction 0.2 of 40
    assert train <= train_set and test <= test_set
    assert len(test) == 8  # 30 episodes of 4 reach every test image


def test_image_task_metric_names(grey_npz: Path, tmp_path: Path) -> None:
    grey = ImageTask("array", str(grey_npz), "block_noise", {"size": 4}, size=8)
    assert grey.metric_name == "squared" and grey.metric_name in METRICS
    binary = ImageTask("omniglot", str(write_omniglot_zip(tmp_path / "omni")), "block_noise", {"size": 4}, size=8)
    assert binary.metric_name == "hamming"
    patterns = binary.fresh(2, 3, torch.Generator().manual_seed(0), "test")
    assert patterns.shape == (2, 3, 1, 8, 8) and set(patterns.unique().tolist()) <= {0.0, 1.0}


def test_build_task_for_images_takes_the_size_from_the_pattern_shape(grey_npz: Path) -> None:
    config = load_config(None, [
        "model.energy=\"conv\"", "model.pattern_shape=[1, 8, 8]", "task.data=\"array\"",
        f"task.data_dir={str(grey_npz)!r}", "task.corruption=\"block_noise\"", "task.corruption_args={size=4}",
        "task.split_seed=2",
    ])
    task = build_task(config)
    assert isinstance(task, ImageTask)
    assert (task.dataset, task.data_dir, task.split_seed, task.size) == ("array", str(grey_npz), 2, 8)
    assert task.corrupt.size == 4
    assert task.fresh(1, 2, torch.Generator().manual_seed(0), "test").shape == (1, 2, 1, 8, 8)


def test_image_task_missing_file_names_it(tmp_path: Path) -> None:
    task = ImageTask("array", str(tmp_path / "absent.npz"), "block_noise", {"size": 4}, size=8)
    with pytest.raises(FileNotFoundError, match="absent.npz"):
        task.fresh(1, 2, torch.Generator().manual_seed(0))


def test_evaluate_on_an_image_task(grey_npz: Path) -> None:
    task = ImageTask("array", str(grey_npz), "block_noise", {"size": 4}, size=8)
    memory = tiny_memory()
    result = evaluate(memory, task, [2, 4], episodes=2, seed=11)
    keys = ("squared", "query_squared", "energy_gap", "train_squared", "unrelated_squared", "nothing_squared")
    expected = {f"{k}@{n}" for k in keys for n in (2, 4)}
    assert set(result) == expected
    assert all(isinstance(v, float) and math.isfinite(v) for v in result.values())
    assert all(result[f"{k}@{n}"] >= 0 for k in ("squared", "query_squared", "train_squared") for n in (2, 4))
    assert evaluate(memory, task, [2, 4], episodes=2, seed=11) == result
    only_test = evaluate(memory, task, [2], episodes=2, seed=11, splits=("test",))
    assert set(only_test) == {"squared@2", "query_squared@2", "energy_gap@2", "unrelated_squared@2", "nothing_squared@2"}
    assert only_test["squared@2"] == result["squared@2"]


def test_evaluate_query_error_matches_the_task_episodes(grey_npz: Path) -> None:
    """query_squared@N is the metric of the corrupted queries of the seeded test episodes."""
    task = ImageTask("array", str(grey_npz), "block_noise", {"size": 4}, size=8)
    result = evaluate(tiny_memory(), task, [3], episodes=2, seed=4, splits=("test",))
    patterns, queries = task.sample(2, 3, torch.Generator().manual_seed(4), "test")
    assert result["query_squared@3"] == pytest.approx(float(METRICS["squared"](queries, patterns).mean()))
