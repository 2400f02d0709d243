"""Updates-to-target from metrics logs, the results record and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ebmm.config import load_config
from experiments.efficiency import efficiency_record, format_efficiency, main, updates_to_target


def _run(tmp_path: Path, name: str, errors: list[float], lr: float = 3e-3) -> Path:
    run = tmp_path / name
    run.mkdir()
    config = load_config(overrides=[f"train.lr={lr}", "train.eval_patterns=[16,48]"])
    (run / "config.json").write_text(json.dumps(config.to_dict()))
    lines = []
    for index, error in enumerate(errors):
        lines.append({"step": 500 * index + 250, "kind": "train", "loss": 1.0, "hamming": 9.0})
        lines.append({"step": 500 * (index + 1), "kind": "eval", "hamming@16": error / 2, "hamming@48": error,
                      "seconds": 10.0 * (index + 1)})
    (run / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return run


def test_updates_to_target_is_the_first_evaluation_at_or_below_it(tmp_path: Path) -> None:
    text = (_run(tmp_path, "a", [3.0, 1.0, 0.5, 2.0]) / "metrics.jsonl").read_text()
    records = [json.loads(line) for line in text.splitlines()]
    assert updates_to_target(records, "hamming@48", 1.0) == {"step": 1000, "error": 1.0, "seconds": 20.0}
    assert updates_to_target(records, "hamming@48", 0.1) is None
    assert updates_to_target(records, "hamming@16", 1.5)["step"] == 500
    assert updates_to_target(records, "hamming", 9.0) is None  # only evaluation records count


def test_efficiency_record_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fast = _run(tmp_path, "fast", [2.0, 0.9, 0.7])
    slow = _run(tmp_path, "slow", [5.0, 4.0, 3.0], lr=5e-5)
    record = efficiency_record([fast, slow], 48, 1.0)
    assert record["runs"]["fast"]["reached"]["step"] == 1000
    assert record["runs"]["slow"]["reached"] is None
    assert record["runs"]["fast"]["final"] == {"step": 1500, "error": 0.7, "seconds": 30.0}
    assert record["runs"]["slow"]["best"] == {"step": 1500, "error": 3.0}
    assert record["runs"]["slow"]["optimiser"]["lr"] == 5e-5
    assert len(record["runs"]["fast"]["curve"]) == 3
    text = format_efficiency(record)
    assert "fast: 1,000 updates" in text and "slow: not reached" in text
    out, plot = tmp_path / "eff.json", tmp_path / "eff.png"
    assert main([str(fast), str(slow), "--json", str(out), "--plot", str(plot), "--plot-patterns", "16,48"]) == 0
    assert json.loads(out.read_text())["runs"]["fast"]["reached"]["step"] == 1000
    assert plot.stat().st_size > 0
    with pytest.raises(ValueError, match="hamming@96"):
        efficiency_record([fast], 96, 1.0)


def test_markdown_table_and_the_readme(tmp_path: Path) -> None:
    from ebmm.checkpoint import load_json
    from experiments.efficiency import efficiency_markdown

    record = efficiency_record([_run(tmp_path, "fast", [2.0, 0.9])], 48, 1.0)
    final = {"results": {"ebmm": {"16": {"mean": 0.5}, "48": {"mean": 1.25}}}}
    table = efficiency_markdown(record, {"fast": final})
    assert "| fast | AdamW 0.003, constant, clip 0.05 | 1,000 | 0.90 (1,000) | 0.90 (1,000) | 0.50 | 1.25 |" in table

    root = Path(__file__).resolve().parents[2]
    results = root / "results"
    names = {"ours": "efficiency_final.json", "paper_optimiser": "efficiency_final_paper_optimiser.json",
             "shipped_binary_peel": "binary_peel.json"}
    readme = efficiency_markdown(load_json(results / "training_efficiency.json"),
                                 {name: load_json(results / file) for name, file in names.items()})
    assert readme in (root / "docs" / "results" / "efficiency.md").read_text()
