#!/usr/bin/env bash
# Strings at capacity (issue 12): the code-slot EBMM on the same seeds and episodes as
# results/baselines/binary.json (seed 2026, 300 episodes per N), under re-sample and erase of 64
# positions (flipping 64 of 128 bits leaves a query no information: every model, the oracle too,
# reads 64 error bits, so flip is not run).
# PARTS picks what runs: code_slots, refine (both below), episode (the per-episode layout) and meta
# (the same after meta-training, last).
# Usage: [PARTS="code_slots refine episode meta"] scripts/bench_strings.sh [EPISODES]
set -euo pipefail
episodes=${1:-300}
parts=" ${PARTS:-code_slots refine episode meta} "
mkdir -p results/strings
[[ $parts == *" code_slots "* ]] && for corruption in resample erase; do
  ebmm bench binary --checkpoint checkpoints/binary_code_slots --models ebmm,hopfield_pinv,oracle \
      --corruption "$corruption" --patterns 16,32,48,64,96 --episodes "$episodes" --seed 2026 \
      --json "results/strings/binary_code_slots_$corruption.json"
done
# The same with 10 refine steps after the online write (checkpoints/binary_code_slots_refine), the
# unrefined checkpoint beside it on the same episodes.
[[ $parts == *" refine "* ]] && for corruption in resample erase; do
  ebmm bench binary --checkpoint checkpoints/binary_code_slots_refine --models ebmm,hopfield_pinv,oracle \
      --learned ebmm_unrefined=checkpoints/binary_code_slots \
      --corruption "$corruption" --patterns 16,32,48,64,96 --episodes "$episodes" --seed 2026 \
      --json "results/strings/binary_code_slots_refine_$corruption.json"
done
# The per-episode layout (checkpoints/binary_code_slots_episode), whose rows against every baseline
# at 1,000 episodes are in results/baselines/binary*.json (scripts/bench_baselines.sh): here its rate
# in bits (100 episodes) and the causes of its remaining errors under re-sample and erase.
if [[ $parts == *" episode "* ]]; then
  ebmm bench binary --checkpoint checkpoints/binary_code_slots_episode --models ebmm,oracle \
      --learned ebmm_code_slots_fixed=checkpoints/binary_code_slots_refine --patterns 16,32,48,64,96 \
      --episodes 100 --seed 2026 --quantize 8,4 --specificity --json results/strings/binary_code_slots_episode_bits.json
  for corruption in resample erase; do
    suffix=""
    [ "$corruption" != resample ] && suffix="_$corruption"
    python -m experiments.slot_errors checkpoints/binary_code_slots_episode --patterns 16,32,48,64,96 --episodes 30 \
        --seed 5 --corruption "$corruption" --json "results/strings/slot_errors_binary_code_slots_episode$suffix.json"
  done
fi
# The per-episode memory after 1,500 second-order meta-updates of its write, refine and read scalars
# (checkpoints/binary_code_slots_episode_meta, configs/binary_code_slots_episode_meta.toml) beside the
# shipped one, on the 1,000 episodes per N of results/baselines/binary.json.
if [[ $parts == *" meta "* ]]; then
  ebmm bench binary --checkpoint checkpoints/binary_code_slots_episode --models ebmm \
      --learned ebmm_meta=checkpoints/binary_code_slots_episode_meta --patterns 16,32,48,64,96 \
      --episodes 1000 --seed 2026 --json results/strings/binary_code_slots_episode_meta.json
fi
