#!/usr/bin/env bash
# What makes EBMM learn fast on binary strings: short runs of the default config with one change
# each, 2,000 meta-updates apiece (2-4 minutes each on one core). Writes run folders under
# ${1:-runs/ablation} and the comparison plot results/binary_ablation.png.
set -euo pipefail
out=${1:-runs/ablation}
config=configs/binary_sign_slots.toml
common=(--set train.steps=2000 --set train.eval_every=250 --set train.checkpoint_every=2000 --quiet)
run() { name=$1; shift; [ -f "$out/$name/latest.json" ] || ebmm train --config $config --out "$out/$name" "${common[@]}" "$@"; }
run default
run plain_slots_energy --set 'model.energy="slots"' --set 'model.energy_args={slots=63,beta_init=10.0,init_scale=0.1}' \
    --set 'model.write_reduction="mean"' --set 'model.write_rate_init=[32.0,0.001,0.001]'
run one_write_step --set model.write_steps=1
run two_peeling_levels --set 'model.energy_args={slots=63,levels=2,beta_init=0.7,kappa_init=2.0,floor=0.05,init_scale=0.1}'
run no_gradnorm_term --set 'model.write_terms=["energy","prior"]'
run first_order --set 'train.grad_mode="first_order"'
run truncated_last_step --set 'train.grad_mode="truncated"' --set train.truncate_steps=1
run truncated_last_two_steps --set 'train.grad_mode="truncated"' --set train.truncate_steps=2
run mean_reduction --set 'model.write_reduction="mean"' --set 'model.write_rate_init=[48.0,0.001,0.001]'
run paper_rate_init --set 'model.write_rate_init=[1e-4,1e-4,1e-4]'
run paper_optimiser --set train.lr=5e-5 --set train.clip_norm=0.05 --set 'train.lr_schedule="constant"'
run fixed_n32 --set 'task.patterns=[32]'
run five_write_steps --set model.write_steps=5
run five_write_steps_one_peeling_level --set model.write_steps=5 \
    --set 'model.energy_args={slots=63,levels=1,beta_init=0.7,kappa_init=2.0,floor=0.05,init_scale=0.1}'
mkdir -p results/ablation
for run_dir in "$out"/*/; do
    name=$(basename "$run_dir"); mkdir -p results/ablation/$name
    cp "$run_dir/config.json" "$run_dir/metrics.jsonl" results/ablation/$name/
done
ebmm plot runs results/ablation/* --patterns 16,48,96 --out results/binary_ablation.png
