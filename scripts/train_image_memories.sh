#!/usr/bin/env bash
# Meta-train the codec-slot image memories (issue 11), resuming any run that stopped.
# Usage: [FAMILY=conv_codec_slots] [MAX_STEPS=n] scripts/train_image_memories.sh RUNS_DIR DATA_DIR [DATASET...]
#   DATASET: omniglot, cifar10; FAMILY: codec_slots (PCA codec, the default) or conv_codec_slots
#   (convolutional codec, trained when the run starts); MAX_STEPS stops every run at that update.
# One thread per run (OMP_NUM_THREADS=1); run two datasets side by side on a 2-core machine.
# A size with no trained run is shipped as its initialised model: MAX_STEPS=0.
set -euo pipefail
runs=${1:?usage: scripts/train_image_memories.sh RUNS_DIR DATA_DIR [DATASET...]}
data=${2:?usage: scripts/train_image_memories.sh RUNS_DIR DATA_DIR [DATASET...]}
shift 2
datasets=("${@:-omniglot cifar10}")
export OMP_NUM_THREADS=1
for dataset in ${datasets[@]}; do
  for code in 36 72 144 256; do
    name=${dataset}_${FAMILY:-codec_slots}_c$code
    resume=()
    [ -f "$runs/$name/latest.json" ] && resume=(--resume)
    limit=()
    [ -n "${MAX_STEPS:-}" ] && limit=(--max-steps "$MAX_STEPS")
    ebmm train --config "configs/$name.toml" --out "$runs/$name" --set task.data_dir="$data" "${resume[@]}" \
        "${limit[@]}" --quiet
  done
done
