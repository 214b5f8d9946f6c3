//! Identities between optimizers and between forms of one optimizer, checked bit for bit where
//! the order of operations is the same: maximize, AdamW(0) = Adam, the weight decay forms (L2 and
//! decoupled), SGD's first momentum step, Adam's step bound, zero gradients; and f32 following f64
//! within a stated bound, for every optimizer over random hyperparameters and data.

mod common;

use common::{AnyConfig, any_config, shaped, values};
use descent::adam::{Adam, AdamAmsgrad, AdamConfig, AdamView};
use descent::sgd::{SgdConfig, SgdMomentum};
use descent::{Optim, Optimizer, Real, UpdateRule};
use proptest::prelude::*;

fn run<R: UpdateRule, F: Real>(cfg: R, p0: &[f64], grads: &[Vec<f64>], negate: bool) -> Vec<F> {
    let n = p0.len();
    let mut s = vec![F::ZERO; cfg.buffer_len(n)];
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

/// `cfg` with `maximize` set to `on`, for the optimizers that have it (PyTorch's and Lion).
fn maximizing(cfg: AnyConfig, on: bool) -> AnyConfig {
    macro_rules! set {
        ($($v:ident),*) => {
            match cfg {
                $(AnyConfig::$v(mut c) => {
                    c.maximize = on;
                    AnyConfig::$v(c)
                })*
                other => other,
            }
        };
    }
    set!(Sgd, Adam, Adagrad, Rmsprop, Adamax, Nadam, Radam, Adadelta, Asgd, Rprop, Adafactor, Lion)
}

/// `maximize = true` on g gives the same bits as `maximize = false` on −g (negation is exact).
fn maximize_case(cfg: AnyConfig, seed: u64) -> Result<(), TestCaseError> {
    let (p0, grads) = data(seed, 37, 5);
    let (max, min) = (maximizing(cfg, true), maximizing(cfg, false));
    prop_assert_eq!(
        with_config!(max, |c| bits(&run::<_, f32>(c, &p0, &grads, false))),
        with_config!(min, |c| bits(&run::<_, f32>(c, &p0, &grads, true)))
    );
    prop_assert_eq!(
        with_config!(max, |c| bits(&run::<_, f64>(c, &p0, &grads, false))),
        with_config!(min, |c| bits(&run::<_, f64>(c, &p0, &grads, true)))
    );
    Ok(())
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

    /// AdamW with weight_decay = 0 is Adam, bit for bit, in f32 and f64.
    #[test]
    fn adamw_without_decay_equals_adam(lr in 1e-4..0.1f64, b1 in 0.0..0.99f64, b2 in 0.5..0.9999f64, amsgrad: bool, seed: u64) {
        let (p0, grads) = data(seed, 29, 6);
        let adam = AdamConfig { lr, betas: (b1, b2), amsgrad, ..AdamConfig::default() };
        let adamw = AdamConfig { weight_decay: 0.0, ..AdamConfig { lr, betas: (b1, b2), amsgrad, ..AdamConfig::adamw() } };
        prop_assert!(adamw.decoupled_weight_decay);
        prop_assert_eq!(bits(&run::<_, f32>(adam, &p0, &grads, false)), bits(&run::<_, f32>(adamw, &p0, &grads, false)));
        prop_assert_eq!(bits(&run::<_, f64>(adam, &p0, &grads, false)), bits(&run::<_, f64>(adamw, &p0, &grads, false)));
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

/// Runs `with` (weight decay λ) and `without` (λ = 0) side by side for every gradient in
/// `grads` and checks they give the same bits after each step, where `without` either steps on
/// the folded gradient g + λθ (L2 decay, PyTorch's `grad.add(param, alpha=weight_decay)`) or,
/// with `shrink` = 1 − γλ, has θ ← θ·(1 − γλ) applied first (decoupled decay).
fn decay_matches<R: UpdateRule, F: Real>(
    with: R,
    without: R,
    lam: f64,
    shrink: Option<f64>,
    p0: &[f64],
    grads: &[Vec<f64>],
) -> Result<(), TestCaseError> {
    let n = p0.len();
    let (mut sa, mut sb) = (vec![F::ZERO; with.state_len(n)], vec![F::ZERO; without.state_len(n)]);
    let mut a = Optim::with_buffer(with, n, &mut sa).unwrap();
    let mut b = Optim::with_buffer(without, n, &mut sb).unwrap();
    let mut pa: Vec<F> = p0.iter().map(|&x| F::from_f64(x)).collect();
    let mut pb = pa.clone();
    for (k, g) in grads.iter().enumerate() {
        let g: Vec<F> = g.iter().map(|&x| F::from_f64(x)).collect();
        a.step(&mut pa, &g).unwrap();
        match shrink {
            Some(s) => {
                pb.iter_mut().for_each(|p| *p = *p * F::from_f64(s));
                b.step(&mut pb, &g).unwrap();
            }
            None => {
                let folded: Vec<F> = g.iter().zip(&pb).map(|(&g, &p)| g + F::from_f64(lam) * p).collect();
                b.step(&mut pb, &folded).unwrap();
            }
        }
        prop_assert_eq!(bits(&pa), bits(&pb), "{} {}, step {}", R::NAME, F::NAME, k + 1);
    }
    Ok(())
}

/// Weight decay of `cfg` at λ equals its L2 form (or, where `decoupled_weight_decay` is set, its
/// decoupled form), over several steps, in f32 and f64.
fn decay_case(cfg: AnyConfig, lam: f64, seed: u64) -> Result<(), TestCaseError> {
    let (p0, grads) = data(seed, 23, 6);
    macro_rules! go {
        ($c:expr, $decoupled:expr) => {{
            let mut with = $c;
            (with.maximize, with.weight_decay) = (false, lam);
            let mut without = with;
            without.weight_decay = 0.0;
            let shrink = $decoupled.then(|| 1.0 - with.lr * lam);
            decay_matches::<_, f32>(with, without, lam, shrink, &p0, &grads)?;
            decay_matches::<_, f64>(with, without, lam, shrink, &p0, &grads)
        }};
    }
    match cfg {
        AnyConfig::Sgd(c) => go!(c, false),
        AnyConfig::Adagrad(c) => go!(c, false),
        AnyConfig::Rmsprop(c) => go!(c, false),
        AnyConfig::Adam(c) => go!(c, c.decoupled_weight_decay),
        AnyConfig::Nadam(c) => go!(c, c.decoupled_weight_decay),
        AnyConfig::Radam(c) => go!(c, c.decoupled_weight_decay),
        other => panic!("no weight decay form test for {other:?}"),
    }
}

macro_rules! decay_tests {
    ($($test:ident => $name:literal),* $(,)?) => {$(
        proptest! {
            #![proptest_config(common::config(32))]
            #[test]
            fn $test(cfg in any_config($name), lam in 1e-4..0.5f64, seed in any::<u64>()) {
                decay_case(cfg, lam, seed)?;
            }
        }
    )*};
}

// NAdam's, RAdam's and Adam's configurations draw `decoupled_weight_decay` at random (AdamW's is
// always set), so both forms are covered.
decay_tests! {
    sgd_weight_decay_is_l2 => "sgd",
    adagrad_weight_decay_is_l2 => "adagrad",
    rmsprop_weight_decay_is_l2 => "rmsprop",
    adam_weight_decay_is_l2 => "adam",
    adamw_weight_decay_is_decoupled => "adamw",
    nadam_weight_decay_is_l2_or_decoupled => "nadam",
    radam_weight_decay_is_l2_or_decoupled => "radam",
}

/// The parameters after every step, widened to f64.
fn trajectory<R: UpdateRule, F: Real>(cfg: R, p0: &[f64], grads: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = p0.len();
    let mut s = vec![F::ZERO; cfg.buffer_len(n)];
    let mut opt = Optim::with_buffer(cfg, n, &mut s).unwrap();
    let mut p: Vec<F> = p0.iter().map(|&x| F::from_f64(x)).collect();
    grads
        .iter()
        .map(|g| {
            let g: Vec<F> = g.iter().map(|&x| F::from_f64(x)).collect();
            opt.step(&mut p, &g).unwrap();
            p.iter().map(|x| x.as_f64()).collect()
        })
        .collect()
}

/// The bound of [`f32_follows_f64`]'s tests, in units of ε₃₂ (measured worst over 256 random
/// configurations per optimizer: 3.4, centered RMSprop; 2.1, AdamW; ≤ 2 for the others).
const F32_FOLLOWS_F64_K: f64 = 8.0;

/// f32 follows f64: over 100 steps of the same gradients (random data, so no feedback through
/// the loss can amplify a difference), every parameter satisfies
///
/// |x₃₂,t − x₆₄,t| ≤ K·ε₃₂·(|x₀| + Σ_{s≤t} (s·|Δx_s| + |x_s|)),  K = 8,
///
/// with x, Δx from the f64 run. Rounding x₀ to f32 costs ε/2·|x₀|; writing x_s = x_{s−1} + Δx_s
/// costs ε·|x_s|; the state (moments, accumulators, step sizes) is a contraction or a sum that
/// gains a few roundings per step, so the update at step s carries a relative error of O(s·ε).
fn f32_follows_f64(cfg: AnyConfig, seed: u64) -> Result<(), TestCaseError> {
    const N: usize = 16;
    const STEPS: usize = 100;
    let cfg = shaped(cfg, N, (seed % 3) as u8);
    let p0 = values(seed, N, 1.0);
    let grads: Vec<Vec<f64>> = (0..STEPS).map(|k| values(seed ^ (k as u64 + 1) << 20, N, 1.0)).collect();
    let (a, b) =
        with_config!(cfg, |c| (trajectory::<_, f32>(c, &p0, &grads), trajectory::<_, f64>(c, &p0, &grads)));
    for i in 0..N {
        let (mut budget, mut prev) = (p0[i].abs(), p0[i]);
        for t in 0..STEPS {
            let (x32, x64) = (a[t][i], b[t][i]);
            budget += (t + 1) as f64 * (x64 - prev).abs() + x64.abs();
            prev = x64;
            let bound = F32_FOLLOWS_F64_K * f32::EPSILON as f64 * budget;
            prop_assert!(
                (x32 - x64).abs() <= bound || (x32.is_nan() && x64.is_nan()),
                "{cfg:?}: step {}, parameter {i}: f32 {x32:e}, f64 {x64:e}, bound {bound:e}",
                t + 1
            );
        }
    }
    Ok(())
}

/// Centered RMSprop subtracts ḡ² from v, which cancels when α is small (with α = 0 it is exactly
/// 0): there f32 cannot follow f64 (measured 1.9e5× the bound at α = 0.009), so its α is drawn
/// from [0.9, 1) (PyTorch's default is 0.99).
fn well_conditioned(cfg: AnyConfig) -> AnyConfig {
    match cfg {
        AnyConfig::Rmsprop(mut c) if c.centered => {
            c.alpha = 0.9 + 0.1 * c.alpha;
            AnyConfig::Rmsprop(c)
        }
        other => other,
    }
}

macro_rules! f32_follows_f64_tests {
    ($($test:ident => $name:literal),* $(,)?) => {$(
        proptest! {
            #![proptest_config(common::config(48))]
            #[test]
            fn $test(cfg in any_config($name).prop_map(well_conditioned), seed in any::<u64>()) {
                f32_follows_f64(cfg, seed)?;
            }
        }
    )*};
}

f32_follows_f64_tests! {
    sgd_f32_follows_f64 => "sgd",
    adam_f32_follows_f64 => "adam",
    adamw_f32_follows_f64 => "adamw",
    adagrad_f32_follows_f64 => "adagrad",
    rmsprop_f32_follows_f64 => "rmsprop",
    adamax_f32_follows_f64 => "adamax",
    nadam_f32_follows_f64 => "nadam",
    radam_f32_follows_f64 => "radam",
    adadelta_f32_follows_f64 => "adadelta",
    asgd_f32_follows_f64 => "asgd",
    rprop_f32_follows_f64 => "rprop",
    adafactor_f32_follows_f64 => "adafactor",
    lion_f32_follows_f64 => "lion",
}

/// The configuration without any decay of θ: weight_decay 0, and ASGD's λ (`lambd`, its
/// θ ← θ(1 − λη) term) 0. Rprop has neither.
fn without_decay(cfg: AnyConfig) -> AnyConfig {
    macro_rules! no_decay {
        ($($v:ident),*) => {
            match cfg {
                $(AnyConfig::$v(mut c) => {
                    c.weight_decay = 0.0;
                    AnyConfig::$v(c)
                })*
                AnyConfig::Asgd(mut c) => {
                    (c.weight_decay, c.lambd) = (0.0, 0.0);
                    AnyConfig::Asgd(c)
                }
                AnyConfig::Rprop(c) => AnyConfig::Rprop(c),
                AnyConfig::Yogi(c) => AnyConfig::Yogi(c),
                AnyConfig::Adabelief(c) => AnyConfig::Adabelief(c),
                AnyConfig::Adopt(c) => AnyConfig::Adopt(c),
                AnyConfig::Sm3(c) => AnyConfig::Sm3(c),
                AnyConfig::ScheduleFreeSgd(mut c) => {
                    c.weight_decay = None;
                    AnyConfig::ScheduleFreeSgd(c)
                }
            }
        };
    }
    no_decay!(
        Sgd,
        Adam,
        Adagrad,
        Rmsprop,
        Adamax,
        Nadam,
        Radam,
        Adadelta,
        Adafactor,
        Lion,
        Muon,
        Lamb,
        Lars,
        Ademamix,
        Adan,
        Novograd,
        Prodigy,
        DadaptAdamw,
        ScheduleFreeAdamw,
        Sophia
    )
}

/// Zero gradients leave parameters where they are, for every optimizer (its defaults, with the
/// decay of θ turned off: Lion's and AdamW's default weight decay, ASGD's λ), in f32 and f64.
/// Yogi is the exception: its first moment starts at 1e-6 (optax's), so it moves on its own; so
/// are Prodigy and D-Adaptation, whose estimate divides by Σ|s| = 0: 0/0, NaN, as optax's
/// (`whole_set_rules_turn_nan_on_zero_gradients_as_optax`).
/// Yogi is the exception: its first moment starts at 1e-6 (optax's), so it moves on its own.
/// Schedule-free SGD and AdamW stay within rounding: they recompute the average x = (y − (1 −
/// β1)·z)/β1 and y from it every step, which rounds even when z = y does not move.
#[test]
fn zero_gradients_leave_parameters_unchanged() {
    let moves = ["yogi", "prodigy", "dadapt_adamw"];
    for name in common::ALL.into_iter().filter(|n| !moves.contains(n)) {
        let cfg = without_decay(shaped(AnyConfig::default_for(name, 9), 9, 1));
        let p0 = values(3, 9, 1.0);
        let zeros = vec![vec![0.0; 9]; 4];
        let p32 = with_config!(cfg, |c| run::<_, f32>(c, &p0, &zeros, false));
        let p64 = with_config!(cfg, |c| run::<_, f64>(c, &p0, &zeros, false));
        let p0_32: Vec<f32> = p0.iter().map(|&x| x as f32).collect();
        if name.starts_with("schedule_free") {
            let near = |a: f64, b: f64, rel: f64| (a - b).abs() <= rel * b.abs();
            assert!(p32.iter().zip(&p0_32).all(|(&a, &b)| near(a.into(), b.into(), 1e-6)), "{name} f32");
            assert!(p64.iter().zip(&p0).all(|(&a, &b)| near(a, b, 1e-14)), "{name} f64");
            continue;
        }
        assert_eq!(bits(&p32), bits(&p0_32), "{name} f32");
        assert_eq!(bits(&p64), bits(&p0), "{name} f64");
    }
}

/// Prodigy and D-Adaptation with every gradient zero: the estimate is 0/0 (`jnp.maximum` spreads
/// the NaN), and the parameters are NaN after two steps, as optax 0.2.8's (D-Adaptation's first
/// step moves by m = 0 and keeps them).
#[test]
fn whole_set_rules_turn_nan_on_zero_gradients_as_optax() {
    for name in ["prodigy", "dadapt_adamw"] {
        let cfg = AnyConfig::default_for(name, 3);
        let p = with_config!(cfg, |c| run::<_, f64>(c, &[1.0; 3], &[vec![0.0; 3], vec![0.0; 3]], false));
        assert!(p.iter().all(|x| x.is_nan()), "{name}: {p:?}");
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
