//! Step throughput of every optimizer (f32, one thread), side by side with memory-bandwidth roof
//! kernels, for the optimizers as `descent` builds them (`registry::build`: run-time dispatch to
//! AVX-512 or AVX2+FMA where the CPU has them) and for descent-core's portable build.
//!
//! Run: `cargo bench --bench step_throughput` (all) or with a filter, e.g. `-- adam` (every
//! optimizer whose name contains it) or `-- step/adam/` (Adam only).
//! Set `DESCENT_BENCH_ALL=1` to run every optimizer at the large sizes too (by default only Adam
//! and SGD go above 262,144). Set `DESCENT_TORCH_JSON=path` to a file written by
//! `python3 benches/torch_reference.py --json path` (run in the same session) to print PyTorch's
//! numbers and the ratios beside descent's.
//!
//! After the criterion groups, summaries print ns per element of the dispatched and portable
//! steps, of the roof for the same traffic, the fraction of the roof, and µs per step, all
//! measured in this process, best of several timed samples (of at least 64 Ki elements: several
//! steps at small sizes) taken in turns so that every candidate sees the same machine state
//! (`torch_reference.py` takes the best of runs too):
//! - Adam over caller buffers (`AdamView`) through `dispatch::step` and descent-core's own step,
//!   against the bandwidth roof and, given `DESCENT_TORCH_JSON`, PyTorch side by side;
//! - every optimizer as `registry::build` makes it (boxed, state on the heap).
//!
//! The roof with k state buffers reads p, g and the k buffers and writes p and the k buffers, with
//! one multiply-add per stream: the fastest of a plain iterator loop and the lane skeleton
//! (`descent::lanes`, in place and staged) at 16 lanes, compiled for AVX2+FMA (what this CPU can
//! do; the dispatched step is compared with it) and for the baseline target (the portable step's
//! roof). Streams live in one allocation with 1 KiB gaps ([`Arena`]): separately allocated vectors
//! of 2^k values sit at page-shifted offsets that halve streaming bandwidth at 16.7 M on this
//! machine. Arenas are on
//! 2 MiB pages (Linux transparent huge pages; `DESCENT_BENCH_PAGES=small` for 4 KiB pages, see
//! `common::zeroed`), and `torch_reference.py` gives PyTorch's allocator huge pages too.

mod common;

use common::best_of;
use criterion::{BenchmarkId, Criterion, Throughput, black_box};
use descent::adam::{AdamConfig, AdamView};
use descent::lanes::{zip0_as, zip1_as, zip2_as, zip3_as, zip4_as};
use descent::std_ext::dispatch::{self, Kernels};
use descent::std_ext::registry::{self, DynOptimizer};
use descent::{NonFinitePolicy, OPTIMIZERS, Optimizer};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const SIZES: [usize; 5] = [1_024, 16_384, 262_144, 4_194_304, 16_777_216];
/// Lanes of the lane-skeleton roofs (the production width of the dispatched kernels).
const ROOF_LANES: usize = 16;

/// How a roof loop is written; the roof is the fastest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum RoofLoop {
    /// Plain iterator zips (the loop vectorizer's favourite shape).
    Iter,
    /// descent's lane skeleton at [`ROOF_LANES`] lanes.
    Lanes,
    /// descent's staged lane skeleton (`lanes::zip*_staged`) at [`ROOF_LANES`] lanes.
    Staged,
}

