"""ebmm.train: a tiny meta-training run, its files, exact resume, and divergence handling."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ebmm.build import build_memory, load_memory, resolve_checkpoint
from ebmm.checkpoint import load_json, load_tensors
from ebmm.config import Config, load_config
from ebmm.memory import EnergyMemory
from ebmm.train import TrainingDiverged, evaluate_binary, read_metrics, train

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "model.pattern_shape=[16]",
    "model.energy_args={hidden=4}",
    "task.patterns=[4]",
    "task.corrupt_bits=4",
    "train.steps=6",
    "train.meta_batch=2",
    "train.log_every=2",
    "train.eval_every=3",
    "train.checkpoint_every=2",
    "train.eval_patterns=[4]",
    "train.eval_episodes=2",
]


def tiny_config(*extra: str) -> Config:
    return load_config(REPO / "configs" / "binary_autoencoder.toml", [*TINY, *extra])


def tensors_of(run: Path, name: str) -> dict[str, torch.Tensor]:
    return load_tensors(resolve_checkpoint(run) / name)


def assert_same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def without_seconds(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("full") / "run"
    result = train(tiny_config(), run, quiet=True)
    assert result.step == 6 and result.run_dir == run
    return run


def test_metrics_log_has_train_and_eval_records(full_run: Path) -> None:
    records = read_metrics(full_run)
    train_records = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["step"] for r in train_records] == [2, 4, 6]
    assert [r["step"] for r in evals] == [3, 6]
    for r in train_records:
        assert r["patterns"] == 4 and r["loss"] > 0 and r["grad_norm"] >= 0 and 0 <= r["hamming"] <= 16
    for r in evals:
        assert set(r) == {"step", "kind", "hamming@4", "query_hamming@4", "energy_gap@4", "unrelated_hamming@4",
                          "nothing_hamming@4", "seconds"}
        assert 0 <= r["query_hamming@4"] <= 4  # 4 resampled bits
    assert records == [json.loads(line) for line in (full_run / "metrics.jsonl").read_text().splitlines()]


def test_run_folder_layout(full_run: Path) -> None:
    assert sorted(p.name for p in full_run.iterdir()) == [
        "checkpoint-00000006", "config.json", "latest.json", "metrics.jsonl"]  # older checkpoints pruned
    assert load_json(full_run / "latest.json") == {"checkpoint": "checkpoint-00000006", "step": 6}
    folder = resolve_checkpoint(full_run)
    assert folder == full_run / "checkpoint-00000006"
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json", "model.safetensors", "state.json", "trainer.safetensors"]
    assert load_json(folder / "state.json")["step"] == 6
    assert load_json(folder / "config.json") == tiny_config().to_dict() == load_json(full_run / "config.json")
    trainer = tensors_of(full_run, "trainer.safetensors")
    assert "rng.data" in trainer and any(k.startswith("optim.") for k in trainer)


def test_training_changes_the_parameters(full_run: Path) -> None:
    config = tiny_config()
    torch.manual_seed(config.train.seed)
    initial = build_memory(config.model).state_dict()
    trained = tensors_of(full_run, "model.safetensors")
    assert sorted(initial) == sorted(trained)
    assert any(not torch.equal(initial[k], trained[k]) for k in initial)


def test_training_is_deterministic(full_run: Path, tmp_path: Path) -> None:
    train(tiny_config(), tmp_path / "again", quiet=True)
    assert_same_tensors(tensors_of(full_run, "model.safetensors"), tensors_of(tmp_path / "again", "model.safetensors"))
    assert without_seconds(read_metrics(full_run)) == without_seconds(read_metrics(tmp_path / "again"))


def test_resume_matches_an_uninterrupted_run(full_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "split"
    first = train(tiny_config(), run, quiet=True, max_steps=3)
    assert first.step == 3
    assert load_json(run / "latest.json")["step"] == 3  # checkpointed at the stop, off the schedule
    second = train(tiny_config(), run, resume=True, quiet=True)
    assert second.step == 6
    assert_same_tensors(tensors_of(full_run, "model.safetensors"), tensors_of(run, "model.safetensors"))
    assert_same_tensors(tensors_of(full_run, "trainer.safetensors"), tensors_of(run, "trainer.safetensors"))
    evals = lambda r: without_seconds([x for x in read_metrics(r) if x["kind"] == "eval"])  # noqa: E731
    assert evals(run) == evals(full_run)


@settings(max_examples=4, deadline=None)
@given(cuts=st.lists(st.integers(1, 5), min_size=1, max_size=3, unique=True))
def test_resume_in_any_pieces(full_run: Path, tmp_path_factory: pytest.TempPathFactory, cuts: list[int]) -> None:
    run = tmp_path_factory.mktemp("pieces") / "run"
    done = 0
    for cut in sorted(cuts):
        train(tiny_config(), run, resume=done > 0, quiet=True, max_steps=cut - done)
        done = cut
    train(tiny_config(), run, resume=True, quiet=True)
    assert_same_tensors(tensors_of(full_run, "model.safetensors"), tensors_of(run, "model.safetensors"))
    assert_same_tensors(tensors_of(full_run, "trainer.safetensors"), tensors_of(run, "trainer.safetensors"))


def test_resume_drops_log_lines_written_after_the_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(tiny_config(), run, quiet=True, max_steps=4)
    with (run / "metrics.jsonl").open("a") as log:  # an interrupted process logged step 5, never checkpointed
        log.write(json.dumps({"step": 5, "kind": "train", "loss": 1.0}) + "\n")
    train(tiny_config(), run, resume=True, quiet=True)
    steps = [(r["kind"], r["step"]) for r in read_metrics(run)]
    assert ("train", 5) not in steps
    assert steps.count(("eval", 6)) == 1 and steps.count(("eval", 3)) == 1


def test_resume_of_a_finished_run_does_nothing(full_run: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(full_run, run)
    result = train(tiny_config(), run, resume=True, quiet=True)
    assert result.step == 6 and result.last_eval is None
    assert_same_tensors(tensors_of(full_run, "model.safetensors"), tensors_of(run, "model.safetensors"))


def test_new_run_in_an_existing_run_folder_raises(full_run: Path) -> None:
    before = (full_run / "metrics.jsonl").read_text()
    with pytest.raises(FileExistsError, match="resume"):
        train(tiny_config(), full_run, quiet=True)
    assert (full_run / "metrics.jsonl").read_text() == before


def test_resume_with_a_different_model_raises(full_run: Path) -> None:
    with pytest.raises(ValueError, match="model config differs"):
        train(tiny_config("model.energy_args={hidden=5}"), full_run, resume=True, quiet=True)


def test_resume_without_a_checkpoint_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(tiny_config(), tmp_path / "empty", resume=True, quiet=True)


def patch_episode_loss(monkeypatch: pytest.MonkeyPatch, bad_call: int, make_bad) -> None:
    original = EnergyMemory.episode_loss
    calls = {"n": 0}

    def episode_loss(self, patterns, queries, mode="second_order", **options):
        loss, state, retrieval = original(self, patterns, queries, mode, **options)
        calls["n"] += 1
        if calls["n"] == bad_call:
            loss = make_bad(self, loss)
        return loss, state, retrieval

    monkeypatch.setattr(EnergyMemory, "episode_loss", episode_loss)


def nan_loss(memory: EnergyMemory, loss: torch.Tensor) -> torch.Tensor:
    return loss * float("nan")


def nan_gradient(memory: EnergyMemory, loss: torch.Tensor) -> torch.Tensor:
    # finite value (0 · sqrt(0) = 0) but a NaN gradient (0 · ∞)
    weight = next(memory.parameters())
    return loss + 0.0 * torch.sqrt(weight.sum() * 0.0)


@pytest.mark.parametrize("make_bad", [nan_loss, nan_gradient])
def test_divergence_raises_naming_the_step_and_keeps_the_last_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_bad
) -> None:
    run = tmp_path / "run"
    patch_episode_loss(monkeypatch, bad_call=5, make_bad=make_bad)  # the 5th update is step index 4
    with pytest.raises(TrainingDiverged, match=r"step 4\b") as info:
        train(tiny_config(), run, quiet=True)
    assert "checkpoint-00000004" in str(info.value)
    assert load_json(run / "latest.json")["step"] == 4
    memory, config = load_memory(run)
    assert config == tiny_config()
    saved = tensors_of(run, "model.safetensors")
    assert all(torch.isfinite(v).all() for v in saved.values())
    assert_same_tensors(saved, {k: v for k, v in memory.state_dict().items()})


def test_diverged_run_can_be_resumed_to_the_uninterrupted_result(
    full_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch_episode_loss(patch, bad_call=6, make_bad=nan_loss)
        with pytest.raises(TrainingDiverged, match="step 5"):
            train(tiny_config(), run, quiet=True)
    train(tiny_config(), run, resume=True, quiet=True)
    assert_same_tensors(tensors_of(full_run, "model.safetensors"), tensors_of(run, "model.safetensors"))


def test_huge_learning_rate_diverges(tmp_path: Path) -> None:
    config = tiny_config("train.lr=1e30", "train.clip_norm=1e30", "train.steps=20", "train.checkpoint_every=1")
    with pytest.raises(TrainingDiverged, match="not finite at step") as info:
        train(config, tmp_path / "run", quiet=True)
    step = int(str(info.value).split("at step ")[1].split()[0])
    assert step >= 1 and load_json(tmp_path / "run" / "latest.json")["step"] == step
    load_memory(tmp_path / "run")


def test_first_order_mode_trains(tmp_path: Path) -> None:
    result = train(tiny_config("train.grad_mode=\"first_order\"", "train.steps=2"), tmp_path / "fo", quiet=True)
    assert result.step == 2 and result.last_eval is not None


def test_evaluate_binary_is_deterministic_and_bounded() -> None:
    config = tiny_config()
    torch.manual_seed(0)
    memory = build_memory(config.model)
    first = evaluate_binary(memory, config, [2, 4], episodes=3, seed=5)
    assert first == evaluate_binary(memory, config, [2, 4], episodes=3, seed=5)
    keys = ("hamming", "query_hamming", "energy_gap", "unrelated_hamming", "nothing_hamming")
    assert set(first) == {f"{k}@{n}" for k in keys for n in (2, 4)}
    assert 0 <= first["hamming@4"] <= 16 and 0 <= first["query_hamming@2"] <= 4


def test_read_metrics_missing_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="metrics.jsonl"):
        read_metrics(tmp_path)


def test_cosine_schedule_decays_from_lr_to_zero() -> None:
    from ebmm.config import load_config
    from ebmm.train import learning_rate

    config = load_config(None, ["train.lr=0.01", "train.steps=100", 'train.lr_schedule="cosine"'])
    rates = [learning_rate(config, step) for step in range(100)]
    assert rates[0] == pytest.approx(0.01) and rates[50] == pytest.approx(0.005) and rates[-1] < 1e-5
    assert all(a >= b for a, b in pairwise(rates))
    assert learning_rate(load_config(None, ["train.lr=0.01"]), 99) == 0.01


def test_first_order_warm_up_then_second_order(tmp_path: Path) -> None:
    """train.first_order_steps uses first-order meta-gradients for the first updates only."""
    def params(name: str, *extra: str) -> dict[str, torch.Tensor]:
        train(tiny_config("train.steps=3", *extra), tmp_path / name, quiet=True)
        return load_tensors(resolve_checkpoint(tmp_path / name) / "model.safetensors")

    warm_all = params("warm_all", "train.first_order_steps=3")
    first_order = params("first_order", 'train.grad_mode="first_order"')
    second_order = params("second_order")
    warm_two = params("warm_two", "train.first_order_steps=2")
    assert all(torch.equal(warm_all[k], first_order[k]) for k in warm_all)
    assert any(not torch.equal(warm_all[k], second_order[k]) for k in warm_all)
    assert any(not torch.equal(warm_two[k], warm_all[k]) for k in warm_all)


def test_checkpointing_trains_exactly_like_the_plain_graph(tmp_path: Path) -> None:
    """Gradient checkpointing recomputes the same graph: same parameters after training (to
    float rounding); the truncated mode trains to different ones."""
    plain = train(tiny_config(), tmp_path / "plain", quiet=True)
    checkpointed = train(tiny_config("train.checkpointing=true"), tmp_path / "ckpt", quiet=True)
    truncated = train(tiny_config('train.grad_mode="truncated"', "train.truncate_steps=1"), tmp_path / "trunc",
                      quiet=True)
    a, b, c = (tensors_of(r.run_dir, "model.safetensors") for r in (plain, checkpointed, truncated))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    assert any(not torch.allclose(a[key], c[key]) for key in a)
    assert load_json(truncated.run_dir / "config.json")["train"]["grad_mode"] == "truncated"


LEARNED_TINY = [
    "model.args={code=8, budget=64, codec={hidden=8}}",
    "model.pattern_shape=[16]", "task.patterns=[4, 6]", "task.corrupt_bits=4", "train.steps=4", "train.meta_batch=2",
    "train.log_every=2", "train.eval_every=2", "train.checkpoint_every=2", "train.eval_patterns=[4]",
    "train.eval_episodes=2", "train.lr=1e-3",
]


@pytest.mark.parametrize("memory", ["memory_networks", "mann", "lstm", "plasticity", "kanerva", "hopfield_code"])
def test_the_trainer_trains_resumes_and_loads_a_learned_baseline(tmp_path: Path, memory: str) -> None:
    from ebmm.baselines import LEARNED

    config = load_config(REPO / "configs" / "baselines" / f"binary_{memory}.toml", LEARNED_TINY)
    whole = train(config, tmp_path / "whole", quiet=True)
    train(config, tmp_path / "split", quiet=True, max_steps=2)
    split = train(config, tmp_path / "split", resume=True, quiet=True)
    assert split.step == whole.step == 4
    for name, value in tensors_of(tmp_path / "whole", "model.safetensors").items():
        torch.testing.assert_close(tensors_of(tmp_path / "split", "model.safetensors")[name], value)
    loaded, saved = load_memory(tmp_path / "whole")
    assert isinstance(loaded, LEARNED[memory]) and saved.model.kind == memory
    assert whole.last_eval is not None and "hamming@4" in whole.last_eval
    assert "energy_gap@4" not in whole.last_eval  # no energy to compare


def test_unknown_learned_memory_is_named() -> None:
    with pytest.raises(ValueError, match="model.kind must be 'ebmm' or a learned baseline, one of"):
        load_config(None, ["model.kind=dnc"])


def test_init_from_starts_a_new_run_from_a_checkpoints_parameters(tmp_path: Path) -> None:
    base = train(tiny_config(), tmp_path / "base", quiet=True)
    tuned = tiny_config(f"train.init_from={base.run_dir}", "train.steps=1", "train.lr=1e-12")
    train(tuned, tmp_path / "tuned", quiet=True)
    before, after = tensors_of(tmp_path / "base", "model.safetensors"), tensors_of(tmp_path / "tuned", "model.safetensors")
    for name, value in before.items():  # a 1e-12 step barely moves them
        torch.testing.assert_close(after[name], value, atol=1e-6, rtol=0)
    assert load_json(tmp_path / "tuned" / "config.json")["train"]["init_from"] == str(base.run_dir)
    other = tiny_config(f"train.init_from={base.run_dir}", "model.pattern_shape=[20]")
    with pytest.raises(ValueError, match="model config differs"):
        train(other, tmp_path / "other", quiet=True)


def test_init_from_with_a_read_temperature_loads_every_parameter(tmp_path: Path) -> None:
    """A temperature sets no parameter: a stochastic run starts from all of a deterministic one's."""
    base = train(tiny_config(), tmp_path / "base", quiet=True)
    noisy = tiny_config(f"train.init_from={base.run_dir}", "model.read_temperature=0.01")
    train(noisy, tmp_path / "noisy", quiet=True, max_steps=0)
    before, after = tensors_of(tmp_path / "base", "model.safetensors"), tensors_of(tmp_path / "noisy", "model.safetensors")
    for name, value in before.items():
        torch.testing.assert_close(after[name], value, atol=0, rtol=0)
    loaded, config = load_memory(tmp_path / "noisy")
    assert config.ebmm_model("test").read_temperature == 0.01 and loaded.read_rule.temperature == 0.01  # type: ignore[union-attr]


