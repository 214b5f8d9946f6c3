#!/usr/bin/env bash
# Code size (.text, bytes) of the freestanding binaries built on descent-core, at opt-level 3, "s"
# and "z" (with LTO and one codegen unit, as firmware is built), for x86-64 Linux (the binaries CI
# runs) and for a Cortex-M4F/M7 (thumbv7em-none-eabihf, built only; skipped when that target is
# not installed):
#   nostd-proof      one Adam<f32> step with owned state and one with a borrowed buffer
#   finetune-device  the fine-tuning example: blob parsing, forward/backward, Adam with f32 and
#                    with bf16 state, accuracy printed through core::fmt
set -euo pipefail
cd "$(dirname "$0")"
sizer=size
command -v llvm-size >/dev/null && sizer=llvm-size
targets=(x86_64-unknown-linux-gnu)
if rustup target list --installed 2>/dev/null | grep -qx thumbv7em-none-eabihf; then
  targets+=(thumbv7em-none-eabihf)
fi
echo "| binary | target | opt-level 3 | opt-level s | opt-level z |"
echo "|---|---|---|---|---|"
for bin in nostd-proof finetune-device; do
  for target in "${targets[@]}"; do
    row="| $bin | $target |"
    for level in 3 s z; do
      (cd "$bin" && CARGO_PROFILE_RELEASE_OPT_LEVEL=$level CARGO_PROFILE_RELEASE_LTO=true \
        CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 cargo build --release -q --target "$target" \
        --target-dir "target/opt-$level")
      text=$($sizer -A "$bin/target/opt-$level/$target/release/$bin" | awk '$1 == ".text" {print $2}')
      row="$row $text |"
    done
    echo "$row"
  done
done
