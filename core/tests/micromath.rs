//! The error the `micromath` feature brings, measured against the same `f32` computation without
//! it (so that only the square root differs, not f32 against f64 rounding): per square-root call,
//! and on a 100-step Adam trajectory. Run with
//! `cargo test -p descent-core --features micromath --test micromath -- --nocapture`; without the
//! feature the same tests check that the error is exactly zero.
//!
//! The square root is the only `f32` transcendental call in descent-core: every other one (the
//! bias corrections β^t, NAdam's 0.96^(tψ), ASGD's and Adafactor's powers, the schedules' cosines,
//! the LR range test's logarithm) is a per-step scalar computed in `f64` with libm, as PyTorch
//! computes them in Python floats, and micromath has no `f64` functions.
//!
//! The bounds asserted here are the documented ones (README, book: "On a microcontroller").

use descent_core::Optimizer;
use descent_core::adam::{Adam, AdamConfig};
use descent_core::optim::ops::Lerp;
use descent_core::real::pow_step;
use descent_core::sqrt::sqrt_f32;

/// Relative error of descent's `f32` square root against the correctly rounded one, over every
/// `f32` in [1, 4). micromath's square root halves the exponent with a bit shift, so its relative
/// error is the same in every pair of binades: this is the exact maximum over all normal inputs.
#[test]
fn sqrt_error_per_call() {
    let (lo, hi) = (1.0f32.to_bits(), 4.0f32.to_bits());
    let (mut max, mut sum, mut max_ulps) = (0.0f64, 0.0f64, 0u32);
    for bits in lo..hi {
        let x = f32::from_bits(bits);
        let (approx, exact) = (sqrt_f32(x), libm::sqrtf(x));
        let rel = (f64::from(approx) - f64::from(exact)).abs() / f64::from(exact);
        max = max.max(rel);
        sum += rel;
        max_ulps = max_ulps.max(approx.to_bits().abs_diff(exact.to_bits()));
    }
    let mean = sum / f64::from(hi - lo);
    println!("sqrt per call: max relative error {max:.4e}, mean {mean:.4e}, max {max_ulps} ulps");
    println!("sqrt(0) = {:e}", sqrt_f32(0.0));
    if cfg!(feature = "micromath") {
        assert!(max < 0.0615 && mean < 0.0205, "max {max}, mean {mean}");
    } else {
        assert_eq!(max_ulps, 0, "without micromath the square root is correctly rounded");
    }
}

const N: usize = 64;
const STEPS: usize = 100;
const LR: f64 = 1e-2;

/// f(x) = Σ aᵢ(xᵢ − cᵢ)²/2: curvatures aᵢ ∈ [1, 2), minima cᵢ ∈ [−1, 1].
fn problem() -> ([f32; N], [f32; N]) {
    (
        core::array::from_fn(|i| 1.0 + i as f32 / N as f32),
        core::array::from_fn(|i| libm::sinf(i as f32 * 0.3)),
    )
}

/// Adam (lr 1e-2, PyTorch's defaults otherwise) in f32 for [`STEPS`] steps from 0, written out
/// in the order of operations of descent's Adam (its scalar reference: PyTorch's single-tensor
/// Adam), with the square root `sqrt`. Returns the parameters after every step.
fn adam_f32_with(sqrt: fn(f32) -> f32) -> Vec<[f32; N]> {
    let (a, c) = problem();
    let (beta1, beta2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    let f = |x: f64| x as f32;
    let exp_avg_weight = Lerp::<f32>::new(1.0 - beta1);
    let (mut p, mut m, mut v) = ([0.0f32; N], [0.0f32; N], [0.0f32; N]);
    let mut out = Vec::with_capacity(STEPS);
    for t in 1..=STEPS as u64 {
        let step_size = LR / (1.0 - pow_step(beta1, t));
        let bc2_sqrt = libm::sqrt(1.0 - pow_step(beta2, t));
        for i in 0..N {
            let g = a[i] * (p[i] - c[i]);
            m[i] = exp_avg_weight.apply(m[i], g);
            v[i] = v[i] * f(beta2) + f(1.0 - beta2) * g * g;
            let denom = sqrt(v[i]) / f(bc2_sqrt) + f(eps);
            p[i] += f(-step_size) * (m[i] / denom);
        }
        out.push(p);
    }
    out
}

/// descent's `Adam<f32, 64>` on the same problem.
fn adam_f32_descent() -> Vec<[f32; N]> {
    let (a, c) = problem();
    let mut opt = Adam::<f32, N>::new(AdamConfig { lr: LR, ..AdamConfig::default() }).unwrap();
    let mut p = [0.0f32; N];
    (0..STEPS)
        .map(|_| {
            let g: [f32; N] = core::array::from_fn(|i| a[i] * (p[i] - c[i]));
            opt.step(&mut p, &g).unwrap();
            p
        })
        .collect()
}

/// The written-out rule with descent's square root is descent's Adam, bit for bit (in either
/// build), so the same rule with the correctly rounded square root is the f32 run without
/// micromath. The deviation between the two is what micromath costs.
#[test]
fn adam_trajectory_error_over_100_steps() {
    let descent = adam_f32_descent();
    let same_rule = adam_f32_with(sqrt_f32);
    assert!(
        descent.iter().flatten().zip(same_rule.iter().flatten()).all(|(x, y)| x.to_bits() == y.to_bits()),
        "the written-out rule is not descent's Adam"
    );
    let exact = adam_f32_with(libm::sqrtf);
    let (_, c) = problem();
    let mut max_dev = 0.0f64;
    for (fast, ex) in descent.iter().zip(&exact) {
        for (x, y) in fast.iter().zip(ex) {
            max_dev = max_dev.max((f64::from(*x) - f64::from(*y)).abs());
        }
    }
    let last = STEPS - 1;
    let final_dev = descent[last]
        .iter()
        .zip(&exact[last])
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs())
        .fold(0.0, f64::max);
    let moved = exact[last].iter().map(|x| f64::from(x.abs())).fold(0.0, f64::max);
    let gap = |p: &[f32; N]| p.iter().zip(&c).map(|(x, ci)| f64::from((x - ci).abs())).fold(0.0, f64::max);
    println!(
        "Adam f32, {STEPS} steps, lr {LR:e}: max |x_micromath − x_f32| = {max_dev:.3e} over the run, \
         {final_dev:.3e} at the end ({:.1} % of the largest parameter {moved:.3}); max |x − c| at \
         the end: {:.3e} with micromath, {:.3e} without",
        100.0 * max_dev / moved,
        gap(&descent[last]),
        gap(&exact[last]),
    );
    if cfg!(feature = "micromath") {
        assert!(max_dev < 2e-2, "{max_dev}");
    } else {
        assert_eq!(max_dev, 0.0);
    }
}
