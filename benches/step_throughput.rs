//! Step throughput of every optimizer (f32, one thread), side by side with memory-bandwidth roof
//! kernels, for the optimizers as `descent` builds them (`registry::build`: run-time dispatch to
//! AVX2+FMA where the CPU has it) and for descent-core's portable build.
//!
//! Run: `cargo bench --bench step_throughput` (all) or with a filter, e.g. `-- adam` (every
//! optimizer whose name contains it) or `-- step/adam/` (Adam only).
//! Set `DESCENT_BENCH_ALL=1` to run every optimizer at the large sizes too (by default only Adam
//! and SGD go above 262,144). Set `DESCENT_TORCH_JSON=path` to a file written by
//! `python3 benches/torch_reference.py --json path` (run in the same session) to print PyTorch's
//! numbers and the ratios beside descent's.
//!
//! After the criterion groups a summary prints, per optimizer and size, ns per element of the
//! dispatched and portable steps, of the roof for that optimizer's traffic, the fraction of the
//! roof, and µs per step: all measured side by side in this process (best of several timed runs,
//! the method `torch_reference.py` uses too). The roof with k state buffers reads p, g and the k
//! buffers and writes p and the k buffers, with one multiply-add per stream, through the same lane
//! skeleton (`descent::lanes`) as the kernels, compiled for AVX2+FMA (what this CPU can do; the
//! dispatched step is compared with it) and for the baseline target (the portable step's roof).

use criterion::{BenchmarkId, Criterion, Throughput, black_box};
use descent::adam::{AdamConfig, AdamView};
use descent::lanes::{zip0, zip1, zip2, zip3};
use descent::std_ext::dispatch::{self, Kernels};
use descent::std_ext::registry::{self, DynOptimizer};
use descent::{NonFinitePolicy, OPTIMIZERS};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const SIZES: [usize; 5] = [1_024, 16_384, 262_144, 4_194_304, 16_777_216];
/// Lanes of the roof kernels (vectorizes on both builds).
const ROOF_LANES: usize = 16;

