"""The README and docs/: short README, runnable examples, links that resolve, no citation of files
outside the repository, the set-up commands that CI runs, and tables equal to their results files.

Nothing here depends on where a paragraph sits: code blocks are found by their language tag,
results tables by the ``<!-- report: ARGS -->`` marker above each (see docs/reproduce.md): the
library's tables from ``python -m ebmm.bench.report ARGS``, the studies' (a marker whose first word
is ``experiments``) from ``python -m experiments.report ARGS``.
"""

from __future__ import annotations

import os
import re
import shlex
import unicodedata
from pathlib import Path

import pytest

from ebmm.checkpoint import load_json
from experiments.report import marker_command, render_marker

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").rglob("*.md"))
PAGES = [README, *DOCS]
MAX_README_LINES = 200

FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
MARKER = re.compile(r"^<!-- report: (.+?) -->[ \t]*$", re.MULTILINE)
NEEDS = re.compile(r"<!-- needs data: ([\w-]+) -->\s*$")
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _code_blocks(text: str, language: str) -> list[tuple[str, str | None]]:
    """Fenced blocks tagged ``language``: (code, dataset named by a ``<!-- needs data: NAME -->`` line
    just above the block, or None)."""
    blocks = []
    for match in FENCE.finditer(text):
        if match.group(1) == language:
            needs = NEEDS.search(text, 0, match.start())
            near = needs is not None and text[needs.end():match.start()].strip() == ""
            blocks.append((match.group(2), needs.group(1) if near and needs else None))
    return blocks


def _prose(text: str) -> str:
    """The text outside fenced code blocks (links and markers in code are examples, not links)."""
    return FENCE.sub("", text)


def _data_dir_with(dataset: str) -> Path | None:
    """A data folder holding ``dataset``: $EBMM_DATA, else the development data beside the checkout."""
    for candidate in (os.environ.get("EBMM_DATA"), ROOT.parent / "shared" / "data"):
        if candidate and (Path(candidate) / dataset).is_dir():
            return Path(candidate)
    return None


