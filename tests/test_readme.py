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


def test_ci_runs_the_readme_install_and_test_commands() -> None:
    """``.ci/run`` installs with the README's set-up command and runs its test command, both verbatim
    (in a fresh virtual environment, with lint and type checks between them)."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^(pip install torch==\S+ && pip install -e '\.\[test\]') && (python -m pytest)$", readme,
                      flags=re.MULTILINE)
    assert match, "the README's set-up has no install-and-test command"
    install, test = match.groups()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert install in ci_lines
    assert any(line == test or line.startswith(test + " ") for line in ci_lines)
    assert any(" -m venv " in line for line in ci_lines)  # a fresh virtual environment
