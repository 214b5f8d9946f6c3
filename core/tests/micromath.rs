//! The error the `micromath` feature brings, measured: per square-root call, and on a 100-step
//! Adam trajectory, against libm's correctly rounded square root. Run with
//! `cargo test -p descent-core --features micromath --test micromath -- --nocapture`.
//!
//! The bounds asserted here are the documented ones (README, book: "On a microcontroller").
#![cfg(feature = "micromath")]

use descent_core::Optimizer;
use descent_core::adam::{Adam, AdamConfig};

/// Relative error of micromath's sqrt over 1e-12 … 1e12 (log-spaced, 200,001 points).
#[test]
fn sqrt_error_per_call() {
    let (mut max, mut sum, mut n) = (0.0f64, 0.0f64, 0usize);
    for i in 0..=200_000 {
        let x = 10f64.powf(-12.0 + 24.0 * i as f64 / 200_000.0) as f32;
        let approx = descent_core::simd::sqrt_f32(x) as f64;
        let exact = (x as f64).sqrt();
        let rel = (approx - exact).abs() / exact;
        max = max.max(rel);
        sum += rel;
        n += 1;
    }
    println!("micromath sqrt: max relative error {max:.4e}, mean {:.4e}", sum / n as f64);
    assert!(max < 0.065, "max relative error {max}");
}

/// Adam (lr 1e-2, defaults otherwise) for 100 steps on f(x) = Σ aᵢ(xᵢ − cᵢ)²/2 over 64
/// parameters: the trajectory with micromath's sqrt against one with libm's.
#[test]
fn adam_trajectory_error_over_100_steps() {
    const N: usize = 64;
    let cfg = AdamConfig { lr: 1e-2, ..AdamConfig::default() };
    let a: Vec<f32> = (0..N).map(|i| 1.0 + i as f32 / N as f32).collect();
    let c: Vec<f32> = (0..N).map(|i| (i as f32 * 0.3).sin()).collect();
    let mut fast = Adam::<f32, N>::new(cfg).unwrap();
    let mut x_fast = [0.0f32; N];
    // The exact reference: the same rule written out with libm's sqrt.
    let (mut m, mut v, mut x) = ([0.0f64; N], [0.0f64; N], [0.0f64; N]);
    let mut max_dev = 0.0f64;
    for t in 1..=100 {
        let g: Vec<f32> = (0..N).map(|i| a[i] * (x_fast[i] - c[i])).collect();
        fast.step(&mut x_fast, &g).unwrap();
        for i in 0..N {
            let gi = a[i] as f64 * (x[i] - c[i] as f64);
            m[i] = 0.9 * m[i] + 0.1 * gi;
            v[i] = 0.999 * v[i] + 0.001 * gi * gi;
            let mh = m[i] / (1.0 - 0.9f64.powi(t));
            let vh = v[i] / (1.0 - 0.999f64.powi(t));
            x[i] -= 1e-2 * mh / (libm::sqrt(vh) + 1e-8);
            max_dev = max_dev.max((x_fast[i] as f64 - x[i]).abs());
        }
    }
    let moved = c.iter().map(|ci| ci.abs() as f64).fold(0.0, f64::max);
    println!(
        "Adam, 100 steps, lr 1e-2: max |x_micromath − x_exact| = {max_dev:.3e} (parameters move up to {moved:.2})"
    );
    assert!(max_dev < 0.025, "{max_dev}");
}
