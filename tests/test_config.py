"""ebmm.config: TOML loading, defaults, ``--set`` overrides, type and key checks."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ebmm.config import (
    BaselineConfig,
    Config,
    EBMMConfig,
    TaskConfig,
    TrainConfig,
    config_from_dict,
    load_config,
    parse_override,
    pattern_shape,
)

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").rglob("*.toml"))  # configs/baselines/ too
CHECKPOINT_CONFIGS = sorted((REPO / "checkpoints").glob("*/config.json"))
RUN_CONFIGS = sorted((REPO / "results").rglob("config.json"))  # run folders kept with the results

FAST = settings(max_examples=25, deadline=None)


def write(tmp_path: Path, text: str, name: str = "c.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_without_a_file() -> None:
    config = load_config()
    assert config == Config()
    assert config.model == EBMMConfig() and config.model.kind == "ebmm" and config.model.pattern_shape == [128]
    assert config.task.patterns == [32]
    assert config.train.grad_mode == "second_order"
    assert config.to_dict()["train"]["lr"] == pytest.approx(5e-5)


def test_toml_file_sets_fields_and_keeps_other_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, """
name = "tiny"
[model]
energy = "gated_rnn"
energy_args = { hidden = 32, memory_width = 8 }
pattern_shape = [16]
[task]
patterns = [4, 8]
corrupt_bits = 3
[train]
lr = 1
steps = 7
""")
    config = load_config(path)
    assert config.name == "tiny"
    assert config.model.energy == "gated_rnn"
    assert config.model.energy_args == {"hidden": 32, "memory_width": 8}
    assert config.model.pattern_shape == [16]
    assert config.task.patterns == [4, 8]
    assert config.task.corrupt_bits == 3
    assert config.train.steps == 7
    assert config.train.lr == 1.0 and isinstance(config.train.lr, float)  # int accepted where a float is due
    assert config.model.write_steps == EBMMConfig().write_steps
    assert config.train.meta_batch == TrainConfig().meta_batch


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(REPO / "configs")) for p in CONFIGS])
def test_every_shipped_config_loads(path: Path) -> None:
    config = load_config(path)
    assert isinstance(config, Config)
    assert config.train.steps >= 1


@pytest.mark.parametrize("path", CHECKPOINT_CONFIGS + RUN_CONFIGS,
                         ids=[str(p.parent.relative_to(REPO)) for p in CHECKPOINT_CONFIGS + RUN_CONFIGS])
def test_every_shipped_checkpoint_config_loads_and_roundtrips(path: Path) -> None:
    config = config_from_dict(json.loads(path.read_text()))  # most are saved in the old spelling
    saved = config.to_dict()
    assert config_from_dict(saved) == config
    assert saved["model"]["kind"] == config.model.kind and not {"memory", "memory_args", "pattern_dim"} & set(saved["model"])


def test_there_are_shipped_configs() -> None:
    assert CONFIGS, "configs/*.toml is empty"
    assert any(p.parent.name == "baselines" for p in CONFIGS), "configs/baselines/ is not collected"
    assert CHECKPOINT_CONFIGS, "checkpoints/*/config.json is empty"
    assert RUN_CONFIGS, "results/**/config.json is empty"


@pytest.mark.parametrize(
    "text, keys, value",
    [
        ("train.lr=1e-4", ["train", "lr"], 1e-4),
        ("train.steps = 12", ["train", "steps"], 12),
        ("task.patterns=[16, 32]", ["task", "patterns"], [16, 32]),
        ('model.energy="gated_rnn"', ["model", "energy"], "gated_rnn"),
        ("model.energy=gated_rnn", ["model", "energy"], "gated_rnn"),  # bare word: kept as a string
        ("model.energy_args={hidden=4}", ["model", "energy_args"], {"hidden": 4}),
        ("model.energy_args.hidden=4", ["model", "energy_args", "hidden"], 4),
        ("name=a=b", ["name"], "a=b"),
    ],
)
def test_parse_override(text: str, keys: list[str], value: object) -> None:
    assert parse_override(text) == (keys, value)


def test_override_without_equals_raises() -> None:
    with pytest.raises(ValueError, match="train.lr"):
        parse_override("train.lr")


@FAST
@given(
    steps=st.integers(1, 10**6),
    lr=st.floats(1e-8, 10.0, allow_nan=False),
    patterns=st.lists(st.integers(1, 512), min_size=1, max_size=5),
    hidden=st.integers(1, 64),
    name=st.text(alphabet="abcxyz_-0123", min_size=1, max_size=10),
)
def test_overrides_are_applied_as_toml_literals(steps: int, lr: float, patterns: list[int], hidden: int, name: str) -> None:
    config = load_config(overrides=[
        f"train.steps={steps}",
        f"train.lr={lr!r}",
        f"task.patterns={patterns}",
        f"model.energy_args={{hidden={hidden}}}",
        f'name="{name}"',
    ])
    assert config.train.steps == steps
    assert config.train.lr == pytest.approx(lr)
    assert config.task.patterns == patterns
    assert config.model.energy_args == {"hidden": hidden}
    assert config.name == name


def test_override_beats_file_and_merges_inline_tables(tmp_path: Path) -> None:
    path = write(tmp_path, "[model]\nenergy_args = { hidden = 63, encoder_layers = 2 }\n[train]\nsteps = 5\n")
    config = load_config(path, ["train.steps=9", "model.energy_args.hidden=4"])
    assert config.train.steps == 9
    assert config.model.energy_args == {"hidden": 4, "encoder_layers": 2}


def test_scalar_for_a_list_field_becomes_a_one_element_list() -> None:
    assert load_config(overrides=["task.patterns=48"]).task.patterns == [48]


@pytest.mark.parametrize("override, key", [
    ("optimizer.lr=1", "optimizer"),
    ("train.learning_rate=1", "learning_rate"),
    ("model.dim=16", "dim"),
])
def test_unknown_section_or_key_raises_naming_it(override: str, key: str) -> None:
    with pytest.raises(ValueError, match=key):
        load_config(overrides=[override])


def test_unknown_key_in_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="task.corupt_bits"):
        load_config(write(tmp_path, "[task]\ncorupt_bits = 3\n"))


@pytest.mark.parametrize("override, field", [
    ('train.steps="ten"', "train.steps"),
    ("train.steps=1.5", "train.steps"),
    ("train.steps=true", "train.steps"),
    ('train.lr="fast"', "train.lr"),
    ("model.energy=3", "model.energy"),
    ("model.energy_args=[1, 2]", "model.energy_args"),
    ('task.patterns="many"', "task.patterns"),
    ('task.patterns=["a", "b"]', "task.patterns"),
    ("train.eval_patterns=[16, 1.5]", "train.eval_patterns"),
    ('model.write_rate_init=[0.1, "x", 0.1]', "model.write_rate_init"),
    ("model.write_terms=[1]", "model.write_terms"),
    ("name=3", "name"),
])
def test_wrong_type_raises_naming_the_field(override: str, field: str) -> None:
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        load_config(overrides=[override])


@FAST
@given(value=st.one_of(st.text(alphabet="abc", min_size=1, max_size=4).map(lambda t: f'"{t}"'),
                       st.floats(0.5, 100).filter(lambda v: v != int(v)).map(repr),
                       st.lists(st.integers(0, 3), max_size=3).map(str)))
def test_integer_field_rejects_non_integers(value: str) -> None:
    with pytest.raises(ValueError, match=r"train\.meta_batch"):
        load_config(overrides=[f"train.meta_batch={value}"])


def test_list_element_floats_are_converted() -> None:
    config = load_config(overrides=["model.write_rate_init=[1, 2, 3]"])
    assert config.model.write_rate_init == [1.0, 2.0, 3.0]
    assert all(isinstance(v, float) for v in config.model.write_rate_init)


@pytest.mark.parametrize("override, field", [
    ('train.grad_mode="none"', "grad_mode"),
    ("task.patterns=[0]", "task.patterns"),
    ("train.steps=0", "train.steps"),
    ("train.meta_batch=-1", "train.meta_batch"),
    ("train.lr=0", "train.lr"),
    ('train.grad_mode="truncated"\0train.truncate_steps=4', "train.truncate_steps"),
    ('train.grad_mode="truncated"\0train.truncate_steps=0', "train.truncate_steps"),
])
def test_invalid_values_raise(override: str, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        load_config(overrides=override.split("\0"))


def test_gradient_options_follow_the_train_section() -> None:
    config = load_config(overrides=['train.grad_mode="truncated"', "train.truncate_steps=2",
                                    "train.checkpointing=true", "train.first_order_steps=5"])
    assert config.gradient_options(7) == {"mode": "truncated", "truncate": 2, "checkpoint": True}
    assert config.gradient_options(4) == {"mode": "first_order", "truncate": None, "checkpoint": True}
    assert load_config().gradient_options() == {"mode": "second_order", "truncate": None, "checkpoint": False}


def test_section_that_is_not_a_table_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="model"):
        config_from_dict({"model": 3})
    with pytest.raises(ValueError, match="model.energy"):
        load_config(overrides=["model.energy.hidden=3"])
    path = write(tmp_path, '[model]\nenergy = "autoencoder"\n')
    with pytest.raises(ValueError, match="not a section"):
        load_config(path, ["model.energy.hidden=3"])


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(FileNotFoundError, match="nope.toml"):
        load_config(missing)


def test_invalid_toml_raises_value_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[train\nsteps = = 3\n", name="broken.toml")
    with pytest.raises(ValueError, match="broken.toml"):
        load_config(path)


def test_to_dict_roundtrips_through_config_from_dict() -> None:
    config = load_config(overrides=["train.steps=3", "model.energy_args={hidden=5}", "name=\"x\""])
    assert config_from_dict(config.to_dict()) == config
    assert isinstance(config.task, TaskConfig)


def test_image_task_needs_a_three_axis_pattern_shape() -> None:
    with pytest.raises(ValueError, match="pattern_shape"):
        config_from_dict({"task": {"data": "omniglot", "corruption": "block_noise"}})
    config = config_from_dict({"task": {"data": "cifar10", "corruption": "block_noise", "corruption_args": {"size": 8}},
                               "model": {"energy": "conv", "pattern_shape": [3, 32, 32]}})
    assert pattern_shape(config.model) == (3, 32, 32)


def test_unknown_dataset_and_binary_with_image_shape_are_rejected() -> None:
    with pytest.raises(ValueError, match="task.data"):
        config_from_dict({"task": {"data": "imagenet1k"}, "model": {"pattern_shape": [3, 32, 32]}})
    with pytest.raises(ValueError, match="pattern_shape"):
        config_from_dict({"model": {"pattern_shape": [1, 32, 32]}})


@pytest.mark.parametrize("override", ['train.grad_mode="first_order"', "train.checkpointing=true",
                                      "train.first_order_steps=10"])
def test_learned_baselines_refuse_ebmm_gradient_options(override: str) -> None:
    base = ['model.kind="memory_networks"', "model.args={budget=8256}"]
    load_config(None, base)  # the defaults are fine
    with pytest.raises(ValueError, match="no write steps to differentiate"):
        load_config(None, [*base, override])


# ---------------------------------------------------------------- [model]: a union tagged by kind
def test_the_kind_picks_the_model_dataclass() -> None:
    assert isinstance(load_config().model, EBMMConfig)  # no kind: an EBMM
    assert isinstance(load_config(None, ['model.kind="ebmm"']).model, EBMMConfig)
    model = load_config(None, ['model.kind="mann"', "model.args={budget=64, code=8}", "model.pattern_shape=[16]",
                               "task.corrupt_bits=4"]).model
    assert model == BaselineConfig(kind="mann", pattern_shape=[16], args={"budget": 64, "code": 8})


def test_an_unknown_kind_names_the_options() -> None:
    with pytest.raises(ValueError, match=r"model.kind must be 'ebmm' or a learned baseline, one of \[.*'mann'.*\]; got 'dnc'"):
        load_config(None, ['model.kind="dnc"'])
    with pytest.raises(ValueError, match="model.kind must be"):
        config_from_dict({"model": {"kind": 3}})


def test_to_dict_writes_the_tag_and_only_the_kinds_keys() -> None:
    ebmm = load_config().to_dict()["model"]
    assert next(iter(ebmm)) == "kind" and ebmm["kind"] == "ebmm" and "args" not in ebmm
    baseline = load_config(None, ['model.kind="lstm"', "model.args={budget=8256}"]).to_dict()["model"]
    assert baseline == {"kind": "lstm", "pattern_shape": [128], "args": {"budget": 8256}}


def test_a_toml_file_in_the_new_spelling(tmp_path: Path) -> None:
    path = write(tmp_path, '[model]\nkind = "kanerva"\nargs = { budget = 64 }\npattern_shape = [32]\n'
                           "[task]\ncorrupt_bits = 8\n")
    assert load_config(path).model == BaselineConfig(kind="kanerva", pattern_shape=[32], args={"budget": 64})


# ---------------------------------------------------------------- old spellings (ebmm.config_legacy)
def test_old_spellings_load_as_the_new_ones() -> None:
    old = config_from_dict({"model": {"memory": "mann", "memory_args": {"budget": 64}, "pattern_dim": 16},
                            "task": {"corrupt_bits": 4}})
    assert old.model == BaselineConfig(kind="mann", pattern_shape=[16], args={"budget": 64})
    assert config_from_dict({"model": {"pattern_dim": 64}}).model == EBMMConfig(pattern_shape=[64])
    assert pattern_shape(config_from_dict({"model": {"pattern_dim": 64}}).model) == (64,)


def test_an_old_toml_file_loads_as_its_new_spelling(tmp_path: Path) -> None:
    old = write(tmp_path, '[model]\nmemory = "mann"\nmemory_args = { budget = 64 }\npattern_dim = 16\n'
                          "[task]\ncorrupt_bits = 4\n", "old.toml")
    new = write(tmp_path, '[model]\nkind = "mann"\nargs = { budget = 64 }\npattern_shape = [16]\n'
                          "[task]\ncorrupt_bits = 4\n", "new.toml")
    assert load_config(old) == load_config(new)


def test_old_saved_configs_carry_every_field_and_load() -> None:
    """Configs saved before the union held every field: EBMM defaults beside a baseline, an empty
    memory_args beside an EBMM, and the default pattern_dim beside an image's pattern_shape."""
    ebmm_defaults = {key: value for key, value in dataclasses.asdict(EBMMConfig()).items()
                     if key not in ("kind", "pattern_shape")}
    baseline = {"memory": "kanerva", "memory_args": {"budget": 64}, "pattern_dim": 128, "pattern_shape": [],
                **ebmm_defaults}
    assert config_from_dict({"model": baseline}).model == BaselineConfig(kind="kanerva", args={"budget": 64})
    images = {"memory": "ebmm", "memory_args": {}, "energy": "conv", "pattern_dim": 128, "pattern_shape": [3, 32, 32]}
    model = config_from_dict({"model": images, "task": {"data": "cifar10", "corruption": "block_noise",
                                                        "corruption_args": {"size": 8}}}).model
    assert model == EBMMConfig(energy="conv", pattern_shape=[3, 32, 32])


