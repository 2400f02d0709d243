#!/usr/bin/env bash
# "Fast writing, measured": EBMM's T-step write against plain gradient descent (Adam) run until the
# same read error, on 20 episodes of 64 random 128-bit strings, for both shipped binary checkpoints.
# Writes results/fast_writing.{json,png} (checkpoints/binary, T = 3) and
# results/fast_writing_peel.{json,png} (checkpoints/binary_peel, T = 5); the tables of docs/results/writing.md come from
# `python -m experiments.report results/fast_writing.json`. Run from the repository root.
# One torch thread: the speed-up is a ratio of wall-clock times taken in the same process, and the
# JSON records the machine and its load average.
set -euo pipefail
export OMP_NUM_THREADS=1
common=(--patterns 64 --episodes 20 --seed 2026 --lrs 1e-3,1e-2,3e-2,1e-1,3e-1,1 --scratch-lrs 1e-2,3e-2,1e-1,3e-1,1
        --max-steps 2000 --max-seconds 150 --check-every 10 --dense-steps 50 --write-repeats 10)
python -m experiments.writing --checkpoint checkpoints/binary "${common[@]}" \
    --json results/fast_writing.json --plot results/fast_writing.png
python -m experiments.writing --checkpoint checkpoints/binary_peel "${common[@]}" \
    --json results/fast_writing_peel.json --plot results/fast_writing_peel.png
python -m experiments.report results/fast_writing.json
python -m experiments.report results/fast_writing_peel.json
