"""experiments.tuning: the sweep record and the choice per model, from run folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.tuning import main, run_record, summarise


def fake_run(folder: Path, memory: str, lr: float, errors: dict[str, float]) -> Path:
    folder.mkdir(parents=True)
    config = {"model": {"kind": memory, "args": {"budget": 64}}, "train": {"lr": lr, "meta_batch": 2}}
    (folder / "config.json").write_text(json.dumps(config))
    lines = [{"step": 5, "kind": "train", "loss": 1.0}, {"step": 10, "kind": "eval", **errors}]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return folder


def test_choice_is_the_lowest_train_split_error(tmp_path: Path) -> None:
    runs = [
        fake_run(tmp_path / "a", "mann", 1e-3, {"squared@64": 1.0, "train_squared@64": 9.0}),
        fake_run(tmp_path / "b", "mann", 3e-3, {"squared@64": 5.0, "train_squared@64": 4.0}),
        fake_run(tmp_path / "c", "lstm", 3e-4, {"hamming@16": 2.0, "hamming@32": 4.0}),
    ]
    result = summarise(runs)
    assert result["chosen"]["mann"]["lr"] == 3e-3  # chosen on the train split, not the test split
    assert result["chosen"]["lstm"]["score"] == pytest.approx(3.0)
    assert len(result["runs"]) == 3


def test_cli_writes_the_record_and_prints_the_choice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = fake_run(tmp_path / "a", "kanerva", 1e-3, {"hamming@16": 1.0})
    out = tmp_path / "tuning.json"
    assert main(["summarise", str(run), "--json", str(out)]) == 0
    capsys.readouterr()
    assert main(["best", str(out), "kanerva"]) == 0
    assert capsys.readouterr().out.strip() == "0.001"
    assert main(["best", str(out), "mann"]) == 2
    assert "no choice for 'mann'" in capsys.readouterr().err


def test_a_run_saved_in_the_old_spelling_is_recorded_alike(tmp_path: Path) -> None:
    run = fake_run(tmp_path / "old", "mann", 1e-3, {"hamming@16": 1.0})
    old = {"model": {"memory": "mann", "memory_args": {"budget": 64}}, "train": {"lr": 1e-3, "meta_batch": 2}}
    (run / "config.json").write_text(json.dumps(old))  # as run folders written before model.kind saved it
    record = run_record(run)
    assert record["memory"] == "mann" and record["memory_args"] == {"budget": 64}


def test_a_run_without_evaluation_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"model": {"memory": "mann", "memory_args": {}}, "train": {"lr": 1.0}}))
    (run / "metrics.jsonl").write_text(json.dumps({"step": 1, "kind": "train"}) + "\n")
    with pytest.raises(ValueError, match="no evaluation yet"):
        summarise([run])


def test_memory_args_print_as_a_toml_inline_table_the_config_reads_back(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from ebmm.config import BaselineConfig, load_config

    # args keys are checked against MANN's constructor; the nested codec table is the codec's to check
    args = {"budget": 8256, "code": 128, "recurrent": False, "likelihood": "bernoulli",
            "codec": {"hidden": 512, "note": 'a "quoted" \\ word'}}
    run = fake_run(tmp_path / "a", "mann", 1e-3, {"hamming@16": 1.0})
    config = json.loads((run / "config.json").read_text())
    config["model"]["args"] = args
    (run / "config.json").write_text(json.dumps(config))
    out = tmp_path / "tuning.json"
    assert main(["summarise", str(run), "--json", str(out)]) == 0
    capsys.readouterr()
    assert main(["best", str(out), "mann", "--memory-args"]) == 0
    text = capsys.readouterr().out.strip()
    model = load_config(None, [f"model.args={text}", "model.kind=mann"]).model
    assert isinstance(model, BaselineConfig) and model.args == args


def test_pick_prints_the_run_with_the_lowest_score(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    worse = fake_run(tmp_path / "a", "mann", 1e-2, {"hamming@16": 2.0, "hamming@96": 9.0, "query_hamming@16": 0.0})
    better = fake_run(tmp_path / "b", "mann", 3e-3, {"hamming@16": 1.0, "hamming@96": 8.0})
    assert main(["pick", str(worse), str(better)]) == 0
    assert capsys.readouterr().out.strip() == str(better)
