"""The README's Python example runs as written against the shipped checkpoint."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, "the README has no Python example"
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert namespace["out"].patterns.shape == (4, 32, 128)
    assert namespace["memory"].memory_floats(namespace["state"]) == 8127


def test_readme_baseline_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.DOTALL)
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # its episodes
    exec(compile(blocks[1], "README.md", "exec"), namespace)
    assert namespace["out"].patterns.shape == (4, 32, 128)
    assert namespace["mann"].memory_floats(namespace["state"]) == 8256


def test_readme_image_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    if not (ROOT.parent / "shared" / "data" / "omniglot").is_dir():
        pytest.skip("the Omniglot files are not beside the project")
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.DOTALL)
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(blocks[2], "README.md", "exec"), namespace)
    assert namespace["out"].patterns.shape == (2, 64, 1, 32, 32)
    assert namespace["memory"].memory_floats() == 9216


def test_readme_names_the_ci_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -e '.[test]' && python -m pytest" in readme
    assert "pip install torch==2.13.0 && pip install -e '.[test]' && python -m pytest" in ci
