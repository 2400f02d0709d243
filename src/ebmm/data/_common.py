"""Shared helpers of the image loaders: conversion to float NCHW, resizing, binarising, splitting."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


@dataclass(frozen=True)
class Part:
    """Decoded images of one source part (official train or test files, or a pool to be split)."""

    images: torch.Tensor  # (M, C, H, W) float32 in [0, 1]
    description: str  # which files, how many images
    groups: torch.Tensor | None = None  # int64 (M,): images of one group never straddle train/test (None: by index)
    group_noun: str = "image"  # what a group is, for the split description ("character", "photo")


def uint8_to_float(array: np.ndarray) -> torch.Tensor:
    """uint8 array -> float32 tensor in [0, 1] (a fresh, writable copy)."""
    out = torch.from_numpy(np.asarray(array, dtype=np.float32))
    return out.div_(255.0)


def to_nchw_float(array: np.ndarray, what: str) -> torch.Tensor:
    """Accept (N,H,W), (N,H,W,C) or (N,C,H,W) with C in {1, 3}; uint8, bool or float in [0, 1]."""
    a = np.asarray(array)
    if a.ndim == 3:
        a = a[:, None]
    elif a.ndim == 4:
        first, last = a.shape[1] in (1, 3), a.shape[-1] in (1, 3)
        if last and (not first or a.shape[1] == a.shape[2]):
            a = a.transpose(0, 3, 1, 2)  # NHWC (also the tie-break when both ends look like channels)
        elif not first:
            raise ValueError(f"{what}: cannot tell the channel axis of shape {a.shape}; expected NHWC or NCHW with 1 or 3 channels")
    else:
        raise ValueError(f"{what}: expected images of shape (N,H,W), (N,H,W,C) or (N,C,H,W), got {a.shape}")
    if a.shape[0] == 0:
        raise ValueError(f"{what}: no images (shape {a.shape})")
    if a.dtype == np.uint8:
        return uint8_to_float(np.ascontiguousarray(a))
    if a.dtype == np.bool_:
        return torch.from_numpy(a.astype(np.float32))
    if np.issubdtype(a.dtype, np.floating):
        lo, hi = float(a.min()), float(a.max())
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0.0 or hi > 1.0:
            raise ValueError(f"{what}: float images must lie in [0, 1], found values in [{lo}, {hi}]")
        return torch.from_numpy(a.astype(np.float32))
    raise ValueError(f"{what}: unsupported dtype {a.dtype}; use uint8 (0..255), bool, or float in [0, 1]")


def center_square(x: torch.Tensor) -> torch.Tensor:
    """Crop the central square of (..., H, W)."""
    h, w = x.shape[-2:]
    if h == w:
        return x
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return x[..., top : top + s, left : left + s]


def resize(x: torch.Tensor, size: int, chunk: int = 2048) -> torch.Tensor:
    """(M, C, H, W) -> (M, C, size, size): centre square crop, then antialiased bilinear resampling, clamped to [0, 1]."""
    x = center_square(x)
    if x.shape[-1] == size:
        return x
    out = torch.empty(x.shape[0], x.shape[1], size, size, dtype=torch.float32)
    for start in range(0, x.shape[0], chunk):
        block = x[start : start + chunk].float()
        out[start : start + chunk] = F.interpolate(block, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return out.clamp_(0.0, 1.0)


def binarise(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """1 where x > threshold, else 0 (float32)."""
    return (x > threshold).float()


def finish(x: torch.Tensor, size: int, binarize: bool) -> torch.Tensor:
    x = resize(x, size)
    return binarise(x) if binarize else x.contiguous()


def split_mask(groups: torch.Tensor, seed: int, test_fraction: float, noun: str) -> tuple[torch.Tensor, int, int]:
    """Boolean test mask choosing ``round(test_fraction * G)`` of the G distinct groups (at least one each side).

    The groups are sorted, then permuted by ``torch.randperm`` under ``seed``: deterministic, and independent of
    the global RNG.
    """
    unique, inverse = torch.unique(groups, sorted=True, return_inverse=True)
    n = unique.numel()
    if n < 2:
        raise ValueError(f"cannot split {n} {noun}(s) into train and test; need at least 2 (or use split='all')")
    n_test = min(max(1, round(test_fraction * n)), n - 1)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    is_test = torch.zeros(n, dtype=torch.bool)
    is_test[perm[:n_test]] = True
    return is_test[inverse], n - n_test, n_test


def fingerprint(paths: tuple[Path, ...]) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime_ns, size) of each path: the in-process cache is keyed on it, so rewritten files are re-read."""
    out = []
    for p in paths:
        st = p.stat()
        out.append((str(p.resolve()), st.st_mtime_ns, st.st_size))
    return tuple(out)


def list_image_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )
