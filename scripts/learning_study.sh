#!/usr/bin/env bash
# Which energy learns within a CPU budget: the four binary-string energies meta-trained by `ebmm train`
# (one core each), then their evaluation curves side by side. Run folders go to ${1:-runs}; their
# config.json and metrics.jsonl are copied to results/runs/<name>/ (committed), from which the plot is
# made. Budget: about 2.5 hours of CPU in all, most of it the gated RNN.
set -euo pipefail
runs=${1:-runs}
train() { name=$1; shift; [ -f "$runs/$name/latest.json" ] && ebmm train "$@" --out "$runs/$name" --resume --quiet \
          || ebmm train "$@" --out "$runs/$name" --quiet; }
train gated_rnn   --config configs/binary_gated_rnn.toml
train autoencoder --config configs/binary_autoencoder.toml --set train.steps=6000
train slots       --config configs/binary_slots.toml
train sign_slots  --config configs/binary_sign_slots.toml
for name in gated_rnn autoencoder slots sign_slots; do
    mkdir -p results/runs/$name && cp "$runs/$name/config.json" "$runs/$name/metrics.jsonl" results/runs/$name/
done
ebmm plot runs results/runs/gated_rnn results/runs/autoencoder results/runs/slots results/runs/sign_slots \
    --patterns 32,48 --out results/binary_learning.png
