"""Markdown tables from results files (``python -m ebmm.bench.report``). That the tables in README.md
and docs/ equal these functions' output for the committed results files is checked by
tests/test_readme.py, through the ``<!-- report: ... -->`` marker above each table."""

from __future__ import annotations

from pathlib import Path

import pytest

from ebmm.bench.report import binary_markdown, main, markdown, render
from ebmm.checkpoint import load_json, save_json

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
    assert "usage" in capsys.readouterr().err


def test_main_prints_the_table_of_a_results_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "binary.json"
    save_json(path, _result())
    assert main([str(path)]) == 0
    assert capsys.readouterr().out == binary_markdown(_result()) + "\n"


def test_render_rejects_what_it_does_not_understand(tmp_path: Path) -> None:
    path = tmp_path / "binary.json"
    save_json(path, _result())
    with pytest.raises(ValueError, match="usage"):
        render([])
    with pytest.raises(ValueError, match="usage"):
        render(["--analysis"])
    with pytest.raises(ValueError, match="not understood"):
        render([str(path), "stray"])
    with pytest.raises(ValueError, match="not understood"):
        render([str(path), f"run={path}"])  # RUN=FINAL.json is experiments.report's
    with pytest.raises(ValueError, match="no 'analysis' key"):
        render([str(path), "--analysis"])
    assert main([str(tmp_path / "missing.json")]) == 2


def test_render_dispatches_on_the_benchmark(tmp_path: Path) -> None:
    from ebmm.bench.speed import analysis_markdown

    speed = load_json(ROOT / "results" / "speed.json")
    assert render([str(ROOT / "results" / "speed.json")]) == markdown(speed)
    assert render([str(ROOT / "results" / "speed.json"), "--analysis"]) == analysis_markdown(speed["analysis"])


@pytest.mark.parametrize("name", ["fast_writing", "training_efficiency"])
def test_a_studys_results_file_is_sent_to_experiments_report(name: str) -> None:
    with pytest.raises(ValueError, match="python -m experiments.report"):
        render([str(ROOT / "results" / f"{name}.json")])


def test_speed_markdown_has_a_row_per_config_and_a_column_per_phase() -> None:
    timing = {"median_ms": 1234.4, "peak_memory_mib": 56.0}
    result = {"benchmark": "speed", "configs": [
        {"name": "a", "timings": {"write": timing, "meta_step": timing, "naive_step": timing}},
        {"name": "b", "timings": {"write": timing, "meta_step": timing}},
    ]}
    text = markdown(result)
    assert "| config | write | meta-step | naive step |" in text
    assert "| a | 1,234 | 1,234 | 1,234 |" in text and "| b | 1,234 | 1,234 | – |" in text
    assert "| a | 56 | 56 | 56 |" in text


def test_rate_markdown_pivots_models_by_memory_and_bolds_the_best() -> None:
    from ebmm.bench.report import rate_markdown

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


def test_image_results_files_are_image_tables() -> None:
    from ebmm.bench.report import images_markdown

    for name in ("omniglot", "cifar10", "omniglot_to_mnist", "skimage64"):
        result = load_json(ROOT / "results" / f"{name}.json")
        assert markdown(result) == images_markdown(result)


def test_the_string_comparison_has_every_learned_baseline() -> None:
    assert len(load_json(ROOT / "results" / "baselines" / "binary.json")["learned"]) >= 6


def test_specificity_table_lists_the_controls_and_quantised_reads() -> None:
    from ebmm.bench.report import render

    cell = {"mean": 2.0, "p5": 1.0, "p95": 3.0, "memory_floats": 10, "memory_bits": 320, "unrelated": 8.0,
            "nothing": 9.0, "right_over_unrelated": 0.25, "quantized": {"4": {"mean": 2.5, "memory_bits": 40}}}
    result = {"benchmark": "images", "checkpoints": {"m": {}},
              "results": {"query": {"64": {"mean": 9.0, "p5": 9.0, "p95": 9.0, "memory_floats": 0, "memory_bits": 0,
                                           "unrelated": 9.0, "nothing": 9.0}},
                          "m": {"64": cell}}}
    import json
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(result, handle)
    table = render([handle.name, "--specificity"]).splitlines()
    assert table[0].startswith("| model | memory floats | memory bits | right | unrelated | nothing")
    assert table[2] == "| EBMM `m` | 10 | 320 | 2.00 | 8.00 | 9.00 | 0.25 | 2.50 (40) |"
    assert len(table) == 3  # the query row is the control itself, not listed
    result["results"]["m"]["16"] = {**cell, "mean": 0.5}
    result["results"]["query"]["16"] = result["results"]["query"]["64"]
    with open(handle.name, "w") as rewritten:
        json.dump(result, rewritten)
    assert render([handle.name, "--specificity"]).splitlines()[2].split(" | ")[3] == "0.50"  # default: the file's last N
    assert render([handle.name, "--specificity", "--count", "64"]).splitlines()[2].split(" | ")[3] == "2.00"
    with pytest.raises(ValueError, match="the file has N = 64, 16"):
        render([handle.name, "--specificity", "--count", "32"])
    with pytest.raises(ValueError, match="--count N goes with --specificity"):
        render([handle.name, "--count", "16"])