def test_an_ebmm_option_set_in_an_old_baseline_config_is_still_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown config key model.write_steps for kind 'mann'"):
        config_from_dict({"model": {"memory": "mann", "memory_args": {"budget": 64}, "write_steps": 2}})
    with pytest.raises(ValueError, match=r"unknown config key model.args for kind 'ebmm'.*energy_args"):
        config_from_dict({"model": {"memory": "ebmm", "memory_args": {"code": 8}}})


@pytest.mark.parametrize("model, match", [
    ({"memory": "mann", "kind": "lstm"}, r"model.memory = 'mann' \(the old spelling of model.kind\) contradicts model.kind = 'lstm'"),
    ({"kind": "mann", "memory_args": {"budget": 64}, "args": {"budget": 32}}, r"model.memory_args = .* contradicts model.args"),
    ({"pattern_dim": 16, "pattern_shape": [32]}, r"model.pattern_dim = 16 .* contradicts model.pattern_shape = \[32\]"),
    ({"pattern_dim": 128, "pattern_shape": [32]}, r"model.pattern_dim = 128 .* contradicts model.pattern_shape = \[32\]"),
    ({"energy": "conv", "pattern_dim": 100, "pattern_shape": [3, 32, 32]}, r"model.pattern_dim = 100 .* \(3072 values\)"),
    ({"pattern_dim": "16"}, r"model.pattern_dim .* must be an integer"),
])
def test_an_old_spelling_that_contradicts_the_new_one_raises(model: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        config_from_dict({"model": model})


def test_agreeing_old_and_new_spellings_load() -> None:
    assert config_from_dict({"model": {"pattern_dim": 64, "pattern_shape": [64]}}).model.pattern_shape == [64]
    both = {"memory": "mann", "kind": "mann", "memory_args": {"budget": 64}, "args": {"budget": 64}}
    assert config_from_dict({"model": both}).model == BaselineConfig(kind="mann", args={"budget": 64})
    images = {"energy": "conv", "pattern_dim": 3072, "pattern_shape": [3, 32, 32]}
    task = {"data": "cifar10", "corruption": "block_noise", "corruption_args": {"size": 8}}
    assert config_from_dict({"model": images, "task": task}).model.pattern_shape == [3, 32, 32]


def test_old_spelling_overrides_set_the_new_keys(tmp_path: Path) -> None:
    """An override in the old spelling replaces the file's value, whichever spelling the file uses."""
    new = write(tmp_path, '[model]\nkind = "ebmm"\npattern_shape = [128]\n', "new.toml")
    assert load_config(new, ["model.pattern_dim=16", "task.corrupt_bits=4"]).model.pattern_shape == [16]
    old = write(tmp_path, "[model]\npattern_dim = 128\n", "old.toml")
    assert load_config(old, ["model.pattern_shape=[16]", "task.corrupt_bits=4"]).model.pattern_shape == [16]
    model = load_config(None, ['model.memory="mann"', "model.memory_args={budget=64}", "model.memory_args.code=8"]).model
    assert model == BaselineConfig(kind="mann", args={"budget": 64, "code": 8})
    with pytest.raises(ValueError, match=r"model.pattern_dim .* must be an integer, got 'x'"):
        load_config(None, ["model.pattern_dim=x"])


# ---------------------------------------------------------------- old spellings: the conv energy's flat head options
IMAGE_TASK = {"data": "omniglot", "corruption": "block_noise", "corruption_args": {"size": 4}}
TINY_CONV = {"memory_width": 2, "channels": [4], "bottleneck_mid": 4, "bottleneck_out": 6}


def image_model(energy: str, energy_args: dict[str, object]) -> EBMMConfig:
    config = config_from_dict({"model": {"energy": energy, "energy_args": energy_args, "pattern_shape": [1, 8, 8]},
                               "task": IMAGE_TASK})
    assert isinstance(config.model, EBMMConfig)
    return config.model


@pytest.mark.parametrize("energy, old, new", [
    ("conv", {**TINY_CONV, "head": "reconstruct", "pixel_weights": True, "weight_floor": 0.05},
     {**TINY_CONV, "head": {"kind": "reconstruct", "pixel_weights": True, "weight_floor": 0.05}}),
    ("conv", {"head": "reconstruct", "residual_power": 4.0, "memory_width": 2},
     {"head": {"kind": "reconstruct", "residual_power": 4.0}, "memory_width": 2}),
    ("conv", {"hops": 2, "readout": 8}, {"head": {"kind": "gated", "hops": 2, "readout": 8}}),  # the old default head
    ("conv_imagenet64", {"memory_width": 2, "hops": 2}, {"memory_width": 2, "head": {"kind": "gated", "hops": 2}}),
    ("conv", {"head": {"kind": "gated", "hops": 2}, "readout": 8}, {"head": {"kind": "gated", "hops": 2, "readout": 8}}),
    ("conv", {"head": {"kind": "reconstruct", "residual_power": 3.0}, "residual_power": 3.0},
     {"head": {"kind": "reconstruct", "residual_power": 3.0}}),  # given in both places, agreeing
    ("conv", {"head": "gated", "pixel_weights": False, "weight_floor": 0.05, "residual_power": 2.0, "hops": 2},
     {"head": {"kind": "gated", "hops": 2}}),  # the other head's options at their defaults: the old energy ignored them
    ("conv", {"head": "reconstruct", "hops": 3}, {"head": {"kind": "reconstruct"}}),
    ("conv", {"head": "gated", "memory_width": 2}, {"head": "gated", "memory_width": 2}),  # nothing to move
])
def test_flat_head_options_of_a_conv_energy_load_as_a_head_spec(energy: str, old: dict, new: dict) -> None:
    upgraded = image_model(energy, old)
    assert upgraded.energy_args == new
    assert upgraded == image_model(energy, new)
    assert config_from_dict(Config(model=upgraded, task=TaskConfig(**IMAGE_TASK)).to_dict()).model == upgraded


def test_options_of_other_energies_stay_where_they_are() -> None:
    fc = config_from_dict({"model": {"energy": "fc", "energy_args": {"hops": 2, "readout": 8},
                                     "pattern_shape": [1, 32, 32]}, "task": IMAGE_TASK}).model
    assert isinstance(fc, EBMMConfig) and fc.energy_args == {"hops": 2, "readout": 8}
    rnn = config_from_dict({"model": {"energy": "gated_rnn", "energy_args": {"hidden": 8, "hops": 2}}}).model
    assert isinstance(rnn, EBMMConfig) and rnn.energy_args == {"hidden": 8, "hops": 2}


@pytest.mark.parametrize("old, match", [
    ({"head": "gated", "residual_power": 4.0},
     r"model.energy_args.residual_power = 4.0 is an option of the 'reconstruct' head, but the head is 'gated'"),
    ({"pixel_weights": True}, r"model.energy_args.pixel_weights = True is an option of the 'reconstruct' head"),
    ({"head": "reconstruct", "hops": 5}, r"model.energy_args.hops = 5 is an option of the 'gated' head"),
    ({"head": {"kind": "reconstruct", "residual_power": 4.0}, "residual_power": 3.0},
     r"model.energy_args.residual_power = 3.0 \(the old spelling of model.energy_args.head.residual_power\) "
     r"contradicts model.energy_args.head.residual_power = 4.0"),
])
def test_a_flat_head_option_that_does_not_fit_its_head_raises(old: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        image_model("conv", old)


def test_flat_and_nested_spellings_build_the_same_energies() -> None:
    import torch

    from ebmm.build import build_memory

    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    for options in ({"head": "reconstruct", "pixel_weights": True, "weight_floor": 0.2, "residual_power": 3.0},
                    {"head": "gated", "hidden": 3, "hops": 2, "readout": 8}):
        flat = {**TINY_CONV, **options}
        spec = {"kind": options["head"], **{k: v for k, v in options.items() if k != "head"}}
        energies = []
        for args in (flat, {**TINY_CONV, "head": spec}):
            torch.manual_seed(0)
            memory = build_memory(image_model("conv", args))
            with torch.no_grad():
                energies.append(memory.energy(x))
        torch.testing.assert_close(energies[0], energies[1], atol=0, rtol=0)
    torch.manual_seed(0)  # the options matter: without them the energies differ
    plain = build_memory(image_model("conv", {**TINY_CONV, "head": "reconstruct", "pixel_weights": True}))
    with torch.no_grad():
        assert not torch.equal(plain.energy(x), energies[0])


def conv_toml(tmp_path: Path, energy_args: str, name: str) -> Path:
    """A config file of a small conv energy on Omniglot-shaped images with these ``energy_args``."""
    task = '[task]\ndata = "omniglot"\ncorruption = "block_noise"\ncorruption_args = { size = 4 }\n'
    return write(tmp_path, '[model]\nenergy = "conv"\npattern_shape = [1, 8, 8]\n'
                           f"energy_args = {{ memory_width = 2, {energy_args} }}\n" + task, name)


def test_an_old_conv_toml_file_loads_as_its_new_spelling(tmp_path: Path) -> None:
    old = conv_toml(tmp_path, 'head = "reconstruct", pixel_weights = true, weight_floor = 0.05', "old.toml")
    new = conv_toml(tmp_path, 'head = { kind = "reconstruct", pixel_weights = true, weight_floor = 0.05 }', "new.toml")
    assert load_config(old) == load_config(new)


def test_a_flat_head_option_override_sets_the_head_spec(tmp_path: Path) -> None:
    """An override in the flat spelling replaces the option in the file's head spec, whichever spelling the file uses."""
    new = conv_toml(tmp_path, 'head = { kind = "reconstruct", pixel_weights = true }', "new.toml")
    old = conv_toml(tmp_path, 'head = "reconstruct", pixel_weights = true', "old.toml")
    short = conv_toml(tmp_path, 'head = "reconstruct"', "short.toml")
    expected = {"memory_width": 2, "head": {"kind": "reconstruct", "pixel_weights": False, "residual_power": 4.0}}
    for path in (new, old):
        for overrides in (["model.energy_args.pixel_weights=false", "model.energy_args.residual_power=4.0"],
                          ["model.energy_args.head.pixel_weights=false", "model.energy_args.head.residual_power=4.0"]):
            assert load_config(path, overrides).model.energy_args == expected, (path.name, overrides)
    expected["head"] = {"kind": "reconstruct", "residual_power": 4.0}
    assert load_config(short, ["model.energy_args.residual_power=4.0"]).model.energy_args == expected


@pytest.mark.parametrize("weights", ["[1.0]", "[1.0, 0.0]", "[1.0, -2.0]", "[1.0, true]"])
def test_pattern_weights_need_one_positive_weight_per_load(weights: str) -> None:
    with pytest.raises(ValueError, match=r"task\.pattern_weights"):
        load_config(None, ["task.patterns=[16, 32]", f"task.pattern_weights={weights}"])
    assert load_config(None, ["task.patterns=[16, 32]", "task.pattern_weights=[2, 0.5]"]).task.pattern_weights == [2, 0.5]
