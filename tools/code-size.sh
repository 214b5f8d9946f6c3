#!/usr/bin/env bash
# Code size (.text, bytes) of the freestanding binaries built on descent-core, at opt-level 3, "s"
# and "z" (with LTO and one codegen unit, as firmware is built):
#   nostd-proof      one Adam<f32> step with owned state and one with a borrowed buffer
#   finetune-device  the fine-tuning example: blob parsing, forward/backward, Adam with f32 and
#                    with bf16 state, accuracy printed through core::fmt
# (x86-64 Linux, the machine CI runs on.)
set -euo pipefail
cd "$(dirname "$0")"
echo "| binary | opt-level 3 | opt-level s | opt-level z |"
echo "|---|---|---|---|"
for bin in nostd-proof finetune-device; do
  row="| $bin |"
  for level in 3 s z; do
    (cd "$bin" && CARGO_PROFILE_RELEASE_OPT_LEVEL=$level CARGO_PROFILE_RELEASE_LTO=true \
      CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 cargo build --release -q --target-dir "target/opt-$level")
    text=$(size -A "$bin/target/opt-$level/release/$bin" | awk '$1 == ".text" {print $2}')
    row="$row $text |"
  done
  echo "$row"
done
