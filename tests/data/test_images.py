"""ebmm.data.images: every loader reads tiny files written in the dataset's official format."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from ebmm.data import DATASETS, ImageSet, load_images, read_idx_images, resolve_data_dir, sample_episodes, skimage_crops

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


# ---------------------------------------------------------------- Omniglot


SQUARE = 30  # side of the ink square drawn for every character


def _corner(k: int) -> tuple[int, int]:
    """Top-left corner of character k's ink square: six distinct, non-overlapping places."""
    return 5 + (k // 3) * 50, 5 + (k % 3) * 33


def _omniglot_png(k: int) -> bytes:
    im = Image.new("1", (105, 105), 1)  # white background = 1, like the official files
    top, left = _corner(k)
    ImageDraw.Draw(im).rectangle([left, top, left + SQUARE - 1, top + SQUARE - 1], fill=0)  # black ink = 0
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _omniglot_zip(path: Path, alphabets: dict[str, int], drawers: int = 2) -> None:
    """Official layout: <stem>/<Alphabet>/<characterNN>/<id>_<drawer>.png; 3 characters per alphabet; the character's
    global index (offset + c) decides its picture, so both drawers of a character have the same picture."""
    stem = path.stem
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(stem + "/", b"")
        for alphabet, offset in alphabets.items():
            for c in range(3):
                for d in range(1, drawers + 1):
                    z.writestr(f"{stem}/{alphabet}/character{c + 1:02d}/{offset + c:04d}_{d:02d}.png", _omniglot_png(offset + c))


@pytest.fixture
def omniglot_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "omniglot").mkdir(parents=True)
    _omniglot_zip(root / "omniglot" / "images_background_small1.zip", {"Alpha": 0, "Beta": 3})
    return root


def test_omniglot_shapes_inversion_and_binarisation(omniglot_dir: Path) -> None:
    full = load_images("omniglot", omniglot_dir, "all", size=105)
    assert isinstance(full, ImageSet) and full.binary and full.name == "omniglot" and full.split == "all"
    assert full.images.shape == (12, 1, 105, 105) and full.images.dtype == torch.float32
    # sorted by (alphabet, character, file): image 0 is Alpha/character01 drawer 1 = picture 0
    top, left = _corner(0)
    expected = torch.zeros(105, 105)
    expected[top : top + SQUARE, left : left + SQUARE] = 1.0  # ink = 1, background = 0
    assert torch.equal(full.images[0, 0], expected)
    small = load_images("omniglot", omniglot_dir, "all")  # default size 32, binarised
    assert small.images.shape == (12, 1, 32, 32)
    assert set(small.images.unique().tolist()) <= {0.0, 1.0}
    ink = small.images.sum((1, 2, 3))
    assert torch.all((ink > 64) & (ink < 110))  # a 30-pixel square is ~9.1 pixels wide at 32/105
    grey = load_images("omniglot", omniglot_dir, "all", binarize=False)
    assert not grey.binary and ((grey.images > 0) & (grey.images < 1)).any()
    assert "12 distinct images of 6 characters" in full.source


def _pictures(images: torch.Tensor) -> list[bytes]:
    return [bytes((img > 0.5).numpy().tobytes()) for img in images]


def test_omniglot_split_by_character_never_mixes(omniglot_dir: Path) -> None:
    for seed in range(6):
        train = load_images("omniglot", omniglot_dir, "train", seed=seed, test_fraction=0.5)
        test = load_images("omniglot", omniglot_dir, "test", seed=seed, test_fraction=0.5)
        assert len(train) == len(test) == 6
        a, b = _pictures(train.images), _pictures(test.images)
        assert not set(a) & set(b)  # no character (= picture) on both sides
        assert all(b.count(p) == 2 for p in b)  # both drawers of each test character are in test
        assert "split by character" in test.source


def test_omniglot_split_is_seeded(omniglot_dir: Path) -> None:
    first = load_images("omniglot", omniglot_dir, "test", seed=3, test_fraction=0.5).images
    assert torch.equal(first, load_images("omniglot", omniglot_dir, "test", seed=3, test_fraction=0.5).images)
    splits = {tuple(_pictures(load_images("omniglot", omniglot_dir, "test", seed=s, test_fraction=0.5).images)) for s in range(8)}
    assert len(splits) > 1


