#!/usr/bin/env bash
# Meta-train the codec-slot image memories (issue 11), resuming any run that stopped.
# Usage: scripts/train_image_memories.sh RUNS_DIR DATA_DIR [DATASET...]   (DATASET: omniglot, cifar10)
# One thread per run (OMP_NUM_THREADS=1); run two datasets side by side on a 2-core machine.
# A size with no trained run is shipped as its initialised model: `ebmm train ... --max-steps 0`.
set -euo pipefail
runs=${1:?usage: scripts/train_image_memories.sh RUNS_DIR DATA_DIR [DATASET...]}
data=${2:?usage: scripts/train_image_memories.sh RUNS_DIR DATA_DIR [DATASET...]}
shift 2
datasets=("${@:-omniglot cifar10}")
export OMP_NUM_THREADS=1
for dataset in ${datasets[@]}; do
  for code in 36 72 144 256; do
    name=${dataset}_codec_slots_c$code
    resume=()
    [ -f "$runs/$name/latest.json" ] && resume=(--resume)
    ebmm train --config "configs/$name.toml" --out "$runs/$name" --set task.data_dir="$data" "${resume[@]}" --quiet
  done
done
