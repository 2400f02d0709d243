#!/usr/bin/env bash
# Train the learned baselines for the comparison, each with the learning rate and size chosen by
# experiments/tune_baselines.sh (results/baselines/tuning_<task>.json), two runs at a time, one thread each.
# Usage: scripts/train_baselines.sh RUNS_DIR DATA_DIR [binary|omniglot|cifar10]...
#   binary: every model at 8,256 floats, 12,000 updates of 8 episodes (as checkpoints/binary_peel);
#           the LSTM gets LSTM_STEPS updates (default 100): one of its updates takes ~12 s on a CPU core.
#   images: 1,200 updates (as EBMM); memory networks, modern Hopfield over a code and MANN at 2,304 /
#           4,608 / 9,216 floats (EBMM d = 2 / 4 / 8); plasticity and the Kanerva Machine, which the
#           paper reports fail to learn on images, at 4,608 only; no LSTM (CPU time; see the README).
# A run already in RUNS_DIR is resumed, or skipped when complete.
set -euo pipefail
runs=${1:?usage: scripts/train_baselines.sh RUNS_DIR DATA_DIR [TASK...]}
data=${2:?usage: scripts/train_baselines.sh RUNS_DIR DATA_DIR [TASK...]}
shift 2
tasks=${*:-binary omniglot cifar10}
lstm_steps=${LSTM_STEPS:-100}
models=${MODELS:-mann memory_networks hopfield_code plasticity kanerva lstm}
jobs=$(mktemp)
# Image runs go budget by budget (4,608 first, then 2,304, then 9,216), both datasets and all models
# in each, so that a partial pass still compares every model at one size.
for budget in 4608 2304 9216; do
  for task in $tasks; do
    [ "$task" = binary ] && continue
    for model in $models; do
      case $model in
        memory_networks|hopfield_code|mann) echo "$task $model $budget" >> "$jobs" ;;
        plasticity|kanerva) [ "$budget" = 4608 ] && echo "$task $model $budget" >> "$jobs" ;;
      esac
    done
  done
done
for task in $tasks; do
  for model in $models; do
    if [ "$task" = binary ]; then
      echo "$task $model 8256" >> "$jobs"
      # The 1,500-update sweep favours large steps; where it chose the grid's largest (1e-2), the
      # next one down is trained too and scripts/bench_baselines.sh keeps the better finished run.
      if [ "$model" != lstm ] && [ "$(python -m experiments.tuning best "results/baselines/tuning_binary.json" "$model")" = 0.01 ]; then
        echo "$task $model 8256 3e-3" >> "$jobs"
      fi
    fi
  done
done
train_one() {
  task=$1 model=$2 budget=$3 lr_override=${4:-}
  extra=()
  if [ "$model" = lstm ]; then lr=1e-3; else
    lr=${lr_override:-$(python -m experiments.tuning best "results/baselines/tuning_${task}.json" "$model")}
    extra=(--set "model.args=$(python -m experiments.tuning best "results/baselines/tuning_${task}.json" "$model" --memory-args)")
  fi
  extra+=(--set train.lr="$lr")
  if [ "$task" = binary ]; then
    out="$runs/binary_$model${lr_override:+_lr$lr_override}"
    [ "$model" = lstm ] && extra+=(--set train.steps="$lstm_steps" --set train.meta_batch=8 --set train.eval_every="$lstm_steps")
  else
    out="$runs/${task}_${model}_${budget}"
    extra+=(--set model.args.budget="$budget")
  fi
  resume=()
  [ -f "$out/latest.json" ] && resume=(--resume)
  OMP_NUM_THREADS=1 ebmm train --config "configs/baselines/${task}_${model}.toml" --out "$out" "${resume[@]}" \
    --quiet --set task.data_dir="$data" "${extra[@]}" > "$out.log" 2>&1 || echo "failed: $out (see $out.log)"
}
export -f train_one
export runs data lstm_steps
mkdir -p "$runs"
xargs -P "${PARALLEL:-2}" -L 1 bash -c 'train_one "$@"' _ < "$jobs"
rm -f "$jobs"
