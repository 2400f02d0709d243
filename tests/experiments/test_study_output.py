"""finish_study: the record every study saves."""

from __future__ import annotations

from pathlib import Path

import pytest

from ebmm.checkpoint import load_json
from experiments.study_output import finish_study


def test_finish_study_records_the_command_prints_and_saves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "study.json"
    code = finish_study("experiments.example", ["ckpt", "--seed", "3"], "ckpt", {"results": {"a": 1}},
                        lambda record: f"table of {record['checkpoint']}", str(out))
    saved = load_json(out)
    assert code == 0 and saved["command"] == "python -m experiments.example ckpt --seed 3"
    assert saved["checkpoint"] == "ckpt" and saved["results"] == {"a": 1} and saved["git_revision"]
    assert list(saved)[:3] == ["command", "git_revision", "checkpoint"]
    assert "table of ckpt" in capsys.readouterr().out
