#!/usr/bin/env bash
# Regenerates data/: the 14×14 digit sets (make_data.py) and the host model — trained by
# `descent train` on every digit but 9, exported by `descent export`. Deterministic: running it
# again gives the same bytes (seed 0, one thread).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 "$here/make_data.py" "$tmp/host" "$here/data"
cd "$here/../.."
cargo build --release -q -p descent-std --bin descent
./target/release/descent train --data "$tmp/host" --hidden 32 --epochs 20 --seed 0 --threads 1 \
  --save "$tmp/host.ckpt"
./target/release/descent export "$tmp/host.ckpt" --out "$here/data/host-model.blob"
