"""Image datasets for associative-memory experiments: one entry point, :func:`load_images`.

Every loader reads the dataset's official file format (see the modules ``omniglot``, ``cifar``, ``idx``,
``imagenet64``, ``arrays``, ``skimage_crops``) and returns float32 ``(M, C, H, W)`` images in [0, 1]. Splits:

* official where the files define one (Omniglot background/evaluation, CIFAR-10 batches, MNIST train/t10k,
  downsampled-ImageNet train/val);
* otherwise a seeded split: Omniglot without its evaluation set by *character* (no character on both sides),
  the skimage stand-in by *photo*, arrays and the CIFAR subset by index. The groups (characters, photos, indices) are
  sorted and permuted with ``torch.randperm`` under ``seed``; ``round(test_fraction * groups)`` go to test.

Results are cached in-process, keyed on the arguments and on the files' paths, mtimes and sizes (rewritten files are
read again): a repeated call costs a directory listing and a few ``stat`` calls, so it can be made every training
step. The returned tensors are shared with the cache: treat them as read-only (``.clone()`` before modifying in place).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import torch

from ebmm.data import arrays, cifar, idx, imagenet64, omniglot, skimage_crops
from ebmm.data._common import Part, fingerprint, split_mask

DATASETS = ("omniglot", "cifar10", "mnist", "fashion-mnist", "array", "imagenet64", "skimage")
SPLITS = ("train", "test", "all")
DEFAULT_SIZE = {"imagenet64": 64, "skimage": 64}  # others: 32
BINARY_BY_DEFAULT = ("omniglot", "mnist")
ENV_VAR = "EBMM_DATA"
DEFAULT_DATA_DIR = Path("~/.cache/ebmm")


@dataclass
class ImageSet:
    images: torch.Tensor  # (M, C, H, W) float32 in [0, 1]
    binary: bool  # values are exactly 0 or 1
    name: str  # one of DATASETS
    split: str  # "train", "test" or "all"
    source: str  # human description of the files read and of the split

    def __len__(self) -> int:
        return int(self.images.shape[0])


def resolve_data_dir(data_dir: str | Path | None = None, *, create: bool = False) -> Path:
    """``data_dir`` if given, else ``$EBMM_DATA``, else ``~/.cache/ebmm``.

    A directory given explicitly (argument or environment) must exist unless ``create``; the default one need not
    (loaders then report what they searched for), and is made when ``create``.
    """
    if data_dir is not None and str(data_dir) != "":
        path, origin = Path(data_dir).expanduser(), "data_dir"
    elif os.environ.get(ENV_VAR):
        path, origin = Path(os.environ[ENV_VAR]).expanduser(), f"${ENV_VAR}"
    else:
        path, origin = DEFAULT_DATA_DIR.expanduser(), ""
    if create:
        path.mkdir(parents=True, exist_ok=True)
    elif origin and not path.is_dir():
        raise FileNotFoundError(f"data directory {path} (from {origin}) does not exist" + (" or is not a directory" if path.exists() else ""))
    return path


def clear_image_cache() -> None:
    """Drop the decoded images kept by :func:`load_images`."""
    _assemble.cache_clear()
    _decode.cache_clear()


@lru_cache(maxsize=8)
def _decode(dataset: str, part: str, stamp: tuple, size: int, binarize: bool, limit: int | None, seed: int) -> Part:
    """Decode one part; ``stamp`` = (kind, fingerprint of the files): the files' identity, part of the cache key."""
    kind, files = stamp
    paths = tuple(Path(f[0]) for f in files)
    if dataset == "omniglot":
        return omniglot.decode(paths, size, binarize)
    if dataset == "cifar10":
        if kind == "array":
            return arrays.decode(paths[0], size, binarize)
        return cifar.decode_batches(kind, paths[0], part, size, binarize)
    if dataset in ("mnist", "fashion-mnist"):
        return idx.decode(dataset, paths[0], size, binarize)
    if dataset == "imagenet64":
        return imagenet64.decode(paths, size, binarize, limit)
    if dataset == "array":
        return arrays.decode(paths[0], size, binarize)
    if dataset == "skimage":
        return skimage_crops.decode(size, binarize, seed)
    raise AssertionError(dataset)


