#!/usr/bin/env bash
# The cases of tests/data/conformance/torch-user/: configurations written by hand with
# `tools/torch_trace.py make` (parameter groups as users write them, Muon, ChainedScheduler, a
# refusal), on random data. Usage: tools/conformance/torch_user_cases.sh OUTDIR (needs torch).
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
make() { python3 "$(dirname "$0")/../torch_trace.py" make "$out" "$@"; }
mlp=6x5,6,3x6,3   # an MLP's tensors: W1, b1, W2, b2 (nn.Linear's [outputs, inputs])

# AdamW with the usual "no weight decay on biases" group, cosine annealing.
make adamw-no-decay-bias --shapes $mlp --steps 8 \
    --optimizer '{"name": "adamw", "lr": 0.01, "weight_decay": 0.1}' \
    --param-groups '[{"params": [0, 2]}, {"params": [1, 3], "weight_decay": 0.0}]' \
    --scheduler '{"name": "cosine_annealing_lr", "T_max": 8}'
# SGD, a smaller lr and momentum for the first layer; one-cycle with a max_lr per group; clipping.
make sgd-per-group-lr-momentum --shapes $mlp --steps 10 \
    --optimizer '{"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": true}' \
    --param-groups '[{"params": [0, 1], "lr": 0.01, "momentum": 0.5}, {"params": [2, 3]}]' \
    --scheduler '{"name": "one_cycle_lr", "max_lr": [0.05, 0.5], "total_steps": 10}' \
    --clip '{"name": "clip_grad_norm", "max_norm": 1.0}'
# Adam, groups with their own lr and betas; a ChainedScheduler of three.
make adam-chained --shapes $mlp --steps 10 \
    --optimizer '{"name": "adam", "lr": 0.003, "betas": [0.9, 0.99], "weight_decay": 0.01}' \
    --param-groups '[{"params": [0, 1], "lr": 0.0003}, {"params": [2, 3], "betas": [0.8, 0.999]}]' \
    --scheduler '{"name": "chained_scheduler", "schedulers": [{"name": "constant_lr", "factor": 0.5, "total_iters": 3}, {"name": "step_lr", "step_size": 4, "gamma": 0.5}, {"name": "exponential_lr", "gamma": 0.97}]}'
# Factored Adafactor, biases at a tenth of the lr and no decay.
make adafactor-groups --shapes $mlp --steps 8 --dtype f32 \
    --optimizer '{"name": "adafactor", "lr": 0.01, "weight_decay": 0.01}' \
    --param-groups '[{"params": [0, 2]}, {"params": [1, 3], "lr": 0.001, "weight_decay": 0.0}]' \
    --scheduler '{"name": "step_lr", "step_size": 3, "gamma": 0.5}'
# ReduceLROnPlateau cuts every group.
make rmsprop-plateau --shapes 4x3,3 --steps 10 \
    --optimizer '{"name": "rmsprop", "lr": 0.01, "momentum": 0.9, "centered": true}' \
    --param-groups '[{"params": [0]}, {"params": [1], "lr": 0.05}]' \
    --scheduler '{"name": "reduce_lr_on_plateau", "patience": 1, "factor": 0.5}'
# Muon over two matrices in two groups (match_rms_adamw), warm-up chained with decay.
make muon-groups-chained --shapes 8x6,3x8 --steps 6 --dtype f32 \
    --optimizer '{"name": "muon", "lr": 0.02, "adjust_lr_fn": "match_rms_adamw"}' \
    --param-groups '[{"params": [0]}, {"params": [1], "lr": 0.005, "weight_decay": 0.0}]' \
    --scheduler '{"name": "chained_scheduler", "schedulers": [{"name": "linear_lr", "start_factor": 0.1, "total_iters": 4}, {"name": "exponential_lr", "gamma": 0.9}]}'
# Muon refuses a bias (PyTorch's message names its shape).
make muon-refuses-a-bias --shapes 4x4,4 --steps 2 --dtype f32 \
    --optimizer '{"name": "muon", "lr": 0.02}' --param-groups '[{"params": [0, 1]}]'
