#!/usr/bin/env bash
# Meta-train the shipped image checkpoints: one chain per dataset (d = 4, 2, 8; the skimage64
# stand-in has d = 8 only), one thread each, all chains in parallel.
# Usage: EBMM_DATA=../shared/data scripts/train_images.sh RUNS_DIR [omniglot|cifar10|skimage64]...
# Resumes any run already in RUNS_DIR; copy a finished run's latest checkpoint into checkpoints/.
set -euo pipefail
runs=${1:?usage: scripts/train_images.sh RUNS_DIR [DATASET...]}
shift
datasets=${*:-omniglot cifar10}
for dataset in $datasets; do
  (
    sizes="4 2 8"
    [ "$dataset" = skimage64 ] && sizes=8
    for d in $sizes; do
      name=${dataset}_conv_d${d}
      resume=()
      [ -f "$runs/$name/latest.json" ] && resume=(--resume)
      OMP_NUM_THREADS=1 ebmm train --config "configs/$name.toml" --out "$runs/$name" "${resume[@]}" --quiet
    done
  ) > "$runs/$dataset.log" 2>&1 &
done
wait
