#!/usr/bin/env bash
# Instructions per optimizer step on an emulated Cortex-M4F (QEMU -M netduinoplus2) and Cortex-M0
# (-M microbit): tools/nostd-proof/src/bin/step-cost.rs under `-icount shift=0` (one instruction
# per nanosecond of virtual time), timed with SysTick and calibrated against a loop of known
# length. Fixed cost per step and cost per element from steps over 64 and 512 parameters (the
# mean of 16 steps each); on the M4F also the whole fine-tuning example (Adam, f32 state). Prints a
# Markdown table. Built as tools/nostd-proof's release profile builds (opt-level "s", LTO).
# A third column: the same build for a Cortex-M7 (`-C target-cpu=cortex-m7`, whose FPU does f64
# in hardware) on -M mps2-an500.
set -euo pipefail
cd "$(dirname "$0")/nostd-proof"
boards=(
  "Cortex-M4F|netduinoplus2|thumbv7em-none-eabihf|--features=whole-example"
  "Cortex-M0|microbit|thumbv6m-none-eabi|--features=step-cost"
  "Cortex-M7, target-cpu=cortex-m7|mps2-an500|thumbv7em-none-eabihf|--features=whole-example"
)
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for entry in "${boards[@]}"; do
  IFS='|' read -r core board target features <<< "$entry"
  dir=target
  if [ "$board" = mps2-an500 ]; then
    dir=target/cortex-m7
    DEVICE_BOARD=$board RUSTFLAGS="-C target-cpu=cortex-m7" \
      cargo build --release -q --target "$target" --bin step-cost "$features" --target-dir "$dir"
  else
    cargo build --release -q --target "$target" --bin step-cost "$features"
  fi
  timeout 600 qemu-system-arm -M "$board" -icount shift=0 -display none -monitor none -serial none \
    -semihosting-config enable=on,target=native -kernel "$dir/$target/release/step-cost" \
    > "$out/$board" 2> "$out/$board.err" || { cat "$out/$board" "$out/$board.err"; exit 1; }
done
echo "| step | $(printf '%s\n' "${boards[@]}" | cut -d'|' -f1 | sed 's/$/: fixed, per element/' | paste -sd'|' | sed 's/|/ | /g') |"
echo "|---|$(printf -- '---|%.0s' "${boards[@]}")"
for step in "adam f32" "sgd-momentum f32" "adam bf16" "adam 8-bit"; do
  row="| $step |"
  for entry in "${boards[@]}"; do
    IFS='|' read -r core board target features <<< "$entry"
    row="$row $(awk -v s="step $step:" 'index($0, s) == 1 {print $(NF-3), "+", $NF, "× n"}' "$out/$board" | tr -d ,) |"
  done
  echo "$row"
done
echo
for entry in "${boards[@]}"; do
  IFS='|' read -r core board target features <<< "$entry"
  sed -n "s/^fine-tuning example (adam f32): /fine-tuning example, Adam f32 state, $core: /p" "$out/$board"
done
# The targets CI holds (issue 13), on the M4F: Adam<f32> at most 2,000 instructions fixed and 30
# per element, the whole fine-tuning example at most half its original 802,375,119. (bf16 and
# 8-bit state are not yet at their 45 per element: see the README.)
awk '
  index($0, "step adam f32:") == 1 {
    gsub(",", ""); fixed = $(NF-3); per = $NF
    if (fixed + 0 > 2000 || per + 0 > 30) {
      printf "Adam f32 on the Cortex-M4F: %s fixed, %s per element; the targets are 2000 and 30\n", fixed, per
      bad = 1
    }
    seen = 1
  }
  index($0, "fine-tuning example (adam f32):") == 1 {
    # At most half the 802,375,119 instructions it took when issue 13 was filed.
    if ($(NF-1) + 0 > 401187559) {
      printf "the fine-tuning example on the Cortex-M4F: %s instructions; the target is 401187559\n", $(NF-1)
      bad = 1
    }
    whole = 1
  }
  END {
    if (!seen || !whole) { print "a measurement on the Cortex-M4F is missing"; exit 1 }
    exit bad
  }
' "$out/netduinoplus2"
