//! Step throughput of every optimizer (f32), side by side with a memory-bandwidth roof kernel
//! that moves as many streams as Adam (reads p, g, m, v; writes p, m, v).
//!
//! Run: `cargo bench --bench step_throughput` (all) or with a filter, e.g. `-- adam`.
//! Set `DESCENT_BENCH_ALL=1` to run every optimizer at the large sizes too.
//! After the criterion groups a summary prints ns per element, the fraction of the roof, and the
//! µs per step, measured side by side in this process (best of several timed runs), for Adam
//! through the run-time dispatch (AVX2+FMA where the CPU has it) and the portable build.
//! `benches/torch_reference.py` measures PyTorch the same way.

use criterion::{BenchmarkId, Criterion, Throughput, black_box};
use descent::adam::{AdamConfig, AdamView};
use descent::std_ext::dispatch;
use descent::std_ext::registry;
use descent::{NonFinitePolicy, OPTIMIZERS, Optimizer};
use serde_json::{Map, Value, json};
use std::time::{Duration, Instant};

const SIZES: [usize; 5] = [1_024, 16_384, 262_144, 4_194_304, 16_777_216];

/// The roof: three read-modify-write streams and one read stream, the traffic of Adam.
fn roof(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    for (((p, g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = *m * 0.9 + *g;
        *v = *v * 0.999 + *g;
        *p += *g * 1e-3;
    }
}

fn roof_best(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    dispatch::with_best_features(|| roof(p, g, m, v));
}

fn kwargs(name: &str) -> Map<String, Value> {
    match json!({ "name": name }) {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn data(n: usize) -> (Vec<f32>, Vec<f32>) {
    (
        (0..n).map(|i| (i as f32 * 1e-3).sin()).collect(),
        (0..n).map(|i| (i as f32 * 7e-3).cos() * 1e-2).collect(),
    )
}

/// Best time of `reps` runs of `f` after warming up, within a time budget.
fn best_of(mut f: impl FnMut(), budget: Duration) -> Duration {
    f();
    let start = Instant::now();
    let mut best = Duration::MAX;
    let mut runs = 0;
    while runs < 5 || (start.elapsed() < budget && runs < 10_000) {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed());
        runs += 1;
    }
    best
}

fn bench(c: &mut Criterion) {
    let all = std::env::var("DESCENT_BENCH_ALL").is_ok();
    for info in OPTIMIZERS {
        let mut group = c.benchmark_group(format!("step/{}", info.name));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        for &n in &SIZES {
            if n > 262_144 && !(all || ["adam", "sgd"].contains(&info.name)) {
                continue;
            }
            let (mut p, g) = data(n);
            let mut opt =
                registry::build::<f32>(&kwargs(info.name), &[n], n, NonFinitePolicy::Propagate).unwrap();
            group.throughput(Throughput::Elements(n as u64));
            group.bench_function(BenchmarkId::from_parameter(n), |b| {
                b.iter(|| opt.step(black_box(&mut p), black_box(&g)).unwrap())
            });
        }
        group.finish();
    }
    let mut group = c.benchmark_group("adam-dispatch");
    group.sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    for &n in &SIZES {
        let (mut p, g) = data(n);
        let mut state = vec![0.0f32; 2 * n];
        let mut opt = AdamView::with_buffer(AdamConfig::default(), n, &mut state).unwrap();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("dispatch", n), |b| {
            b.iter(|| dispatch::step(&mut opt, black_box(&mut p), black_box(&g)).unwrap())
        });
        let (mut m, mut v) = (vec![0.0f32; n], vec![0.0f32; n]);
        group.bench_function(BenchmarkId::new("roof", n), |b| {
            b.iter(|| roof_best(black_box(&mut p), black_box(&g), &mut m, &mut v))
        });
    }
    group.finish();
}

/// Lane widths compared for Adam (the production widths are `Real::LANES`).
fn lane_report() {
    println!("\nLane width, Adam, portable build (ns per element, best of runs):");
    println!("{:>10} {:>6} {:>8} {:>8} {:>8}", "n", "type", "L=4", "L=8", "L=16");
    for &n in &[16_384usize, 262_144] {
        let (p0, g) = data(n);
        let gd: Vec<f64> = g.iter().map(|&x| x as f64).collect();
        let mut row32 = Vec::new();
        let mut row64 = Vec::new();
        macro_rules! width {
            ($l:literal) => {{
                let mut p = p0.clone();
                let mut s = vec![0.0f32; 2 * n];
                let mut o = AdamView::with_buffer(AdamConfig::default(), n, &mut s).unwrap();
                row32.push(
                    best_of(
                        || {
                            o.step_with_lanes::<$l>(&mut p, &g).unwrap();
                        },
                        Duration::from_millis(300),
                    )
                    .as_nanos() as f64
                        / n as f64,
                );
                let mut pd: Vec<f64> = p0.iter().map(|&x| x as f64).collect();
                let mut sd = vec![0.0f64; 2 * n];
                let mut od = AdamView::with_buffer(AdamConfig::default(), n, &mut sd).unwrap();
                row64.push(
                    best_of(
                        || {
                            od.step_with_lanes::<$l>(&mut pd, &gd).unwrap();
                        },
                        Duration::from_millis(300),
                    )
                    .as_nanos() as f64
                        / n as f64,
                );
            }};
        }
        width!(4);
        width!(8);
        width!(16);
        println!("{n:>10} {:>6} {:>8.3} {:>8.3} {:>8.3}", "f32", row32[0], row32[1], row32[2]);
        println!("{n:>10} {:>6} {:>8.3} {:>8.3} {:>8.3}", "f64", row64[0], row64[1], row64[2]);
    }
}

/// Adam against the roof, side by side in one process.
fn roof_report() {
    println!(
        "\nAdam f32, one thread, dispatch path: {} (best of runs; ns per element)",
        dispatch::active_path()
    );
    println!(
        "{:>10} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "n", "dispatch", "portable", "roof", "of roof", "µs/step"
    );
    for &n in &SIZES {
        let (mut p, g) = data(n);
        let budget = Duration::from_millis(if n > 1_000_000 { 1500 } else { 400 });
        let mut s1 = vec![0.0f32; 2 * n];
        let mut fast = AdamView::with_buffer(AdamConfig::default(), n, &mut s1).unwrap();
        let td = best_of(
            || {
                dispatch::step(&mut fast, &mut p, &g).unwrap();
            },
            budget,
        );
        let mut s2 = vec![0.0f32; 2 * n];
        let mut port = AdamView::with_buffer(AdamConfig::default(), n, &mut s2).unwrap();
        let tp = best_of(
            || {
                port.step(&mut p, &g).unwrap();
            },
            budget,
        );
        let (mut m, mut v) = (vec![0.0f32; n], vec![0.0f32; n]);
        let tr = best_of(|| roof_best(&mut p, &g, &mut m, &mut v), budget);
        let per = |t: Duration| t.as_nanos() as f64 / n as f64;
        println!(
            "{n:>10} {:>10.3} {:>10.3} {:>10.3} {:>9.0}% {:>12.3}",
            per(td),
            per(tp),
            per(tr),
            100.0 * tr.as_secs_f64() / td.as_secs_f64(),
            td.as_secs_f64() * 1e6
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    if std::env::args().any(|a| a == "--bench") {
        lane_report();
        roof_report();
    }
}