/// The roof for `k` state buffers over `s` (k·n values): reads p, g and the k buffers, writes p and
/// the k buffers, with one multiply-add per stream. Inlined, so that [`roof_as`] compiles it for
/// AVX2 too.
#[inline(always)]
fn roof(how: RoofLoop, k: usize, p: &mut [f32], g: &[f32], s: &mut [f32]) {
    let n = p.len();
    let (a, rest) = s.split_at_mut(n.min(s.len()));
    let (b, rest) = rest.split_at_mut(n.min(rest.len()));
    let (c, d) = rest.split_at_mut(n.min(rest.len()));
    match (how, k) {
        (RoofLoop::Iter, 0) => p.iter_mut().zip(g).for_each(|(p, g)| *p += g * 1e-3),
        (RoofLoop::Iter, 1) => p.iter_mut().zip(g).zip(a).for_each(|((p, g), a)| {
            *a = *a * 0.9 + g;
            *p += *a * 1e-3;
        }),
        (RoofLoop::Iter, 2) => p.iter_mut().zip(g).zip(a).zip(b).for_each(|(((p, g), a), b)| {
            *a = *a * 0.9 + g;
            *b = *b * 0.999 + g;
            *p += *a * 1e-3;
        }),
        (RoofLoop::Iter, 3) => p.iter_mut().zip(g).zip(a).zip(b).zip(c).for_each(|((((p, g), a), b), c)| {
            *a = *a * 0.9 + g;
            *b = *b * 0.999 + g;
            *c = *c * 0.99 + g;
            *p += *a * 1e-3;
        }),
        (RoofLoop::Iter, _) => {
            p.iter_mut().zip(g).zip(a).zip(b).zip(c).zip(d).for_each(|(((((p, g), a), b), c), d)| {
                *a = *a * 0.9 + g;
                *b = *b * 0.999 + g;
                *c = *c * 0.99 + g;
                *d = *d * 0.98 + g;
                *p += *a * 1e-3;
            })
        }
        (RoofLoop::Lanes, _) => roof_lanes::<false>(k, p, g, [a, b, c, d]),
        (RoofLoop::Staged, _) => roof_lanes::<true>(k, p, g, [a, b, c, d]),
    }
}

/// [`roof`]'s lane-skeleton loops, in place or staged (`lanes::zip*_as`).
#[inline(always)]
fn roof_lanes<const STAGED: bool>(k: usize, p: &mut [f32], g: &[f32], [a, b, c, d]: [&mut [f32]; 4]) {
    match k {
        0 => zip0_as::<f32, ROOF_LANES, STAGED>(p, g, |p, g| *p += g * 1e-3),
        1 => zip1_as::<f32, ROOF_LANES, STAGED>(p, g, a, |p, g, a| {
            *a = *a * 0.9 + g;
            *p += *a * 1e-3;
        }),
        2 => zip2_as::<f32, ROOF_LANES, STAGED>(p, g, a, b, |p, g, a, b| {
            *a = *a * 0.9 + g;
            *b = *b * 0.999 + g;
            *p += *a * 1e-3;
        }),
        3 => zip3_as::<f32, ROOF_LANES, STAGED>(p, g, a, b, c, |p, g, a, b, c| {
            *a = *a * 0.9 + g;
            *b = *b * 0.999 + g;
            *c = *c * 0.99 + g;
            *p += *a * 1e-3;
        }),
        _ => zip4_as::<f32, ROOF_LANES, STAGED>(p, g, a, b, c, d, |p, g, a, b, c, d| {
            *a = *a * 0.9 + g;
            *b = *b * 0.999 + g;
            *c = *c * 0.99 + g;
            *d = *d * 0.98 + g;
            *p += *a * 1e-3;
        }),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn roof_avx2(how: RoofLoop, k: usize, p: &mut [f32], g: &[f32], s: &mut [f32]) {
    roof(how, k, p, g, s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
fn roof_avx512(how: RoofLoop, k: usize, p: &mut [f32], g: &[f32], s: &mut [f32]) {
    roof(how, k, p, g, s)
}

/// [`roof`] compiled for the widest vectors the CPU has (AVX-512, else AVX2+FMA) or for the
/// baseline target: the fastest loop the CPU can run for that traffic.
#[allow(unsafe_code)]
fn roof_as(kernels: Kernels, how: RoofLoop, k: usize, p: &mut [f32], g: &[f32], s: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if kernels == Kernels::Best && dispatch::has_avx512() {
        // SAFETY: the CPU has AVX-512 F/VL, AVX2 and FMA (checked just above).
        return unsafe { roof_avx512(how, k, p, g, s) };
    }
    #[cfg(target_arch = "x86_64")]
    if kernels == Kernels::Best && dispatch::has_avx2() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { roof_avx2(how, k, p, g, s) };
    }
    roof(how, k, p, g, s)
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
                b.iter(|| roof_as(Kernels::Best, RoofLoop::Iter, k, black_box(&mut p), black_box(&g), &mut s))
            });
        }
        group.finish();
    }
}