/// The roof for `k` state buffers over `s` (k·n values): the streams of an elementwise rule.
/// Inlined, so that [`roof_as`] compiles it in the AVX2 context.
#[inline(always)]
fn roof(k: usize, p: &mut [f32], g: &[f32], s: &mut [f32]) {
    let n = p.len();
    let (a, rest) = s.split_at_mut(n.min(s.len()));
    let (b, c) = rest.split_at_mut(n.min(rest.len()));
    match k {
        0 => zip0::<f32, ROOF_LANES>(p, g, |p, g| *p += g * 1e-3),
        1 => zip1::<f32, ROOF_LANES>(p, g, a, |p, g, a| {
            *a = *a * 0.9 + g;
            *p += *a * 1e-3;
        }),
        2 => zip2::<f32, ROOF_LANES>(p, g, a, b, |p, g, a, b| {
            *a = *a * 0.9 + g;
            *b = *b * 0.999 + g;
            *p += *a * 1e-3;
        }),
        _ => zip3::<f32, ROOF_LANES>(p, g, a, b, c, |p, g, a, b, c| {
            *a = *a * 0.9 + g;
            *b = *b * 0.999 + g;
            *c = *c * 0.99 + g;
            *p += *a * 1e-3;
        }),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn roof_avx2(k: usize, p: &mut [f32], g: &[f32], s: &mut [f32]) {
    roof(k, p, g, s)
}

/// [`roof`] compiled for AVX2+FMA (when the CPU has them) or for the baseline target.
#[allow(unsafe_code)]
fn roof_as(kernels: Kernels, k: usize, p: &mut [f32], g: &[f32], s: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if kernels == Kernels::Best && dispatch::has_avx2() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { roof_avx2(k, p, g, s) };
    }
    roof(k, p, g, s)
}

fn kwargs(name: &str) -> Map<String, Value> {
    match json!({ "name": name }) {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// The optimizer `name` with PyTorch's defaults for `n` parameters (a vector), as `descent` builds it.
fn build(name: &str, n: usize, kernels: Kernels) -> DynOptimizer<f32> {
    registry::build_with::<f32>(&kwargs(name), &[n], n, NonFinitePolicy::Propagate, kernels).unwrap()
}

/// p_i = sin(i·1e-3), g_i = cos(i·7e-3)·1e-2 (torch_reference.py uses the same data).
fn data(n: usize) -> (Vec<f32>, Vec<f32>) {
    (
        (0..n).map(|i| (i as f32 * 1e-3).sin()).collect(),
        (0..n).map(|i| (i as f32 * 7e-3).cos() * 1e-2).collect(),
    )
}

/// Best time of several runs of `f` after one warm-up run: at least 5 runs, then more until the
/// time budget, at most 10,000.
fn best_of<T>(mut f: impl FnMut() -> T, budget: Duration) -> Duration {
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

fn budget(n: usize) -> Duration {
    Duration::from_millis(if n > 1_000_000 { 1500 } else { 400 })
}

/// The benchmark filter given on the command line (criterion's), if any.
fn filter() -> Option<String> {
    std::env::args().skip(1).find(|a| !a.starts_with('-'))
}

/// Which (optimizer, size) pairs run: every optimizer up to 262,144, Adam and SGD above (all with
/// `DESCENT_BENCH_ALL`), restricted by the filter.
fn selected() -> Vec<(&'static str, usize)> {
    let all = std::env::var("DESCENT_BENCH_ALL").is_ok();
    let filter = filter();
    let mut v = Vec::new();
    for info in OPTIMIZERS {
        let id = format!("step/{}/", info.name);
        if filter.as_ref().is_some_and(|f| !(id.contains(f.as_str()) || f.starts_with(&id))) {
            continue;
        }
        for &n in &SIZES {
            if n <= 262_144 || all || ["adam", "sgd"].contains(&info.name) {
                v.push((info.name, n));
            }
        }
    }
    v
}

fn bench(c: &mut Criterion) {
    for info in OPTIMIZERS {
        let mut group = c.benchmark_group(format!("step/{}", info.name));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        for (_, n) in selected().into_iter().filter(|(name, _)| *name == info.name) {
            let (mut p, g) = data(n);
            group.throughput(Throughput::Elements(n as u64));
            for (label, kernels) in [("dispatch", Kernels::Best), ("portable", Kernels::Portable)] {
                let mut opt = build(info.name, n, kernels);
                group.bench_function(BenchmarkId::new(label, n), |b| {
                    b.iter(|| opt.step(black_box(&mut p), black_box(&g)).unwrap())
                });
            }
            let k = build(info.name, n, Kernels::Portable).state_len() / n;
            let mut s = vec![0.0f32; k * n];
            group.bench_function(BenchmarkId::new("roof", n), |b| {
                b.iter(|| roof_as(Kernels::Best, k, black_box(&mut p), black_box(&g), &mut s))
            });
        }
        group.finish();
    }
}

/// Adam's step at lane widths 4, 8 and 16 (portable build, ns per element, best of runs): the
/// measurement behind [`dispatch::LANES_F32`] and [`dispatch::LANES_F64`] (descent-core's production
/// widths are 8 × f32 and 4 × f64).
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
                let t = best_of(
                    || {
                        o.step_with_lanes::<$l>(&mut p, &g).unwrap();
                    },
                    budget(n),
                );
                row32.push(t.as_nanos() as f64 / n as f64);
                let mut pd: Vec<f64> = p0.iter().map(|&x| x as f64).collect();
                let mut sd = vec![0.0f64; 2 * n];
                let mut od = AdamView::with_buffer(AdamConfig::default(), n, &mut sd).unwrap();
                let t = best_of(
                    || {
                        od.step_with_lanes::<$l>(&mut pd, &gd).unwrap();
                    },
                    budget(n),
                );
                row64.push(t.as_nanos() as f64 / n as f64);
            }};
        }
        width!(4);
        width!(8);
        width!(16);
        for (ty, r) in [("f32", &row32), ("f64", &row64)] {
            println!("{n:>10} {ty:>6} {:>8.3} {:>8.3} {:>8.3}", r[0], r[1], r[2]);
        }
    }
}

