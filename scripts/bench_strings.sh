#!/usr/bin/env bash
# Strings at capacity (issue 12): the code-slot EBMM on the same seeds and episodes as
# results/baselines/binary.json (seed 2026, 300 episodes per N), under re-sample and erase of 64
# positions (flipping 64 of 128 bits leaves a query no information: every model, the oracle too,
# reads 64 error bits, so flip is not run).
# Usage: scripts/bench_strings.sh [EPISODES]
set -euo pipefail
episodes=${1:-300}
mkdir -p results/strings
for corruption in resample erase; do
  ebmm bench binary --checkpoint checkpoints/binary_code_slots --models ebmm,hopfield_pinv,oracle \
      --corruption "$corruption" --patterns 16,32,48,64,96 --episodes "$episodes" --seed 2026 \
      --json "results/strings/binary_code_slots_$corruption.json"
done
# The same with 10 refine steps after the online write (checkpoints/binary_code_slots_refine), the
# unrefined checkpoint beside it on the same episodes.
for corruption in resample erase; do
  ebmm bench binary --checkpoint checkpoints/binary_code_slots_refine --models ebmm,hopfield_pinv,oracle \
      --learned ebmm_unrefined=checkpoints/binary_code_slots \
      --corruption "$corruption" --patterns 16,32,48,64,96 --episodes "$episodes" --seed 2026 \
      --json "results/strings/binary_code_slots_refine_$corruption.json"
done
