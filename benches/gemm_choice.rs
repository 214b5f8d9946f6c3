//! The GEMM crate behind the MLP, measured: `matrixmultiply` (through descent's wrapper,
//! `descent::std_ext::model::gemm::matmul`) against the `gemm` crate at the products of one
//! training step of 784-128-10 with batch 128 (f32): X·W₁, Xᵀ·δ₁ (the big two), H·W₂, δ₂·W₂ᵀ.
//!
//! Run: `cargo bench --bench gemm_choice --features bench-gemm` (one thread);
//! `DESCENT_BENCH_THREADS=2` runs both on two threads. After the criterion groups it prints the
//! GFLOP/s of each, best of several timed runs measured side by side in this process.

use criterion::{BenchmarkId, Criterion, Throughput, black_box};
use descent::std_ext::model::gemm::{Mat, matmul_on};
use gemm::Parallelism;
use std::time::{Duration, Instant};

/// (name, m, k, n, A transposed, B transposed): C[m×n] = A[m×k]·B[k×n].
const SHAPES: [(&str, usize, usize, usize, bool, bool); 4] = [
    ("X·W1", 128, 784, 128, false, false),
    ("Xt·d1", 784, 128, 128, true, false),
    ("H·W2", 128, 128, 10, false, false),
    ("d2·W2t", 128, 10, 128, false, true),
];

fn data(len: usize, seed: f32) -> Vec<f32> {
    (0..len).map(|i| (i as f32 * 0.37 + seed).sin()).collect()
}

fn with_mm(threads: usize, a: &[f32], b: &[f32], c: &mut [f32], s: (&str, usize, usize, usize, bool, bool)) {
    let (_, m, k, n, at, bt) = s;
    let ma = if at { Mat::transposed(a, m, k) } else { Mat::new(a, m, k) };
    let mb = if bt { Mat::transposed(b, k, n) } else { Mat::new(b, k, n) };
    matmul_on(threads, ma, mb, 0.0, c);
}

fn with_gemm(
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    s: (&str, usize, usize, usize, bool, bool),
    par: Parallelism,
) {
    let (_, m, k, n, at, bt) = s;
    assert!(a.len() == m * k && b.len() == k * n && c.len() == m * n);
    // Row-major strides: (row stride, column stride); a transposed operand swaps them.
    let (a_rs, a_cs) = if at { (1, m as isize) } else { (k as isize, 1) };
    let (b_rs, b_cs) = if bt { (1, k as isize) } else { (n as isize, 1) };
    #[allow(unsafe_code)]
    // SAFETY: the strides address exactly the m×k, k×n and m×n elements of the three slices
    // (asserted above), and c does not alias a or b.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            0.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

fn best_of(mut f: impl FnMut(), budget: Duration) -> Duration {
    f();
    let (start, mut best, mut runs) = (Instant::now(), Duration::MAX, 0);
    while runs < 20 || (start.elapsed() < budget && runs < 100_000) {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed());
        runs += 1;
    }
    best
}

fn main() {
    let threads: usize =
        std::env::var("DESCENT_BENCH_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(1);
    let par = if threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None };
    let mut c = Criterion::default().sample_size(20).configure_from_args();
    let mut rows = Vec::new();
    for s in SHAPES {
        let (name, m, k, n, _, _) = s;
        let (a, b, mut out) = (data(m * k, 0.1), data(k * n, 0.7), vec![0.0f32; m * n]);
        let flops = 2 * m * k * n;
        let mut g = c.benchmark_group(format!("gemm_choice/threads={threads}"));
        g.throughput(Throughput::Elements(flops as u64));
        g.bench_with_input(BenchmarkId::new("matrixmultiply", name), &s, |bch, &s| {
            bch.iter(|| with_mm(threads, black_box(&a), black_box(&b), &mut out, s))
        });
        g.bench_with_input(BenchmarkId::new("gemm", name), &s, |bch, &s| {
            bch.iter(|| with_gemm(black_box(&a), black_box(&b), &mut out, s, par))
        });
        g.finish();
        // Both give the same product (up to summation order).
        let mut other = vec![0.0f32; m * n];
        with_mm(threads, &a, &b, &mut out, s);
        with_gemm(&a, &b, &mut other, s, par);
        let worst = out.iter().zip(&other).map(|(x, y)| (x - y).abs() / (1.0 + y.abs())).fold(0.0, f32::max);
        assert!(worst < 1e-4, "{name}: the two products differ by {worst}");
        let budget = Duration::from_millis(500);
        let mm = best_of(|| with_mm(threads, &a, &b, &mut out, s), budget);
        let ge = best_of(|| with_gemm(&a, &b, &mut out, s, par), budget);
        rows.push((name, flops, mm, ge));
    }
    c.final_summary();
    let gf = |flops: usize, d: Duration| flops as f64 / d.as_secs_f64() / 1e9;
    println!(
        "\n{threads} thread(s), best of runs: GFLOP/s, and µs for the four products of one training step\n{:<8} {:>15} {:>8} {:>24}",
        "product", "matrixmultiply", "gemm", "time ratio (mm / gemm)"
    );
    let (mut tm, mut tg) = (Duration::ZERO, Duration::ZERO);
    for (name, flops, mm, ge) in rows {
        println!(
            "{name:<8} {:>15.1} {:>8.1} {:>24.2}",
            gf(flops, mm),
            gf(flops, ge),
            mm.as_secs_f64() / ge.as_secs_f64()
        );
        (tm, tg) = (tm + mm, tg + ge);
    }
    println!(
        "{:<8} {:>13.1}µs {:>6.1}µs {:>24.2}",
        "step",
        tm.as_secs_f64() * 1e6,
        tg.as_secs_f64() * 1e6,
        tm.as_secs_f64() / tg.as_secs_f64()
    );
}