def _plan(dataset: str, root: Path | None, path: Path | None, split: str) -> tuple[str, dict[str, tuple[str, tuple]]]:
    """("official", {part: stamp}) with the parts ``split`` needs, or ("pool", {"pool": stamp}) to be split by group."""
    parts = ("train", "test") if split == "all" else (split,)
    if dataset == "omniglot":
        assert root is not None
        background, evaluation = omniglot.locate(root)
        if evaluation:
            both = {"train": background, "test": evaluation}
            return "official", {p: ("zips", fingerprint(both[p])) for p in parts}
        return "pool", {"pool": ("zips", fingerprint(background))}
    if dataset == "cifar10":
        assert root is not None
        kind, where = cifar.locate(root)
        if kind == "array":
            assert isinstance(where, tuple)
            return "pool", {"pool": ("array", fingerprint(where))}
        assert isinstance(where, Path)
        return "official", {p: (kind, fingerprint((where,))) for p in parts}
    if dataset in ("mnist", "fashion-mnist"):
        assert root is not None
        return "official", {p: ("idx", fingerprint((idx.locate(dataset, root, p),))) for p in parts}
    if dataset == "imagenet64":
        assert root is not None
        return "official", {p: ("npz", fingerprint(imagenet64.locate(root, p))) for p in parts}
    if dataset == "array":
        assert path is not None
        return "pool", {"pool": ("array", fingerprint((arrays.locate(path),)))}
    if dataset == "skimage":
        return "pool", {"pool": ("skimage", ())}
    raise AssertionError(dataset)


