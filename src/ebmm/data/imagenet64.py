"""Downsampled ImageNet 64x64 (Chrabaszcz, Loshchilov & Hutter, 2017) in its npz format.

Each npz holds ``data``: uint8 (N, 12288), a row being the R plane (4096 bytes), then G, then B, of a 64x64 image (the
CIFAR order), plus ``labels`` and ``mean`` (unused). Training files: ``Imagenet64_train_part*.npz`` or, as the official
``Imagenet64_train_part1_npz.zip`` / ``..._part2_npz.zip`` extract, ``train_data_batch_1.npz`` .. ``train_data_batch_10.npz``;
validation (our test split): ``Imagenet64_val_data.npz`` or ``val_data.npz`` (from ``Imagenet64_val_npz.zip``).
Imagenet32 files (rows of 3072 bytes) load the same way.

The training set is 1.28 M images (15.7 GB as uint8, 63 GB as float32): pass ``limit`` to read only the first rows
(``limit`` rows are read from the start of the compressed stream; the rest of the file is never decompressed).
"""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path

import numpy as np

from ebmm.data._common import Part, finish, uint8_to_float

TRAIN_PATTERNS = ("Imagenet64_train_part*.npz", "train_data_batch_*.npz")
TEST_PATTERNS = ("Imagenet64_val_data.npz", "val_data.npz")
HOW_TO_GET = (
    "Get the npz files of 'Downsampled ImageNet 64x64' from https://image-net.org/download-images (account needed): "
    "Imagenet64_train_part1_npz.zip, Imagenet64_train_part2_npz.zip, Imagenet64_val_npz.zip; extract them into DATA_DIR/imagenet64"
)


def _natural(p: Path) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)) + (str(p),)


def search_dirs(root: Path) -> list[Path]:
    dirs = [root, root / "imagenet64", root / "Imagenet64"]
    for base in list(dirs[1:]) + [root]:
        if base.is_dir():  # one level of extracted-zip folders, e.g. imagenet64/Imagenet64_train_part1_npz/
            dirs.extend(sorted(p for p in base.iterdir() if p.is_dir() and p not in dirs))
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


def locate(root: Path, part: str) -> tuple[Path, ...]:
    patterns = TRAIN_PATTERNS if part == "train" else TEST_PATTERNS
    dirs = search_dirs(root)
    files = sorted({p for d in dirs for pat in patterns for p in d.glob(pat) if p.is_file()}, key=_natural)
    if not files:
        raise FileNotFoundError(
            f"No downsampled-ImageNet {part} files found: searched {root}, {root / 'imagenet64'} (and their subfolders) for "
            f"{' or '.join(patterns)}. " + HOW_TO_GET.replace("DATA_DIR", str(root))
        )
    return tuple(files)


def read_npz_rows(path: Path, key: str = "data", limit: int | None = None) -> np.ndarray:
    """``npz[key]`` or, with ``limit``, only its first ``limit`` rows, read from the start of the (compressed) member."""
    with zipfile.ZipFile(path) as z:
        member = key + ".npy"
        if member not in z.namelist():
            raise ValueError(f"{path}: no array {key!r} (found {[n.removesuffix('.npy') for n in z.namelist()]})")
        with z.open(member) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:  # pragma: no cover - npy 3.0 only differs in the header's text encoding
                with np.load(path, allow_pickle=False) as npz:
                    return np.asarray(npz[key])[:limit]
            if fortran or dtype.hasobject or len(shape) != 2:
                raise ValueError(f"{path}[{key!r}]: expected a C-ordered 2-D array of rows, got shape {shape}, dtype {dtype}")
            rows = shape[0] if limit is None else min(limit, shape[0])
            nbytes = rows * shape[1] * dtype.itemsize
            buf = f.read(nbytes)
    if len(buf) != nbytes:
        raise ValueError(f"{path}[{key!r}]: truncated ({len(buf)} of {nbytes} bytes)")
    return np.frombuffer(bytearray(buf), dtype=dtype).reshape(rows, shape[1])


def decode(files: tuple[Path, ...], size: int, binarize: bool, limit: int | None) -> Part:
    chunks: list[np.ndarray] = []
    used: list[str] = []
    remaining = limit
    for p in files:
        if remaining is not None and remaining <= 0:
            break
        rows = read_npz_rows(p, "data", remaining)
        if rows.dtype != np.uint8:
            raise ValueError(f"{p}: expected uint8 rows, got {rows.dtype}")
        chunks.append(rows)
        used.append(p.name)
        if remaining is not None:
            remaining -= len(rows)
    data = np.concatenate(chunks)
    side = math.isqrt(data.shape[1] // 3)
    if 3 * side * side != data.shape[1]:
        raise ValueError(f"{files[0]}: rows of {data.shape[1]} bytes are not 3 square colour planes (12288 = 3x64x64)")
    images = finish(uint8_to_float(data.reshape(-1, 3, side, side)), size, binarize)
    where = ", ".join(sorted({str(p.parent) for p in files}))
    return Part(
        images,
        f"downsampled ImageNet {', '.join(used)} in {where}: {len(data)} images"
        + (f" (first {limit} rows)" if limit is not None else "")
        + f", 3x{side}x{side}"
        + (f" resized to {size}x{size}" if size != side else "")
        + (", binarised at 0.5" if binarize else ""),
    )
