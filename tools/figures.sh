#!/usr/bin/env bash
# Regenerates every figure of the book (book/src/figures/<topic>/*.svg) with the project's own
# commands: `descent analyze <topic>` and `descent compare`. The numbers behind each figure (CSV,
# JSON) land in target/figures/<topic>/; only the SVGs are copied into the book.
#
# Usage: tools/figures.sh [topic ...]     (default: every topic)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -q -p descent-std
descent=target/release/descent
work=target/figures
all=(trajectories animation rates lr-demo ravine momentum family-tree schedules sweep lr-find gradient-flow landscape sharpness
     second-order newton-1d moons linear-regression synthetic compare)
topics=("${@:-${all[@]}}")

for topic in "${topics[@]}"; do
  echo "== $topic"
  rm -rf "${work:?}/$topic"
  case "$topic" in
    compare) "$descent" compare --quiet --out "$work/$topic" ;;
    # ravine3 (x² + 3y²) adds nothing the ravine x² + 10y² does not show.
    trajectories) "$descent" analyze trajectories --out "$work/$topic" \
      --functions quadratic,rotated_quadratic,ravine,rosenbrock,multimodal,saddle,himmelblau ;;
    *) "$descent" analyze "$topic" --out "$work/$topic" ;;
  esac
  mkdir -p "book/src/figures/$topic"
  rm -f "book/src/figures/$topic"/*.svg
  cp "$work/$topic"/*.svg "book/src/figures/$topic/"
done
echo "figures in book/src/figures/"
