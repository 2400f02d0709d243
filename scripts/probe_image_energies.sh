#!/usr/bin/env bash
# Short probe of three forms of the reconstruction energy on Omniglot (N = 16, 250 updates each):
# per-pixel weights (the shipped form), plain squared residual, and |residual|^4 / 4; then how much
# each one's recall depends on its write (scripts/memory_use.py).
# Usage: EBMM_DATA=../shared/data scripts/probe_image_energies.sh RUNS_DIR
set -euo pipefail
runs=${1:?usage: scripts/probe_image_energies.sh RUNS_DIR}
common=(--set train.steps=250 --set 'task.patterns=[16]' --set 'train.eval_patterns=[16]'
        --set train.eval_every=250 --set train.eval_episodes=8 --quiet)
export OMP_NUM_THREADS=1
ebmm train --config configs/omniglot_conv_d4.toml --out "$runs/weights" "${common[@]}"
ebmm train --config configs/omniglot_conv_d4.toml --out "$runs/plain" --set model.energy_args.head.pixel_weights=false "${common[@]}"
ebmm train --config configs/omniglot_conv_d4.toml --out "$runs/quartic" --set model.energy_args.head.pixel_weights=false \
    --set model.energy_args.head.residual_power=4.0 "${common[@]}"
for run in weights plain quartic; do
  echo "$run"; python scripts/memory_use.py "$runs/$run" 16 6
done