def test_init_from_with_other_write_rules_takes_the_energy_only(tmp_path: Path) -> None:
    base = train(tiny_config(), tmp_path / "base", quiet=True)
    refined = tiny_config(f"train.init_from={base.run_dir}", "model.refine_steps=2", "model.read_step_init=0.3")
    train(refined, tmp_path / "refined", quiet=True, max_steps=0)
    before, after = tensors_of(tmp_path / "base", "model.safetensors"), tensors_of(tmp_path / "refined", "model.safetensors")
    for name, value in before.items():
        if name.startswith("energy."):
            torch.testing.assert_close(after[name], value, atol=0, rtol=0)
    assert not torch.equal(after["read_step_raw"], before["read_step_raw"])  # from this run's config
    assert after["refine_rate_raw"].shape[0] == 2
    other_energy = tiny_config(f"train.init_from={base.run_dir}", "model.refine_steps=2", "model.pattern_shape=[20]")
    with pytest.raises(ValueError, match="differs from this run's in model.pattern_shape"):
        train(other_energy, tmp_path / "other", quiet=True)
    wider = tiny_config(f"train.init_from={base.run_dir}", "model.refine_steps=2", "model.energy_args={hidden=5}")
    with pytest.raises(ValueError, match=r"energy's parameters do not fit this run's energy \(model.energy_args"):
        train(wider, tmp_path / "wider", quiet=True)


