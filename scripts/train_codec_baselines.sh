#!/usr/bin/env bash
# Train the learned baselines equally equipped with the conv-codec image EBMMs (issue 11, item 4):
# memory networks, modern Hopfield over codes, MANN and the Kanerva machine, each over the frozen codec
# of {dataset}_conv_codec_slots_c{code} at 64 x code floats with the EBMM's read-out
# (configs/baselines/*_codec_c*.toml, written by scripts/codec_baseline_configs.py). Resumes stopped runs.
# LRS sweeps the learning rate: the config's 1e-3 trains into RUNS_DIR/NAME, any other rate into
# RUNS_DIR/NAME_lrRATE; the bench keeps, per model and size, the run best on train-split episodes
# (python -m experiments.tuning pick).
# Usage: [MODELS="memory_networks hopfield_code mann kanerva"] [CODES="36 72 144 256"] [LRS="1e-3"] \
#        scripts/train_codec_baselines.sh RUNS_DIR DATA_DIR [DATASET...]
set -euo pipefail
runs=${1:?usage: scripts/train_codec_baselines.sh RUNS_DIR DATA_DIR [DATASET...]}
data=${2:?usage: scripts/train_codec_baselines.sh RUNS_DIR DATA_DIR [DATASET...]}
shift 2
datasets=("${@:-omniglot cifar10}")
export OMP_NUM_THREADS=1
for code in ${CODES:-36 72 144 256}; do
  for dataset in ${datasets[@]}; do
    for model in ${MODELS:-memory_networks hopfield_code mann kanerva}; do
      for lr in ${LRS:-1e-3}; do
        name=${dataset}_${model}_codec_c$code
        out=$runs/$name
        [ "$lr" != 1e-3 ] && out=${out}_lr$lr
        resume=()
        [ -f "$out/latest.json" ] && resume=(--resume)
        ebmm train --config "configs/baselines/$name.toml" --out "$out" --set task.data_dir="$data" \
            --set train.lr="$lr" "${resume[@]}" --quiet
      done
    done
  done
done
