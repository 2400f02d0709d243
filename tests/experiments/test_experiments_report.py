"""experiments.report: the studies' tables, and which module a docs marker names (the markers
themselves are checked by tests/test_readme.py). Named apart from tests/bench/test_report.py, as
test modules share one namespace."""

from __future__ import annotations

from pathlib import Path

import pytest

from ebmm.bench.report import binary_markdown
from ebmm.checkpoint import load_json, save_json
from experiments.efficiency import efficiency_markdown
from experiments.report import main, marker_command, render, render_marker
from experiments.writing import writing_markdown

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"


def test_render_dispatches_on_the_study(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert render(["results/fast_writing.json"]) == writing_markdown(load_json(RESULTS / "fast_writing.json"))
    table = render(["results/training_efficiency.json", "shipped_binary_peel=results/binary_peel.json"])
    efficiency = load_json(RESULTS / "training_efficiency.json")
    assert table == efficiency_markdown(efficiency, {"shipped_binary_peel": load_json(RESULTS / "binary_peel.json")})
    assert "| shipped_binary_peel |" in table and " N = 96 |" in table


def test_render_rejects_what_it_does_not_understand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "binary.json"
    save_json(binary, {"results": {"ebmm": {"16": {"mean": 0.5, "memory_floats": 10}}}})
    for args in ([], ["--analysis"], ["run=x.json"]):
        with pytest.raises(ValueError, match="usage"):
            render(args)
    with pytest.raises(ValueError, match="not understood"):
        render([str(RESULTS / "training_efficiency.json"), "stray"])
    with pytest.raises(ValueError, match="only go with a training-efficiency file"):
        render([str(RESULTS / "fast_writing.json"), f"run={binary}"])
    with pytest.raises(ValueError, match="ebmm.bench.report"):
        render([str(binary)])  # the library's results file: the library's report
    assert main([str(tmp_path / "missing.json")]) == 2
    assert main([str(RESULTS / "fast_writing.json")]) == 0
    assert capsys.readouterr().out == writing_markdown(load_json(RESULTS / "fast_writing.json")) + "\n"


def test_a_marker_names_its_module(tmp_path: Path) -> None:
    assert marker_command("experiments results/fast_writing.json") == ("experiments.report", ["results/fast_writing.json"])
    assert marker_command("results/speed.json --analysis") == ("ebmm.bench.report", ["results/speed.json", "--analysis"])
    binary = tmp_path / "binary.json"
    result = {"results": {"ebmm": {"16": {"mean": 0.5, "memory_floats": 10}}}}
    save_json(binary, result)
    assert render_marker(str(binary)) == binary_markdown(result)
    assert render_marker(f"experiments {RESULTS / 'fast_writing.json'}") == writing_markdown(
        load_json(RESULTS / "fast_writing.json"))
