//! Half-size (bf16/f16) optimizer state: how far a trajectory drifts from f32 state (property
//! tests over random problems and hyperparameters), where f16 stops working, that the same minimum
//! is reached, that stochastic rounding is unbiased, that save/restore resumes exactly, and what
//! the state costs in bytes for every optimizer.
//!
//! The drift bound, in units of the format's unit roundoff u (half an ulp at 1: 2⁻⁸ for bf16,
//! 2⁻¹¹ for f16): over 100 steps on a random quadratic,
//!
//!   max_t |x_half(t) − x_f32(t)|∞ ≤ K · u · Σ_t |x_f32(t) − x_f32(t−1)|∞,   K = 32,
//!
//! i.e. the half-state trajectory stays within 32 u of the distance the f32 one travelled. Every
//! stored value carries a relative error ≤ u (round to nearest; < 2u and unbiased stochastically),
//! and the update direction (m̂/√v̂ for the Adam family, the momentum buffer for SGD) inherits a
//! few u of it each step; K leaves a factor two over the largest ratio measured in 3,000 random
//! cases per optimizer, format and rounding (15.4 u: NAdam, bf16). One exception, Adamax with
//! round-to-nearest, K = 64 (measured 36 u): its u ← max(β2·u, |g| + ε) stops decaying once
//! (1 − β2)·u is below half an ulp (β2·u rounds back to u), which stochastic rounding avoids.
//!
//! Domain: lr in [1e-4, 0.05] (PyTorch's default is 1e-3), β1 in [0, 0.99], β2 in [0.9, 0.9999],
//! ε in [1e-10, 1e-4], weight decay in [0, 0.1], every flag. For f16 the state must stay inside
//! f16's range: β2 ≤ 0.999, ε ≥ 1e-8, and gradients that start at 1.5 or more (x₀ at least 3
//! from the minimum). Outside it f16's second moments underflow (see
//! `f16_second_moments_underflow_where_bf16_ones_do_not`).

mod common;

use common::reduced_state::{Hyper, MnistRun, Problem, cases, hyper};
use descent::adam::{Adam, AdamConfig};
use descent::adamax::AdamaxConfig;
use descent::half_state::{
    AdamBf16, HalfFloat, HalfOptim, Rounding, SplitMix64, bf16, f16, round_stochastic,
};
use descent::nadam::NadamConfig;
use descent::radam::RadamConfig;
use descent::sgd::{SgdConfig, SgdMomentum};
use descent::{Optimizer, UpdateRule};
use proptest::prelude::*;
use std::mem::size_of;

/// Half an ulp at 1 (the unit roundoff of round-to-nearest): 2⁻⁸ for bf16, 2⁻¹¹ for f16.
fn unit<H: HalfFloat>() -> f32 {
    let one = H::round(1.0);
    (H::of_bits(one.bits() + 1).widen() - 1.0) / 2.0
}

/// K of the bound, in units of u.
fn k_units(name: &str, rounding: Rounding) -> f32 {
    if name == "adamax" && rounding == Rounding::Nearest { 64.0 } else { 32.0 }
}

fn problem(f16: bool) -> impl Strategy<Value = Problem> {
    (1..48usize).prop_flat_map(move |n| {
        let v = |lo: f32, hi: f32| proptest::collection::vec(lo..hi, n);
        (v(0.5, 2.0), v(-2.0, 2.0), v(-2.0, 2.0), proptest::collection::vec(any::<bool>(), n)).prop_map(
            move |(a, c, x0, side)| {
                // f16: start 3 to 5 away from the minimum, so the gradients are 1.5 or more.
                let x0 = if f16 {
                    c.iter()
                        .zip(&x0)
                        .zip(&side)
                        .map(|((c, d), s)| c + if *s { 4.0 + d / 2.0 } else { -4.0 - d / 2.0 })
                        .collect()
                } else {
                    x0
                };
                Problem { a, c, x0 }
            },
        )
    })
}

