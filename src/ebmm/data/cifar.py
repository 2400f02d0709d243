"""CIFAR-10 from the official python batches (folder or ``cifar-10-python.tar.gz``) or an image array.

Official batches: pickled dicts with ``b"data"``, uint8 (10000, 3072), each row the R plane (1024 bytes), then G,
then B, of a 32x32 image. ``data_batch_1`` .. ``data_batch_5`` are the training set, ``test_batch`` the test set.
They are read with a restricted unpickler that only rebuilds numpy arrays (no arbitrary code from a pickle).
"""

from __future__ import annotations

import io
import pickle
import re
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from ebmm.data._common import Part, finish, uint8_to_float

FOLDER = "cifar-10-batches-py"
TARBALL = "cifar-10-python.tar.gz"
HOW_TO_GET = "Get cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and put it (or its extracted cifar-10-batches-py folder) in DATA_DIR/cifar10"

_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),  # what the official (python 2) pickles name
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch (only numpy arrays are allowed)")
        if module.startswith("numpy.core."):  # numpy >= 2 renamed numpy.core to numpy._core (the old name warns)
            module = "numpy._core." + module.split(".", 2)[2]
        return super().find_class(module, name)


def _unpickle_batch(data: bytes, what: str) -> np.ndarray:
    try:
        batch = _NumpyOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as e:
        raise ValueError(f"{what} is not a CIFAR python batch: {e}") from e
    if not isinstance(batch, dict) or (b"data" not in batch and "data" not in batch):
        raise ValueError(f"{what} is not a CIFAR python batch (no 'data' entry)")
    rows = np.asarray(batch.get(b"data", batch.get("data")))
    if rows.dtype != np.uint8 or rows.ndim != 2 or rows.shape[1] != 3072:
        raise ValueError(f"{what}: expected uint8 rows of 3072 bytes, got {rows.dtype} {rows.shape}")
    return rows


def _batch_names(part: str) -> re.Pattern[str]:
    return re.compile(r"data_batch_\d+" if part == "train" else r"test_batch")


def _sort_key(name: str) -> tuple[str, int]:
    m = re.search(r"(\d+)$", name)
    return (name.rstrip("0123456789"), int(m.group(1)) if m else 0)


def locate(root: Path) -> tuple[str, Path | tuple[Path, ...]]:
    """('batches', folder) | ('tarball', file) | ('array', (npz/npy files...)); FileNotFoundError if none."""
    places = [root, root / "cifar10"]
    for where in places:
        if (where / FOLDER).is_dir():
            return "batches", where / FOLDER
    for where in places:
        if (where / TARBALL).is_file():
            return "tarball", where / TARBALL
    arrays: list[Path] = []
    if (root / "cifar10").is_dir():
        arrays = sorted(p for p in (root / "cifar10").iterdir() if p.suffix in (".npz", ".npy") and p.is_file())
    if not arrays and root.is_dir():
        arrays = sorted(p for p in root.iterdir() if p.suffix in (".npz", ".npy") and "cifar" in p.name.lower() and p.is_file())
    if len(arrays) > 1:
        raise ValueError(f"several CIFAR-10 arrays found ({', '.join(map(str, arrays))}); keep one, or load one with dataset='array', path=...")
    if arrays:
        return "array", (arrays[0],)
    raise FileNotFoundError(
        f"No CIFAR-10 data found: searched {root} and {root / 'cifar10'} for the folder {FOLDER}/ (data_batch_1..5, test_batch), "
        f"the archive {TARBALL}, or an image array (.npz with key 'images' or a single array, or .npy, in {root / 'cifar10'}). "
        + HOW_TO_GET.replace("DATA_DIR", str(root))
    )


def decode_batches(kind: str, where: Path, part: str, size: int, binarize: bool) -> Part:
    """One official part ('train' or 'test') of the batches folder or the tarball."""
    pattern = _batch_names(part)
    chunks: list[np.ndarray] = []
    names: list[str] = []
    if kind == "batches":
        files = sorted((p for p in where.iterdir() if pattern.fullmatch(p.name)), key=lambda p: _sort_key(p.name))
        for p in files:
            chunks.append(_unpickle_batch(p.read_bytes(), str(p)))
            names.append(p.name)
    else:
        with tarfile.open(where, "r:*") as tar:
            members = sorted(
                (m for m in tar.getmembers() if m.isfile() and pattern.fullmatch(Path(m.name).name)), key=lambda m: _sort_key(Path(m.name).name)
            )
            for m in members:
                f = tar.extractfile(m)
                assert f is not None
                chunks.append(_unpickle_batch(f.read(), f"{where}:{m.name}"))
                names.append(Path(m.name).name)
    if not chunks:
        want = "data_batch_1..5" if part == "train" else "test_batch"
        raise FileNotFoundError(f"CIFAR-10 {part} batches ({want}) not found in {where}")
    rows = np.concatenate(chunks)
    images = finish(uint8_to_float(rows.reshape(-1, 3, 32, 32)), size, binarize)  # planar R, G, B -> NCHW
    return Part(images, f"CIFAR-10 {', '.join(names)} from {where}: {len(rows)} images, 3x32x32" + _resized(size, binarize))


def _resized(size: int, binarize: bool) -> str:
    return (f", resized to {size}x{size}" if size != 32 else "") + (", binarised at 0.5" if binarize else "")

