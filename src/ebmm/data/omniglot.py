"""Omniglot (Lake et al., 2015) from the official zips or their extracted folders.

Layout: ``images_background[_small1].zip`` holding ``images_background[_small1]/<Alphabet>/<characterNN>/<id>_<drawer>.png``,
105x105 1-bit PNG, white background (1) and black ink (0). Loaded images are inverted so that ink = 1.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from ebmm.data._common import Part, finish

HOW_TO_GET = (
    "Get the official files from https://github.com/brendenlake/omniglot (python/images_background.zip and "
    "python/images_evaluation.zip; the *_small1/_small2 subsets work too) and put them, zipped or extracted, in "
    "DATA_DIR/omniglot, or pass data_dir= / set EBMM_DATA"
)


def _candidates(root: Path, prefix: str) -> list[Path]:
    """Zips and extracted folders named ``prefix*`` in root and root/omniglot; a folder wins over its own zip."""
    found: dict[tuple[Path, str], Path] = {}
    for where in (root, root / "omniglot"):
        if not where.is_dir():
            continue
        for p in sorted(where.glob(prefix + "*")):
            if p.is_dir():
                found[(where, p.name)] = p
            elif p.suffix.lower() == ".zip":
                found.setdefault((where, p.stem), p)
    return [found[k] for k in sorted(found, key=lambda k: (str(k[0]), k[1]))]


def locate(root: Path) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """(background sources, evaluation sources); raise FileNotFoundError when there is no background set."""
    background = _candidates(root, "images_background")
    evaluation = _candidates(root, "images_evaluation")
    if not background:
        raise FileNotFoundError(
            f"No Omniglot data found: searched {root} and {root / 'omniglot'} for images_background*.zip / "
            f"images_evaluation.zip or extracted folders of the same names "
            f"(<name>/<Alphabet>/<characterNN>/<id>_<drawer>.png). " + HOW_TO_GET.replace("DATA_DIR", str(root))
        )
    return tuple(background), tuple(evaluation)


Key = tuple[str, str, str]  # (alphabet, character, file name)


def _entries(source: Path, stack: ExitStack) -> Iterator[tuple[Key, object]]:
    """(key, reader) for every PNG of one zip or folder; reader() returns the PNG bytes."""
    if source.is_dir():
        for p in sorted(source.rglob("*.png")):
            rel = p.relative_to(source).parts
            if len(rel) >= 3:
                yield (rel[-3], rel[-2], rel[-1]), p.read_bytes
        return
    z = stack.enter_context(zipfile.ZipFile(source))
    for info in z.infolist():
        parts = PurePosixPath(info.filename).parts
        if info.is_dir() or not info.filename.lower().endswith(".png") or len(parts) < 3:
            continue
        yield (parts[-3], parts[-2], parts[-1]), (lambda z=z, info=info: z.read(info))


def decode(sources: tuple[Path, ...], size: int, binarize: bool) -> Part:
    """All distinct images of the given sources, sorted by (alphabet, character, file); groups = character."""
    from PIL import Image

    with ExitStack() as stack:
        entries: dict[Key, object] = {}
        total = 0
        for source in sources:
            for key, reader in _entries(source, stack):
                total += 1
                entries.setdefault(key, reader)  # Greek and Latin appear in both small subsets: keep one copy
        if not entries:
            raise FileNotFoundError(f"no PNG images in {', '.join(map(str, sources))} (expected <Alphabet>/<characterNN>/*.png)")
        keys = sorted(entries)
        raw = []
        shape = None
        for key in keys:
            with Image.open(io.BytesIO(entries[key]())) as im:  # type: ignore[operator]
                a = np.asarray(im.convert("L"), dtype=np.uint8)
            if shape is None:
                shape = a.shape
            elif a.shape != shape:
                raise ValueError(f"Omniglot image {'/'.join(key)} is {a.shape}, the others are {shape}")
            raw.append(a)
    assert shape is not None  # entries is not empty
    ink = torch.from_numpy(np.stack(raw)[:, None])  # uint8, 255 = white background
    images = torch.empty(len(keys), 1, size, size)
    for start in range(0, len(keys), 1024):  # convert in chunks: 105x105 floats of all images would be ~200 MB
        block = 1.0 - ink[start : start + 1024].float() / 255.0
        images[start : start + 1024] = finish(block, size, binarize)
    characters = sorted({(a, c) for a, c, _ in keys})
    index = {ch: i for i, ch in enumerate(characters)}
    groups = torch.tensor([index[(a, c)] for a, c, _ in keys], dtype=torch.int64)
    alphabets = len({a for a, _ in characters})
    names = ", ".join(s.name for s in sources)
    where = ", ".join(sorted({str(s.parent) for s in sources}))
    dup = total - len(keys)
    description = (
        f"Omniglot {names} in {where}: {len(keys)} distinct images of {len(characters)} characters in {alphabets} alphabets"
        + (f" ({dup} duplicates across sources dropped)" if dup else "")
        + f", inverted (ink = 1), resized {shape[0]}x{shape[1]} -> {size}x{size} (antialiased bilinear)"
        + (", binarised at 0.5" if binarize else "")
    )
    return Part(images, description, groups, "character")
