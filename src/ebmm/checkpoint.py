"""Checkpoints: tensors in safetensors plus a JSON sidecar, written atomically with the usual file mode; no pickle."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask can only swap it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def _file_mode() -> int:
    """The mode a normally created file gets: 0666 less the umask (0644 under the usual 022)."""
    return 0o666 & ~_umask()


def _atomic_target(path: Path) -> tuple[int, str]:
    """A temporary file beside ``path`` (``tempfile`` makes it 0600; ``_publish`` gives it the usual mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)


def _publish(tmp: str, path: Path) -> None:
    """Give the finished temporary file the mode of a normally created file, then move it onto ``path``.

    The mode is set after writing because a writer may replace the file it is handed (safetensors
    does: its file came out 0600 whatever the temporary file's mode was)."""
    os.chmod(tmp, _file_mode())
    os.replace(tmp, path)


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Save ``tensors`` to ``path`` as safetensors; the file appears whole or not at all."""
    path = Path(path)
    handle, tmp = _atomic_target(path)
    os.close(handle)
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, tmp, metadata=metadata)
        _publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_tensors(path: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Load a safetensors file; a missing or corrupt file raises ``FileNotFoundError``/``ValueError``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint tensors not found: {path}")
    try:
        return load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"checkpoint file {path} is corrupt or not a safetensors file: {error}") from error


def save_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    path = Path(path)
    handle, tmp = _atomic_target(path)
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(data, stream, indent=2, sort_keys=False)
            stream.write("\n")
        _publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_json(path: str | Path) -> Any:
    """Read JSON from ``path``; missing or malformed files raise errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error
