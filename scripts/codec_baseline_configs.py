"""Write the configs of the learned baselines equally equipped with the conv-codec image EBMMs.

Usage: python scripts/codec_baseline_configs.py   # -> configs/baselines/{dataset}_{model}_codec_c{code}.toml

Each baseline gets checkpoint {dataset}_conv_codec_slots_c{code}'s frozen codec (encoder and decoder,
``ebmm.baselines.codecs.FrozenCodec``), a memory of 64 x code floats (``budget``: the EBMM's size) and
the EBMM's read-out (the query with its worst 16x16 square taken from the decoded recall,
``paste_window``); what it trains is its own memory machinery (attention maps, controller, prior).
"""

from __future__ import annotations

from pathlib import Path

MODELS = ("memory_networks", "hopfield_code", "mann", "kanerva")
CODES = (36, 72, 144, 256)
LIKELIHOOD = {"omniglot": "bernoulli", "cifar10": "gaussian"}
SHAPE = {"omniglot": "[1, 32, 32]", "cifar10": "[3, 32, 32]"}
STEPS = 3000


def config(dataset: str, model: str, code: int) -> str:
    name = f"{dataset}_{model}_codec_c{code}"
    checkpoint = f"{dataset}_conv_codec_slots_c{code}"
    return f"""# {model} equally equipped with the EBMM {checkpoint}: its frozen codec, {64 * code:,} floats of memory
# (64 images) and the same read-out (worst 16x16 square pasted from the decoded recall). Written by
# scripts/codec_baseline_configs.py.
name = "{name}"

[model]
kind = "{model}"
args = {{ budget = {64 * code}, code = {code}, likelihood = "{LIKELIHOOD[dataset]}", paste_window = 16, codec = {{ checkpoint = "{checkpoint}" }} }}
pattern_shape = {SHAPE[dataset]}

[task]
data = "{dataset}"
patterns = [64]
corruption = "block_noise"
corruption_args = {{ size = 16 }}

[train]
steps = {STEPS}
meta_batch = 1
lr = 1e-3
lr_schedule = "cosine"
weight_decay = 1e-6
clip_norm = 1.0
log_every = 50
eval_every = 1000
eval_episodes = 4
eval_patterns = [64]
checkpoint_every = 500
"""


def main() -> None:
    root = Path(__file__).resolve().parents[1] / "configs" / "baselines"
    for dataset in LIKELIHOOD:
        for model in MODELS:
            for code in CODES:
                (root / f"{dataset}_{model}_codec_c{code}.toml").write_text(config(dataset, model, code))


if __name__ == "__main__":
    main()