def test_curves_table_has_one_row_per_family_and_one_column_per_size() -> None:
    from ebmm.bench.report import curves_markdown

    def cell(mean: float, floats: int, unrelated: float | None = None) -> dict:
        extra = {} if unrelated is None else {"unrelated": unrelated}
        return {"64": {"mean": mean, "p5": mean, "p95": mean, "memory_floats": floats, **extra}}

    result = {"benchmark": "images", "checkpoints": {"om_conv_codec_slots_c36": {}, "om_conv_codec_slots_c72": {}},
              "paper_ebmm_conv": {"2300": 19.0, "9200": 4.0},
              "results": {"query": cell(128.0, 0),
                          "om_conv_codec_slots_c36": cell(10.0, 2304, 70.0),
                          "om_conv_codec_slots_c72": cell(5.0, 4608, 71.0),
                          "codec_nn (2304 floats)": cell(29.8, 2304, 83.0),
                          "codec_nn[om_conv_codec_slots_c36]": cell(9.9, 2304),
                          "verbatim": cell(0.05, 2048)}}
    table = curves_markdown(result).splitlines()
    assert table[0] == "| model | 2,304 floats | 4,608 floats |"
    assert table[2] == "| EBMM `om_conv_codec_slots_*` | 10.00 / 70.0 | 5.00 / 71.0 |"
    assert table[3] == "| codec_nn | 29.80 / 83.0 | – |"
    assert table[4] == "| codec_nn[om_conv_codec_slots] | 9.90 | – |"
    assert table[5] == "| EBMM conv, paper | 19 | – |"
    assert len(table) == 6  # the query and the verbatim store have no curve


def test_curves_table_rows_for_learned_baselines_and_hopfield_over_a_codec() -> None:
    from ebmm.bench.report import curves_markdown

    def cell(mean: float, floats: int) -> dict:
        return {"64": {"mean": mean, "p5": mean, "p95": mean, "memory_floats": floats}}

    result = {"benchmark": "images", "checkpoints": {"om_c36": {}}, "learned": {"mn_codec_c36": {}, "mn_codec_c72": {}},
              "results": {"om_c36": cell(10.0, 2304), "mn_codec_c36": cell(24.0, 2304), "mn_codec_c72": cell(6.5, 4608),
                          "hopfield_codec[om_c36]": cell(86.0, 2304), "modern_hopfield": cell(0.7, 65536)}}
    table = curves_markdown(result).splitlines()
    assert table[2:] == ["| EBMM `om_c36` | 10.00 | – |", "| `mn_codec_*` | 24.00 | 6.50 |",
                         "| hopfield_codec[om] | 86.00 | – |"]


def test_curves_table_merges_a_reference_equal_over_two_families_codecs() -> None:
    from ebmm.bench.report import curves_markdown

    def cell(mean: float, floats: int) -> dict:
        return {"64": {"mean": mean, "p5": mean, "p95": mean, "memory_floats": floats}}

    results = {"om_refine_c36": cell(5.0, 2304), "om_slots_c36": cell(10.0, 2304),
               "codec_nn[om_refine_c36]": cell(9.9, 2304), "codec_nn[om_slots_c36]": cell(9.9, 2304),
               "hopfield_codec[om_refine_c36]": cell(86.0, 2304), "hopfield_codec[om_slots_c36]": cell(85.0, 2304)}
    result = {"benchmark": "images", "checkpoints": {"om_refine_c36": {}, "om_slots_c36": {}}, "results": results}
    table = curves_markdown(result).splitlines()
    assert table[2:] == ["| EBMM `om_refine_c36` | 5.00 |", "| EBMM `om_slots_c36` | 10.00 |",
                         "| codec_nn[om_refine] = codec_nn[om_slots] | 9.90 |",
                         "| hopfield_codec[om_refine] | 86.00 |", "| hopfield_codec[om_slots] | 85.00 |"]


def test_specificity_table_merges_a_reference_equal_over_two_checkpoints_codecs() -> None:
    from ebmm.bench.report import specificity_markdown

    def cell(mean: float) -> dict:
        return {"64": {"mean": mean, "unrelated": 90.0, "memory_floats": 2304, "memory_bits": 73728}}

    results = {"a_c36": cell(5.0), "b_c36": cell(10.0), "codec_nn[a_c36]": cell(9.9), "codec_nn[b_c36]": cell(9.9),
               "codec_nn[c_c36]": cell(8.0)}
    table = specificity_markdown({"checkpoints": {"a_c36": {}, "b_c36": {}}, "results": results}).splitlines()
    labels = [line.split(" | ")[0].removeprefix("| ") for line in table[2:]]
    assert labels == ["EBMM `a_c36`", "EBMM `b_c36`", "codec_nn[a_c36] = codec_nn[b_c36]", "codec_nn[c_c36]"]
