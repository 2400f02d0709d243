#!/usr/bin/env bash
# results/memory_use.txt: error written vs nothing written (θ̄) for the d = 4 image checkpoints of
# both energy forms (per-pixel weights, shipped; |x - r|^4, no weights), 20 test episodes of 64.
# Usage: EBMM_DATA=../shared/data scripts/memory_use_table.sh
set -euo pipefail
out=results/memory_use.txt
{
  echo "# made by: EBMM_DATA=../shared/data scripts/memory_use_table.sh (revision $(git rev-parse HEAD))"
  for ckpt in checkpoints/omniglot_conv_d4 checkpoints/omniglot_conv_quartic_d4 \
              checkpoints/cifar10_conv_d4 checkpoints/cifar10_conv_quartic_d4; do
    echo "$ckpt"
    python scripts/memory_use.py "$ckpt" 64 20
  done
} > "$out"
cat "$out"