def test_init_from_takes_energy_options_that_keep_its_parameters(tmp_path: Path) -> None:
    slots = ["model.energy=code_slots", "model.energy_args={slots=6,code=8}", "model.write_chunk=1"]
    base = train(tiny_config(*slots), tmp_path / "base", quiet=True, max_steps=1)
    closed = tiny_config(*slots[:1], "model.energy_args={slots=6,code=8,read_closes_free_slots=true}",
                         *slots[2:], f"train.init_from={base.run_dir}")
    train(closed, tmp_path / "closed", quiet=True, max_steps=0)
    before, after = tensors_of(tmp_path / "base", "model.safetensors"), tensors_of(tmp_path / "closed", "model.safetensors")
    energy = [name for name in before if name.startswith("energy.")]
    assert_same_tensors({n: before[n] for n in energy}, {n: after[n] for n in energy})  # the write/read rules: this run's
    loaded, _ = load_memory(tmp_path / "closed")
    assert loaded.energy.read_closes_free_slots is True  # type: ignore[union-attr]


def test_init_from_starts_a_parameter_from_the_option_that_initialises_it(tmp_path: Path) -> None:
    slots = ["model.energy=code_slots", "model.write_chunk=1"]
    base = train(tiny_config(*slots, "model.energy_args={slots=6,code=8,novelty=50.0}"), tmp_path / "base",
                 quiet=True, max_steps=1)
    tuned = tiny_config(*slots, "model.energy_args={slots=6,code=8,novelty=15.0}", f"train.init_from={base.run_dir}")
    train(tuned, tmp_path / "tuned", quiet=True, max_steps=0)
    before, after = tensors_of(tmp_path / "base", "model.safetensors"), tensors_of(tmp_path / "tuned", "model.safetensors")
    assert after["energy.novelty"].item() == 15.0  # this run's option, not the checkpoint's trained value
    others = [name for name in before if name.startswith("energy.") and name != "energy.novelty"]
    assert others and all(torch.equal(before[name], after[name]) for name in others)