/// (largest distance between the half-state and the f32-state trajectories, path length of the
/// f32 one), both in the ∞-norm.
fn drift_and_path<R: UpdateRule, H: HalfFloat>(cfg: R, p: &Problem, rounding: Rounding) -> (f32, f32) {
    let n = p.a.len();
    let mut hs = vec![H::default(); cfg.state_len(n)];
    let mut half = HalfOptim::with_buffer(cfg.clone(), n, &mut hs, rounding).unwrap();
    common::reduced_state::drift_and_path(cfg, p, &mut half)
}

fn check_drift<H: HalfFloat>(h: &Hyper, p: &Problem, seed: u64) -> Result<(), TestCaseError> {
    for (name, rounding) in cases(seed) {
        let cfg = h.config(name);
        let (drift, path) = with_drift_config!(cfg, |c| drift_and_path::<_, H>(c, p, rounding));
        let bound = k_units(name, rounding) * unit::<H>() * path;
        prop_assert!(
            drift <= bound,
            "{name} {} {rounding:?}: drift {drift:e} > bound {bound:e} ({:.1} u of the path {path:e}), {cfg:?}",
            H::NAME,
            drift / path / unit::<H>()
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(common::config(96))]

    /// bf16 state, every optimizer of [`DRIFT_BOUNDED`], both roundings: the bound of the header.
    #[test]
    fn bf16_state_stays_within_the_stated_bound_of_f32_state(h in hyper(false), p in problem(false), seed in any::<u64>()) {
        check_drift::<bf16>(&h, &p, seed)?;
    }

    /// f16 state, inside f16's range (see the header): the same bound with f16's smaller u.
    #[test]
    fn f16_state_stays_within_the_stated_bound_of_f32_state(h in hyper(true), p in problem(true), seed in any::<u64>()) {
        check_drift::<f16>(&h, &p, seed)?;
    }
}

/// Outside f16's range the bound fails, as the header says: near the minimum, Adam's
/// v = (1 − β2)·g² is below f16's smallest normal number (6.1e-5) at |g| < 0.25 and below its
/// smallest subnormal (6.0e-8) at |g| < 0.008, stored with few bits or as 0. bf16, with f32's
/// exponent range, stays within its bound on the same problem.
#[test]
fn f16_second_moments_underflow_where_bf16_ones_do_not() {
    let n = 16;
    let p =
        Problem { a: vec![1.0; n], c: vec![0.0; n], x0: (0..n).map(|i| 1e-3 * (1.0 + i as f32)).collect() };
    let cfg = AdamConfig::default();
    let (drift_f16, path) = drift_and_path::<_, f16>(cfg, &p, Rounding::Nearest);
    let (drift_bf16, _) = drift_and_path::<_, bf16>(cfg, &p, Rounding::Nearest);
    let (f16_units, bf16_units) = (drift_f16 / path / unit::<f16>(), drift_bf16 / path / unit::<bf16>());
    println!("f16 {f16_units} u, bf16 {bf16_units} u");
    assert!(f16_units > 1000.0, "f16: {f16_units} u");
    assert!(bf16_units <= 32.0, "bf16: {bf16_units} u");
}

/// Adam and momentum SGD with bf16 and f16 state, both roundings, reach the minimum as f32 state
/// does: within 2e-2 of it after 3,000 steps at lr 1e-2 (defaults otherwise; momentum 0.9).
#[test]
fn half_state_reaches_the_same_minimum() {
    let p = Problem::fixed(32);
    let distance = |opt: &mut dyn Optimizer<f32>| p.distance_after(opt, 3000);
    let adam = AdamConfig { lr: 1e-2, ..AdamConfig::default() };
    let sgd = SgdConfig { lr: 1e-2, momentum: 0.9, ..SgdConfig::default() };
    assert!(distance(&mut Adam::<f32, 32>::new(adam).unwrap()) < 2e-2);
    assert!(distance(&mut SgdMomentum::<f32, 32>::new(sgd).unwrap()) < 2e-2);
    for rounding in [Rounding::Nearest, Rounding::Stochastic(3)] {
        let runs: [(&str, f32); 4] = [
            ("adam bf16", distance(&mut HalfOptim::<_, bf16, [[bf16; 32]; 2]>::new(adam, rounding).unwrap())),
            ("adam f16", distance(&mut HalfOptim::<_, f16, [[f16; 32]; 2]>::new(adam, rounding).unwrap())),
            ("sgd bf16", distance(&mut HalfOptim::<_, bf16, [[bf16; 32]; 1]>::new(sgd, rounding).unwrap())),
            ("sgd f16", distance(&mut HalfOptim::<_, f16, [[f16; 32]; 1]>::new(sgd, rounding).unwrap())),
        ];
        for (name, d) in runs {
            assert!(d < 2e-2, "{name} {rounding:?}: {d}");
        }
    }
}

#[test]
fn stochastic_rounding_is_unbiased() {
    let mut rng = SplitMix64(42);
    for &x in &[1.0f32 + 1.0 / 300.0, -3.1, 1e-3, 123.456, 7e-6] {
        let draws = 20_000;
        let mean_bf: f64 =
            (0..draws).map(|_| f64::from(round_stochastic::<bf16>(x, &mut rng).widen())).sum::<f64>()
                / draws as f64;
        let mean_f16: f64 =
            (0..draws).map(|_| f64::from(round_stochastic::<f16>(x, &mut rng).widen())).sum::<f64>()
                / draws as f64;
        // The spacing between neighbours bounds the per-draw deviation; 5σ of the mean.
        let ulp_bf = f64::from(x.abs()) * 2f64.powi(-7);
        assert!(
            (mean_bf - f64::from(x)).abs() <= 5.0 * ulp_bf / (draws as f64).sqrt(),
            "bf16 {x}: {mean_bf}"
        );
        let ulp_f16 = f64::from(x.abs()).max(6.1e-5) * 2f64.powi(-10);
        assert!(
            (mean_f16 - f64::from(x)).abs() <= 5.0 * ulp_f16 / (draws as f64).sqrt(),
            "f16 {x}: {mean_f16}"
        );
        // Every draw is one of the two neighbours.
        let near = bf16::from_f32(x).to_f32();
        let d = round_stochastic::<bf16>(x, &mut rng).widen();
        assert!((d - x).abs() <= (near - x).abs() + ulp_bf as f32 * 1.01);
    }
}

#[test]
fn half_state_resumes_bit_identically() {
    const N: usize = 32;
    let cfg = AdamConfig { lr: 1e-2, ..Default::default() };
    let mut a = AdamBf16::<N>::new(cfg, Rounding::Stochastic(9)).unwrap();
    let p = Problem::fixed(N);
    let mut x = p.x0.clone();
    let grad = |x: &[f32]| p.gradient(x);
    for _ in 0..10 {
        let g = grad(&x);
        a.step(&mut x, &g).unwrap();
    }
    let mut bytes = vec![0u8; a.saved_len()];
    a.save(&mut bytes).unwrap();
    let mut b = AdamBf16::<N>::new(cfg, Rounding::Nearest).unwrap();
    b.restore(&bytes).unwrap();
    let mut y = x.clone();
    for _ in 0..10 {
        let (g1, g2) = (grad(&x), grad(&y));
        a.step(&mut x, &g1).unwrap();
        b.step(&mut y, &g2).unwrap();
    }
    assert_eq!(x, y);
    bytes[40] ^= 4;
    assert!(b.restore(&bytes).is_err());
}

/// Bytes an owned half-state optimizer spends per parameter: size(N = 64) − size(N = 0), over 64.
fn half_bytes_per_param<R: UpdateRule, H: HalfFloat, const K: usize>(cfg: R) -> usize {
    // The documented stream count K is what the rule needs (construction refuses fewer).
    assert_eq!(cfg.state_len(1), K, "{}", R::NAME);
    assert!(HalfOptim::<R, H, [[H; 64]; K]>::new(cfg.clone(), Rounding::Nearest).is_ok());
    (size_of::<HalfOptim<R, H, [[H; 64]; K]>>() - size_of::<HalfOptim<R, H, [[H; 0]; K]>>()) / 64
}

/// The README's and the book's table: bf16 and f16 state take 2 bytes per state value, half of
/// f32's, for every optimizer but Adafactor, NovoGrad and SM3 (not elementwise: refused) and Adan
/// (four streams: refused).
#[test]
fn half_state_costs_the_documented_bytes_per_parameter() {
    use descent::adadelta::AdadeltaConfig;
    use descent::adagrad::AdagradConfig;
    use descent::asgd::AsgdConfig;
    use descent::lion::LionConfig;
    use descent::rmsprop::RmspropConfig;
    use descent::rprop::RpropConfig;
    fn both<R: UpdateRule, const K: usize>(cfg: R) -> usize {
        let b = half_bytes_per_param::<R, bf16, K>(cfg.clone());
        assert_eq!(b, half_bytes_per_param::<R, f16, K>(cfg));
        b
    }
    let momentum = SgdConfig { momentum: 0.9, ..SgdConfig::default() };
    assert_eq!(both::<_, 1>(momentum), 2);
    assert_eq!(both::<_, 2>(AdamConfig::default()), 4);
    assert_eq!(both::<_, 2>(AdamConfig::adamw()), 4);
    assert_eq!(both::<_, 3>(AdamConfig { amsgrad: true, ..AdamConfig::default() }), 6);
    assert_eq!(both::<_, 1>(AdagradConfig::default()), 2);
    assert_eq!(both::<_, 1>(RmspropConfig::default()), 2);
    assert_eq!(both::<_, 3>(RmspropConfig { centered: true, momentum: 0.9, ..RmspropConfig::default() }), 6);
    assert_eq!(both::<_, 2>(AdamaxConfig::default()), 4);
    assert_eq!(both::<_, 2>(NadamConfig::default()), 4);
    assert_eq!(both::<_, 2>(RadamConfig::default()), 4);
    assert_eq!(both::<_, 2>(AdadeltaConfig::default()), 4);
    assert_eq!(both::<_, 1>(AsgdConfig::default()), 2);
    assert_eq!(both::<_, 2>(RpropConfig::default()), 4);
    assert_eq!(both::<_, 1>(LionConfig::default()), 2);
    assert_eq!(both::<_, 2>(descent::yogi::YogiConfig::default()), 4);
    assert_eq!(both::<_, 2>(descent::adabelief::AdabeliefConfig::default()), 4);
    assert_eq!(both::<_, 2>(descent::adopt::AdoptConfig::default()), 4);
    assert_eq!(both::<_, 3>(descent::ademamix::AdemamixConfig::default()), 6);
    assert_eq!(both::<_, 1>(descent::schedule_free::ScheduleFreeSgdConfig::default()), 2);
    assert_eq!(both::<_, 2>(descent::schedule_free::ScheduleFreeAdamwConfig::default()), 4);
    // Plain SGD has no state.
    assert_eq!(both::<_, 0>(SgdConfig::default()), 0);
    assert!(
        HalfOptim::<descent::adafactor::AdafactorConfig, bf16, [[bf16; 4]; 1]>::new(
            Default::default(),
            Rounding::Nearest
        )
        .is_err()
    );
    let refused = HalfOptim::<descent::sm3::Sm3Config, bf16, [[bf16; 4]; 2]>::new(
        Default::default(),
        Rounding::Nearest,
    );
    assert!(refused.is_err());
    // Adan keeps four streams; half state takes at most three.
    let adan = HalfOptim::<descent::adan::AdanConfig, bf16, [[bf16; 4]; 4]>::new(
        Default::default(),
        Rounding::Nearest,
    );
    assert!(adan.is_err());
}

/// The cost of half-size state on a real training run, for the book: the MNIST MLP of
/// `descent train` with Adam lr 1e-3 ([`MnistRun`]).
/// Measured (x86-64, AVX2): f32 state 92.60 %; bf16 92.70 % (nearest), 92.85 % (stochastic);
/// f16 74.90 % (nearest), 77.30 % (stochastic). Takes seconds even optimized, so it is ignored by
/// default: `cargo test --release --test half_state -- --ignored`.
#[test]
#[ignore]
fn mnist_accuracy_with_half_state() {
    let run = MnistRun::load();
    let n = run.num_params();
    let cfg = AdamConfig::default();
    let full = run.accuracy_with_f32_state(cfg);
    let mut results = vec![];
    for rounding in [Rounding::Nearest, Rounding::Stochastic(1)] {
        let mut sb = vec![bf16::default(); 2 * n];
        let mut sh = vec![f16::default(); 2 * n];
        let b = run.accuracy(&mut HalfOptim::with_buffer(cfg, n, &mut sb, rounding).unwrap());
        let h = run.accuracy(&mut HalfOptim::with_buffer(cfg, n, &mut sh, rounding).unwrap());
        println!("f32 {full:.2} %, bf16 {b:.2} %, f16 {h:.2} % ({rounding:?})");
        results.push((b, h));
    }
    for (b, h) in results {
        assert!((b - full).abs() <= 0.5, "bf16 {b} vs f32 {full}");
        assert!(h < full - 10.0, "f16 {h} vs f32 {full}");
    }
}

/// Adam's one-pass update of bf16 and f16 state (each element decoded, updated and rounded in one
/// pass) gives the bits of the block-by-block update, for Adam, AdamW, maximize and L2 decay,
/// over a size that is not a multiple of the block.
#[test]
fn one_pass_half_state_is_the_block_path_bit_for_bit() {
    fn check<H: HalfFloat>(cfg: AdamConfig) {
        const N: usize = 150;
        let mut one = HalfOptim::<AdamConfig, H, [[H; N]; 2]>::new(cfg, Rounding::Nearest).unwrap();
        let mut blocks = one.clone();
        let (mut p1, mut p2) = ([0.5f32; N], [0.5f32; N]);
        let mut x = 0x9e37_79b9u32;
        for _ in 0..60 {
            let g: Vec<f32> = (0..N)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (x >> 8) as f32 / (1u32 << 23) as f32 - 1.0
                })
                .collect();
            one.step(&mut p1, &g).unwrap();
            blocks.step_by_blocks(&mut p2, &g).unwrap();
        }
        assert_eq!(p1.map(f32::to_bits), p2.map(f32::to_bits), "{cfg:?}");
        let (mut s1, mut s2) = ([0.0f32; 2 * N], [0.0f32; 2 * N]);
        one.state_f32(&mut s1);
        blocks.state_f32(&mut s2);
        assert_eq!(s1.map(f32::to_bits), s2.map(f32::to_bits), "{cfg:?}");
    }
    for cfg in [
        AdamConfig { lr: 0.01, ..AdamConfig::default() },
        AdamConfig { lr: 0.01, ..AdamConfig::adamw() },
        AdamConfig { lr: 0.01, maximize: true, weight_decay: 0.1, ..AdamConfig::default() },
    ] {
        check::<bf16>(cfg);
        check::<f16>(cfg);
    }
}

