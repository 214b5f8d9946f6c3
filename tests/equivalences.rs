//! Identities between optimizers and between forms of one optimizer, checked bit for bit where
//! the order of operations is the same.

mod common;

use common::{AnyConfig, any_config, values};
use descent::adam::{Adam, AdamAmsgrad, AdamConfig, AdamView};
use descent::sgd::{SgdConfig, SgdMomentum};
use descent::{Optim, Optimizer, Real, UpdateRule};
use proptest::prelude::*;

fn run<R: UpdateRule, F: Real>(cfg: R, p0: &[f64], grads: &[Vec<f64>], negate: bool) -> Vec<F> {
    let n = p0.len();
    let mut s = vec![F::ZERO; cfg.state_len(n)];
    let mut opt = Optim::with_buffer(cfg, n, &mut s).unwrap();
    let mut p: Vec<F> = p0.iter().map(|&x| F::from_f64(x)).collect();
    for g in grads {
        let g: Vec<F> = g.iter().map(|&x| F::from_f64(if negate { -x } else { x })).collect();
        opt.step(&mut p, &g).unwrap();
    }
    p
}

fn bits<F: Real>(v: &[F]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits_u64()).collect()
}

fn data(seed: u64, n: usize, steps: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    (values(seed, n, 1.0), (0..steps).map(|k| values(seed + 100 + k as u64, n, 1.0)).collect())
}

/// `maximize = true` on g gives the same bits as `maximize = false` on −g (negation is exact).
fn maximize_case(cfg: AnyConfig, seed: u64) -> Result<(), TestCaseError> {
    let (p0, grads) = data(seed, 37, 5);
    with_config!(cfg, |c| {
        let mut max = c;
        max.maximize = true;
        let mut min = c;
        min.maximize = false;
        prop_assert_eq!(
            bits(&run::<_, f32>(max, &p0, &grads, false)),
            bits(&run::<_, f32>(min, &p0, &grads, true))
        );
        prop_assert_eq!(
            bits(&run::<_, f64>(max, &p0, &grads, false)),
            bits(&run::<_, f64>(min, &p0, &grads, true))
        );
        Ok(())
    })
}

macro_rules! maximize_tests {
    ($($test:ident => $name:literal),* $(,)?) => {$(
        proptest! {
            #![proptest_config(common::config(32))]
            #[test]
            fn $test(cfg in any_config($name), seed in any::<u64>()) {
                maximize_case(cfg, seed)?;
            }
        }
    )*};
}

maximize_tests! {
    sgd_maximize_equals_step_on_negated_gradient => "sgd",
    adam_maximize_equals_step_on_negated_gradient => "adam",
    adamw_maximize_equals_step_on_negated_gradient => "adamw",
    adagrad_maximize_equals_step_on_negated_gradient => "adagrad",
    rmsprop_maximize_equals_step_on_negated_gradient => "rmsprop",
    adamax_maximize_equals_step_on_negated_gradient => "adamax",
    nadam_maximize_equals_step_on_negated_gradient => "nadam",
    radam_maximize_equals_step_on_negated_gradient => "radam",
    adadelta_maximize_equals_step_on_negated_gradient => "adadelta",
    asgd_maximize_equals_step_on_negated_gradient => "asgd",
    rprop_maximize_equals_step_on_negated_gradient => "rprop",
    adafactor_maximize_equals_step_on_negated_gradient => "adafactor",
    lion_maximize_equals_step_on_negated_gradient => "lion",
}

