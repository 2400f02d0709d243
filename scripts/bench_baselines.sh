#!/usr/bin/env bash
# The comparison at equal memory (README "Baselines at equal memory"): every model of docs/method.md#the-papers-numbers on
# random binary strings at 8,256 floats, and the Omniglot and CIFAR-10 distortion/rate curves with every
# learned baseline beside the shipped EBMM checkpoints.
# Usage: [TASKS="binary omniglot cifar10"] [CORRUPTIONS="resample erase"] \
#        scripts/bench_baselines.sh RUNS_DIR DATA_DIR [BINARY_EPISODES] [IMAGE_EPISODES]
#   RUNS_DIR holds the runs of scripts/train_baselines.sh (unfinished runs are left out), or is
#   checkpoints/baselines, the shipped final checkpoints of the string baselines' runs (TASKS=binary);
#   DATA_DIR holds omniglot/ and cifar10/.
set -euo pipefail
runs=${1:?usage: scripts/bench_baselines.sh RUNS_DIR DATA_DIR [BINARY_EPISODES] [IMAGE_EPISODES]}
data=${2:?usage: scripts/bench_baselines.sh RUNS_DIR DATA_DIR [BINARY_EPISODES] [IMAGE_EPISODES]}
binary_episodes=${3:-300}
image_episodes=${4:-100}
tasks=${TASKS:-binary omniglot cifar10}
mkdir -p results/baselines
. "$(dirname "$0")/common.sh"  # complete
if [[ " $tasks " == *" binary "* ]]; then
learned=()
for model in memory_networks mann lstm plasticity kanerva hopfield_code; do
  finished=()
  for run in "$runs/binary_$model" "$runs/binary_${model}"_*; do complete "$run" && finished+=("$run"); done
  # of a model's finished runs (other learning rates, _lrRATE; other sizes, e.g. _slots64), the one
  # with the lowest mean error at its last evaluation
  [ ${#finished[@]} -gt 0 ] && learned+=(--learned "$model=$(python -m experiments.tuning pick "${finished[@]}")")
done
# EBMM is the per-episode code-slot model (checkpoints/binary_code_slots_episode); the fixed-layout
# model it came from and the sign-slot models that were the project's EBMM before it stay as rows.
# CORRUPTIONS: resample -> binary.json, others -> binary_CORRUPTION.json. Re-sample and erase take
# 64 of the 128 positions; flip takes 32 bits, the number re-sampling 64 positions flips on average
# (flipping 64 leaves a query no information about its string).
for corruption in ${CORRUPTIONS:-resample}; do
  suffix=""
  [ "$corruption" != resample ] && suffix="_$corruption"
  bits=64
  [ "$corruption" = flip ] && bits=32
  ebmm bench binary --checkpoint checkpoints/binary_code_slots_episode --models ebmm,hopfield_hebb,hopfield_storkey,hopfield_pinv \
      --learned ebmm_code_slots_fixed=checkpoints/binary_code_slots_refine \
      --learned ebmm_sign_slots=checkpoints/binary_peel --learned ebmm_sign_slots_n96=checkpoints/binary_peel_n96 \
      --learned ebmm_sign_slots_paper_optimiser=checkpoints/binary_peel_paper_optimiser \
      "${learned[@]}" --corruption "$corruption" --corrupt-bits "$bits" --patterns 16,32,48,64,96 \
      --episodes "$binary_episodes" --seed 2026 --json "results/baselines/binary$suffix.json" \
      --plot "results/baselines/binary$suffix.png"
done
fi
for dataset in $tasks; do
  [ "$dataset" = binary ] && continue
  learned=()
  for run in "$runs/${dataset}"_*_[0-9]*; do
    complete "$run" || continue
    name=${run##*/${dataset}_}             # e.g. memory_networks_2304
    learned+=(--learned "${name%_*}@${name##*_}=$run")
  done
  ebmm bench images --dataset "$dataset" --data-dir "$data" --episodes "$image_episodes" --seed 2026 --patterns 64 \
      --block-size 16 --checkpoints "checkpoints/${dataset}_conv_d2" "checkpoints/${dataset}_conv_d4" \
      "checkpoints/${dataset}_conv_d8" "${learned[@]}" \
      --json "results/baselines/$dataset.json" --plot "results/baselines/$dataset.png"
done
