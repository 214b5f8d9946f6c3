#!/usr/bin/env bash
# Code size (.text, bytes) of the freestanding binaries built on descent-core, at opt-level "s"
# and "z" (also 3 with CODE_SIZE_O3=1), with LTO and one codegen unit as firmware is built, for
# x86-64 Linux and for a Cortex-M4F/M7 (thumbv7em-none-eabihf; skipped when that target is not
# installed):
#   nostd-proof --features one-step   one Adam<f32> step (owned state), checked, then exit
#   finetune-device                    the fine-tuning example: blob parsing, forward/backward,
#                                      Adam with f32 and bf16 state, results through core::fmt
set -euo pipefail
cd "$(dirname "$0")"
sizer=size
command -v llvm-size >/dev/null && sizer=llvm-size
targets=(x86_64-unknown-linux-gnu)
if rustup target list --installed 2>/dev/null | grep -qx thumbv7em-none-eabihf; then
  targets+=(thumbv7em-none-eabihf)
fi
levels=(s z)
[ "${CODE_SIZE_O3:-0}" = 1 ] && levels+=(3)
echo "| binary | target |$(printf ' opt-level %s |' "${levels[@]}")"
echo "|---|---|$(printf -- '---|%.0s' "${levels[@]}")"
for bin in nostd-proof finetune-device; do
  features=()
  [ "$bin" = nostd-proof ] && features=(--features one-step)
  for target in "${targets[@]}"; do
    row="| $bin ${features[*]} | $target |"
    for level in "${levels[@]}"; do
      (cd "$bin" && CARGO_PROFILE_RELEASE_OPT_LEVEL=$level CARGO_PROFILE_RELEASE_LTO=true \
        CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 cargo build --release -q --target "$target" \
        --target-dir "../nostd-proof/target/opt-$level" "${features[@]}")
      text=$($sizer -A "nostd-proof/target/opt-$level/$target/release/$bin" | awk '$1 == ".text" {print $2}')
      row="$row $text |"
    done
    echo "$row"
  done
done