/// Adam's step at lane widths 4, 8 and 16 (portable build, ns per element, best of runs): the
/// measurement behind [`dispatch::LANES_F32`] and [`dispatch::LANES_F64`] (descent-core's production
/// widths, 16 lanes on x86-64 and AArch64).
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

/// Gap between the streams of an [`Arena`], in values (1 KiB).
const GAP: usize = 256;

/// p, g and `k` state streams of n values in one allocation on 2 MiB pages ([`common::zeroed`]),
/// each starting 1 KiB after the end of the previous one. Vectors of 2^k values allocated one by
/// one start at page-shifted offsets from each other, which slows any streaming loop at 16.7 M by
/// up to 2× (measured on this machine): an artefact of the allocator that would hide what the
/// kernels do. On 4 KiB pages the physical placement of the pages adds up to ±15 % from one arena
/// to the next (see [`common::zeroed`]); 2 MiB pages take that away too.
struct Arena {
    buf: Vec<f32>,
    n: usize,
    k: usize,
}

impl Arena {
    fn new(n: usize, k: usize) -> Self {
        let mut buf = common::zeroed((2 + k) * n + 2 * GAP);
        let (p, g) = data(n);
        buf[..n].copy_from_slice(&p);
        buf[n + GAP..2 * n + GAP].copy_from_slice(&g);
        Arena { buf, n, k }
    }
    /// (p, g, the k state streams).
    fn parts(&mut self) -> (&mut [f32], &[f32], &mut [f32]) {
        let n = self.n;
        let (p, rest) = self.buf.split_at_mut(n + GAP);
        let (g, s) = rest.split_at_mut(n + GAP);
        (&mut p[..n], &g[..n], &mut s[..self.k * n])
    }
}

/// Best time per call of each of `count` candidates `run(0)`, …, `run(count − 1)`, timed in
/// turns so that each sees the same machine state. A timed sample is `reps` consecutive calls (so
/// that a sample of a small size is long against the clock's resolution); one warm-up round, at
/// least 5 rounds, then more until `budget` per candidate, at most 10,000.
fn best_of_each(count: usize, reps: u32, mut run: impl FnMut(usize), budget: Duration) -> Vec<Duration> {
    (0..count).for_each(&mut run);
    let start = Instant::now();
    let mut best = vec![Duration::MAX; count];
    let mut rounds = 0;
    while rounds < 5 || (start.elapsed() < budget * count as u32 && rounds < 10_000) {
        for (i, b) in best.iter_mut().enumerate() {
            let t = Instant::now();
            for _ in 0..reps {
                run(i);
            }
            *b = (*b).min(t.elapsed() / reps);
        }
        rounds += 1;
    }
    best
}

/// Roof loops; [`run_roof`] runs each compiled for AVX2 (the first three) and for the baseline.
const ROOF_LOOPS: [RoofLoop; 3] = [RoofLoop::Iter, RoofLoop::Lanes, RoofLoop::Staged];

/// Roof candidate `i` of [`best_of_each`]: [`ROOF_LOOPS`] compiled for AVX2, then for the baseline.
fn run_roof(i: usize, k: usize, p: &mut [f32], g: &[f32], s: &mut [f32]) {
    let kernels = if i < ROOF_LOOPS.len() { Kernels::Best } else { Kernels::Portable };
    roof_as(kernels, ROOF_LOOPS[i % ROOF_LOOPS.len()], k, p, g, s)
}

/// One measured row of a summary, in ns per element.
struct Row {
    name: &'static str,
    n: usize,
    k: usize,
    dispatch: f64,
    portable: f64,
    roof_dispatch: f64,
    roof_portable: f64,
    /// Which pages the streams were on (see [`common::pages_note`]), read while they were alive.
    pages: String,
}