/// The elementwise optax rules of the zoo with at most three streams (Yogi, AdaBelief, ADOPT,
/// AdEMAMix) with bf16
/// state, both roundings, reach the minimum as their f32 state does: within 2e-2 of it after
/// 3,000 steps at lr 1e-2 (defaults otherwise; AdEMAMix with β3 = 0.99).
#[test]
fn optax_rules_with_bf16_state_reach_the_same_minimum() {
    use descent::half_state::HalfView;
    use descent::{adabelief, ademamix, adopt, yogi};
    fn distances<R: UpdateRule>(cfg: R) -> [f32; 2] {
        const N: usize = 32;
        let p = Problem::fixed(N);
        let half = |rounding| {
            let mut s = vec![bf16::default(); cfg.state_len(N)];
            let mut opt = HalfView::<R, bf16>::with_buffer(cfg.clone(), N, &mut s, rounding).unwrap();
            p.distance_after(&mut opt, 3000)
        };
        [half(Rounding::Nearest), half(Rounding::Stochastic(5))]
    }
    let lr = 1e-2;
    let all = [
        ("yogi", distances(yogi::YogiConfig { lr, ..Default::default() })),
        ("adabelief", distances(adabelief::AdabeliefConfig { lr, ..Default::default() })),
        ("adopt", distances(adopt::AdoptConfig { lr, ..Default::default() })),
        ("ademamix", distances(ademamix::AdemamixConfig { lr, b3: 0.99, ..Default::default() })),
    ];
    for (name, [nearest, stochastic]) in all {
        println!("{name}: bf16 nearest {nearest:e}, stochastic {stochastic:e}");
        assert!(nearest < 2e-2 && stochastic < 2e-2, "{name}: {nearest:e}, {stochastic:e}");
    }
}

