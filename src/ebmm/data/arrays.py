"""Generic image collections: an ``.npz`` / ``.npy`` array, or a folder of image files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from ebmm.data._common import IMAGE_SUFFIXES, Part, finish, list_image_files, resize, to_nchw_float

ARRAY_SUFFIXES = (".npz", ".npy")


def locate(path: Path) -> Path:
    """The array file or image folder that ``path`` designates (a folder holding one array and no images: that array)."""
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist (expected an .npz / .npy image array or a folder of {'/'.join(IMAGE_SUFFIXES)} files)")
    if path.is_file():
        if path.suffix.lower() not in ARRAY_SUFFIXES + IMAGE_SUFFIXES:
            raise ValueError(f"{path}: unsupported file type; expected .npz, .npy or a folder of images")
        return path
    if list_image_files(path):
        return path
    arrays = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in ARRAY_SUFFIXES)
    if len(arrays) == 1:
        return arrays[0]
    if arrays:
        raise ValueError(f"{path} holds several arrays ({', '.join(p.name for p in arrays)}); pass one of them as path=")
    raise FileNotFoundError(f"{path}: no image files ({'/'.join(IMAGE_SUFFIXES)}) and no .npz/.npy array in it")


def read_array(path: Path) -> tuple[np.ndarray, str]:
    """(array, key description) from an .npy, or an .npz's ``images`` entry or its only entry."""
    if path.suffix.lower() == ".npy":
        return np.load(path, allow_pickle=False), ""
    try:
        npz = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise ValueError(f"{path}: not a readable .npz ({e})") from e
    with npz:
        keys = list(npz.files)
        if "images" in keys:
            key = "images"
        elif len(keys) == 1:
            key = keys[0]
        else:
            raise ValueError(f"{path}: expected a key 'images' or a single array, found keys {keys}")
        return npz[key], f"[{key!r}]"


def read_folder(folder: Path, size: int) -> torch.Tensor:
    """Every image file under ``folder`` (sorted by path), as colour if any is colour, else grey; each resized to size."""
    from PIL import Image

    files = [folder] if folder.is_file() else list_image_files(folder)
    pictures: list[Image.Image] = []
    for p in files:
        with Image.open(p) as opened:
            opened.load()
            pictures.append(opened.copy())
    grey_modes = {"1", "L", "LA", "I", "I;16", "F"}
    colour = any(im.mode not in grey_modes for im in pictures)
    out = torch.empty(len(pictures), 3 if colour else 1, size, size)
    for i, im in enumerate(pictures):
        if im.mode in ("I", "I;16", "F"):  # 16-bit / float greyscale: scale by the type's range
            a = np.asarray(im, dtype=np.float32) / (65535.0 if im.mode.startswith("I") else 1.0)
            x = torch.from_numpy(np.clip(a, 0.0, 1.0))[None]
        else:
            a = np.asarray(im.convert("RGB" if colour else "L"), dtype=np.uint8)
            x = torch.from_numpy(a.astype(np.float32) / 255.0)
            x = x.permute(2, 0, 1) if colour else x[None]
        out[i] = resize(x[None], size)[0]
    return out


def decode(path: Path, size: int, binarize: bool) -> Part:
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        x = read_folder(path, size)
        what = f"{len(x)} image files under {path}" if path.is_dir() else f"image file {path}"
        orig = ""
    else:
        array, key = read_array(path)
        x = to_nchw_float(array, str(path))
        what = f"array {path}{key}: {len(x)} images"
        orig = f" ({x.shape[1]}x{x.shape[2]}x{x.shape[3]})"
    images = finish(x, size, binarize)
    return Part(images, f"{what}{orig}, {images.shape[1]}x{size}x{size}" + (", binarised at 0.5" if binarize else ""))