impl Row {
    /// Times `step(Kernels::Best, p, g)` and `step(Kernels::Portable, p, g)` against the roofs
    /// over another arena of the same layout, in turns.
    fn measure(
        name: &'static str,
        k: usize,
        mut step: impl FnMut(Kernels, &mut [f32], &[f32]),
        p: &mut [f32],
        g: &[f32],
    ) -> Row {
        let n = p.len();
        let mut roofs = Arena::new(n, k);
        let (rp, rg, rs) = roofs.parts();
        // Samples of at least 64 Ki elements.
        let reps = (65_536 / n).max(1) as u32;
        let r = ROOF_LOOPS.len();
        let t = best_of_each(
            2 + 2 * r,
            reps,
            |i| match i {
                0 => step(Kernels::Best, p, g),
                1 => step(Kernels::Portable, p, g),
                _ => run_roof(i - 2, k, rp, rg, rs),
            },
            budget(n),
        );
        let per = |t: Duration| t.as_nanos() as f64 / n as f64;
        Row {
            name,
            n,
            k,
            dispatch: per(t[0]),
            portable: per(t[1]),
            roof_dispatch: per(t[2..2 + r].iter().copied().min().unwrap_or(Duration::MAX)),
            roof_portable: per(t[2 + r..].iter().copied().min().unwrap_or(Duration::MAX)),
            pages: common::pages_note(),
        }
    }

    fn of_roof(&self) -> f64 {
        100.0 * self.roof_dispatch / self.dispatch
    }

    fn header(what: &str) {
        println!("\n{what}; f32, one thread, best of runs in turns; ns per element");
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
    }

    fn print(&self) {
        println!(
            "{:>10} {:>10} {:>3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>7.0}% {:>7.0}% {:>11.3} {:>11.3}",
            self.name,
            self.n,
            self.k,
            self.dispatch,
            self.roof_dispatch,
            self.portable,
            self.roof_portable,
            self.of_roof(),
            100.0 * self.roof_portable / self.portable,
            self.dispatch * self.n as f64 / 1e3,
            self.portable * self.n as f64 / 1e3,
        );
    }
}

/// Every selected optimizer as `descent` builds it (registry, boxed, state on the heap) against
/// the roof of its traffic (k = its state buffers), side by side in one process.
fn roof_report() {
    Row::header(&format!(
        "Every optimizer as registry::build makes it (dispatch path: {}) and descent-core's portable step",
        dispatch::active_path()
    ));
    let mut largest: Option<(usize, String)> = None;
    for (name, n) in selected() {
        let (mut fast, mut port) = (build(name, n, Kernels::Best), build(name, n, Kernels::Portable));
        let k = port.state_len() / n;
        let mut arena = Arena::new(n, 0);
        let (p, g, _) = arena.parts();
        let step = |kernels, p: &mut [f32], g: &[f32]| {
            let opt = if kernels == Kernels::Best { &mut fast } else { &mut port };
            opt.step(p, g).unwrap();
        };
        let row = Row::measure(name, k, step, p, g);
        row.print();
        if largest.as_ref().is_none_or(|(m, _)| n > *m) {
            largest = Some((n, row.pages));
        }
    }
    if let Some((n, pages)) = largest {
        println!(
            "(at n = {n}: p and g {pages}; the state where registry::build puts it, on the ordinary \
             heap, so the large sizes here vary from run to run with where its pages land)"
        );
    }
}

/// Adam over caller-provided buffers (`AdamView`, p, g, m, v in one arena) through
/// `dispatch::step` and descent-core's own step, against the bandwidth roof, and PyTorch side by side
/// when given.
fn adam_report(torch: &HashMap<(String, String, usize), f64>) {
    Row::header(&format!(
        "Adam over caller buffers: dispatch::step (path {}) and descent-core's portable step",
        dispatch::active_path()
    ));
    let mut rows = Vec::new();
    for &n in &SIZES {
        let mut arena = Arena::new(n, 2);
        let (p, g, s) = arena.parts();
        let mut opt = AdamView::with_buffer(AdamConfig::default(), n, s).unwrap();
        let step = |kernels, p: &mut [f32], g: &[f32]| {
            match kernels {
                Kernels::Best => dispatch::step(&mut opt, p, g),
                Kernels::Portable => opt.step(p, g),
                Kernels::On(path) => {
                    dispatch::step_on(path, &mut opt, p, g).unwrap_or_else(|| opt.step(p, g))
                }
            }
            .unwrap();
        };
        let row = Row::measure("adam", 2, step, p, g);
        row.print();
        rows.push(row);
    }
    if let Some(r) = rows.last() {
        println!("(at n = {}: {})", r.n, r.pages);
    }
    adam_targets(&rows, torch);
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
        if filter().is_none_or(|f| "step/adam/".contains(f.as_str()) || f.starts_with("step/adam/")) {
            adam_report(&torch);
        }
        roof_report();
    }
}
