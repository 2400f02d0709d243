"""ebmm.model_checks: the model config is checked when loaded, against the constructors it will call."""

from __future__ import annotations

import pytest

from ebmm.baselines import LEARNED
from ebmm.config import BaselineConfig, Config, EBMMConfig, config_from_dict, load_config, validate
from ebmm.energy import ENERGIES, ConvEnergy
from ebmm.energy.conv import imagenet64_energy
from ebmm.model_checks import accepted_keywords, check_model

LEARNED_BASE = ['model.kind="mann"', "model.args={budget=64, code=8}"]
IMAGES = ['task.data="cifar10"', 'task.corruption="block_noise"', "task.corruption_args={size=8}",
          "model.pattern_shape=[3, 32, 32]"]


@pytest.mark.parametrize("name", sorted(ENERGIES))
def test_every_energys_arguments_are_known(name: str) -> None:
    accepted = accepted_keywords(ENERGIES[name])
    assert accepted is not None and ({"dim", "shape"} & accepted)


@pytest.mark.parametrize("name", sorted(LEARNED))
def test_every_learned_baselines_arguments_are_known(name: str) -> None:
    accepted = accepted_keywords(LEARNED[name])
    assert accepted is not None and {"pattern_shape", "code", "likelihood", "codec"} <= accepted


def test_keywords_follow_kwargs_to_the_class_a_factory_returns() -> None:
    accepted = accepted_keywords(imagenet64_energy)
    assert accepted is not None and accepted_keywords(ConvEnergy) is not None
    assert accepted == accepted_keywords(ConvEnergy)


def test_a_misspelt_energy_argument_is_named_with_the_accepted_ones() -> None:
    with pytest.raises(ValueError, match=r"model.energy_args.hiden: not an argument of the energy 'autoencoder'; "
                                         r"it accepts encoder_layers, encoder_width, hidden"):
        load_config(None, ["model.energy_args={hiden=3}"])


def test_a_misspelt_memory_argument_is_named_with_the_accepted_ones() -> None:
    with pytest.raises(ValueError, match=r"model.args.slot: not an argument of the learned baseline 'mann'.*"
                                         r"budget, code, codec, controller"):
        load_config(None, [*LEARNED_BASE[:1], "model.args={budget=64, slot=3}"])


def test_nested_tables_and_forwarded_arguments_pass() -> None:
    config = load_config(None, [*IMAGES, 'model.energy="codec_slots"',
                                "model.energy_args={slots=4, code=8, codec=\"conv\", codec_args={width=32}}"])
    assert config.model.energy_args["codec_args"] == {"width": 32}
    load_config(None, [*IMAGES, 'model.energy="conv_imagenet64"', "model.energy_args={memory_width=2, head={kind=\"gated\", hops=2}}"])
    load_config(None, ['model.kind="kanerva"', "model.args={budget=64, codec={hidden=8}}"])


def test_the_pattern_size_comes_from_the_config_not_the_arguments() -> None:
    with pytest.raises(ValueError, match=r"model.energy_args.dim: the pattern size comes from model.pattern_shape"):
        load_config(None, ["model.energy_args={dim=3}"])
    with pytest.raises(ValueError, match=r"'conv' takes images .* but the config gives model.pattern_shape = \[128\]"):
        load_config(None, ['model.energy="conv"'])
    with pytest.raises(ValueError, match=r"'autoencoder' takes vector patterns"):
        load_config(None, IMAGES)


@pytest.mark.parametrize("override, field", [
    ('model.energy="gated_rnn"', "model.energy"),
    ("model.energy_args={hidden=4}", "model.energy_args"),
    ("model.write_steps=2", "model.write_steps"),
    ('model.write_terms=["energy"]', "model.write_terms"),
    ("model.read_step_init=0.5", "model.read_step_init"),
])
def test_a_learned_baseline_has_no_ebmm_fields(override: str, field: str) -> None:
    load_config(None, LEARNED_BASE)
    with pytest.raises(ValueError, match=rf"unknown config key {field} for kind 'mann'; known keys: "
                                         r"\['args', 'kind', 'pattern_shape'\] \(.* is an EBMM option"):
        load_config(None, [*LEARNED_BASE, override])


def test_an_ebmm_has_no_baseline_args() -> None:
    with pytest.raises(ValueError, match=r"unknown config key model.args for kind 'ebmm'; known keys: \[.*'energy_args'"):
        load_config(None, ["model.args={code=8}"])


def test_a_pattern_shape_must_list_positive_sizes() -> None:
    with pytest.raises(ValueError, match=r"model.pattern_shape must list positive sizes"):
        check_model(EBMMConfig(pattern_shape=[]))
    with pytest.raises(ValueError, match=r"model.pattern_shape must list positive sizes"):
        config_from_dict({"model": {"kind": "lstm", "pattern_shape": [0]}, "task": {"corrupt_bits": 0}})


def test_validate_checks_a_directly_built_model() -> None:
    with pytest.raises(ValueError, match=r"model.kind must be 'ebmm' or a learned baseline, one of"):
        validate(Config(model=BaselineConfig(kind="dnc")))
    validate(Config(model=BaselineConfig(kind="mann", args={"budget": 64})))


@pytest.mark.parametrize("override, match", [
    ('model.pattern_shape=["a", 32, 32]', r"model.pattern_shape\[0\] must be an integer"),
    ('task.data="cifar10"\0model.energy="conv"\0model.pattern_shape=[3, 0, 32]', "must list positive sizes"),
    ("model.pattern_shape=[0]\0task.corrupt_bits=0", "must list positive sizes"),
    ("model.write_rate_init=[1e-4]", "model.write_rate_init needs one positive rate per term"),
    ("model.write_rate_init=[1e-4, 0, 1e-4]", "model.write_rate_init needs one positive rate per term"),
    ('model.write_terms=["energy", "energy"]', "model.write_terms must list distinct terms"),
    ('model.write_terms=["energy", "curvature"]', "model.write_terms must list distinct terms"),
    ("model.write_terms=[]", "model.write_terms must list distinct terms"),
    ('model.write_terms=[1]', r"model.write_terms\[0\] must be a string"),
    ("model.write_chunk=-1", "model.write_chunk"),
    ("model.refine_steps=-1", "model.refine_steps"),
    ("model.refine_rate_init=[0.1]", "model.refine_rate_init"),
    ("model.refine_momentum_init=1.5", "model.refine_momentum_init"),
    ('model.write_reduction="max"', "model.write_reduction"),
    ("model.read_steps=0", "model.read_steps"),
    ("model.momentum_init=1", r"model.momentum_init must lie in \(0, 1\)"),
    ("model.read_step_init=0", "model.read_step_init must be positive"),
    ("model.read_temperature=-0.5", r"model.read_temperature must be a finite number >= 0"),
    ("task.patterns=[4, -1]", "task.patterns"),
    ("train.eval_patterns=[]", "train.eval_patterns"),
])
def test_list_elements_and_ranges_are_checked_at_load_time(override: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_config(None, override.split("\0"))


def test_validate_checks_fields_that_kept_their_empty_defaults_too() -> None:
    validate(Config())
    with pytest.raises(ValueError, match=r"model.pattern_shape\[0\] must be an integer"):
        validate(Config(model=EBMMConfig(pattern_shape=["3"])))  # type: ignore[list-item]
