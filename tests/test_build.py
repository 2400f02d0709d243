"""ebmm.build: an EnergyMemory from a config, and back from a checkpoint."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from ebmm import build
from ebmm.build import build_memory, check_device, load_memory, resolve_checkpoint, shipped_checkpoint
from ebmm.checkpoint import load_json, load_tensors, save_json
from ebmm.config import EBMMConfig, load_config
from ebmm.energy import AutoencoderEnergy, GatedRNNEnergy
from ebmm.memory import EnergyMemory
from ebmm.train import train

TINY = [
    "model.pattern_shape=[16]", "model.energy_args={hidden=4}", "task.patterns=[4]", "task.corrupt_bits=4",
    "train.steps=2", "train.meta_batch=2", "train.log_every=1", "train.eval_every=2",
    "train.checkpoint_every=2", "train.eval_patterns=[4]", "train.eval_episodes=2",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("build") / "run"
    train(load_config(None, TINY), folder, quiet=True)
    return folder


def test_build_memory_follows_the_model_config() -> None:
    model = EBMMConfig(energy="autoencoder", energy_args={"hidden": 4}, pattern_shape=[16], write_steps=2,
                        read_steps=4, write_terms=["energy", "prior"], write_rate_init=[0.1, 0.2, 0.3],
                        read_step_init=0.25)
    memory = build_memory(model)
    assert isinstance(memory, EnergyMemory) and isinstance(memory.energy, AutoencoderEnergy)
    assert memory.pattern_shape == (16,)
    assert (memory.write_steps, memory.read_steps) == (2, 4)
    assert memory.write_terms == ("energy", "prior")
    assert memory.memory_floats() == 4 * 16 + 16
    rates = memory.write_rates()
    assert rates.shape == (2, 2, 3)
    assert torch.allclose(rates[0, 0].detach(), torch.tensor([0.1, 0.2, 0.3]))
    gammas, _ = memory.read_schedule()
    assert float(gammas[0].detach()) == pytest.approx(0.25)


def test_build_memory_gated_rnn() -> None:
    model = EBMMConfig(energy="gated_rnn", energy_args={"hidden": 16, "memory_width": 4, "hops": 1}, pattern_shape=[8])
    memory = build_memory(model)
    assert isinstance(memory.energy, GatedRNNEnergy)
    assert memory.memory_floats() == 8 * 4 + 4


def test_build_memory_bad_energy_raises() -> None:
    with pytest.raises(ValueError, match="unknown energy"):
        build_memory(EBMMConfig(energy="nope"))
    with pytest.raises(ValueError, match="hidden"):
        build_memory(EBMMConfig(energy_args={"hidden": 0}, pattern_shape=[8]))


def test_load_memory_roundtrip(run: Path) -> None:
    memory, config = load_memory(run)
    assert config == load_config(None, TINY)
    saved = load_tensors(run / "checkpoint-00000002" / "model.safetensors")
    state = memory.state_dict()
    assert sorted(state) == sorted(saved)
    for key in saved:
        assert torch.equal(state[key], saved[key]), key
    # and the loaded memory works
    patterns = torch.randint(0, 2, (1, 3, 16), generator=torch.Generator().manual_seed(0)).float()
    out = memory.read(patterns, memory.write(patterns))
    assert out.patterns.shape == patterns.shape


def test_load_memory_from_the_checkpoint_folder_itself(run: Path) -> None:
    a, _ = load_memory(run)
    b, _ = load_memory(run / "checkpoint-00000002")
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), name


def test_resolve_checkpoint(run: Path) -> None:
    assert resolve_checkpoint(run) == run / "checkpoint-00000002"
    assert resolve_checkpoint(str(run / "checkpoint-00000002")) == run / "checkpoint-00000002"


def test_resolve_checkpoint_without_a_checkpoint_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        resolve_checkpoint(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_memory(tmp_path / "missing")


def test_corrupted_model_file_raises_value_error(run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    (copy / "checkpoint-00000002" / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ValueError, match="model.safetensors"):
        load_memory(copy)


def test_checkpoint_that_does_not_match_its_config_raises(run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    config_path = copy / "checkpoint-00000002" / "config.json"
    config = load_json(config_path)
    config["model"]["energy_args"] = {"hidden": 5}
    save_json(config_path, config)
    with pytest.raises(ValueError, match="does not match its config"):
        load_memory(copy)


def test_load_memory_device(run: Path) -> None:
    memory, _ = load_memory(run, device="cpu")
    assert all(p.device == torch.device("cpu") for p in memory.parameters())


REPO = Path(__file__).resolve().parents[1]
CHECKPOINT_FILES = ("model.safetensors", "config.json", "state.json", "TRAINING.md", "metrics.jsonl")


def test_check_device_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        check_device("gpu")
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: False)
    with pytest.raises(ValueError, match=r"CUDA requested \(device 'cuda'\) but this torch build has no CUDA"):
        check_device("cuda")
    with pytest.raises(ValueError, match="no CUDA"):
        load_memory("binary", device="cuda")  # before anything is loaded
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"CUDA requested \(device 'cuda:0'\) but no GPU is visible"):
        check_device("cuda:0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"device 'cuda:1' requested but only 1 GPU\(s\) are visible"):
        check_device("cuda:1")
    assert check_device("cuda:0") == torch.device("cuda", 0)


def test_shipped_checkpoints_load_by_name_from_any_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no checkpoints/ here
    folder = shipped_checkpoint("binary")
    assert folder.is_absolute() and all((folder / name).is_file() for name in CHECKPOINT_FILES)
    assert resolve_checkpoint("binary") == folder
    memory, config = load_memory("binary")
    assert isinstance(memory, EnergyMemory) and config.name == load_json(folder / "config.json")["name"]
    assert "binary" in build.shipped_checkpoints() and "omniglot_conv_d8" in build.shipped_checkpoints()


def test_a_local_folder_wins_over_a_shipped_name(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(run, tmp_path / "binary")
    monkeypatch.chdir(tmp_path)
    assert resolve_checkpoint("binary") == Path("binary") / "checkpoint-00000002"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert resolve_checkpoint("binary") == shipped_checkpoint("binary")


def test_unknown_names_raise_and_list_the_shipped_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no checkpoint at no_such_model.*shipped checkpoint: .*binary"):
        resolve_checkpoint("no_such_model")
    with pytest.raises(FileNotFoundError, match="no shipped checkpoint named 'no_such_model'; shipped: .*binary"):
        shipped_checkpoint("no_such_model")
    for bad in ("", "..", "checkpoints/binary"):
        with pytest.raises(ValueError, match="bare folder name"):
            shipped_checkpoint(bad)
    with pytest.raises(FileNotFoundError):  # a path is a path: not looked up among the shipped ones
        resolve_checkpoint(tmp_path / "binary")


def test_the_installed_package_copy_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a plain (non-editable) install the checkpoints are package data under ebmm/checkpoints/."""
    package = tmp_path / "site-packages" / "ebmm"
    shutil.copytree(REPO / "checkpoints" / "binary", package / "checkpoints" / "binary")
    monkeypatch.setattr(build.resources, "files", lambda name: package)
    monkeypatch.setattr(build, "SOURCE_CHECKPOINTS", tmp_path / "no_source_tree")
    assert shipped_checkpoint("binary") == package / "checkpoints" / "binary"
    assert build.shipped_checkpoints() == ["binary"]
    with pytest.raises(FileNotFoundError, match="shipped: binary$"):
        shipped_checkpoint("omniglot_conv_d8")


