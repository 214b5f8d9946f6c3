#!/usr/bin/env bash
# The C API on a microcontroller: checks that capi/include/descent.h is what cbindgen generates,
# builds libdescent_capi.a for a Cortex-M4F (thumbv7em-none-eabihf) and for x86-64, compiles the C
# example (capi/examples/example.c) with arm-none-eabi-gcc (device.c: vector table, reset,
# semihosting; no C library) and with gcc (host.c), runs the first under QEMU -M netduinoplus2
# and fails unless it prints what the x86-64 build printed, byte for byte (which
# capi/tests/c_example.rs checks against the Rust API).
# Needs cbindgen, gcc-arm-none-eabi and qemu-system-arm (Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cbindgen --quiet --config capi/cbindgen.toml --crate descent-capi --output "$out/descent.h"
if ! diff -u capi/include/descent.h "$out/descent.h"; then
  echo "capi/include/descent.h is stale: regenerate it with cbindgen (see capi/cbindgen.toml)"; exit 1
fi
cargo build --release -q -p descent-capi --target thumbv7em-none-eabihf
cargo build --release -q -p descent-capi
arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2 -std=c11 -Wall \
  -Wextra -Werror -ffreestanding -nostdlib -Icapi/include -Ltools/nostd-proof/boards \
  -Tnetduinoplus2.ld -Wl,--gc-sections -Wl,-z,noexecstack capi/examples/example.c \
  capi/examples/device.c target/thumbv7em-none-eabihf/release/libdescent_capi.a -lgcc \
  -o "$out/example.elf"
gcc -O2 -std=c11 -Wall -Wextra -Werror -Icapi/include capi/examples/example.c capi/examples/host.c \
  target/release/libdescent_capi.a -lpthread -ldl -lm -o "$out/example"
"$out/example" > "$out/x86_64.txt"
timeout 300 qemu-system-arm -M netduinoplus2 -display none -monitor none -serial none \
  -semihosting-config enable=on,target=native -kernel "$out/example.elf" > "$out/m4f.txt"
if ! diff -u "$out/x86_64.txt" "$out/m4f.txt"; then
  echo "the C example printed something else on the Cortex-M4F than on x86-64"; exit 1
fi
echo "C example (arm-none-eabi-gcc + libdescent_capi.a) on the emulated Cortex-M4F: exit 0, the x86-64 output byte for byte"
size=$(arm-none-eabi-size -A "$out/example.elf" | awk '$1 == ".text" {print $2}')
echo "its .text: $size bytes"