def test_frozen_parameters_keep_their_starting_value(tmp_path: Path) -> None:
    config = tiny_config("train.frozen=['energy.*', 'read_step_raw']", "train.lr=1e-2")
    train(config, tmp_path / "run", quiet=True, max_steps=3)
    memory, _ = load_memory(tmp_path / "run")
    torch.manual_seed(config.train.seed)
    fresh = dict(build_memory(config.model).named_parameters())
    moved = {name for name, value in memory.named_parameters() if not torch.equal(value, fresh[name])}
    assert moved and not any(name.startswith("energy.") or name == "read_step_raw" for name in moved)
    with pytest.raises(ValueError, match=r"train.frozen: 'energy.nothing' matches no parameter"):
        train(tiny_config("train.frozen=['energy.nothing']"), tmp_path / "bad", quiet=True)


def test_max_steps_zero_saves_the_initialised_model(tmp_path: Path) -> None:
    """A new run with max_steps=0 writes checkpoint 0: the model as built and initialised, no update."""
    config = tiny_config()
    result = train(config, tmp_path / "run", quiet=True, max_steps=0)
    assert result.step == 0
    memory, _ = load_memory(tmp_path / "run")
    torch.manual_seed(config.train.seed)
    fresh = build_memory(config.model)
    for (name, saved), (_, built) in zip(memory.state_dict().items(), fresh.state_dict().items(), strict=True):
        torch.testing.assert_close(saved, built, msg=name)


def test_pattern_weights_scale_each_loads_meta_gradient(tmp_path: Path) -> None:
    # loads 4 and 6 weighted 3 and 1: the gradient norm the log records (before clipping) is 3× the
    # unweighted run's on updates that drew N = 4 and the same on N = 6; the logged loss is unweighted
    def records(*weights: str) -> list[dict]:
        config = tiny_config("task.patterns=[4, 6]", *weights, "train.steps=8", "train.log_every=1",
                             "train.eval_every=100", "train.checkpoint_every=100")
        run = tmp_path / f"run{len(weights)}"
        train(config, run, quiet=True, max_steps=1)
        return [r for r in read_metrics(run) if r["kind"] == "train"]

    weighted, plain = records("task.pattern_weights=[3.0, 1.0]")[0], records()[0]
    ratio = 3.0 if plain["patterns"] == 4 else 1.0
    assert weighted["patterns"] == plain["patterns"]
    assert weighted["loss"] == pytest.approx(plain["loss"])
    assert weighted["grad_norm"] == pytest.approx(ratio * plain["grad_norm"], rel=1e-4)
