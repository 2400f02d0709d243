"""ebmm.bench.plots: PNGs from synthetic benchmark results and training logs."""

from __future__ import annotations

from pathlib import Path

from ebmm.bench.binary import PAPER_BINARY
from ebmm.bench.plots import plot_binary, plot_training

PNG = b"\x89PNG\r\n\x1a\n"


def cell(mean: float) -> dict:
    return {"mean": mean, "p5": max(0.0, mean - 1), "p95": mean + 1, "memory_floats": 8256}


def test_plot_binary_writes_png(tmp_path: Path) -> None:
    result = {
        "protocol": {"corruption": "resample", "corrupt_bits": 64, "episodes": 3},
        "results": {
            "query": {"16": cell(32.0), "32": cell(32.0)},
            "ebmm": {"16": cell(0.5), "32": cell(2.0)},
            "custom_model": {"16": cell(4.0), "32": cell(9.0)},
        },
    }
    out = plot_binary(result, tmp_path / "nested" / "binary.png", PAPER_BINARY)
    assert out == tmp_path / "nested" / "binary.png"
    data = out.read_bytes()
    assert data.startswith(PNG) and len(data) > 5000


def test_plot_binary_without_protocol_or_paper(tmp_path: Path) -> None:
    out = plot_binary({"results": {"oracle": {"8": cell(0.0)}}}, tmp_path / "b.png")
    assert out.read_bytes().startswith(PNG)


def test_plot_training_writes_png(tmp_path: Path) -> None:
    records = []
    for step in range(1, 21):
        records.append({"step": step, "kind": "train", "loss": 100.0 / step})
        if step % 5 == 0:
            records.append({"step": step, "kind": "eval", "hamming@16": 10.0 / step, "hamming@4": 1.0 / step,
                            "query_hamming@16": 32.0})
    out = plot_training(records, tmp_path / "curve.png", title="tiny run")
    data = out.read_bytes()
    assert data.startswith(PNG) and len(data) > 5000


def test_plot_training_without_evals(tmp_path: Path) -> None:
    out = plot_training([{"step": 1, "kind": "train", "loss": 3.0}, {"step": 2, "kind": "train", "loss": 2.0}],
                        tmp_path / "c.png")
    assert out.read_bytes().startswith(PNG)


def test_plot_runs_writes_png(tmp_path: Path) -> None:
    from ebmm.bench.plots import plot_runs

    def records(scale: float) -> list[dict]:
        return [{"step": s, "kind": "eval", "hamming@32": scale / s, "hamming@48": 2 * scale / s} for s in (1, 10, 100)]

    out = plot_runs({"a": records(10.0), "b": records(20.0)}, tmp_path / "runs.png", (32, 48))
    assert out.read_bytes().startswith(PNG)


def test_plot_binary_tolerates_percentiles_that_round_past_the_mean(tmp_path: Path) -> None:
    row = {"16": {"mean": 0.1, "p5": 0.1 + 1e-9, "p95": 0.1 - 1e-9, "memory_floats": 1}}
    assert plot_binary({"results": {"ebmm": row}}, tmp_path / "p.png").read_bytes().startswith(PNG)