def test_omniglot_deduplicates_across_zips_and_reads_folders(omniglot_dir: Path) -> None:
    # a second subset repeating alphabet Beta (as Greek and Latin repeat in the official small subsets) plus a new one
    _omniglot_zip(omniglot_dir / "omniglot" / "images_background_small2.zip", {"Beta": 3, "Gamma": 0})
    full = load_images("omniglot", omniglot_dir, "all")
    assert len(full) == 18 and "9 characters" in full.source and "6 duplicates" in full.source
    # an extracted folder is read like its zip
    folder = omniglot_dir / "omniglot" / "images_background_small3"
    for k, alphabet in enumerate(["Delta"]):
        for c in range(3):
            d = folder / alphabet / f"character{c + 1:02d}"
            d.mkdir(parents=True)
            (d / f"{k}{c}_01.png").write_bytes(_omniglot_png(c))
    assert len(load_images("omniglot", omniglot_dir, "all")) == 21


def test_omniglot_official_split_with_evaluation_set(omniglot_dir: Path) -> None:
    _omniglot_zip(omniglot_dir / "omniglot" / "images_evaluation.zip", {"Eval": 0}, drawers=1)
    train = load_images("omniglot", omniglot_dir, "train")
    test = load_images("omniglot", omniglot_dir, "test")
    assert len(train) == 12 and len(test) == 3
    assert "official split" in test.source and "images_evaluation.zip" in test.source
    assert len(load_images("omniglot", omniglot_dir, "all")) == 15


def test_omniglot_missing_files_say_what_was_searched(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"images_background\*\.zip.*images_evaluation\.zip") as e:
        load_images("omniglot", tmp_path)
    assert str(tmp_path / "omniglot") in str(e.value) and "github.com/brendenlake/omniglot" in str(e.value)


@pytest.mark.skipif(not (SHARED / "omniglot" / "images_background_small1.zip").exists(), reason="shared Omniglot zips absent")
def test_real_omniglot_small_subsets() -> None:
    train = load_images("omniglot", SHARED)
    test = load_images("omniglot", SHARED, "test")
    full = load_images("omniglot", SHARED, "all")
    assert len(full) == 4840 == len(train) + len(test)
    assert "242 characters" in full.source and "1000 duplicates" in full.source
    assert "194 train / 48 test characters" in test.source
    assert full.images.shape == (4840, 1, 32, 32) and full.binary
    assert 0.04 < float(full.images.mean()) < 0.15  # ink is the minority: inverted


# ---------------------------------------------------------------- CIFAR-10


