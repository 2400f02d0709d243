#!/usr/bin/env bash
# Learning-rate sweeps of the learned baselines on the train split (short runs), then a record of
# every setting and the choice per model: results/baselines/tuning_{binary,omniglot,cifar10}.json.
# Usage: [MODELS="mann ..."] experiments/tune_baselines.sh RUNS_DIR DATA_DIR [binary|omniglot|cifar10]...
#   Two runs at a time, one thread each. Binary: 1,500 updates per setting, lr up to 1e-2 (MANN: 300
#   updates, lr up to 3e-3: its step is 30x dearer); images: 300 updates at 4,608 floats. The LSTM is not swept: one of its updates at
#   8,256 floats takes seconds on a CPU core (see the issue notes). Then, on strings, a size sweep at
#   the chosen learning rate (see below); the record's choice per model is over learning rates and sizes.
#   Run from the repository root; scripts/train_baselines.sh and scripts/bench_baselines.sh use the record.
set -euo pipefail
runs=${1:?usage: experiments/tune_baselines.sh RUNS_DIR DATA_DIR [TASK...]}
data=${2:?usage: experiments/tune_baselines.sh RUNS_DIR DATA_DIR [TASK...]}
shift 2
tasks=${*:-binary omniglot cifar10}
lrs="3e-4 1e-3 3e-3"
binary_lrs="3e-4 1e-3 3e-3 1e-2"
mkdir -p "$runs/tuning" results/baselines
jobs=$(mktemp)
for task in $tasks; do
  for model in ${MODELS:-memory_networks hopfield_code mann plasticity kanerva}; do
    steps=300
    [ "$task" = binary ] && [ "$model" != mann ] && steps=1500
    grid=$lrs
    [ "$task" = binary ] && [ "$model" != mann ] && grid=$binary_lrs
    for lr in $grid; do
      echo "$task $model $lr $steps" >> "$jobs"
    done
  done
done
# Sizes on strings (the memory stays 8,256 floats): codec width for the slot and Kanerva memories,
# slots x width for MANN, at the learning rate the sweep above chose (run after it; SIZES=0 skips).
if [ "${SIZES:-1}" = 1 ] && [[ " $tasks " == *" binary "* ]]; then
  for hidden in 0 512; do
    for model in memory_networks hopfield_code kanerva; do echo "binary $model choose 1500 codec.hidden=$hidden" >> "$jobs"; done
  done
  for slots in 32 128; do echo "binary mann choose 300 slots=$slots" >> "$jobs"; done
fi
run_one() {
  task=$1 model=$2 lr=$3 steps=$4 size=${5:-}
  extra=()
  if [ "$lr" = choose ]; then
    lr=$(python -m experiments.tuning best "results/baselines/tuning_${task}.json" "$model")
    extra=(--set "model.args.${size%%=*}=${size#*=}")
  fi
  out="$runs/tuning/${task}_${model}_lr${lr}${size:+_${size}}"
  [ -f "$out/latest.json" ] && return 0
  OMP_NUM_THREADS=1 ebmm train --config "configs/baselines/${task}_${model}.toml" --out "$out" --quiet \
    --set task.data_dir="$data" --set train.lr="$lr" --set train.steps="$steps" "${extra[@]}" \
    --set train.eval_every="$steps" --set train.checkpoint_every="$steps" --set train.eval_episodes=8 \
    > "$out.log" 2>&1
}
export -f run_one
export runs data
summarise() {
  for task in $tasks; do
    python -m experiments.tuning summarise "$runs"/tuning/"${task}"_*_lr*/ --json "results/baselines/tuning_${task}.json"
  done
}
grep -v choose "$jobs" | xargs -P 2 -L 1 bash -c 'run_one "$@"' _
summarise
if grep -q choose "$jobs"; then
  grep choose "$jobs" | xargs -P 2 -L 1 bash -c 'run_one "$@"' _
  summarise
fi
rm -f "$jobs"
