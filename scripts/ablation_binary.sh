#!/usr/bin/env bash
# What makes EBMM learn fast on binary strings: short runs of configs/binary_slots.toml with one
# change each, 2,000 meta-updates apiece (about 2 minutes each on one core). Writes run folders under
# ${1:-runs/ablation} and the comparison plot results/binary_ablation.png.
set -euo pipefail
out=${1:-runs/ablation}
config=configs/binary_slots.toml
common=(--set train.steps=2000 --set train.eval_every=250 --set train.checkpoint_every=2000 --quiet)
run() { name=$1; shift; [ -f "$out/$name/latest.json" ] || ebmm train --config $config --out "$out/$name" "${common[@]}" "$@"; }
run default
run no_gradnorm_term --set 'model.write_terms=["energy","prior"]'
run first_order --set 'train.grad_mode="first_order"'
run one_write_step --set model.write_steps=1
run paper_rate_init --set 'model.write_rate_init=[1e-4,1e-4,1e-4]'
run paper_optimiser --set train.lr=5e-5 --set train.clip_norm=0.05 --set 'train.lr_schedule="constant"'
run fixed_n32 --set 'task.patterns=[32]'
run sum_reduction --set 'model.write_reduction="sum"' --set 'model.write_rate_init=[0.5,0.001,0.001]'
ebmm plot runs "$out"/* --patterns 16,48,96 --out results/binary_ablation.png