def load_images(
    dataset: str,
    data_dir: str | Path | None = None,
    split: str = "train",
    *,
    size: int | None = None,
    seed: int = 0,
    test_fraction: float = 0.2,
    path: str | Path | None = None,
    binarize: bool | None = None,
    limit: int | None = None,
) -> ImageSet:
    """Load ``split`` ("train", "test" or "all") of ``dataset`` (one of :data:`DATASETS`) from ``data_dir``.

    Args:
        data_dir: folder holding the files (or a subfolder named after the dataset); default ``$EBMM_DATA``, else
            ``~/.cache/ebmm``. See the dataset modules for the layouts searched.
        size: output side; default 32, but 64 for "imagenet64" and "skimage" (an explicit value is always honoured,
            e.g. ``size=32`` downsamples ImageNet 64x64 to 32x32). Non-square or other-size images are centre-cropped
            to a square and resampled (antialiased bilinear); 28x28 (M)NIST images are first zero-padded to 32x32.
        seed, test_fraction: the split where the files define none (by character / photo / index), and the crops of
            "skimage". Ignored for official splits.
        path: for "array" only: an .npz (key "images" or its only array), an .npy, or a folder of image files;
            defaults to ``data_dir``.
        binarize: threshold at 0.5 to {0, 1}; default True for "omniglot" and "mnist", False otherwise.
        limit: keep only the first ``limit`` images of the split (for "all" with an official split, of train and of
            test each). For "imagenet64" only those rows are read from disk.

    Returns:
        An :class:`ImageSet` whose ``images`` tensor is shared with the in-process cache: read-only by contract.

    Raises:
        ValueError: unknown dataset or split, bad arguments, malformed files.
        FileNotFoundError: no files; the message says which names and layouts were searched for, where, and how to
            get them.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if size is None:
        size = DEFAULT_SIZE.get(dataset, 32)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    if binarize is None:
        binarize = dataset in BINARY_BY_DEFAULT
    binarize = bool(binarize)

    root: Path | None = None
    array_path: Path | None = None
    if dataset == "array":
        given = path if path is not None else data_dir
        if given is None or str(given) == "":
            raise ValueError(
                "dataset 'array' needs a file or folder: path= (an .npz / .npy array or a folder of images); "
                "in a config, task.data_dir; on the command line, --path"
            )
        array_path = Path(given).expanduser()
    else:
        if path is not None:
            raise ValueError(f"path= is only used with dataset='array'; for {dataset!r} pass data_dir=")
        if dataset != "skimage":
            root = resolve_data_dir(data_dir)

    kind, stamps = _plan(dataset, root, array_path, split)
    cached = _assemble(dataset, kind, tuple(stamps.items()), split, size, seed, test_fraction, binarize, limit)
    return replace(cached)  # a new ImageSet object; the tensor is shared with the cache


@lru_cache(maxsize=16)
def _assemble(
    dataset: str, kind: str, stamps: tuple, split: str, size: int, seed: int, test_fraction: float, binarize: bool, limit: int | None
) -> ImageSet:
    """The split from the decoded parts (official) or pool (split by group)."""
    if kind == "official":
        decode_limit = limit if dataset == "imagenet64" else None  # read only those rows
        pieces = [(part, _decode(dataset, part, stamp, size, binarize, decode_limit, 0)) for part, stamp in stamps]
        chosen = [d.images[:limit] for _, d in pieces]
        images = chosen[0] if len(chosen) == 1 else torch.cat(chosen)
        descr = "; ".join(f"{part}: {d.description}" for part, d in pieces)
        how = "official split" if split != "all" else "official train + test"
    else:
        ((_, stamp),) = stamps
        decode_seed = seed if dataset == "skimage" else 0  # only the skimage crops depend on the seed
        decoded = _decode(dataset, "pool", stamp, size, binarize, None, decode_seed)
        if split == "all":
            images = decoded.images
            how = "all images"
        else:
            groups = decoded.groups if decoded.groups is not None else torch.arange(len(decoded.images))
            is_test, n_train, n_test = split_mask(groups, seed, test_fraction, decoded.group_noun)
            images = decoded.images[is_test if split == "test" else ~is_test]
            how = (
                f"split by {decoded.group_noun} (seed {seed}, test_fraction {test_fraction}): "
                f"{n_train} train / {n_test} test {decoded.group_noun}s"
            )
        images = images[:limit]
        descr = decoded.description
    limited = f", first {limit}" if limit is not None else ""
    source = f"{descr}; {how}{limited} -> {split}: {len(images)} images {tuple(images.shape[1:])}"
    return ImageSet(images=images, binary=binarize, name=dataset, split=split, source=source)


def sample_episodes(images: torch.Tensor | ImageSet, episodes: int, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``(episodes, count, C, H, W)``: each episode ``count`` distinct images drawn uniformly without replacement.

    Indices are drawn on the CPU with ``generator`` (episodes are independent of one another), then gathered on
    the images' device; the result is a new tensor.
    """
    if isinstance(images, ImageSet):
        images = images.images
    if images.dim() != 4:
        raise ValueError(f"images must be (M, C, H, W), got shape {tuple(images.shape)}")
    if episodes < 1 or count < 1:
        raise ValueError(f"episodes and count must be positive, got {episodes}, {count}")
    m = images.shape[0]
    if count > m:
        raise ValueError(f"cannot draw {count} distinct images per episode from a set of {m}")
    if count * count <= m:
        # Draw with replacement and redraw the rows that repeat an index: uniform over distinct tuples, O(episodes *
        # count) instead of a permutation of all m images per episode (a row repeats with probability < 1/2).
        index = torch.randint(m, (episodes, count), generator=generator)
        while True:
            ordered = index.sort(dim=1).values
            repeats = (ordered[:, 1:] == ordered[:, :-1]).any(dim=1)
            if not repeats.any():
                break
            index[repeats] = torch.randint(m, (int(repeats.sum()), count), generator=generator)
    else:
        index = torch.stack([torch.randperm(m, generator=generator)[:count] for _ in range(episodes)])
    return images[index.to(images.device)]
