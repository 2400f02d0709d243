"""ebmm.checkpoint: safetensors and JSON files, atomic writes, errors that name the file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ebmm.checkpoint import load_json, load_tensors, save_json, save_tensors

FAST = settings(max_examples=20, deadline=None)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp") or p.name.startswith("."))


def test_tensors_roundtrip_exactly(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(0)
    tensors = {
        "weight": torch.randn(3, 4, generator=generator),
        "step": torch.tensor(7.0),
        "ints": torch.arange(5, dtype=torch.int64),
        "double": torch.randn(2, dtype=torch.float64, generator=generator),
        "rng": torch.Generator().manual_seed(3).get_state(),
    }
    path = tmp_path / "sub" / "model.safetensors"  # parent folders are created
    save_tensors(path, tensors, metadata={"note": "hi"})
    loaded = load_tensors(path)
    assert sorted(loaded) == sorted(tensors)
    for name, value in tensors.items():
        assert loaded[name].dtype == value.dtype
        assert torch.equal(loaded[name], value)
    assert leftovers(path.parent) == []


def test_non_contiguous_and_grad_tensors_are_saved(tmp_path: Path) -> None:
    base = torch.arange(12.0).reshape(3, 4)
    param = torch.nn.Parameter(torch.ones(2))
    save_tensors(tmp_path / "t.safetensors", {"t": base.t(), "p": param})
    loaded = load_tensors(tmp_path / "t.safetensors")
    assert torch.equal(loaded["t"], base.t())
    assert torch.equal(loaded["p"], torch.ones(2)) and not loaded["p"].requires_grad


@FAST
@given(shape=st.lists(st.integers(1, 4), min_size=0, max_size=3), seed=st.integers(0, 2**16))
def test_roundtrip_any_shape(tmp_path_factory: pytest.TempPathFactory, shape: list[int], seed: int) -> None:
    folder = tmp_path_factory.mktemp("rt")
    value = torch.randn(tuple(shape), generator=torch.Generator().manual_seed(seed))
    save_tensors(folder / "x.safetensors", {"x": value})
    assert torch.equal(load_tensors(folder / "x.safetensors")["x"], value)


def test_overwrite_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_tensors(path, {"a": torch.zeros(2)})
    save_tensors(path, {"b": torch.ones(3)})
    assert list(load_tensors(path)) == ["b"]
    assert leftovers(tmp_path) == []


def test_failed_save_leaves_no_temp_file_and_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.safetensors"
    save_tensors(path, {"a": torch.zeros(2)})

    def crash(tensors: dict, filename: str, metadata: object = None) -> None:
        Path(filename).write_bytes(b"half a file")  # interrupted mid-write
        raise KeyboardInterrupt

    monkeypatch.setattr("ebmm.checkpoint.save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        save_tensors(path, {"b": torch.ones(2)})
    assert leftovers(tmp_path) == []
    assert torch.equal(load_tensors(path)["a"], torch.zeros(2))


def test_missing_tensor_file_raises_file_not_found_naming_path(tmp_path: Path) -> None:
    missing = tmp_path / "absent.safetensors"
    with pytest.raises(FileNotFoundError, match="absent.safetensors"):
        load_tensors(missing)


@pytest.mark.parametrize("data", [b"", b"\x00" * 8, b"garbage bytes, not a checkpoint", b"\xff" * 64])
def test_garbage_tensor_file_raises_value_error_naming_it(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(data)
    with pytest.raises(ValueError, match="model.safetensors"):
        load_tensors(path)


@FAST
@given(cut=st.integers(0, 10_000))
def test_truncated_tensor_file_raises_value_error(tmp_path_factory: pytest.TempPathFactory, cut: int) -> None:
    folder = tmp_path_factory.mktemp("cut")
    path = folder / "m.safetensors"
    save_tensors(path, {"a": torch.arange(16.0), "b": torch.ones(2, 3)})
    data = path.read_bytes()
    path.write_bytes(data[: cut % len(data)])
    with pytest.raises(ValueError, match="m.safetensors"):
        load_tensors(path)


def test_json_roundtrip_and_atomic(tmp_path: Path) -> None:
    data = {"step": 3, "nested": {"list": [1, 2.5, "x"], "none": None}, "flag": True}
    path = tmp_path / "deep" / "state.json"
    save_json(path, data)
    assert load_json(path) == data
    assert path.read_text().endswith("\n")
    save_json(path, [1, 2])
    assert load_json(path) == [1, 2]
    assert leftovers(path.parent) == []


def test_failed_json_save_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    save_json(path, {"ok": 1})
    with pytest.raises(TypeError):
        save_json(path, {"bad": object()})
    assert leftovers(tmp_path) == []
    assert load_json(path) == {"ok": 1}


def test_missing_json_raises_file_not_found_naming_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="latest.json"):
        load_json(tmp_path / "latest.json")


@pytest.mark.parametrize("data", [b"{not json", b"", b"\xff\xfe\x00 binary"])
def test_malformed_json_raises_value_error_naming_it(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(data)
    with pytest.raises(ValueError, match="config.json"):
        load_json(path)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_files_get_the_usual_mode_under_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    """Not tempfile's 0600: a checkpoint is readable as any file the user creates (0644 under umask 022)."""
    previous = os.umask(umask)
    try:
        save_tensors(tmp_path / "model.safetensors", {"w": torch.ones(3)})
        save_json(tmp_path / "config.json", {"a": 1})
        save_tensors(tmp_path / "model.safetensors", {"w": torch.zeros(3)})  # an overwrite too
    finally:
        os.umask(previous)
    for name in ("model.safetensors", "config.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name
