#!/usr/bin/env bash
# Retrain the learned baselines of results/baselines/binary.json on a fresh machine, each from the
# configuration its run recorded (results/baselines/runs/NAME/config.json: the model arguments and
# learning rate that scripts/train_baselines.sh chose), one thread per run, RUNS in order.
# Usage: [RUNS="binary_memory_networks ..."] scripts/retrain_binary_baselines.sh RUNS_DIR DATA_DIR
#   A run already in RUNS_DIR is resumed, or skipped when complete; scripts/bench_baselines.sh RUNS_DIR
#   then benchmarks them. Their final checkpoints are shipped in checkpoints/baselines/ (scripts/ship_checkpoint.py),
#   which scripts/bench_baselines.sh takes as RUNS_DIR too.
set -euo pipefail
runs=${1:?usage: scripts/retrain_binary_baselines.sh RUNS_DIR DATA_DIR}
data=${2:?usage: scripts/retrain_binary_baselines.sh RUNS_DIR DATA_DIR}
names=${RUNS:-binary_hopfield_code_lr3e-3 binary_plasticity binary_kanerva binary_mann_slots64 binary_memory_networks}
. "$(dirname "$0")/common.sh"  # complete
mkdir -p "$runs"
for name in $names; do
  recorded=results/baselines/runs/$name/config.json
  out=$runs/$name
  complete "$out" && continue
  field() {  # a value of the recorded config, as a TOML value
    python -c "import json, sys; from experiments.tuning import toml_inline; c = json.load(open('$recorded'))
print(toml_inline(eval(sys.argv[1], {'c': c})))" "$1"
  }
  kind=$(field "c['model']['kind']" | tr -d '"')
  resume=()
  [ -f "$out/latest.json" ] && resume=(--resume)
  OMP_NUM_THREADS=1 ebmm train --config "configs/baselines/binary_$kind.toml" --out "$out" "${resume[@]}" --quiet \
      --set task.data_dir="$data" --set "model.args=$(field "c['model']['args']")" \
      --set train.lr="$(field "c['train']['lr']")" --set train.steps="$(field "c['train']['steps']")" \
      > "$out.log" 2>&1 || echo "failed: $out (see $out.log)"
done