class _Py2Pickler(pickle._Pickler):  # the pure-python pickler, so that its dispatch table can be changed
    """Writes what Python 2's cPickle wrote for the official batches: protocol 2, str/bytes as BINSTRING (read back
    as bytes with encoding="bytes"), and GLOBALs naming numpy.core (numpy >= 2 calls it numpy._core)."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_string(self, obj: str | bytes) -> None:
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)

    def save_py2_global(self, obj: object, name: str | None = None) -> None:
        name = name or obj.__qualname__  # type: ignore[attr-defined]
        module = pickle.whichmodule(obj, name).replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + module.encode() + b"\n" + name.encode() + b"\n")

    dispatch[bytes] = save_py2_string
    dispatch[str] = save_py2_string
    dispatch[type] = save_py2_global
    dispatch[type(len)] = save_py2_global  # builtin functions such as numpy.core.multiarray._reconstruct


def _py2_style_pickle(obj: object) -> bytes:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    data = buf.getvalue()
    assert b"numpy._core" not in data and b"_codecs" not in data
    return data


def _cifar_rows(n: int, start: int) -> np.ndarray:
    """Row i: R plane 10, G plane 20, B plane = start + i (identifies the image)."""
    rows = np.empty((n, 3072), np.uint8)
    rows[:, :1024], rows[:, 1024:2048] = 10, 20
    rows[:, 2048:] = (start + np.arange(n))[:, None]
    return rows


def _write_cifar_folder(folder: Path) -> None:
    folder.mkdir(parents=True)
    for b in range(1, 6):
        batch = {"batch_label": "training batch", "labels": [0, 1, 2], "data": _cifar_rows(3, 100 + 3 * (b - 1)), "filenames": ["x.png"] * 3}
        (folder / f"data_batch_{b}").write_bytes(_py2_style_pickle(batch))
    (folder / "test_batch").write_bytes(_py2_style_pickle({"labels": [0, 1], "data": _cifar_rows(2, 200)}))
    (folder / "batches.meta").write_bytes(_py2_style_pickle({"label_names": ["airplane"]}))


def _check_cifar(root: Path) -> None:
    train = load_images("cifar10", root)
    test = load_images("cifar10", root, "test")
    assert train.images.shape == (15, 3, 32, 32) and test.images.shape == (2, 3, 32, 32)
    assert not train.binary
    assert torch.allclose(train.images[:, 0], torch.tensor(10 / 255)) and torch.allclose(train.images[:, 1], torch.tensor(20 / 255))
    assert torch.allclose(train.images[:, 2, 0, 0] * 255, torch.arange(100, 115, dtype=torch.float32))  # batches 1..5 in order
    assert torch.allclose(test.images[:, 2, 5, 7] * 255, torch.tensor([200.0, 201.0]))
    assert len(load_images("cifar10", root, "all")) == 17


def test_cifar_batches_folder(tmp_path: Path) -> None:
    _write_cifar_folder(tmp_path / "cifar10" / "cifar-10-batches-py")
    _check_cifar(tmp_path)


def test_cifar_tarball(tmp_path: Path) -> None:
    _write_cifar_folder(tmp_path / "src" / "cifar-10-batches-py")
    (tmp_path / "data").mkdir()
    with tarfile.open(tmp_path / "data" / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    _check_cifar(tmp_path / "data")


def test_cifar_refuses_pickled_code(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar_folder(folder)
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": print}))  # builtins.print: not a numpy array
    with pytest.raises(ValueError, match="refusing to load builtins.print"):
        load_images("cifar10", tmp_path)


def test_cifar_array_subset_split_by_index(tmp_path: Path) -> None:
    (tmp_path / "cifar10").mkdir()
    images = np.zeros((20, 32, 32, 3), np.uint8)  # NHWC like the shared subset
    images[:, :, :, 0] = np.arange(20)[:, None, None]
    np.savez(tmp_path / "cifar10" / "cifar10_train_first20.npz", images=images)
    train = load_images("cifar10", tmp_path, seed=1)
    test = load_images("cifar10", tmp_path, "test", seed=1)
    assert len(train) == 16 and len(test) == 4 and train.images.shape[1:] == (3, 32, 32)
    a = set((train.images[:, 0, 0, 0] * 255).round().int().tolist())
    b = set((test.images[:, 0, 0, 0] * 255).round().int().tolist())
    assert not a & b and a | b == set(range(20))
    other = set((load_images("cifar10", tmp_path, "test", seed=2).images[:, 0, 0, 0] * 255).round().int().tolist())
    assert other != b


def test_cifar_missing_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"cifar-10-batches-py.*cifar-10-python\.tar\.gz"):
        load_images("cifar10", tmp_path)


# ---------------------------------------------------------------- MNIST / Fashion-MNIST (IDX)


def _idx_bytes(images: np.ndarray, magic: int = 0x00000803) -> bytes:
    return struct.pack(">IIII", magic, *images.shape) + images.astype(np.uint8).tobytes()


def _digits(n: int) -> np.ndarray:
    x = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        x[i, 4:24, 10 + i : 14 + i] = 255  # a bar
        x[i, 0, 0] = 100  # a faint pixel, below the 0.5 threshold
    return x


def test_mnist_idx_plain_and_gz(tmp_path: Path) -> None:
    d = tmp_path / "mnist"
    d.mkdir()
    (d / "train-images-idx3-ubyte").write_bytes(_idx_bytes(_digits(5)))
    with gzip.open(d / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(_idx_bytes(_digits(3)))
    train = load_images("mnist", tmp_path)
    test = load_images("mnist", tmp_path, "test")
    assert train.images.shape == (5, 1, 32, 32) and test.images.shape == (3, 1, 32, 32)
    assert train.binary and set(train.images.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(train.images[:, :, 2:30, 2:30], torch.from_numpy(_digits(5) > 127).float()[:, None])  # padding 2
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert float(train.images[:, 0][:, border].abs().sum()) == 0.0
    grey = load_images("mnist", tmp_path, binarize=False)
    assert not grey.binary and abs(float(grey.images[0, 0, 2, 2]) - 100 / 255) < 1e-6
    assert load_images("mnist", tmp_path, "all").images.shape == (8, 1, 32, 32)
    assert load_images("mnist", tmp_path, size=16).images.shape == (5, 1, 16, 16)


def test_fashion_mnist_debian_layout_is_grey_by_default(tmp_path: Path) -> None:
    d = tmp_path / "fashion-mnist" / "usr" / "share" / "datasets" / "fashion-mnist"
    d.mkdir(parents=True)
    for name, n in (("train", 4), ("t10k", 2)):
        with gzip.open(d / f"{name}-images-idx3-ubyte.gz", "wb") as f:
            f.write(_idx_bytes(_digits(n)))
    train = load_images("fashion-mnist", tmp_path)
    assert train.images.shape == (4, 1, 32, 32) and not train.binary
    assert len(load_images("fashion-mnist", tmp_path, "test")) == 2


def test_idx_bad_magic_and_truncation(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.write_bytes(struct.pack(">II", 0x00000801, 3) + bytes(3))
    with pytest.raises(ValueError, match="bad IDX magic number 0x00000801"):
        read_idx_images(labels)
    short = tmp_path / "short"
    short.write_bytes(_idx_bytes(_digits(2))[:-10])
    with pytest.raises(ValueError, match="the file holds"):
        read_idx_images(short)
    d = tmp_path / "mnist"
    d.mkdir()
    (d / "train-images-idx3-ubyte").write_bytes(_idx_bytes(_digits(2), magic=0x00000802))
    with pytest.raises(ValueError, match="magic"):
        load_images("mnist", tmp_path)


def test_mnist_missing_points_to_prepare(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte.*ebmm data prepare mnist"):
        load_images("mnist", tmp_path)
    with pytest.raises(FileNotFoundError, match="ebmm data prepare fashion-mnist"):
        load_images("fashion-mnist", tmp_path, "test")


# ---------------------------------------------------------------- downsampled ImageNet


def _imagenet_rows(n: int, start: int) -> np.ndarray:
    rows = np.empty((n, 12288), np.uint8)
    rows[:, :4096], rows[:, 4096:8192] = 7, 77
    rows[:, 8192:] = (start + np.arange(n))[:, None]
    return rows


def test_imagenet64_npz(tmp_path: Path) -> None:
    d = tmp_path / "imagenet64"
    d.mkdir()
    np.savez(d / "Imagenet64_train_part1.npz", data=_imagenet_rows(2, 0), labels=np.arange(2), mean=np.zeros(12288))
    np.savez_compressed(d / "Imagenet64_train_part2.npz", data=_imagenet_rows(3, 2), labels=np.arange(3))
    np.savez(d / "Imagenet64_val_data.npz", data=_imagenet_rows(2, 50), labels=np.arange(2))
    train = load_images("imagenet64", tmp_path)
    assert train.images.shape == (5, 3, 64, 64) and not train.binary  # 64 by default for this dataset
    assert torch.allclose(train.images[:, 0] * 255, torch.tensor(7.0)) and torch.allclose(train.images[:, 1] * 255, torch.tensor(77.0))
    assert torch.allclose(train.images[:, 2, 10, 20] * 255, torch.arange(5, dtype=torch.float32))
    test = load_images("imagenet64", tmp_path, "test")
    assert torch.allclose(test.images[:, 2, 0, 0] * 255, torch.tensor([50.0, 51.0]))
    limited = load_images("imagenet64", tmp_path, limit=3)  # 2 rows of part 1, 1 of the compressed part 2
    assert torch.equal(limited.images, train.images[:3]) and "first 3 rows" in limited.source
    assert load_images("imagenet64", tmp_path, size=32).images.shape == (5, 3, 32, 32)
    assert len(load_images("imagenet64", tmp_path, "all", limit=1)) == 2


def test_imagenet64_official_extracted_names(tmp_path: Path) -> None:
    d = tmp_path / "imagenet64" / "Imagenet64_train_part2_npz"
    d.mkdir(parents=True)
    for b in (10, 9):  # natural order: batch 9 before 10
        np.savez(d / f"train_data_batch_{b}.npz", data=_imagenet_rows(1, b))
    train = load_images("imagenet64", tmp_path)
    assert torch.allclose(train.images[:, 2, 0, 0] * 255, torch.tensor([9.0, 10.0]))
    with pytest.raises(FileNotFoundError, match=r"Imagenet64_val_data\.npz or val_data\.npz"):
        load_images("imagenet64", tmp_path, "test")


# ---------------------------------------------------------------- generic arrays and folders


def test_array_npz_npy_layouts(tmp_path: Path) -> None:
    nhwc = np.random.default_rng(0).integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", images=nhwc, labels=np.arange(10))
    a = load_images("array", path=tmp_path / "a.npz", split="all", size=8)
    assert torch.allclose(a.images * 255, torch.from_numpy(nhwc).permute(0, 3, 1, 2).float())
    np.savez(tmp_path / "b.npz", whatever=nhwc.transpose(0, 3, 1, 2).astype(np.float32) / 255)  # NCHW float, only key
    b = load_images("array", path=tmp_path / "b.npz", split="all", size=8)
    assert torch.allclose(a.images, b.images)
    np.save(tmp_path / "g.npy", nhwc[..., 0])  # grey (N, H, W)
    g = load_images("array", tmp_path / "g.npy", "all")  # data_dir works as the path too
    assert g.images.shape == (10, 1, 32, 32) and float(g.images.min()) >= 0 and float(g.images.max()) <= 1
    np.save(tmp_path / "bad.npy", nhwc.astype(np.float32))  # floats in 0..255
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        load_images("array", path=tmp_path / "bad.npy")
    np.savez(tmp_path / "two.npz", x=nhwc, y=nhwc)
    with pytest.raises(ValueError, match="'images' or a single array"):
        load_images("array", path=tmp_path / "two.npz")


def test_array_split_by_index_is_disjoint_and_seeded(tmp_path: Path) -> None:
    x = np.arange(50, dtype=np.uint8)[:, None, None].repeat(4, 1).repeat(4, 2)
    np.save(tmp_path / "x.npy", x)
    ids = {}
    for split in ("train", "test"):
        s = load_images("array", path=tmp_path / "x.npy", split=split, size=4, seed=5, test_fraction=0.3)
        ids[split] = (s.images[:, 0, 0, 0] * 255).round().int().tolist()
    assert len(ids["test"]) == 15 and len(ids["train"]) == 35
    assert not set(ids["train"]) & set(ids["test"]) and sorted(ids["train"] + ids["test"]) == list(range(50))
    assert ids["test"] == sorted(ids["test"])  # original order kept within a split
    again = load_images("array", path=tmp_path / "x.npy", split="test", size=4, seed=5, test_fraction=0.3)
    assert (again.images[:, 0, 0, 0] * 255).round().int().tolist() == ids["test"]


def test_array_folder_of_images(tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    (folder / "sub").mkdir(parents=True)
    Image.new("L", (40, 40), 255).save(folder / "a.png")
    Image.new("RGB", (64, 48), (255, 0, 0)).save(folder / "sub" / "b.png")  # non-square: centre-cropped
    (folder / "notes.txt").write_text("not an image")
    s = load_images("array", path=folder, split="all", size=16)
    assert s.images.shape == (2, 3, 16, 16)  # colour because one file is colour
    assert torch.allclose(s.images[0], torch.ones(3, 16, 16))
    assert torch.allclose(s.images[1, 0], torch.ones(16, 16)) and float(s.images[1, 1:].abs().max()) < 1e-6
    grey = tmp_path / "grey"
    grey.mkdir()
    for i in range(3):
        Image.new("1", (32, 32), i % 2).save(grey / f"{i}.png")
    g = load_images("array", path=grey, split="all", binarize=True)
    assert g.images.shape == (3, 1, 32, 32) and g.binary and g.images[:, 0, 0, 0].tolist() == [0.0, 1.0, 0.0]


def test_array_needs_a_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="path="):
        load_images("array")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_images("array", path=tmp_path / "nope.npz")


# ---------------------------------------------------------------- skimage stand-in


def test_skimage_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("skimage")
    monkeypatch.setattr(skimage_crops, "CROPS_PER_PHOTO", 8)
    train = load_images("skimage", seed=1)
    test = load_images("skimage", "ignored-for-skimage", "test", seed=1)
    assert train.images.shape[1:] == (3, 64, 64) and test.images.shape[1:] == (3, 64, 64)
    assert len(train) % 8 == 0 and len(test) % 8 == 0 and len(train) > len(test) > 0
    assert "stand-in for ImageNet 64x64: crops of skimage.data photos" in train.source
    assert "split by photo" in test.source
    assert torch.equal(train.images, load_images("skimage", seed=1).images)
    assert load_images("skimage", size=32, split="all").images.shape[1:] == (3, 32, 32)


# ---------------------------------------------------------------- API, errors, cache


def test_unknown_dataset_split_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="choose one of omniglot, cifar10, mnist"):
        load_images("svhn", tmp_path)
    with pytest.raises(ValueError, match="choose one of train, test, all"):
        load_images("mnist", tmp_path, "valid")
    with pytest.raises(ValueError, match="test_fraction"):
        load_images("mnist", tmp_path, test_fraction=1.0)
    with pytest.raises(ValueError, match="only used with dataset='array'"):
        load_images("mnist", tmp_path, path=tmp_path)
    assert DATASETS == ("omniglot", "cifar10", "mnist", "fashion-mnist", "array", "imagenet64", "skimage")


def test_resolve_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_data_dir(tmp_path) == tmp_path
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_data_dir(tmp_path / "missing")
    monkeypatch.setenv("EBMM_DATA", str(tmp_path))
    assert resolve_data_dir(None) == tmp_path
    monkeypatch.setenv("EBMM_DATA", str(tmp_path / "gone"))
    with pytest.raises(FileNotFoundError, match=r"\$EBMM_DATA"):
        resolve_data_dir()
    monkeypatch.delenv("EBMM_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_data_dir() == tmp_path / "home" / ".cache" / "ebmm"  # the default need not exist
    made = resolve_data_dir(tmp_path / "new" / "dir", create=True)
    assert made.is_dir()


def test_cache_shares_tensors_and_sees_rewritten_files(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.full((6, 4, 4), 200, np.uint8))
    first = load_images("array", path=tmp_path / "x.npy", split="all", size=4)
    second = load_images("array", path=tmp_path / "x.npy", split="all", size=4)
    assert second is not first and second.images.data_ptr() == first.images.data_ptr()  # no re-decoding, no copy
    assert torch.allclose(second.images * 255, torch.tensor(200.0))
    np.save(tmp_path / "x.npy", np.full((7, 4, 4), 50, np.uint8))  # a rewritten file (new size / mtime) is read again
    third = load_images("array", path=tmp_path / "x.npy", split="all", size=4)
    assert len(third) == 7 and torch.allclose(third.images * 255, torch.tensor(50.0))
    # different arguments: a different entry
    assert load_images("array", path=tmp_path / "x.npy", split="all", size=2).images.shape == (7, 1, 2, 2)


# ---------------------------------------------------------------- episodes


def test_sample_episodes_distinct_and_seeded() -> None:
    images = torch.arange(20, dtype=torch.float32).reshape(20, 1, 1, 1).expand(20, 1, 2, 2).contiguous()
    out = sample_episodes(images, 50, 20, torch.Generator().manual_seed(0))
    assert out.shape == (50, 20, 1, 2, 2)
    for episode in out:
        assert sorted(episode[:, 0, 0, 0].tolist()) == list(range(20))  # without replacement
    a = sample_episodes(images, 4, 5, torch.Generator().manual_seed(7))
    b = sample_episodes(ImageSet(images, False, "array", "all", "test"), 4, 5, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    assert not torch.equal(a, sample_episodes(images, 4, 5, torch.Generator().manual_seed(8)))
    big = torch.arange(1000, dtype=torch.float32).reshape(1000, 1, 1, 1)  # count^2 <= M: the draw-and-redraw path
    many = sample_episodes(big, 2000, 30, torch.Generator().manual_seed(1))[:, :, 0, 0, 0]
    assert all(len(set(row.tolist())) == 30 for row in many)
    assert abs(float(many.mean()) - 499.5) < 10  # uniform over the images (sd ~ 1.2)
    counts = torch.bincount(many.long().flatten(), minlength=1000).float()
    assert counts.min() > 20 and counts.max() < 105  # each image ~ 60 times
    with pytest.raises(ValueError, match="cannot draw 21 distinct images"):
        sample_episodes(images, 1, 21, torch.Generator())
    with pytest.raises(ValueError, match="positive"):
        sample_episodes(images, 0, 2, torch.Generator())