/// Sophia with bf16 and f16 state, both roundings, fed the exact Hessian diagonal every 10 steps
/// (its h stored in half precision too), reaches the minimum as with f32 state: within 2e-2
/// after 3,000 steps at lr 1e-2 without decay.
#[test]
fn sophia_with_half_state_reaches_the_same_minimum() {
    use descent::half_state::HalfView;
    use descent::sophia::SophiaConfig;
    const N: usize = 32;
    let p = Problem::fixed(N);
    let cfg = SophiaConfig { lr: 1e-2, weight_decay: 0.0, ..SophiaConfig::default() };
    let mut s = vec![0.0f32; cfg.state_len(N)];
    let f32_state =
        p.distance_with_hessians(&mut descent::Optim::with_buffer(cfg, N, &mut s).unwrap(), 3000, 10);
    fn half<H: descent::half_state::HalfFloat>(cfg: SophiaConfig, p: &Problem, rounding: Rounding) -> f32 {
        let mut s = vec![H::default(); cfg.state_len(N)];
        let mut opt = HalfView::<SophiaConfig, H>::with_buffer(cfg, N, &mut s, rounding).unwrap();
        p.distance_with_hessians(&mut opt, 3000, 10)
    }
    let all = [
        f32_state,
        half::<bf16>(cfg, &p, Rounding::Nearest),
        half::<bf16>(cfg, &p, Rounding::Stochastic(5)),
        half::<f16>(cfg, &p, Rounding::Nearest),
        half::<f16>(cfg, &p, Rounding::Stochastic(5)),
    ];
    println!("sophia: f32, bf16 nearest/stochastic, f16 nearest/stochastic: {all:?}");
    assert!(all.iter().all(|&d| d < 2e-2), "{all:?}");
    // A refused estimate changes nothing, in half state too.
    let mut s = vec![bf16::default(); cfg.state_len(N)];
    let mut opt = HalfView::<SophiaConfig, bf16>::with_buffer(cfg, N, &mut s, Rounding::Nearest).unwrap();
    opt.update_hessian(&p.a).unwrap();
    let mut before = vec![0.0f32; cfg.state_len(N)];
    opt.state_f32(&mut before);
    assert!(opt.update_hessian(&p.a[1..]).is_err());
    let mut after = vec![0.0f32; cfg.state_len(N)];
    opt.state_f32(&mut after);
    assert_eq!(before, after);
    assert!(after[N..].iter().zip(&p.a).all(|(h, a)| (h - 0.01 * a).abs() <= 0.01 * 0.01 * a));
}
