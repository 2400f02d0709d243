"""A small, offline stand-in for ImageNet 64x64: random crops of the colour photos bundled with scikit-image.

NOT ImageNet: a handful of natural photographs (``skimage.data``), each cut into many random square crops. Use it
for smoke tests and demos of colour-image pipelines when no downsampled ImageNet is at hand. The train and test
crops come from disjoint photos (split by photo, seeded), so test images are never crops of a training photo.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ebmm.data._common import Part, binarise

# Colour photos shipped inside the scikit-image wheel, read straight from its data folder so that nothing can
# trigger skimage's download-on-demand fetcher. chelsea == cat; retina and hubble_deep_field are left out:
# mostly black, their crops would be near-constant.
PHOTO_FILES = {
    "astronaut": "astronaut.png",
    "coffee": "coffee.png",
    "chelsea": "chelsea.png",
    "rocket": "rocket.jpg",
    "immunohistochemistry": "ihc.png",
    "motorcycle": "motorcycle_left.png",
}
PHOTOS = tuple(PHOTO_FILES)
CROPS_PER_PHOTO = 500
LABEL = "stand-in for ImageNet 64x64: crops of skimage.data photos"


def _import_skimage_data():  # type: ignore[no-untyped-def]
    try:
        import skimage.data
    except ImportError as e:
        raise ImportError(
            "dataset 'skimage' needs scikit-image: pip install scikit-image (or the project's extra: pip install 'ebmm[images]')"
        ) from e
    return skimage.data


def _photo(data, name: str) -> np.ndarray | None:  # type: ignore[no-untyped-def]
    """The bundled photo ``name`` as ``(H, W, 3)`` uint8, or None when this scikit-image does not ship it."""
    from PIL import Image

    path = Path(data.__file__).parent / PHOTO_FILES[name]
    if not path.is_file():
        return None
    with Image.open(path) as image:
        img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] < 3 or img.dtype != np.uint8:
        return None
    return np.ascontiguousarray(img[:, :, :3])


def decode(size: int, binarize: bool, seed: int, crops_per_photo: int | None = None) -> Part:
    """``crops_per_photo`` crops of every available photo: side uniform in [size, max(size, min(H, W) // 2)], random
    position, resized to size x size (PIL box filter); groups = photo."""
    from PIL import Image

    crops_per_photo = CROPS_PER_PHOTO if crops_per_photo is None else crops_per_photo
    data = _import_skimage_data()
    g = torch.Generator().manual_seed(seed)
    used: list[str] = []
    crops: list[np.ndarray] = []
    groups: list[int] = []
    for name in PHOTOS:
        img = _photo(data, name)
        if img is None or min(img.shape[:2]) < size:
            continue
        h, w = img.shape[:2]
        top_side = max(size, min(h, w) // 2)
        sides = torch.randint(size, top_side + 1, (crops_per_photo,), generator=g).tolist()
        u = torch.rand(crops_per_photo, 2, generator=g).tolist()
        for side, (a, b) in zip(sides, u, strict=True):
            y, x = int(a * (h - side + 1)), int(b * (w - side + 1))
            crop = Image.fromarray(img[y : y + side, x : x + side])
            if side != size:
                crop = crop.resize((size, size), Image.Resampling.BOX)
            crops.append(np.asarray(crop))
        groups += [len(used)] * crops_per_photo
        used.append(name)
    if len(used) < 2:
        raise RuntimeError(f"only {len(used)} of the skimage.data photos {PHOTOS} could be read offline; need at least 2")
    images = torch.from_numpy(np.stack(crops).astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()
    if binarize:
        images = binarise(images)
    description = (
        f"{LABEL} ({', '.join(used)}; {crops_per_photo} random square crops per photo, side uniform in "
        f"[{size}, min(H, W)/2], resized to {size}x{size}; seed {seed})" + (", binarised at 0.5" if binarize else "")
    )
    return Part(images, description, torch.tensor(groups, dtype=torch.int64), "photo")
