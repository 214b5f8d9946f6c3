#!/usr/bin/env bash
# Runs the freestanding binaries (tools/nostd-proof: Adam steps and optimizer fingerprints;
# tools/finetune-device: the fine-tuning example) on x86-64 Linux and on emulated
# microcontrollers, and fails unless every emulated run exits 0 and prints what the x86-64 run
# prints, byte for byte. Each emulated run reports its RAM on standard error (static .data + .bss,
# peak stack measured by painting); the script prints them as a table. Then it checks that an
# undefined instruction ends a run with the fault handler's report and exit code 2.
#
#   core               QEMU board (-M)    Rust target
#   Cortex-M4F         netduinoplus2      thumbv7em-none-eabihf
#   Cortex-M33         mps2-an505         thumbv8m.main-none-eabihf
#   Cortex-M0 (16 KiB) microbit           thumbv6m-none-eabi
#   RISC-V rv32imac    sifive_e           riscv32imac-unknown-none-elf
#
# Needs qemu-system-arm and qemu-system-misc (Debian) and the four Rust targets (rustup target add).
set -euo pipefail
cd "$(dirname "$0")/nostd-proof"
boards=(
  "Cortex-M4F|netduinoplus2|thumbv7em-none-eabihf|qemu-system-arm"
  "Cortex-M33|mps2-an505|thumbv8m.main-none-eabihf|qemu-system-arm"
  "Cortex-M0|microbit|thumbv6m-none-eabi|qemu-system-arm"
  "RISC-V rv32imac|sifive_e|riscv32imac-unknown-none-elf|qemu-system-riscv32"
)
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
host=x86_64-unknown-linux-gnu
for target in $host $(printf '%s\n' "${boards[@]}" | cut -d'|' -f3); do
  cargo build --release -q --workspace --target "$target"
done
bins=(nostd-proof finetune-device)
for bin in "${bins[@]}"; do
  "./target/$host/release/$bin" > "$out/$bin.x86_64"
done

# One emulated run: QEMU exits with the program's code (semihosting).
emulate() { # qemu board elf [qemu options...]
  local qemu=$1 board=$2 elf=$3
  shift 3
  timeout 600 "$qemu" -M "$board" -display none -monitor none -serial none \
    -semihosting-config enable=on,target=native -kernel "$elf" "$@"
}

# Two runs at a time (CI has two cores).
pids=()
for entry in "${boards[@]}"; do
  IFS='|' read -r core board target qemu <<< "$entry"
  for bin in "${bins[@]}"; do
    (
      start=$SECONDS
      if emulate "$qemu" "$board" "target/$target/release/$bin" > "$out/$bin.$board" 2> "$out/$bin.$board.err"; then
        echo "$bin on $core ($board): exit 0, $((SECONDS - start)) s"
      else
        echo "$bin on $core ($board): FAILED (exit $?)"; cat "$out/$bin.$board.err"; exit 1
      fi
    ) &
    pids+=($!)
    if [ "${#pids[@]}" -ge 2 ]; then
      wait "${pids[0]}" || { wait; exit 1; }
      pids=("${pids[@]:1}")
    fi
  done
done
for pid in "${pids[@]}"; do wait "$pid" || exit 1; done

status=0
for entry in "${boards[@]}"; do
  IFS='|' read -r core board target qemu <<< "$entry"
  for bin in "${bins[@]}"; do
    if ! cmp -s "$out/$bin.x86_64" "$out/$bin.$board"; then
      echo "$bin on $core ($board) printed something else than on x86-64:"
      diff "$out/$bin.x86_64" "$out/$bin.$board" || true
      status=1
    fi
  done
done
[ $status = 0 ] && echo "every emulated run printed what the x86-64 run printed, byte for byte"

# 12345 -> 12,345
thousands() { echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'; }

echo
echo "RAM measured on the emulated boards (bytes; static = .data + .bss, stack = painted peak):"
echo
echo "| binary | core (QEMU board) | static | peak stack | total | board RAM |"
echo "|---|---|---|---|---|---|"
for bin in "${bins[@]}"; do
  for entry in "${boards[@]}"; do
    IFS='|' read -r core board target qemu <<< "$entry"
    read -r s k r < <(awk '$1 == "ram:" {print $3, $5, $7}' "$out/$bin.$board.err")
    printf '| %s | %s (`%s`) | %s | %s | %s | %s |\n' "$bin" "$core" "$board" \
      "$(thousands "$s")" "$(thousands "$k")" "$(thousands $((s + k)))" "$(thousands "$r")"
  done
done

echo
echo "PyTorch's model (tools/torch_mlp.py, descent export --from) fine-tuned on the Cortex-M4F:"
cargo build --release -q -p finetune-device --features torch-model --target $host
cargo build --release -q -p finetune-device --features torch-model --target thumbv7em-none-eabihf
"./target/$host/release/finetune-device" > "$out/torch.x86_64"
emulate qemu-system-arm netduinoplus2 target/thumbv7em-none-eabihf/release/finetune-device > "$out/torch.m4f" 2> /dev/null
if cmp -s "$out/torch.x86_64" "$out/torch.m4f"; then
  cat "$out/torch.m4f"; echo "(the same on x86-64, byte for byte)"
else
  diff "$out/torch.x86_64" "$out/torch.m4f" || true; status=1
fi

echo
echo "fault handler: an undefined instruction must be reported and end the run with code 2"
for entry in "${boards[@]}"; do
  IFS='|' read -r core board target qemu <<< "$entry"
  cargo build --release -q --target "$target" --features fault
  code=0
  emulate "$qemu" "$board" "target/$target/release/nostd-proof" > /dev/null 2> "$out/fault" || code=$?
  if [ $code != 2 ] || ! grep -q '^fault: ' "$out/fault"; then
    echo "$core: exit $code, expected 2 with a fault report"; cat "$out/fault"; status=1
  else
    echo "$core: $(cat "$out/fault")"
  fi
done
exit $status
