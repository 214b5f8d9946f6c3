#!/usr/bin/env bash
# The code size (.text) of the freestanding binary that runs Adam<f32> steps with descent-core
# (tools/nostd-proof), at opt-level "s" and "z" (and 3 for reference).
set -euo pipefail
cd "$(dirname "$0")/nostd-proof"
for level in 3 s z; do
  CARGO_PROFILE_RELEASE_OPT_LEVEL=$level CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
    cargo build --release -q --target-dir "target/opt-$level"
  text=$(size -A "target/opt-$level/release/nostd-proof" | awk '$1 == ".text" {print $2}')
  echo "opt-level $level: .text $text bytes"
done
