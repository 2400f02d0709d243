"""The certificate study: its summary by hand, a short run on the shipped string memory, the committed result."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ebmm.build import load_memory
from ebmm.certify import MinimumCertificate
from ebmm.checkpoint import load_json
from experiments.certify_minima import certify_study, markdown, summary

ROOT = Path(__file__).resolve().parents[2]


def test_summary_by_hand() -> None:
    certificate = MinimumCertificate(kkt_residual=torch.tensor([[0.0, 0.0, 0.5, 0.0]]), free=torch.tensor([[3, 3, 3, 0]]),
                                     held=torch.tensor([[0, 0, 0, 3]]),
                                     curvature=torch.tensor([[2.0, 0.0, 1.0, float("inf")]]),
                                     strict=torch.tensor([[True, False, False, True]]))
    assert summary(certificate, 1e-6) == {"certified": 0.5, "not_kkt": 0.25, "kkt_undecided": 0.25,
                                          "smallest_curvature": 0.0}


def test_study_on_the_shipped_string_memory() -> None:
    memory, _ = load_memory("binary_code_slots_episode")
    result = certify_study(memory, [8], episodes=1, seed=0)
    row = result["results"]["8"]
    assert row["stored"]["certified"] == 1.0 and row["unrelated"]["certified"] == 0.0
    assert row["read_of_stored_bits"] == 0.0 and row["stored"]["smallest_curvature"] == pytest.approx(4.0, rel=1e-3)
    assert markdown(result).count("\n") == 2


def test_the_strings_page_states_the_committed_study() -> None:
    result = load_json(ROOT / "results" / "strings" / "certified_minima.json")
    assert markdown(result) in (ROOT / "docs" / "results" / "strings.md").read_text()
    assert result["command"].startswith("python -m experiments.certify_minima") and not result["git_revision"].endswith("+dirty")


@pytest.mark.parametrize("dataset", ["omniglot", "cifar10"])
def test_the_image_page_states_the_committed_studies(dataset: str) -> None:
    result = load_json(ROOT / "results" / "images" / f"{dataset}_certified_minima.json")
    assert markdown(result) in (ROOT / "docs" / "results" / "image_memories.md").read_text()
    assert f"--dataset {dataset}" in result["command"] and not result["git_revision"].endswith("+dirty")
