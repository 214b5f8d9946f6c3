//! What the throughput benches share.

use criterion::black_box;
use std::time::{Duration, Instant};

/// Best time of several runs of `f` after one warm-up run: at least 5 runs, then more until the
/// time budget, at most 10,000.
pub fn best_of<T>(mut f: impl FnMut() -> T, budget: Duration) -> Duration {
    black_box(f());
    let start = Instant::now();
    let mut best = Duration::MAX;
    let mut runs = 0;
    while runs < 5 || (start.elapsed() < budget && runs < 10_000) {
        let t = Instant::now();
        black_box(f());
        best = best.min(t.elapsed());
        runs += 1;
    }
    best
}
