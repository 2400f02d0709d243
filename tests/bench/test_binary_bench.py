"""ebmm.bench.binary: the shared-episode benchmark and its table, on tiny settings."""

from __future__ import annotations

import sys

import pytest
import torch

from ebmm.baselines import BASELINES
from ebmm.bench.binary import PAPER_BINARY, benchmark_binary
from ebmm.bench.harness import command_line, format_table, git_revision
from ebmm.protocol import Retrieval


def models() -> dict:
    return {"oracle": BASELINES["oracle"](), "hopfield_pinv": BASELINES["hopfield_pinv"](dynamics="sync", seed=0)}


@pytest.fixture(scope="module")
def results() -> dict:
    return benchmark_binary(models(), [4, 8], episodes=10, seed=0, corrupt_bits=32)


def test_result_structure(results: dict) -> None:
    assert list(results) == ["query", "oracle", "hopfield_pinv"]
    for name, row in results.items():
        assert list(row) == ["4", "8"]
        for cell in row.values():
            assert set(cell) == {"mean", "p5", "p95", "memory_floats", "memory_bits"}
            # the oracle is a bit-packed verbatim store; the others count 32 bits per float
            assert cell["memory_bits"] == (1 if name == "oracle" else 32) * cell["memory_floats"]
            assert cell["p5"] <= cell["mean"] <= cell["p95"]


def test_oracle_is_near_perfect_and_query_is_half_the_corrupted_bits(results: dict) -> None:
    for n in ("4", "8"):
        assert results["oracle"][n]["mean"] < 0.5
        assert abs(results["query"][n]["mean"] - 16.0) < 2.0  # 32 resampled bits, half flip
        assert results["hopfield_pinv"][n]["mean"] < results["query"][n]["mean"]


def test_memory_floats(results: dict) -> None:
    assert results["query"]["4"]["memory_floats"] == 0
    assert results["oracle"]["4"]["memory_floats"] == 4 * 128
    assert results["oracle"]["8"]["memory_floats"] == 8 * 128
    assert results["hopfield_pinv"]["4"]["memory_floats"] == 8256


def test_identical_seeds_give_identical_results(results: dict) -> None:
    again = benchmark_binary(models(), [4, 8], episodes=10, seed=0, corrupt_bits=32)
    assert again == results
    other = benchmark_binary(models(), [4, 8], episodes=10, seed=1, corrupt_bits=32)
    assert other["query"] != results["query"]


def test_chunking_and_corruption_options() -> None:
    out = benchmark_binary({"oracle": BASELINES["oracle"]()}, [3], episodes=5, seed=2, corruption="flip",
                           corrupt_bits=10, dim=32, chunk=2)
    assert out["query"]["3"]["mean"] == 10.0  # flip: exactly 10 errors per query
    assert out["query"]["3"]["p5"] == out["query"]["3"]["p95"] == 10.0
    assert out["oracle"]["3"]["memory_floats"] == 3 * 32


class Identity:
    """A memory that returns its queries: it must score exactly like the 'query' row."""

    def write(self, patterns: torch.Tensor) -> None:
        return None

    def read(self, queries: torch.Tensor, state: None) -> Retrieval:
        return Retrieval(patterns=queries)

    def memory_floats(self, state: None) -> int:
        return 0


def test_every_model_sees_the_same_episodes() -> None:
    out = benchmark_binary({"identity": Identity()}, [5], episodes=7, seed=3, corrupt_bits=20, dim=64)
    assert out["identity"] == out["query"]


def test_progress_is_reported_per_pattern_count() -> None:
    lines: list[str] = []
    benchmark_binary({"oracle": BASELINES["oracle"]()}, [2, 3], episodes=2, seed=0, dim=16, corrupt_bits=4,
                     progress=lines.append)
    assert len(lines) == 2 and lines[0].startswith("N=2") and "oracle" in lines[1]


def test_bad_corruption_raises() -> None:
    with pytest.raises(ValueError):
        benchmark_binary({}, [2], episodes=1, seed=0, corrupt_bits=200)
    with pytest.raises(ValueError, match="blur"):
        benchmark_binary({}, [2], episodes=1, seed=0, corruption="blur")


def test_format_table(results: dict) -> None:
    table = format_table(results, PAPER_BINARY)
    lines = table.splitlines()
    assert "N=4" in lines[0] and "N=8" in lines[0]
    for name in ("query", "oracle", "hopfield_pinv"):
        assert any(line.startswith(name) for line in lines)
    assert f"{results['oracle']['4']['mean']:.2f}" in table
    # the paper's pinv row at N=4 is unknown (nan); at N=8 too; the row is still printed once
    assert sum(line.startswith("  paper") for line in lines) == 1
    plain = format_table(results)
    assert "paper" not in plain and len(plain.splitlines()) == 5


def test_format_table_paper_row_values() -> None:
    res = {"hopfield_pinv": {"64": {"mean": 1.0, "p5": 0.0, "p95": 2.0, "memory_floats": 8256}}}
    table = format_table(res, PAPER_BINARY)
    assert "4.30" in table and "8256" in table


def test_git_revision_and_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    revision = git_revision()
    assert revision == "unknown" or len(revision.split("+")[0]) == 40
    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/ebmm", "bench", "binary", "--episodes", "3"])
    assert command_line() == "ebmm bench binary --episodes 3"
