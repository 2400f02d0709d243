#!/usr/bin/env bash
# Speed results (results/speed.json); docs/speed.md states them.
#
#   scripts/bench_speed.sh [DEVICE] [SUFFIX]
#       The analysis of the paper's binary configuration (gated RNN, hidden 1024, N = 64, T = 3,
#       K = 5, second order): the library's meta-step against the batched straightforward reference
#       (ebmm.bench.speed.reference_episode_loss), FLOPs per step against the measured matmul rate
#       (the FLOP floor), 1 vs 2 torch threads vs two 1-thread processes, bf16 autocast (speed and
#       meta-gradient accuracy). Stored under the "analysis" key of results/speed[_SUFFIX].json; the
#       file's other keys (the phase tables of the README) are kept. About 3-5 minutes on 2 cores.
#   TABLES=1 scripts/bench_speed.sh [DEVICE] [SUFFIX]
#       First re-time the phase tables of four configs (the paper's binary configuration, the
#       shipped binary config, the CPU-sized Omniglot and CIFAR-10 conv configs; every phase in a
#       fresh process on one torch thread, the batched reference beside each meta-step), which
#       rewrites the file (about 20 minutes on one core of a quiet machine); then the analysis.
#       `python -m ebmm.bench.report results/speed.json` prints the README tables; paste them there.
#
# NOTE="..." records what else ran on the machine (e.g. other jobs sharing the cores) in the file.
set -euo pipefail
device=${1:-cpu}
out="results/speed${2:+_$2}.json"
if [[ "${TABLES:-0}" == 1 ]]; then
    ebmm bench speed --config configs/binary_paper.toml --config configs/binary_sign_slots_peel.toml \
        --config configs/omniglot_conv_d8.toml --config configs/cifar10_conv_d8.toml \
        --steps 3 --compile --channels-last --isolate --threads 1 --device "$device" --json "$out"
fi
python -m ebmm.bench.speed --config configs/binary_paper.toml --steps 5 --device "$device" --json "$out" \
    --note "${NOTE:-}"
