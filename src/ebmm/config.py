"""Typed experiment configuration, loaded from TOML, with ``section.key=value`` overrides."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]

if TYPE_CHECKING:
    from ebmm.protocol import GradientOptions, GradMode


@dataclass
class EBMMConfig:
    """``kind = "ebmm"``: an EnergyMemory, the energy network and the write/read rules around it.

    ``pattern_shape`` is the shape of one pattern: ``[D]`` for strings of D bits, ``[C, H, W]`` for
    images; a vector energy receives ``D`` as ``dim``, an image energy the shape as ``shape``.
    ``energy_args`` are checked against the energy's constructor when loaded.
    """

    kind: str = field(default="ebmm", init=False)  # the tag: always "ebmm" here
    energy: str = "autoencoder"
    energy_args: dict[str, Any] = field(default_factory=dict)
    pattern_shape: list[int] = field(default_factory=lambda: [128])
    write_steps: int = 3
    read_steps: int = 5
    write_terms: list[str] = field(default_factory=lambda: ["energy", "gradnorm", "prior"])
    write_rate_init: list[float] = field(default_factory=lambda: [1e-4, 1e-4, 1e-4])
    write_reduction: str = "mean"
    write_chunk: int = 0  # 0: the paper's batch write; c > 0: online, c patterns at a time, in order
    refine_steps: int = 0  # R: steps on all N patterns together after the write (with Nesterov momentum)
    refine_rate_init: list[float] = field(default_factory=list)  # per term, as write_rate_init (empty: the same)
    refine_momentum_init: float = 0.9
    read_step_init: float = 0.1
    read_step_decay_init: float = 0.9
    momentum_init: float = 0.5
    momentum_decay_init: float = 0.9
    read_temperature: float = 0.0  # tau > 0: a stochastic read (Langevin noise in every read step)


@dataclass
class BaselineConfig:
    """``kind`` one of ``ebmm.baselines.LEARNED`` (``"mann"``, ...): a learned baseline, built from
    ``pattern_shape`` (as for ``EBMMConfig``) and ``args``, its constructor's keyword arguments
    (checked against its signature when loaded; ``budget`` sizes it to a memory size)."""

    kind: str
    pattern_shape: list[int] = field(default_factory=lambda: [128])
    args: dict[str, Any] = field(default_factory=dict)


ModelConfig = EBMMConfig | BaselineConfig  # the [model] section: a union tagged by ``kind``


@dataclass
class TaskConfig:
    """Episodes: what is written, how many patterns, and how queries are corrupted.

    ``data`` is ``"binary"`` (random strings of D bits, ``model.pattern_shape = [D]``) or an image dataset of
    ``ebmm.data`` (``omniglot``, ``cifar10``, ``mnist``, ...) read from ``data_dir`` (empty: the
    ``EBMM_DATA`` environment variable, else ``~/.cache/ebmm``); training samples the train split.
    ``patterns`` lists the memory loads N; each meta-update draws one of them at random, so a list
    is a curriculum over loads (one value: a fixed N). ``pattern_weights``: one positive weight per
    entry of ``patterns`` that multiplies the meta-loss of an update that drew it (empty: 1 each), e.g.
    so that the hardest load keeps improving while the easy ones stay exact. ``corruption_args`` are the corruption's
    parameters (e.g. ``{size = 16}`` for ``block_noise``); binary corruptions use ``corrupt_bits``.
    """

    patterns: list[int] = field(default_factory=lambda: [32])
    pattern_weights: list[float] = field(default_factory=list)
    corruption: str = "resample"
    corrupt_bits: int = 64
    corruption_args: dict[str, Any] = field(default_factory=dict)
    data: str = "binary"
    data_dir: str = ""
    split_seed: int = 0


@dataclass
class TrainConfig:
    """The meta-trainer (paper defaults for the optimiser: AdamW 5e-5, decay 1e-6, clip 0.05).

    ``lr_schedule = "cosine"`` decays the learning rate from ``lr`` to 0 over ``steps``.
    ``grad_mode``: ``second_order`` (full meta-gradient), ``first_order``, or ``truncated``
    (second order through the last ``truncate_steps`` write steps only). ``checkpointing``
    recomputes each write/read step's graph in the backward pass (same gradient, less memory).
    ``init_from``: a checkpoint or run folder whose parameters start a new run (fine-tuning with a
    fresh optimiser and this config's schedule). With an equal model config every parameter is
    loaded; with the same energy but other write/read fields (e.g. refine steps added) or energy
    options that keep its parameters' shapes (e.g. ``read_closes_free_slots``), the energy's
    parameters only, and of those not the ones an option initialises (``novelty``): they start
    from this config's option.
    ``frozen``: meta-parameters held at their starting value, by name or ``fnmatch`` pattern (e.g.
    ``energy.projection``, ``energy.memory.*`` for θ̄); each must match a parameter.
    """

    steps: int = 10_000
    meta_batch: int = 1
    lr: float = 5e-5
    lr_schedule: str = "constant"
    weight_decay: float = 1e-6
    clip_norm: float = 0.05
    grad_mode: str = "second_order"
    truncate_steps: int = 1
    checkpointing: bool = False
    first_order_steps: int = 0
    init_from: str = ""
    frozen: list[str] = field(default_factory=list)
    seed: int = 0
    log_every: int = 50
    eval_every: int = 500
    eval_episodes: int = 20
    eval_patterns: list[int] = field(default_factory=lambda: [16, 32, 48, 64])
    checkpoint_every: int = 500
    device: str = "cpu"


@dataclass
class Config:
    """A whole experiment: model, task and training."""

    model: ModelConfig = field(default_factory=EBMMConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str = "experiment"

    def to_dict(self) -> dict[str, Any]:
        """Plain data in the current spelling (``model.kind`` first), as ``config_from_dict`` reads it."""
        return dataclasses.asdict(self)

    def ebmm_model(self, purpose: str) -> EBMMConfig:
        """``self.model`` if it is an EBMM; else ``ValueError``: ``purpose`` (e.g. "the speed benchmark")
        needs one."""
        if not isinstance(self.model, EBMMConfig):
            raise ValueError(f"{purpose} needs an EBMM (model.kind = 'ebmm'); model.kind = {self.model.kind!r} "
                             "is a learned baseline")
        return self.model

    def gradient_options(self, step: int | None = None) -> GradientOptions:
        """``mode``, ``truncate`` and ``checkpoint`` for the memory's ``episode_loss`` at a training step
        (a learned baseline gets the defaults: ``validate`` refuses others for it).

        Steps before ``train.first_order_steps`` are first order whatever ``grad_mode`` says.
        """
        mode = self.train.grad_mode
        if step is not None and step < self.train.first_order_steps:
            mode = "first_order"
        return {
            "mode": cast("GradMode", mode),  # validate() keeps it one of TRAINING_GRAD_MODES
            "truncate": self.train.truncate_steps if mode == "truncated" else None,
            "checkpoint": self.train.checkpointing,
        }


_SECTIONS = ("model", "task", "train")


def _check_type(where: str, value: Any, hint: Any) -> Any:
    """``value`` checked against the field type ``hint`` (list elements included), ints turned into
    floats where a float is due and a scalar into a one-element list; ``ValueError`` names ``where``."""
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false, got {value!r}")
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where} must be an integer, got {value!r}")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where} must be a number, got {value!r}")
        value = float(value)
    elif hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{where} must be a string, got {value!r}")
    elif typing.get_origin(hint) is list:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list):
            raise ValueError(f"{where} must be a list, got {value!r}")
        (item,) = typing.get_args(hint)
        value = [_check_type(f"{where}[{i}]", element, item) for i, element in enumerate(value)]
    elif typing.get_origin(hint) is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be a table, got {value!r}")
    return value


def _field_types(section: Any) -> dict[str, Any]:
    return typing.get_type_hints(type(section))


def _check_types(config: Config) -> None:
    """Check every field of ``config``, defaults included, against its type."""
    _check_type("name", config.name, str)
    for key in _SECTIONS:
        section = getattr(config, key)
        for name, hint in _field_types(section).items():
            _check_type(f"{key}.{name}", getattr(section, name), hint)


def config_from_dict(data: dict[str, Any]) -> Config:
    """Build a ``Config``; unknown sections or keys raise ``ValueError`` naming them.

    ``model.kind`` picks the model dataclass (absent: ``"ebmm"``); the old spellings of the model keys
    (``memory``, ``memory_args``, ``pattern_dim``: ``ebmm.config_legacy``) are read as the new ones.
    """
    from ebmm.config_legacy import upgrade_model_table

    config = Config()
    for key, value in data.items():
        if key == "name":
            config.name = _check_type("name", value, str)
            continue
        if key not in _SECTIONS:
            raise ValueError(f"unknown config section {key!r}; expected one of {sorted(_SECTIONS)} or 'name'")
        if not isinstance(value, dict):
            raise ValueError(f"config section {key!r} must be a table")
        if key == "model":
            value = upgrade_model_table(value)
            config.model = _model_config(value.get("kind", "ebmm"))
        section = getattr(config, key)
        for sub, subvalue in value.items():
            if sub != "kind":
                _set_field(section, key, sub, subvalue)
    validate(config)
    return config


def _model_config(kind: Any) -> ModelConfig:
    """The empty model dataclass that ``model.kind`` picks."""
    from ebmm.baselines import LEARNED

    if kind == "ebmm":
        return EBMMConfig()
    if isinstance(kind, str) and kind in LEARNED:
        return BaselineConfig(kind=kind)
    raise ValueError(f"model.kind must be 'ebmm' or a learned baseline, one of {sorted(LEARNED)}; got {kind!r}")


def _set_field(section: Any, key: str, sub: str, value: Any) -> None:
    """Set ``section.sub`` to ``value`` after checking the key and the type (``key`` names the section)."""
    types = _field_types(section)
    if sub not in types:
        kind = f" for kind {section.kind!r}" if key == "model" else ""
        raise ValueError(f"unknown config key {key}.{sub}{kind}; known keys: {sorted(types)}{_hint(section, sub)}")
    setattr(section, sub, _check_type(f"{key}.{sub}", value, types[sub]))


def _hint(section: Any, sub: str) -> str:
    """Why a model key that belongs to the other kind is refused."""
    if isinstance(section, BaselineConfig) and sub in _field_types(EBMMConfig()):
        return f" (model.{sub} is an EBMM option; a learned baseline's options go in model.args)"
    if isinstance(section, EBMMConfig) and sub == "args":
        return " (model.args holds a learned baseline's options; an EBMM's architecture goes in model.energy_args)"
    return ""


def validate(config: Config) -> None:
    """Check every field's type (defaults too), then the values and combinations types alone do not
    catch: the task, the model (``ebmm.model_checks``: the memory's arguments against its
    constructor) and the training."""
    from ebmm.model_checks import check_model

    _check_types(config)
    _check_task(config)
    check_model(config.model)
    _check_train(config)


def _check_train(config: Config) -> None:
    from ebmm.protocol import TRAINING_GRAD_MODES

    train = config.train
    if train.grad_mode not in TRAINING_GRAD_MODES:
        raise ValueError(f"train.grad_mode must be one of {TRAINING_GRAD_MODES}, got {train.grad_mode!r}")
    model = config.model
    if isinstance(model, EBMMConfig):
        steps = model.write_steps + model.refine_steps
        if train.grad_mode == "truncated" and not 1 <= train.truncate_steps <= steps:
            raise ValueError(f"train.truncate_steps must be in [1, model.write_steps + model.refine_steps = {steps}], "
                             f"got {train.truncate_steps}")
    else:
        inner = {"grad_mode": train.grad_mode != "second_order", "checkpointing": train.checkpointing,
                 "first_order_steps": train.first_order_steps != 0}
        if any(inner.values()):
            options = ", ".join(f"train.{key}" for key, used in inner.items() if used)
            raise ValueError(
                f"{options} set the meta-gradient through EBMM's write steps; the learned baseline "
                f"model.kind = {model.kind!r} has no write steps to differentiate: leave them at their defaults")
    for key in ("steps", "meta_batch", "log_every", "eval_every", "checkpoint_every", "eval_episodes"):
        if getattr(train, key) < 1:
            raise ValueError(f"train.{key} must be >= 1, got {getattr(train, key)}")
    if not train.eval_patterns or any(n < 1 for n in train.eval_patterns):
        raise ValueError(f"train.eval_patterns must list positive pattern counts, got {train.eval_patterns}")
    if train.lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"train.lr_schedule must be 'constant' or 'cosine', got {train.lr_schedule!r}")
    if train.lr <= 0:
        raise ValueError(f"train.lr must be positive, got {train.lr}")


def _check_task(config: Config) -> None:
    from ebmm.corruption import CORRUPTIONS

    task, model = config.task, config.model
    if not task.patterns or any(n < 1 for n in task.patterns):
        raise ValueError(f"task.patterns must list positive pattern counts, got {task.patterns}")
    weights = task.pattern_weights
    if weights and (len(weights) != len(task.patterns) or any(w <= 0 for w in weights)):  # floats: checked by type
        raise ValueError(f"task.pattern_weights must give one positive weight per entry of task.patterns "
                         f"{task.patterns} (or be empty), got {weights}")
    if task.corruption not in CORRUPTIONS:
        raise ValueError(f"task.corruption must be one of {sorted(CORRUPTIONS)}, got {task.corruption!r}")
    if task.data == "binary" and len(model.pattern_shape) != 1:
        raise ValueError(f"task.data = 'binary' draws strings of D bits: model.pattern_shape must be [D], "
                         f"got {model.pattern_shape}")
    if task.data != "binary":
        from ebmm.data.images import DATASETS

        if task.data not in DATASETS:
            raise ValueError(f"task.data must be 'binary' or one of {list(DATASETS)}, got {task.data!r}")
        if len(model.pattern_shape) != 3:
            raise ValueError(f"image data needs model.pattern_shape = [C, H, W], got {model.pattern_shape}")
    elif not 0 <= task.corrupt_bits <= model.pattern_shape[0]:
        raise ValueError(f"task.corrupt_bits must be in [0, {model.pattern_shape[0]}] (model.pattern_shape = "
                         f"{model.pattern_shape}), got {task.corrupt_bits}")


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``section.key=value``; the value is read as a TOML literal, else kept as a string."""
    if "=" not in text:
        raise ValueError(f"override {text!r} must look like section.key=value")
    path, raw = text.split("=", 1)
    keys = path.strip().split(".")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return keys, value


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """Load a TOML config (or the defaults when ``path`` is None) and apply overrides.

    The file's ``[model]`` table is read in the current spelling before the overrides apply, and an
    override of an old key (``model.pattern_dim=16``) sets the new one (``model.pattern_shape=[16]``),
    so an override replaces the file's value in either spelling.
    """
    from ebmm.config_legacy import upgrade_model_table, upgrade_override

    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"config file {path} is not valid TOML: {error}") from error
    if isinstance(data.get("model"), dict):
        data["model"] = upgrade_model_table(data["model"])
    for text in overrides:
        keys, value = upgrade_override(*parse_override(text), data.get("model"))
        target = data
        for key in keys[:-1]:
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                raise ValueError(f"override {text!r}: {key!r} is not a section")
        target[keys[-1]] = value
    return config_from_dict(data)


def pattern_shape(model: ModelConfig) -> tuple[int, ...]:
    """The shape of one pattern, ``model.pattern_shape``, as a tuple."""
    return tuple(model.pattern_shape)
