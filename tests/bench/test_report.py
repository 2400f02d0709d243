"""Markdown tables from results files; the README's table matches results/binary.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from ebmm.bench.report import binary_markdown, main
from ebmm.checkpoint import load_json

ROOT = Path(__file__).resolve().parents[2]


def _result() -> dict:
    cell = lambda m, f: {"mean": m, "p5": m, "p95": m, "memory_floats": f}  # noqa: E731
    return {"results": {"ebmm": {"16": cell(0.25, 8127), "32": cell(1.5, 8127)},
                        "oracle": {"16": cell(0.0, 2048), "32": cell(0.0, 4096)}},
            "paper": {"ebmm": {"16": 0.0, "32": 0.0}}}


def test_binary_markdown_rows() -> None:
    table = binary_markdown(_result())
    assert "| EBMM (ours) | 8,127 | 0.25 | 1.50 |" in table
    assert "| ↳ paper | 8,256 | 0 | 0 |" in table
    assert "| nearest-neighbour oracle | 2,048–4,096 | 0.00 | 0.00 |" in table


def test_main_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2


def test_readme_table_is_the_committed_results_file() -> None:
    results = ROOT / "results" / "binary.json"
    assert binary_markdown(load_json(results)) in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("name", ["omniglot", "cifar10", "omniglot_to_mnist", "skimage64"])
def test_readme_image_tables_match_the_results_files(name: str) -> None:
    from ebmm.bench.report import images_markdown, markdown

    result = load_json(ROOT / "results" / f"{name}.json")
    table = images_markdown(result)
    assert markdown(result) == table
    assert table in (ROOT / "README.md").read_text()
    assert result["revision"] != "unknown" and not result["revision"].endswith("+dirty")


def test_speed_markdown_has_a_row_per_config_and_a_column_per_phase() -> None:
    from ebmm.bench.report import markdown

    timing = {"median_ms": 1234.4, "peak_memory_mib": 56.0}
    result = {"benchmark": "speed", "configs": [
        {"name": "a", "timings": {"write": timing, "meta_step": timing, "naive_step": timing}},
        {"name": "b", "timings": {"write": timing, "meta_step": timing}},
    ]}
    text = markdown(result)
    assert "| config | write | meta-step | naive step |" in text
    assert "| a | 1,234 | 1,234 | 1,234 |" in text and "| b | 1,234 | 1,234 | – |" in text
    assert "| a | 56 | 56 | 56 |" in text


def test_readme_speed_tables_match_the_results_file() -> None:
    from ebmm.bench.report import speed_markdown

    result = load_json(ROOT / "results" / "speed.json")
    assert "configs" in result, "results/speed.json predates the multi-config speed benchmark"
    assert speed_markdown(result) in (ROOT / "README.md").read_text()
    assert not result["git_revision"].endswith("+dirty")


def test_rate_markdown_pivots_models_by_memory_and_bolds_the_best() -> None:
    from ebmm.bench.report import markdown, rate_markdown

    cell = lambda m, f: {"64": {"mean": m, "p5": m, "p95": m, "memory_floats": f}}  # noqa: E731
    result = {"benchmark": "images", "results": {
        "query": cell(100.0, 0), "d2": cell(30.0, 2304), "d4": cell(20.0, 4608),
        "mann@2304": cell(25.0, 2304), "plasticity@4608": cell(50.0, 4560)},
        "checkpoints": {"d2": {}, "d4": {}},
        "learned": {"mann@2304": {"memory": "mann"}, "plasticity@4608": {"memory": "plasticity"}}}
    table = rate_markdown(result)
    assert "| model | 2,304 floats | 4,608 floats |" in table
    assert "| EBMM (ours) | 30.00 | **20.00** |" in table
    assert "| MANN (LRUA) | **25.00** | – |" in table
    assert "| differentiable plasticity | – | 50.00 |" in table  # under its budget, though it uses 4,560
    assert "| corrupted query (no memory) | 100.00 | 100.00 |" in table
    assert markdown(result).startswith(table)


def test_readme_baseline_tables_match_the_results_files() -> None:
    from ebmm.bench.report import markdown

    readme = (ROOT / "README.md").read_text()
    for name in ("binary", "omniglot", "cifar10"):
        result = load_json(ROOT / "results" / "baselines" / f"{name}.json")
        assert markdown(result) in readme, f"README's table differs from results/baselines/{name}.json"
        revision = result.get("revision") or result.get("git_revision")
        assert revision and revision != "unknown" and not revision.endswith("+dirty")
    assert len(load_json(ROOT / "results" / "baselines" / "binary.json")["learned"]) >= 6
