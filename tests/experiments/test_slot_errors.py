"""experiments.slot_errors: each wrong read of a code-slot memory is put in the class that caused it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ebmm.energy.autoencoder import AutoencoderEnergy
from ebmm.energy.code_slots import CodeSlotEnergy
from ebmm.memory import EnergyMemory
from ebmm.rules import ReadRule, WriteRule
from experiments.slot_errors import classify, slot_errors_markdown


def memory(read_steps: int = 10, read_step: float = 0.5) -> EnergyMemory:
    torch.manual_seed(0)
    energy = CodeSlotEnergy(dim=32, slots=8, code=32, novelty=8.0, priority=10.0, read_closes_free_slots=True)
    return EnergyMemory(energy, (32,),
                        write=WriteRule(steps=1, terms=("energy",), rate_init=(1.0, 1e-4, 1e-4), reduction="sum", chunk=1),
                        read=ReadRule(steps=read_steps, step_init=read_step, step_decay_init=0.999, momentum_init=0.01))


def strings(count: int, seed: int) -> torch.Tensor:
    return torch.randint(0, 2, (1, count, 32), generator=torch.Generator().manual_seed(seed)).float()


def test_exact_reads_have_no_wrong_queries() -> None:
    patterns = strings(4, 0)
    queries = patterns.clone()
    queries[..., :3] = 1 - queries[..., :3]
    result = classify(memory(), patterns, queries)
    assert result["wrong_queries"] == 0 and result["mean_error"] == 0.0


def test_a_query_nearer_another_strings_slot_is_a_wrong_slot() -> None:
    patterns = strings(4, 1)
    queries = patterns.clone()
    queries[0, 0] = patterns[0, 1]  # query 0 shows string 1 exactly: it reads string 1
    result = classify(memory(), patterns, queries)
    assert result["wrong_queries"] == 1
    assert result["classes"]["wrong_slot"]["queries"] == 1
    errors = float(((patterns[0, 0] > 0.5) != (patterns[0, 1] > 0.5)).sum())
    assert result["classes"]["wrong_slot"]["bits_per_query"] == pytest.approx(errors / 4)


def test_strings_merged_into_one_slot_are_shared_slots() -> None:
    patterns = strings(4, 2)
    patterns[0, 1] = patterns[0, 0]
    patterns[0, 1, :1] = 1 - patterns[0, 1, :1]  # one bit apart: the write merges them into one slot
    result = classify(memory(), patterns, patterns.clone())
    assert result["classes"]["shared_slot"]["queries"] >= 1
    assert result["classes"]["wrong_slot"]["queries"] == result["classes"]["unfinished"]["queries"] == 0


def test_a_read_too_short_to_arrive_is_unfinished() -> None:
    patterns = strings(4, 3)
    queries = patterns.clone()
    queries[..., :6] = 1 - queries[..., :6]
    result = classify(memory(read_steps=1, read_step=1e-3), patterns, queries)
    assert result["wrong_queries"] == 4 and result["classes"]["unfinished"]["queries"] == 4


def test_other_energies_are_refused() -> None:
    other = EnergyMemory(AutoencoderEnergy(dim=32, hidden=4), (32,))
    with pytest.raises(ValueError, match="code_slots energy"):
        classify(other, strings(2, 4), strings(2, 4))


def test_the_record_renders_as_one_row_per_load(tmp_path: Path) -> None:
    from ebmm.checkpoint import save_json
    from experiments.report import render_marker

    patterns = strings(4, 1)
    queries = patterns.clone()
    queries[0, 0] = patterns[0, 1]
    record = {"benchmark": "slot_errors", "per_count": {"4": classify(memory(), patterns, queries)}}
    table = slot_errors_markdown(record).split("\n")
    assert len(table) == 3 and table[2].startswith("| 4 | ") and "1 of 4" in table[2]
    save_json(tmp_path / "errors.json", record)
    assert render_marker(f"experiments {tmp_path / 'errors.json'}") == slot_errors_markdown(record)
