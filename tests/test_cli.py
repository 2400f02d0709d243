"""ebmm.cli: the ``ebmm`` command end to end on tiny settings, and its error exits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ebmm.checkpoint import load_json, load_tensors
from ebmm.cli import main

REPO = Path(__file__).resolve().parents[1]
CONFIG = str(REPO / "configs" / "binary_autoencoder.toml")
TINY = [
    "model.energy_args={hidden=4}", "task.patterns=[4]", "train.steps=2", "train.meta_batch=1",
    "train.log_every=1", "train.eval_every=2", "train.checkpoint_every=2", "train.eval_patterns=[4]",
    "train.eval_episodes=2",
]
PNG = b"\x89PNG\r\n\x1a\n"


def sets(*overrides: str) -> list[str]:
    return [arg for override in overrides for arg in ("--set", override)]


@pytest.fixture(scope="module")
def run16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run on 16-bit strings (AutoencoderEnergy dim 16, hidden 4)."""
    out = tmp_path_factory.mktemp("cli") / "run16"
    code = main(["train", "--config", CONFIG, *sets(*TINY, "model.pattern_shape=[16]", "task.corrupt_bits=4"),
                 "--out", str(out), "--quiet"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def run128(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run on the benchmark's 128-bit strings (hidden 4, so still small)."""
    out = tmp_path_factory.mktemp("cli") / "run128"
    assert main(["train", "--config", CONFIG, *sets(*TINY, "train.steps=1"), "--out", str(out), "--quiet",
                 "--device", "cpu"]) == 0
    return out


def test_train_writes_a_run(run16: Path) -> None:
    config = load_json(run16 / "config.json")
    assert config["model"]["kind"] == "ebmm" and config["model"]["pattern_shape"] == [16] and config["model"]["energy_args"] == {"hidden": 4}
    assert config["name"] == "binary_autoencoder" and config["train"]["device"] == "cpu"
    assert load_json(run16 / "latest.json")["step"] == 2
    assert (run16 / "checkpoint-00000002" / "model.safetensors").is_file()
    kinds = [line for line in (run16 / "metrics.jsonl").read_text().splitlines() if '"eval"' in line]
    assert len(kinds) == 1


def test_train_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    args = ["train", "--config", CONFIG, *sets(*TINY, "model.pattern_shape=[16]", "task.corrupt_bits=4"),
            "--out", str(out), "--quiet"]
    assert main([*args, "--max-steps", "1"]) == 0
    assert "trained to step 1" in capsys.readouterr().out
    assert main([*args, "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "trained to step 2" in printed and "hamming@4" in printed


def test_train_into_an_existing_run_exits_2(run16: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--config", CONFIG, *sets(*TINY, "model.pattern_shape=[16]", "task.corrupt_bits=4"),
                 "--out", str(run16), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "ebmm train: error" in err and "already holds a run" in err


@pytest.mark.parametrize("args, message", [
    (["--set", "train.nonsense=1"], "train.nonsense"),
    (["--set", "train.steps=\"x\""], "train.steps"),
])
def test_train_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert main(["train", "--config", CONFIG, *args, "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_train_missing_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--config", str(tmp_path / "none.toml"), "--out", str(tmp_path / "r")]) == 2
    assert "none.toml" in capsys.readouterr().err


def test_plot_training(run16: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "curve.png"
    assert main(["plot", "training", str(run16), "--out", str(out)]) == 0
    assert out.read_bytes().startswith(PNG)
    assert f"wrote {out}" in capsys.readouterr().out


def test_plot_training_without_metrics_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", "training", str(tmp_path), "--out", str(tmp_path / "c.png")]) == 2
    assert "metrics.jsonl" in capsys.readouterr().err


def test_bench_binary_baselines_json_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results, plot = tmp_path / "bench.json", tmp_path / "bench.png"
    code = main(["bench", "binary", "--models", "oracle,hopfield_pinv", "--episodes", "2", "--patterns", "4",
                 "--dynamics", "sync", "--json", str(results), "--plot", str(plot)])
    assert code == 0
    captured = capsys.readouterr()
    assert "oracle" in captured.out and "hopfield_pinv" in captured.out and "N=4" in captured.out
    assert "N=4:" in captured.err  # progress line
    payload = load_json(results)
    assert payload["benchmark"] == "binary" and payload["checkpoint"] is None
    assert payload["protocol"]["episodes"] == 2 and payload["protocol"]["corrupt_bits"] == 64
    assert payload["protocol"]["hopfield_dynamics"] == "sync" and payload["seed"] == 0
    assert list(payload["results"]) == ["query", "oracle", "hopfield_pinv"]
    assert payload["results"]["oracle"]["4"]["mean"] < 1.0
    assert plot.read_bytes().startswith(PNG)
    replot = tmp_path / "replot.png"
    assert main(["plot", "binary", str(results), "--out", str(replot)]) == 0
    assert replot.read_bytes().startswith(PNG)


def test_bench_binary_with_a_learned_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(REPO / "configs" / "baselines" / "binary_memory_networks.toml")
    run = tmp_path / "memnet"
    learned_tiny = [o for o in TINY if not o.startswith("model.energy_args")]  # refused beside a learned baseline
    assert main(["train", "--config", config, *sets(*learned_tiny, "model.pattern_shape=[16]", "task.corrupt_bits=4",
                                                     "model.args={budget=32, code=16}"),
                 "--out", str(run), "--quiet"]) == 0
    results = tmp_path / "bench.json"
    assert main(["bench", "binary", "--models", "oracle", "--learned", f"memory_networks={run}", "--patterns", "4",
                 "--episodes", "2", "--corrupt-bits", "4", "--json", str(results)]) == 0
    payload = load_json(results)
    assert payload["protocol"]["dim"] == 16  # taken from the learned model
    assert payload["results"]["memory_networks"]["4"]["memory_floats"] == 32
    assert payload["learned"]["memory_networks"]["config"] == "binary_memory_networks"
    assert payload["learned"]["memory_networks"]["step"] == 2
    assert main(["bench", "binary", "--models", "oracle", "--learned", "memory_networks"]) == 2
    assert "NAME=PATH" in capsys.readouterr().err


def test_bench_binary_with_a_trained_128_bit_checkpoint(run128: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "bench.json"
    code = main(["bench", "binary", "--models", "ebmm,oracle", "--checkpoint", str(run128), "--episodes", "2",
                 "--patterns", "4", "--json", str(results)])
    assert code == 0
    assert "ebmm" in capsys.readouterr().out
    payload = load_json(results)
    assert payload["checkpoint"]["step"] == 1 and payload["checkpoint"]["path"] == str(run128)
    floats = payload["results"]["ebmm"]["4"]["memory_floats"]
    assert floats == 4 * 128 + 128
    assert 0 <= payload["results"]["ebmm"]["4"]["mean"] <= 128


def test_bench_binary_uses_the_checkpoint_pattern_width(run16: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b16.json"
    code = main(["bench", "binary", "--models", "ebmm,oracle", "--checkpoint", str(run16), "--episodes", "2",
                 "--patterns", "4", "--corrupt-bits", "4", "--json", str(out)])
    assert code == 0
    payload = load_json(out)
    assert payload["protocol"]["dim"] == 16
    assert payload["results"]["oracle"]["4"]["memory_floats"] == 4 * 16


def test_bench_binary_refuses_more_corrupt_bits_than_pattern_bits(run16: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "binary", "--models", "ebmm", "--checkpoint", str(run16), "--episodes", "2",
                 "--patterns", "4"])
    assert code == 2
    assert "cannot corrupt 64 positions of a 16-dimensional pattern" in capsys.readouterr().err


def test_bench_binary_unknown_model_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "binary", "--models", "oracle,hopfield_magic", "--episodes", "1", "--patterns", "2"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'hopfield_magic'" in err and "oracle" in err


def test_bench_binary_missing_checkpoint_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no_such_run"
    assert main(["bench", "binary", "--models", "ebmm", "--checkpoint", str(missing), "--episodes", "1",
                 "--patterns", "2"]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint" in err and "no_such_run" in err


def test_bench_binary_corrupt_checkpoint_exits_2(run128: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run128, copy)
    (copy / "checkpoint-00000001" / "model.safetensors").write_bytes(b"not a checkpoint")
    assert main(["bench", "binary", "--models", "ebmm", "--checkpoint", str(copy), "--episodes", "1",
                 "--patterns", "2"]) == 2
    assert "corrupt" in capsys.readouterr().err


@pytest.mark.parametrize("args", [
    ["bench", "binary", "--patterns", "4,x"],
    ["bench", "binary", "--patterns", "0"],
    ["bench", "binary", "--episodes", "0"],
    ["bench", "binary", "--corruption", "blur"],
    ["train", "--config", CONFIG],
    [],
])
def test_argument_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_demo(run128: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--binary", "--checkpoint", str(run128), "--patterns", "4", "--episodes", "1", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    for name in ("ebmm", "hopfield_hebb", "hopfield_storkey", "hopfield_pinv", "oracle", "seed 0"):
        assert name in out


def test_trained_weights_match_the_checkpoint_loaded_by_bench(run128: Path) -> None:
    from ebmm.build import load_memory

    memory, _ = load_memory(run128)
    saved = load_tensors(run128 / "checkpoint-00000001" / "model.safetensors")
    assert all(torch.equal(memory.state_dict()[k], v) for k, v in saved.items())


@pytest.mark.parametrize("built, available, message", [
    (False, False, "this torch build has no CUDA"),
    (True, False, "no GPU is visible"),
])
def test_train_on_cuda_without_cuda_exits_2_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch, built: bool,
                                                                 available: bool, message: str) -> None:
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: built)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
    out = tmp_path / "run"
    assert main(["train", "--config", CONFIG, *sets(*TINY), "--out", str(out), "--quiet", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ebmm train: error: CUDA requested (device 'cuda') but ") and message in err
    assert "Traceback" not in err and not out.exists()
    # the same from the config (train.device), and from a benchmark's --device
    assert main(["train", "--config", CONFIG, *sets(*TINY, 'train.device="cuda:0"'), "--out", str(out), "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert main(["bench", "binary", "--models", "oracle", "--device", "cuda", "--episodes", "1", "--patterns", "2"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("args", [
    ["bench", "binary", "--models", "ebmm,oracle"],
    ["demo", "--binary"],
])
def test_binary_commands_refuse_an_image_checkpoint(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Not "cannot corrupt 64 positions of a 1-dimensional pattern": the checkpoint stores images."""
    assert main([*args, "--checkpoint", "omniglot_conv_d8", "--episodes", "1", "--patterns", "2"]) == 2
    err = capsys.readouterr().err
    assert "checkpoint omniglot_conv_d8 is an image model (patterns of shape [1, 32, 32]); use `ebmm" in err
    assert ("`ebmm bench images`" if args[0] == "bench" else "`ebmm demo` without --binary") in err


def test_demo_binary_saves_the_plot_to_out(run128: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    picture = tmp_path / "new" / "folder" / "binary.png"
    assert main(["demo", "--binary", "--checkpoint", str(run128), "--patterns", "2,4", "--episodes", "1",
                 "--seed", "0", "--out", str(picture)]) == 0
    assert picture.read_bytes().startswith(PNG)
    assert f"saved the plot of error bits against N (one line per memory, the paper's EBMM as stars) to {picture}" \
        in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)  # the default: ebmm-output/demo.png under the current folder
    assert main(["demo", "--binary", "--checkpoint", str(run128), "--patterns", "2", "--episodes", "1"]) == 0
    assert (tmp_path / "ebmm-output" / "demo.png").read_bytes().startswith(PNG)
    bare = tmp_path / "plain"  # no extension: the file written, and named, is plain.png
    assert main(["demo", "--binary", "--checkpoint", str(run128), "--patterns", "2", "--episodes", "1",
                 "--out", str(bare)]) == 0
    assert (tmp_path / "plain.png").read_bytes().startswith(PNG) and not bare.exists()
    assert f"to {tmp_path / 'plain.png'}" in capsys.readouterr().out


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"ebmm {version('ebmm')}"


def test_every_option_has_help_and_shows_its_default() -> None:
    """Walks every (sub)command's parser: each option but -h has help text, and each with a default worth
    showing (not None, False or empty) shows it in --help."""
    import argparse

    from ebmm.cli import build_parser, walk_parsers

    commands = dict(walk_parsers(build_parser()))
    assert {"ebmm", "ebmm train", "ebmm bench binary", "ebmm bench images", "ebmm demo", "ebmm plot runs"} <= set(commands)
    assert "ebmm bench write" not in commands  # a study: python -m experiments.writing
    for path, parser in commands.items():
        formatter = parser.formatter_class(parser.prog)
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            name = f"{path} {'/'.join(action.option_strings) or action.dest}"
            assert action.help and action.help.strip(), f"{name} has no help text"
            default = action.default
            if default is None or default is False or default == [] or isinstance(action, argparse._VersionAction):
                continue
            shown = formatter._get_help_string(action) % {**vars(action), "prog": parser.prog}
            assert "default" in shown, f"{name} has the default {default!r} but its help does not show it"
    assert "--seed SEED seed of the episodes (default: 0)" in " ".join(commands["ebmm bench binary"].format_help().split())


def test_default_checkpoints_are_names_of_shipped_checkpoints() -> None:
    from ebmm.build import resolve_checkpoint, shipped_checkpoint
    from ebmm.cli import DEFAULT_CHECKPOINT, DEFAULT_IMAGE_CHECKPOINT, build_parser

    for name in (DEFAULT_CHECKPOINT, DEFAULT_IMAGE_CHECKPOINT):
        assert "/" not in name and (shipped_checkpoint(name) / "model.safetensors").is_file()
        assert resolve_checkpoint(name) == shipped_checkpoint(name)
    assert build_parser().parse_args(["bench", "binary"]).checkpoint == DEFAULT_CHECKPOINT


def test_bench_binary_quantised_and_controls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b.json"
    code = main(["bench", "binary", "--models", "oracle", "--patterns", "4", "--episodes", "2", "--quantize", "4",
                 "--specificity", "--json", str(out)])
    assert code == 0, capsys.readouterr().err
    cell = json.loads(out.read_text())["results"]["oracle"]["4"]
    assert cell["memory_bits"] == 4 * 128 and cell["unrelated"] > cell["mean"]
    assert "quantized" not in cell  # the verbatim store keeps its own precision
