#!/usr/bin/env bash
# The speed results in the README (results/speed.json): the paper's binary configuration (gated RNN,
# hidden 1024, N = 64, T = 3, K = 5) with the naive reference beside it (only there: its Python loops
# take minutes a step on 8 episodes of 96 strings), the shipped binary config,
# and the CPU-sized Omniglot and CIFAR-10 conv configs; every phase in a fresh process on one torch
# thread (peak memory per phase). About 20 minutes on one core of a quiet machine.
# `python -m ebmm.bench.report results/speed.json` prints the README tables.
set -euo pipefail
device=${1:-cpu}
ebmm bench speed --config configs/binary_paper.toml --config configs/binary_sign_slots_peel.toml \
    --config configs/omniglot_conv_d8.toml --config configs/cifar10_conv_d8.toml \
    --steps 3 --naive-for binary_paper --compile --channels-last --isolate --threads 1 --device "$device" \
    --json "results/speed${2:+_$2}.json"
