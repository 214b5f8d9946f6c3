//! `clip_grad_norm` (2-norm, f32, one thread) at the optimizer benches' sizes, side by side with
//! its bandwidth roofs.
//!
//! Run: `cargo bench --bench clip_throughput` (or with a filter, e.g. `-- 262144`).
//!
//! `clip_grad_norm` makes two passes: the norm (reads g) and the scaling (reads and writes g). The
//! roofs move the same streams with the least work, written with the same lane skeleton
//! (`descent::lanes`):
//! - `roof read`: a plain sum of squares (`lanes::sum_sq`), the faster of 8 and 16 partial sums
//!   (one or two registers' worth): the roof for one read stream. The norm alone is compared with
//!   it.
//! - `roof clip`: that sum, then `g ← c·g`: the traffic of the whole clip.
//!
//! descent-core's clipping is compiled for the baseline target (descent-std does not dispatch it),
//! so its roofs are compiled the same way; the summary also prints the roofs compiled for AVX2+FMA,
//! what this CPU could do. ns per element and the fraction of each roof, best of several timed
//! runs side by side in one process.

mod common;

use common::best_of;
use criterion::{BenchmarkId, Criterion, Throughput, black_box};
use descent::clip::{NormType, clip_grad_norm, total_norm};
use descent::lanes::sum_sq;
use descent::std_ext::dispatch;
use std::time::Duration;

const SIZES: [usize; 5] = [1_024, 16_384, 262_144, 4_194_304, 16_777_216];
/// PyTorch's default for a typical run; every size here has a larger norm, so the clip scales.
const MAX_NORM: f64 = 1.0;

#[inline(always)]
fn roof_read<const L: usize>(g: &[f32]) -> f32 {
    sum_sq::<f32, L>(g)
}

#[inline(always)]
fn roof_clip<const L: usize>(g: &mut [f32]) -> f32 {
    let s = roof_read::<L>(g);
    // A factor the compiler cannot fold (1, so repeated runs keep the data).
    let c = black_box(1.0f32);
    for x in g.iter_mut() {
        *x *= c;
    }
    s
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn roof_read_avx2<const L: usize>(g: &[f32]) -> f32 {
    roof_read::<L>(g)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn roof_clip_avx2<const L: usize>(g: &mut [f32]) -> f32 {
    roof_clip::<L>(g)
}

/// Best times of the roofs (read, clip), the faster lane width of each, compiled for the baseline.
fn roofs(g: &mut [f32], budget: Duration) -> (Duration, Duration) {
    // black_box on the input too: the sum of an unchanged slice could be hoisted out of the loop.
    let read = best_of(|| roof_read::<8>(black_box(g)), budget)
        .min(best_of(|| roof_read::<16>(black_box(g)), budget));
    let clip = best_of(|| roof_clip::<8>(g), budget).min(best_of(|| roof_clip::<16>(g), budget));
    (read, clip)
}

/// [`roofs`] compiled for AVX2+FMA, or `None` where the CPU lacks them.
#[allow(unsafe_code)]
fn roofs_avx2(g: &mut [f32], budget: Duration) -> Option<(Duration, Duration)> {
    #[cfg(target_arch = "x86_64")]
    if dispatch::has_avx2() {
        // SAFETY (every block below): the CPU has AVX2 and FMA (checked just above).
        let read = best_of(|| unsafe { roof_read_avx2::<8>(black_box(g)) }, budget)
            .min(best_of(|| unsafe { roof_read_avx2::<16>(black_box(g)) }, budget));
        let clip = best_of(|| unsafe { roof_clip_avx2::<8>(g) }, budget)
            .min(best_of(|| unsafe { roof_clip_avx2::<16>(g) }, budget));
        return Some((read, clip));
    }
    None
}

fn norm(g: &[f32]) -> f32 {
    total_norm::<f32, _>(&[g], NormType::L2)
}

fn clip(g: &mut [f32]) -> f32 {
    clip_grad_norm(&mut [g], MAX_NORM, NormType::L2, false).unwrap_or(f32::NAN)
}

/// g_i = cos(i·7e-3)·1e-2, the gradient of the step benches (on 2 MiB pages: [`common::zeroed`]).
fn data(n: usize) -> Vec<f32> {
    let mut g = common::zeroed(n);
    g.iter_mut().enumerate().for_each(|(i, x)| *x = (i as f32 * 7e-3).cos() * 1e-2);
    g
}

fn selected() -> Vec<usize> {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    SIZES
        .into_iter()
        .filter(|n| {
            filter.as_ref().is_none_or(|f| format!("clip_grad_norm/portable/{n}").contains(f.as_str()))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("clip_grad_norm");
    group.sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    for n in selected() {
        let mut g = data(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("portable", n), |b| b.iter(|| clip(black_box(&mut g))));
        group.bench_function(BenchmarkId::new("norm", n), |b| b.iter(|| norm(black_box(&g))));
        group.bench_function(BenchmarkId::new("roof-read", n), |b| b.iter(|| roof_read::<8>(black_box(&g))));
        group.bench_function(BenchmarkId::new("roof-clip", n), |b| {
            b.iter(|| roof_clip::<8>(black_box(&mut g)))
        });
    }
    group.finish();
}

fn report() {
    println!("\nclip_grad_norm, 2-norm, f32, one thread, best of runs; ns per element");
    println!(
        "{:>10} {:>8} {:>9} {:>6} {:>9} {:>6} {:>8} {:>9} {:>6} {:>9} {:>6} {:>9}",
        "n", "norm", "roof rd", "%", "avx2 rd", "%", "clip", "roof clip", "%", "avx2 clip", "%", "µs/clip"
    );
    let mut pages = None;
    for n in selected() {
        let budget = Duration::from_millis(if n > 1_000_000 { 1500 } else { 400 });
        let mut g = data(n);
        let per = |t: Duration| t.as_nanos() as f64 / n as f64;
        let t_norm = per(best_of(|| norm(black_box(&g)), budget));
        let t_clip = per(best_of(|| clip(&mut g), budget));
        let (t_read, t_roof) = roofs(&mut g, budget);
        let (t_read, t_roof) = (per(t_read), per(t_roof));
        let (a_read, a_clip) =
            roofs_avx2(&mut g, budget).map_or((f64::NAN, f64::NAN), |(r, c)| (per(r), per(c)));
        println!(
            "{n:>10} {t_norm:>8.3} {t_read:>9.3} {:>5.0}% {a_read:>9.3} {:>5.0}% {t_clip:>8.3} {t_roof:>9.3} \
             {:>5.0}% {a_clip:>9.3} {:>5.0}% {:>9.3}",
            100.0 * t_read / t_norm,
            100.0 * a_read / t_norm,
            100.0 * t_roof / t_clip,
            100.0 * a_clip / t_clip,
            t_clip * n as f64 / 1e3
        );
        pages = Some(format!("at n = {n}: {}", common::pages_note()));
    }
    if let Some(note) = pages {
        println!("({note})");
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    if std::env::args().any(|a| a == "--bench") {
        report();
    }
}