proptest! {
    #![proptest_config(common::config(64))]

    /// AdamW with weight_decay = 0 is Adam.
    #[test]
    fn adamw_without_decay_equals_adam(lr in 1e-4..0.1f64, b1 in 0.0..0.99f64, b2 in 0.5..0.9999f64, amsgrad: bool, seed: u64) {
        let (p0, grads) = data(seed, 29, 6);
        let adam = AdamConfig { lr, betas: (b1, b2), amsgrad, ..AdamConfig::default() };
        let adamw = AdamConfig { weight_decay: 0.0, ..AdamConfig { lr, betas: (b1, b2), amsgrad, ..AdamConfig::adamw() } };
        prop_assert_eq!(bits(&run::<_, f32>(adam, &p0, &grads, false)), bits(&run::<_, f32>(adamw, &p0, &grads, false)));
    }

    /// Adam's L2 weight decay is Adam on the gradient g + λθ (one step from the same state).
    #[test]
    fn adam_l2_decay_is_gradient_plus_decay_times_params(lam in 1e-4..0.5f64, seed: u64) {
        let (p0, grads) = data(seed, 31, 1);
        let with_decay = AdamConfig { weight_decay: lam, ..AdamConfig::default() };
        let folded: Vec<f64> = grads[0].iter().zip(&p0).map(|(g, p)| ((*g as f32) + (lam as f32) * (*p as f32)) as f64).collect();
        prop_assert_eq!(bits(&run::<_, f32>(with_decay, &p0, &grads, false)), bits(&run::<_, f32>(AdamConfig::default(), &p0, &[folded], false)));
    }

    /// AdamW's decoupled decay shrinks θ by (1 − γλ) before the Adam step.
    #[test]
    fn adamw_decay_shrinks_params_before_the_adam_step(lam in 1e-4..0.5f64, lr in 1e-4..0.1f64, seed: u64) {
        let (p0, grads) = data(seed, 31, 1);
        let adamw = AdamConfig { lr, weight_decay: lam, ..AdamConfig::adamw() };
        let shrunk: Vec<f64> = p0.iter().map(|p| ((*p as f32) * ((1.0 - lr * lam) as f32)) as f64).collect();
        prop_assert_eq!(bits(&run::<_, f32>(adamw, &p0, &grads, false)), bits(&run::<_, f32>(AdamConfig { lr, ..AdamConfig::default() }, &shrunk, &grads, false)));
    }

    /// SGD's first momentum step uses b = g (no dampening on step 1), whatever τ is.
    #[test]
    fn sgd_first_momentum_step_uses_the_gradient(mu in 0.01..0.99f64, tau in 0.0..0.9f64, lr in 1e-3..0.5f64, seed: u64) {
        let (p0, grads) = data(seed, 17, 1);
        let with_momentum = SgdConfig { lr, momentum: mu, dampening: tau, ..SgdConfig::default() };
        let plain = SgdConfig { lr, ..SgdConfig::default() };
        prop_assert_eq!(bits(&run::<_, f64>(with_momentum, &p0, &grads, false)), bits(&run::<_, f64>(plain, &p0, &grads, false)));
        let mut opt = SgdMomentum::<f64, 17>::new(with_momentum).unwrap();
        let mut p: [f64; 17] = core::array::from_fn(|i| p0[i]);
        let g: [f64; 17] = core::array::from_fn(|i| grads[0][i]);
        opt.step(&mut p, &g).unwrap();
        prop_assert_eq!(opt.state(), &g[..]);
    }

    /// Adam's step is bounded. With bias correction m̂ = Σ wₖgₖ and v̂ = Σ uₖgₖ² (weights
    /// wₖ = (1−β1)β1ᵏ/(1−β1ᵗ), uₖ = (1−β2)β2ᵏ/(1−β2ᵗ)), Cauchy–Schwarz gives
    /// |Δθ| = γ|m̂|/√v̂ ≤ γ·√(Σ wₖ²/uₖ): the exact form of Kingma & Ba's §2.1 bound.
    #[test]
    fn adam_step_size_is_bounded(lr in 1e-4..0.1f64, b1 in 0.0..0.99f64, b2 in 0.5..0.9999f64, seed: u64, steps in 1usize..20) {
        let (p0, grads) = data(seed, 41, steps);
        let cfg = AdamConfig { lr, betas: (b1, b2), eps: 0.0, ..AdamConfig::default() };
        let mut s = vec![0.0f64; 82];
        let mut opt = Optim::with_buffer(cfg, 41, &mut s).unwrap();
        let mut p = p0.clone();
        for (t, g) in (1..).zip(&grads) {
            let sum: f64 = (0..t).map(|k| {
                let w = (1.0 - b1) * b1.powi(k) / (1.0 - b1.powi(t));
                let u = (1.0 - b2) * b2.powi(k) / (1.0 - b2.powi(t));
                w * w / u
            }).sum();
            let bound = lr * sum.sqrt() * (1.0 + 1e-9) + 1e-15;
            let before = p.clone();
            opt.step(&mut p, g).unwrap();
            for (a, b) in p.iter().zip(&before) {
                // 0/0 where a gradient was 0 from the start gives NaN with eps = 0; skip those.
                if a.is_finite() {
                    prop_assert!((a - b).abs() <= bound, "step {} > bound {}", (a - b).abs(), bound);
                }
            }
        }
    }
}

/// Zero gradients leave parameters where they are (no decay configured).
#[test]
fn zero_gradients_leave_parameters_unchanged() {
    for name in common::ALL {
        let cfg = AnyConfig::default_for(name, 9);
        if name == "lion" || name == "adamw" || name == "asgd" {
            continue; // their defaults decay θ (Lion, AdamW: decoupled; ASGD: λη decay term).
        }
        let p0 = values(3, 9, 1.0);
        let zeros = vec![vec![0.0; 9]; 4];
        let p = with_config!(cfg, |c| run::<_, f64>(c, &p0, &zeros, false));
        assert_eq!(p, p0, "{name}");
    }
}

/// Owned (const-generic) and borrowed state give the same bits.
#[test]
fn owned_and_borrowed_state_agree() {
    let cfg = AdamConfig { amsgrad: true, ..AdamConfig::default() };
    let mut owned = AdamAmsgrad::<f32, 5>::new(cfg).unwrap();
    let mut buf = [0.0f32; 15];
    let mut view = AdamView::with_buffer(cfg, 5, &mut buf).unwrap();
    let (mut a, mut b) = ([1.0f32, -2.0, 0.5, 3.0, 0.0], [1.0f32, -2.0, 0.5, 3.0, 0.0]);
    for k in 0..10 {
        let g = [0.1 * k as f32, -0.3, 0.7, 1e-3, 0.0];
        owned.step(&mut a, &g).unwrap();
        view.step(&mut b, &g).unwrap();
    }
    assert_eq!(a, b);
    assert_eq!(owned.state(), view.state());
    // Adam without amsgrad does not fit amsgrad's state into 2 streams.
    assert!(Adam::<f32, 5>::new(cfg).is_err());
}