/// PyTorch's numbers from `torch_reference.py --json`: (optimizer, impl, n) → ns per element.
fn torch_reference() -> HashMap<(String, String, usize), f64> {
    let Ok(path) = std::env::var("DESCENT_TORCH_JSON") else { return HashMap::new() };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("DESCENT_TORCH_JSON={path}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut m = HashMap::new();
    for r in doc["results"].as_array().into_iter().flatten() {
        if let (Some(o), Some(i), Some(n), Some(ns)) =
            (r["optimizer"].as_str(), r["impl"].as_str(), r["n"].as_u64(), r["ns_per_element"].as_f64())
        {
            m.insert((o.to_string(), i.to_string(), n as usize), ns);
        }
    }
    println!("PyTorch reference: {path} (torch {})", doc["torch"].as_str().unwrap_or("?"));
    m
}

/// One measured row of the summary.
struct Row {
    name: &'static str,
    n: usize,
    dispatch: f64,
    portable: f64,
    roof_dispatch: f64,
    roof_portable: f64,
}

impl Row {
    fn of_roof(&self) -> f64 {
        100.0 * self.roof_dispatch / self.dispatch
    }
}

/// Every selected optimizer against its roof, side by side in one process.
fn roof_report() -> Vec<Row> {
    println!(
        "\nStep throughput, f32, one thread, best of runs; ns per element (dispatch path: {})",
        dispatch::active_path()
    );
    println!(
        "{:>10} {:>10} {:>3} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>11} {:>11}",
        "optimizer",
        "n",
        "k",
        "dispatch",
        "roof",
        "portable",
        "roof",
        "%roof d",
        "%roof p",
        "µs/step d",
        "µs/step p"
    );
    let mut roofs: HashMap<(Kernels, usize, usize), f64> = HashMap::new();
    let mut rows = Vec::new();
    for (name, n) in selected() {
        let (p0, g) = data(n);
        let per = |t: Duration| t.as_nanos() as f64 / n as f64;
        let time_step = |kernels| {
            let mut p = p0.clone();
            let mut opt = build(name, n, kernels);
            per(best_of(
                || {
                    opt.step(&mut p, &g).unwrap();
                },
                budget(n),
            ))
        };
        let (dispatch, portable) = (time_step(Kernels::Best), time_step(Kernels::Portable));
        let k = build(name, n, Kernels::Portable).state_len() / n;
        let mut roof_of = |kernels| {
            *roofs.entry((kernels, k, n)).or_insert_with(|| {
                let (mut p, mut s) = (p0.clone(), vec![0.0f32; k * n]);
                per(best_of(|| roof_as(kernels, k, &mut p, &g, &mut s), budget(n)))
            })
        };
        let row = Row {
            name,
            n,
            dispatch,
            portable,
            roof_dispatch: roof_of(Kernels::Best),
            roof_portable: roof_of(Kernels::Portable),
        };
        println!(
            "{name:>10} {n:>10} {k:>3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>7.0}% {:>7.0}% {:>11.3} {:>11.3}",
            row.dispatch,
            row.roof_dispatch,
            row.portable,
            row.roof_portable,
            row.of_roof(),
            100.0 * row.roof_portable / row.portable,
            row.dispatch * n as f64 / 1e3,
            row.portable * n as f64 / 1e3,
        );
        rows.push(row);
    }
    rows
}

/// Adam's targets (issue 2), through the dispatch, and PyTorch side by side when given.
fn adam_targets(rows: &[Row], torch: &HashMap<(String, String, usize), f64>) {
    let adam: Vec<&Row> = rows.iter().filter(|r| r.name == "adam").collect();
    if adam.is_empty() {
        return;
    }
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!("\nAdam f32 targets (dispatch path {}):", dispatch::active_path());
    for r in &adam {
        match r.n {
            1_024 => {
                let us = r.dispatch * r.n as f64 / 1e3;
                println!("  N = 1,024:   {us:.3} µs/step (target ≤ 0.6): {}", verdict(us <= 0.6));
            }
            262_144 => println!(
                "  N = 262,144: {:.3} ns/element (target ≤ 0.45): {}",
                r.dispatch,
                verdict(r.dispatch <= 0.45)
            ),
            16_777_216 => println!(
                "  N = 16.7 M:  {:.0}% of roof (target ≥ 90%): {}",
                r.of_roof(),
                verdict(r.of_roof() >= 90.0)
            ),
            _ => {}
        }
    }
    if torch.is_empty() {
        println!("  (set DESCENT_TORCH_JSON to compare with PyTorch)");
        return;
    }
    println!(
        "\n{:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>14} {:>14}",
        "n", "descent", "portable", "torch fu", "torch fe", "torch st", "fused/descent", "fused/portable"
    );
    for r in &adam {
        let t = |i: &str| torch.get(&("adam".to_string(), i.to_string(), r.n)).copied().unwrap_or(f64::NAN);
        let fused = t("fused");
        println!(
            "{:>10} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>13.2}× {:>13.2}×",
            r.n,
            r.dispatch,
            r.portable,
            fused,
            t("foreach"),
            t("single"),
            fused / r.dispatch,
            fused / r.portable
        );
        if r.n == 16_777_216 {
            println!("  N = 16.7 M: no slower than PyTorch fused: {}", verdict(r.dispatch <= fused));
        }
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    if std::env::args().any(|a| a == "--bench") {
        let torch = torch_reference();
        if filter().is_none_or(|f| "step/adam/".contains(f.as_str()) || f.starts_with("step/adam/")) {
            lane_report();
        }
        let rows = roof_report();
        adam_targets(&rows, &torch);
    }
}
