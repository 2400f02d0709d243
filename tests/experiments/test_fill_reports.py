"""fill_reports pastes each marker's current table and leaves what it cannot replace safely."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.fill_reports import fill, main


def test_a_stale_table_under_a_marker_is_replaced_and_the_rest_kept(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    cell = {"mean": 2.0, "p5": 1.0, "p95": 3.0, "memory_floats": 10, "memory_bits": 320, "unrelated": 8.0}
    (tmp_path / "r.json").write_text(json.dumps({"benchmark": "images", "checkpoints": {"m_c1": {}},
                                                  "results": {"m_c1": {"64": cell}}}))
    monkeypatch.chdir(tmp_path)
    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- report: r.json --curves -->\n| old | table |\n|---|---|\n\nafter\n"
                    "<!-- report: r.json --curves -->\nnot a table\n")
    assert main([str(page)]) == 0
    text = page.read_text()
    assert text.startswith("intro\n<!-- report: r.json --curves -->\n| model | 10 floats |\n")
    assert "| EBMM `m_c1` | 2.00 / 8.0 |\n\nafter\n" in text  # a family of one is named by its checkpoint
    assert text.endswith("<!-- report: r.json --curves -->\nnot a table\n")
    assert fill(text)[1] == ["r.json --curves"]