def test_pyproject_ships_every_package_and_the_checkpoints() -> None:
    """The package list is explicit (ebmm.checkpoints is mapped onto the top-level checkpoints/ folder), so a
    new subpackage of src/ebmm must be added to it; the package data must match every checkpoint file."""
    import fnmatch
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {".".join(p.relative_to(REPO / "src").parent.parts) for p in (REPO / "src" / "ebmm").rglob("__init__.py")}
    assert set(setuptools["packages"]) == found | {"ebmm.checkpoints"}
    assert setuptools["package-dir"] == {"": "src", "ebmm.checkpoints": "checkpoints"}
    patterns = setuptools["package-data"]["ebmm.checkpoints"]
    for folder in (REPO / "checkpoints").iterdir():
        if folder.is_dir():
            for name in CHECKPOINT_FILES:
                if (folder / name).exists():
                    assert any(fnmatch.fnmatch(f"{folder.name}/{name}", p) for p in patterns), f"{folder.name}/{name}"


def test_the_library_does_not_import_the_experiments() -> None:
    """experiments/ (studies, run from the repository root) is not installed, so no module of the
    installed package may import it."""
    import ast

    for path in (REPO / "src" / "ebmm").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            assert not any(name.split(".")[0] == "experiments" for name in names), f"{path} imports {names}"


@pytest.mark.slow
def test_the_wheel_carries_the_checkpoints(tmp_path: Path) -> None:
    """Build a wheel from a copy of the source (no network: the installed setuptools) and look inside."""
    import subprocess
    import sys
    import zipfile

    pytest.importorskip("setuptools")
    source = tmp_path / "source"
    for name in ("pyproject.toml", "README.md"):
        source.mkdir(exist_ok=True)
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(REPO / "checkpoints", source / "checkpoints")
    done = subprocess.run([sys.executable, "-c", "from setuptools import build_meta; print(build_meta.build_wheel('dist'))"],
                          cwd=source, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    wheel = source / "dist" / done.stdout.strip().splitlines()[-1]
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in (REPO / "checkpoints").iterdir():
        for name in CHECKPOINT_FILES:
            if (folder / name).is_file():
                assert f"ebmm/checkpoints/{folder.name}/{name}" in names
    assert "ebmm/build.py" in names and "ebmm/energy/__init__.py" in names
    assert not any(name.startswith("checkpoints/") for name in names)  # nothing at the top level of site-packages
