#!/usr/bin/env bash
# The VQ-VAE paper's CIFAR-10 comparison (van den Oord et al. 2017, section 4.1) with vqlab, for a machine with a
# CUDA GPU and internet access (CIFAR-10 is downloaded once and MD5-checked; vqlab trains on the GPU by itself):
#
#   1. VQ-VAE with the paper's settings (--preset paper: h=256, K=512, D=64, batch 128, Adam 2e-4 constant,
#      250k steps) and the 256-way softmax decoder the authors used for CIFAR-10 (--likelihood softmax256)
#   2. a PixelCNN prior over its 8x8 code maps (vqlab prior; prints its test NLL against log2 K = 9 bits/latent)
#      and 64 samples from it
#   3. the Gaussian VAE and the VIMCO baseline with the same encoder/decoder, likelihood and schedule
#   4. the table: vqlab compare --markdown (bits/dim with the bound each number is; paper: VAE 4.51,
#      VQ-VAE 4.67, VIMCO 5.14), also written to $RUNS/compare.md
#
# Usage:   bash experiments/paper_cifar10.sh                 (or RUNS=/big/disk/cifar bash experiments/...)
# Resume:  run it again. A finished run is skipped, an unfinished one continues from its last checkpoint
#          (--resume), a prior newer than its VQ-VAE's checkpoint is kept.
# Settings (environment variables, defaults in brackets):
#   RUNS [runs/paper-cifar10]  STEPS [250000]  VIMCO_STEPS [$STEPS]  VIMCO_SAMPLES [50]  VIMCO_BATCH [128]
#   PRIOR_STEPS [100000]  PRIOR_DIM [128]  PRIOR_LAYERS [15]  PRIOR_BATCH [128]  IW_SAMPLES [100]
#   DATA_ROOT [vqlab's cache folder]  VQLAB [vqlab] (e.g. "python -m vqlab")
#   DRY_RUN [0]  (1: print the commands, one a line, instead of running them)
# VIMCO decodes VIMCO_SAMPLES samples of every image each step: at 50 samples and batch 128 that is 6400 images per
# decoder pass (their 256-way logits alone take about 20 GB in float32) and about 50 times the VQ-VAE's compute per
# step. On a smaller GPU lower VIMCO_BATCH or VIMCO_SAMPLES and say so next to the numbers.
set -euo pipefail

RUNS=${RUNS:-runs/paper-cifar10}
STEPS=${STEPS:-250000}
VIMCO_STEPS=${VIMCO_STEPS:-$STEPS}
VIMCO_SAMPLES=${VIMCO_SAMPLES:-50}
VIMCO_BATCH=${VIMCO_BATCH:-128}
PRIOR_STEPS=${PRIOR_STEPS:-100000}
PRIOR_DIM=${PRIOR_DIM:-128}
PRIOR_LAYERS=${PRIOR_LAYERS:-15}
PRIOR_BATCH=${PRIOR_BATCH:-128}
IW_SAMPLES=${IW_SAMPLES:-100}
DRY_RUN=${DRY_RUN:-0}
read -r -a VQ <<< "${VQLAB:-vqlab}"

COMMON=(--preset paper --data cifar10 --download --likelihood softmax256 --no-progress)
if [[ -n ${DATA_ROOT:-} ]]; then
    COMMON+=(--data-root "$DATA_ROOT")
fi

run() {  # run a command, or print it (shell-quoted) with DRY_RUN=1
    if [[ $DRY_RUN == 1 ]]; then
        printf '%q ' "$@"
        printf '\n'
    else
        echo "[$(date +%H:%M:%S)] $*" >&2
        "$@"
    fi
}

latest_checkpoint() {  # the newest checkpoint folder of run $1 (empty when none)
    if [[ -f $1/checkpoints/latest ]]; then
        echo "$1/checkpoints/$(cat "$1/checkpoints/latest")"
    fi
}

train() {  # train OUT STEPS [FLAGS...]: skip when finished, resume when started, else start
    local out=$1 steps=$2
    shift 2
    if [[ $(latest_checkpoint "$out") == "$out/checkpoints/$(printf 'step_%08d' "$steps")" ]]; then
        echo "$out: finished at step $steps, skipped" >&2
        return
    fi
    local resume=()
    if [[ -f $out/config.json ]]; then
        resume=(--resume)
    fi
    run "${VQ[@]}" train --out "$out" ${resume[@]+"${resume[@]}"} "${COMMON[@]}" --steps "$steps" "$@"
}

if [[ $DRY_RUN != 1 ]]; then
    mkdir -p "$RUNS"
fi

# 1. VQ-VAE
train "$RUNS/vqvae" "$STEPS" --model vqvae

# 2. its PixelCNN prior (kept while newer than the VQ-VAE's checkpoint) and samples
ckpt=$(latest_checkpoint "$RUNS/vqvae")
prior_done="$RUNS/vqvae/prior/evaluation.json"
if [[ -f $prior_done && $prior_done -nt $ckpt/model.safetensors ]]; then
    echo "$RUNS/vqvae/prior: finished, skipped" >&2
else
    run "${VQ[@]}" prior "$RUNS/vqvae" --steps "$PRIOR_STEPS" --dim "$PRIOR_DIM" --layers "$PRIOR_LAYERS" \
        --batch-size "$PRIOR_BATCH" --no-progress
fi
run "${VQ[@]}" sample "$RUNS/vqvae" -n 64 --seed 0 -o "$RUNS/samples.png"
run "${VQ[@]}" sample "$RUNS/vqvae" -n 64 --seed 0 --temperature 0.7 -o "$RUNS/samples_t07.png"

# 3. the baselines: the same architecture, likelihood and schedule
train "$RUNS/vae" "$STEPS" --model vae
train "$RUNS/vimco" "$VIMCO_STEPS" --model vimco --vimco-samples "$VIMCO_SAMPLES" --batch-size "$VIMCO_BATCH"

# 4. the table (evaluations are cached in each run's evaluation.json)
if [[ $DRY_RUN == 1 ]]; then
    run "${VQ[@]}" compare --markdown --iw-samples "$IW_SAMPLES" "$RUNS/vqvae" "$RUNS/vae" "$RUNS/vimco"
else
    run "${VQ[@]}" compare --markdown --iw-samples "$IW_SAMPLES" "$RUNS/vqvae" "$RUNS/vae" "$RUNS/vimco" \
        | tee "$RUNS/compare.md"
    echo "paper (CIFAR-10, bits/dim): VAE 4.51, VQ-VAE 4.67, VIMCO 5.14; table written to $RUNS/compare.md" >&2
fi
