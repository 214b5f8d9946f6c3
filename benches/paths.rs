//! Every registry optimizer (f32, one thread) on every kernel path this CPU runs — AVX-512, AVX2,
//! the portable build at the dispatch lanes, and descent-core's own step — side by side in one
//! process, in turns, best of several samples each: which path is fastest for which rule, and
//! whether the AVX-512 path (`dispatch::Path::Avx512`) earns its place.
//!
//! Run: `cargo bench --bench paths` (`-- adam` for the optimizers whose name contains "adam";
//! `DESCENT_BENCH_SIZES=262144,4194304` for other sizes). Prints ns per element per path and each
//! path's time relative to the fastest.

mod common;

use common::best_of;
use descent::std_ext::dispatch::{Kernels, Path};
use descent::std_ext::registry::{self, DynOptimizer};
use descent::{NonFinitePolicy, OPTIMIZERS};
use serde_json::{Map, Value, json};
use std::time::Duration;

fn build(name: &str, n: usize, kernels: Kernels) -> DynOptimizer<f32> {
    let kwargs = match json!({ "name": name }) {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    let kwargs: Map<String, Value> = kwargs;
    // Muon takes matrices: a square-ish shape of n values.
    let shape = if name == "muon" { vec![n / 256, 256] } else { vec![n] };
    registry::build_with::<f32>(&kwargs, &shape, n, NonFinitePolicy::Propagate, kernels).unwrap()
}

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let sizes: Vec<usize> = std::env::var("DESCENT_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![16_384, 262_144]);
    let mut kernels: Vec<(String, Kernels)> = Path::ALL
        .into_iter()
        .filter(|p| p.supported())
        .map(|p| (p.name().to_string(), Kernels::On(p)))
        .collect();
    kernels.push(("core step".into(), Kernels::Portable));
    println!("{}", common::pages_note());
    print!("{:<10} {:>10}", "optimizer", "n");
    for (label, _) in &kernels {
        print!(" {label:>16}");
    }
    println!("   (ns per element; relative to the fastest)");
    for info in OPTIMIZERS {
        if filter.as_deref().is_some_and(|f| !info.name.contains(f)) || info.name == "muon" {
            continue;
        }
        for &n in &sizes {
            let mut opts: Vec<DynOptimizer<f32>> =
                kernels.iter().map(|(_, k)| build(info.name, n, *k)).collect();
            let mut params: Vec<Vec<f32>> = opts.iter().map(|_| vec![0.5f32; n]).collect();
            let g: Vec<f32> = (0..n).map(|i| ((i % 97) as f32 - 48.0) * 1e-3).collect();
            let mut best = vec![Duration::MAX; opts.len()];
            // Turns: every path a short burst, round after round, so all see the same machine.
            let steps = (65_536 / n).max(1);
            for _round in 0..8 {
                for (i, o) in opts.iter_mut().enumerate() {
                    let p = &mut params[i];
                    let t = best_of(
                        || {
                            for _ in 0..steps {
                                o.step(p, &g).unwrap();
                            }
                        },
                        Duration::from_millis(40),
                    );
                    best[i] = best[i].min(t);
                }
            }
            let ns: Vec<f64> = best.iter().map(|d| d.as_secs_f64() * 1e9 / (steps * n) as f64).collect();
            let fastest = ns.iter().copied().fold(f64::INFINITY, f64::min);
            print!("{:<10} {n:>10}", info.name);
            for v in &ns {
                print!(" {:>8.3} ({:>4.2})", v, v / fastest);
            }
            println!();
        }
    }
}
