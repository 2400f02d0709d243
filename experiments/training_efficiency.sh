#!/usr/bin/env bash
# Training efficiency on binary strings: meta-updates until 1.0 error bit at N = 48, with our
# optimiser settings (configs/binary_sign_slots_peel.toml: AdamW 3e-3, cosine decay, clipping 1.0,
# curriculum over N in {16, ..., 96}) and with the paper's (AdamW 5e-5 constant, clipping 0.05), the
# same model, 20,000 updates each, evaluated every 1,000 updates on the same 100 fresh episodes per N.
# About 45 minutes per run on one core; both runs can go side by side. Run folders under ${1:-runs/efficiency}.
# Writes results/efficiency/<run>/{config.json,metrics.jsonl}, results/training_efficiency.{json,png}
# and the 1,000-episode benchmarks of both final checkpoints, results/efficiency_final{,_paper_optimiser}.json.
# Run from the repository root: experiments/training_efficiency.sh [RUNS_DIR]
set -euo pipefail
out=${1:-runs/efficiency}
export OMP_NUM_THREADS=1
config=configs/binary_sign_slots_peel.toml
common=(--set train.steps=20000 --set train.eval_every=1000 --set train.eval_episodes=100
        --set 'train.eval_patterns=[16,48,96]' --set train.checkpoint_every=1000 --quiet)
run() { name=$1; shift; [ -f "$out/$name/latest.json" ] && grep -q '"step": 20000' "$out/$name/latest.json" \
        || ebmm train --config $config --out "$out/$name" "${common[@]}" "$@" $( [ -f "$out/$name/latest.json" ] && echo --resume ); }
run ours &
run paper_optimiser --set train.lr=5e-5 --set train.clip_norm=0.05 --set 'train.lr_schedule="constant"' &
wait
mkdir -p results/efficiency
for name in ours paper_optimiser; do
    mkdir -p results/efficiency/$name
    cp "$out/$name/config.json" "$out/$name/metrics.jsonl" results/efficiency/$name/
done
mkdir -p results/efficiency/shipped_binary_peel
cp checkpoints/binary_peel/config.json checkpoints/binary_peel/metrics.jsonl results/efficiency/shipped_binary_peel/
python -m experiments.efficiency results/efficiency/ours results/efficiency/paper_optimiser \
    results/efficiency/shipped_binary_peel --patterns 48 --target 1.0 \
    --json results/training_efficiency.json --plot results/training_efficiency.png
ebmm bench binary --checkpoint "$out/ours" --models ebmm --patterns 16,32,48,64,96 --episodes 1000 --seed 2026 \
    --json results/efficiency_final.json
ebmm bench binary --checkpoint "$out/paper_optimiser" --models ebmm --patterns 16,32,48,64,96 --episodes 1000 \
    --seed 2026 --json results/efficiency_final_paper_optimiser.json
python -m experiments.efficiency results/training_efficiency.json --markdown --final ours=results/efficiency_final.json \
    --final paper_optimiser=results/efficiency_final_paper_optimiser.json \
    --final shipped_binary_peel=results/binary_peel.json     # the README table