def _run_blocks(path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Execute the Python blocks of ``path`` in order in one namespace, from the repository root."""
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    for index, (code, needs) in enumerate(_code_blocks(path.read_text(), "python")):
        if needs is not None:
            data = _data_dir_with(needs)
            if data is None:
                continue  # the block needs files this machine does not have; test_example_data_is_named checks the tag
            monkeypatch.setenv("EBMM_DATA", str(data))
        exec(compile(code, f"{_rel(path)} (python block {index + 1})", "exec"), namespace)
    return namespace


# ------------------------------------------------------------------ the README itself

def test_readme_is_short() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


def test_readme_links_into_the_docs() -> None:
    targets = {target.split("#")[0] for target in LINK.findall(_prose(README.read_text()))}
    for page in ("docs/method.md", "docs/cli.md", "docs/data.md", "docs/reproduce.md"):
        assert page in targets, f"the README does not link to {page}"
    assert any(t.startswith("docs/results/") for t in targets), "the README does not link to any results page"


def test_readme_has_the_headline_results_with_the_image_controls() -> None:
    text = README.read_text()
    assert re.search(r"^## Headline results$", text, flags=re.MULTILINE)
    headline = text.split("## Headline results", 1)[1].split("\n## ", 1)[0]
    assert "<!-- report: results/baselines/binary.json -->" in headline  # strings: EBMM beside every baseline
    assert "![" in headline, "the headline results show no picture"
    # the image result is shown with its controls (unrelated / nothing written), not alone
    assert re.search(r"<!-- report: results/images/omniglot\w*\.json --curves -->", headline)


def test_readme_python_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _code_blocks(README.read_text(), "python")
    assert blocks, "the README has no Python example"
    namespace = _run_blocks(README, monkeypatch)
    if {"memory", "state", "patterns", "out"} <= namespace.keys():  # the example's stated numbers
        assert namespace["out"].patterns.shape == namespace["patterns"].shape
        assert namespace["memory"].memory_floats(namespace["state"]) == 8256


@pytest.mark.parametrize("page", [p for p in DOCS if _code_blocks(p.read_text(), "python")], ids=_rel)
def test_docs_python_examples_run(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run_blocks(page, monkeypatch)


def test_example_data_is_named() -> None:
    """A Python example that reads a dataset says so, so that it is skipped, not failed, without it."""
    for page in PAGES:
        for code, needs in _code_blocks(page.read_text(), "python"):
            if "load_images(" in code:
                assert needs is not None, f"{_rel(page)}: a block reads images without <!-- needs data: NAME -->"


def test_ci_runs_the_readme_install_and_test_commands() -> None:
    """``.ci/run`` installs with the README's set-up command and runs its test command, both verbatim
    (in a fresh virtual environment, with lint and type checks between them)."""
    readme = README.read_text()
    match = re.search(r"^(pip install torch==\S+ && pip install -e '\.\[test\]') && (python -m pytest)$", readme,
                      flags=re.MULTILINE)
    assert match, "the README's set-up has no install-and-test command"
    install, test = match.groups()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert install in ci_lines
    assert any(line == test or line.startswith(test + " ") for line in ci_lines)
    assert any(" -m venv " in line for line in ci_lines)  # a fresh virtual environment


def test_readme_has_the_main_job_command() -> None:
    """The first set-up command installs, fetches the default data and runs the main job."""
    readme = README.read_text()
    assert re.search(r"^pip install torch==\S+ && pip install -e \. && ebmm data prepare mnist && ebmm demo$", readme,
                     flags=re.MULTILINE)


# ------------------------------------------------------------------ links and citations

def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation and symbols dropped, spaces to hyphens."""
    heading = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    kept = "".join(c for c in heading if c in " -_" or unicodedata.category(c)[0] in "LMN")
    return kept.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    anchors: set[str] = set()
    for line in _prose(page.read_text()).splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            slug, n = _slug(match.group(1)), 1
            while slug in anchors:
                slug, n = f"{_slug(match.group(1))}-{n}", n + 1
            anchors.add(slug)
    return anchors


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_relative_links_resolve_inside_the_repository(page: Path) -> None:
    for target in LINK.findall(_prose(page.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        assert resolved.is_relative_to(ROOT), f"{_rel(page)}: {target} points outside the repository"
        assert resolved.exists(), f"{_rel(page)}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{_rel(page)}: {target}: no heading with that anchor"


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_no_page_cites_a_file_outside_the_repository(page: Path) -> None:
    text = page.read_text()
    for outside in ("METHOD.md", "DESIGN.md", "../shared", "/work/"):
        assert outside not in text, f"{_rel(page)} cites {outside}, which is not in the repository"


# ------------------------------------------------------------------ tables from results files

def _markers() -> list[tuple[Path, str, int]]:
    return [(page, match.group(1), match.end()) for page in PAGES for match in MARKER.finditer(page.read_text())]


def test_the_docs_show_the_results_tables() -> None:
    shown = {marker_command(args)[1][0] for _, args, _ in _markers()}
    for name in ("binary", "binary_peel", "omniglot", "cifar10", "omniglot_to_mnist", "skimage64", "speed",
                 "fast_writing", "fast_writing_peel", "training_efficiency",
                 "baselines/binary", "baselines/omniglot", "baselines/cifar10"):
        assert f"results/{name}.json" in shown, f"no page shows the table of results/{name}.json"


@pytest.mark.parametrize("page, args, end", [pytest.param(*m, id=f"{_rel(m[0])}: {m[1]}") for m in _markers()])
def test_a_marked_table_is_the_report_of_its_results_file(
    page: Path, args: str, end: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # the marker's paths are relative to the repository root
    expected = render_marker(args)
    module, words = marker_command(args)
    following = page.read_text()[end:].lstrip("\n")
    shown = following[:len(expected)]
    assert shown == expected, (
        f"{_rel(page)}: the table under <!-- report: {args} --> differs from "
        f"`python -m {module} {shlex.join(words)}`; paste its output again")
    assert following[len(expected):len(expected) + 1] in ("", "\n"), f"{_rel(page)}: <!-- report: {args} --> table goes on"


@pytest.mark.parametrize("args", sorted({args for _, args, _ in _markers()}))
def test_marked_results_come_from_a_clean_revision(args: str) -> None:
    for arg in marker_command(args)[1]:
        if arg.startswith("-") or not arg.endswith(".json"):  # options and their values (--count 64)
            continue
        result = load_json(ROOT / arg.partition("=")[2] if "=" in arg else ROOT / arg)
        revision = result.get("revision") or result.get("git_revision")
        assert revision and revision != "unknown" and not revision.endswith("+dirty"), f"{arg}: revision {revision!r}"
