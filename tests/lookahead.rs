//! Lookahead (optax.lookahead) around descent's optimizers: the synchronization as the paper writes
//! it, resume bit for bit from any point of the cycle, refusals that change nothing, `reset_state`,
//! and skipped steps. (Against optax itself: tests/conformance.rs, `optax_lookahead_cases_match`.)

use descent::adam::{Adam, AdamConfig};
use descent::half_state::{AdamBf16, Rounding};
use descent::lookahead::{Lookahead, LookaheadConfig};
use descent::sgd::{Sgd, SgdConfig};
use descent::{Error, NonFinitePolicy, Optimizer, StepOutcome};

const N: usize = 6;

fn config(k: u64, alpha: f64, reset_state: bool) -> LookaheadConfig {
    LookaheadConfig { sync_period: k, slow_step_size: alpha, reset_state }
}

fn grads(t: usize) -> [f64; N] {
    core::array::from_fn(|i| ((i * 7 + t * 3) as f64 * 0.37).sin())
}

/// After k plain SGD steps θ_k = θ_0 − η·Σg; the synchronization puts φ at φ_0 + α(θ_k − φ_0)
/// and restarts θ there; between synchronizations φ does not move.
#[test]
fn k_steps_forward_one_step_back() {
    let (eta, alpha, k) = (0.1, 0.3, 4u64);
    let inner = Sgd::<f64, N>::new(SgdConfig { lr: eta, ..SgdConfig::default() }).unwrap();
    let theta0: [f64; N] = core::array::from_fn(|i| i as f64 - 2.5);
    let mut la = Lookahead::new(inner, config(k, alpha, false), [0.0; N], &theta0).unwrap();
    let mut theta = theta0;
    let mut sum = [0.0; N];
    for t in 0..k as usize {
        assert_eq!(la.slow(), &theta0[..], "φ moves only at a synchronization");
        let g = grads(t);
        sum.iter_mut().zip(&g).for_each(|(s, g)| *s += g);
        la.step(&mut theta, &g).unwrap();
    }
    for i in 0..N {
        let theta_k = theta0[i] - eta * sum[i];
        let phi = theta0[i] + alpha * (theta_k - theta0[i]);
        assert!((la.slow()[i] - phi).abs() < 1e-12, "φ[{i}] {} vs {phi}", la.slow()[i]);
        assert!((theta[i] - phi).abs() < 1e-12, "θ restarts at φ");
    }
    println!("φ after one cycle: {:?}", la.slow());
    assert_eq!(la.steps_since_sync(), 0);
}

/// Saved at every point of the cycle and restored into a fresh wrapper, the run continues with
/// the same bits as the uninterrupted one (fast and slow parameters, inner Adam state).
#[test]
fn resume_is_bit_exact_at_every_point_of_the_cycle() {
    let make = || {
        let inner = Adam::<f32, N>::new(AdamConfig { lr: 0.05, ..AdamConfig::default() }).unwrap();
        Lookahead::new(inner, config(3, 0.5, true), [0.0f32; N], &[0.5; N]).unwrap()
    };
    let g32 = |t: usize| grads(t).map(|x| x as f32);
    let mut reference = make();
    let mut p_ref = [0.5f32; N];
    let mut trace = Vec::new();
    for t in 0..10 {
        reference.step(&mut p_ref, &g32(t)).unwrap();
        trace.push((p_ref, reference.slow().to_vec()));
    }
    for stop in 0..9 {
        let mut a = make();
        let mut p = [0.5f32; N];
        for t in 0..=stop {
            a.step(&mut p, &g32(t)).unwrap();
        }
        let mut bytes = vec![0u8; a.saved_len()];
        assert_eq!(a.save(&mut bytes).unwrap(), bytes.len());
        let mut b = make();
        b.restore(&bytes).unwrap();
        assert_eq!(b.steps_since_sync(), a.steps_since_sync());
        for t in stop + 1..10 {
            b.step(&mut p, &g32(t)).unwrap();
            assert_eq!(p.map(f32::to_bits), trace[t].0.map(f32::to_bits), "stop {stop}, step {t}");
            assert_eq!(b.slow(), &trace[t].1[..], "stop {stop}, step {t}");
        }
    }
}

/// Corrupt, truncated and mismatched bytes are refused and change nothing.
#[test]
fn bad_saved_bytes_change_nothing() {
    let inner = Sgd::<f64, N>::new(SgdConfig { lr: 0.1, ..SgdConfig::default() }).unwrap();
    let mut la = Lookahead::new(inner, config(5, 0.5, false), [0.0; N], &[1.0; N]).unwrap();
    let mut p = [1.0; N];
    la.step(&mut p, &grads(0)).unwrap();
    let mut good = vec![0u8; la.saved_len()];
    la.save(&mut good).unwrap();
    la.step(&mut p, &grads(1)).unwrap();
    let mut before = vec![0u8; la.saved_len()];
    la.save(&mut before).unwrap();
    let mut flipped = good.clone();
    flipped[40] ^= 1;
    let other = {
        let inner = Sgd::<f64, 3>::new(SgdConfig::default()).unwrap();
        let o = Lookahead::new(inner, config(5, 0.5, false), [0.0; 3], &[1.0; 3]).unwrap();
        let mut b = vec![0u8; o.saved_len()];
        o.save(&mut b).unwrap();
        b
    };
    for bad in [&flipped[..], &good[..good.len() - 1], &other[..], &[][..]] {
        assert!(la.restore(bad).is_err());
        let mut now = vec![0u8; la.saved_len()];
        la.save(&mut now).unwrap();
        assert_eq!(now, before);
    }
    let mut small = vec![0u8; la.saved_len() - 1];
    assert!(matches!(la.save(&mut small), Err(Error::BufferTooSmall { .. })));
}

#[test]
fn bad_hyperparameters_are_refused_with_optax_messages() {
    let inner = || Sgd::<f64, N>::new(SgdConfig::default()).unwrap();
    let e = Lookahead::new(inner(), config(0, 0.5, false), [0.0; N], &[0.0; N]).unwrap_err();
    assert_eq!(e.to_string(), "Synchronization period must be >= 1.");
    let e = Lookahead::new(inner(), config(2, f64::NAN, false), [0.0; N], &[0.0; N]).unwrap_err();
    assert!(e.to_string().contains("slow_step_size"), "{e}");
    let e = Lookahead::new(inner(), config(2, 0.5, false), [0.0; N], &[0.0; 3]).unwrap_err();
    assert!(matches!(e, Error::LengthMismatch { .. }), "{e}");
    let e = Lookahead::new(inner(), config(2, 0.5, false), [0.0; 2], &[0.0; N]).unwrap_err();
    assert!(matches!(e, Error::BufferTooSmall { .. }), "{e}");
    // bf16 state cannot start afresh: reset_state is refused up front, not at the first sync.
    let bf16 = AdamBf16::<N>::new(AdamConfig::default(), Rounding::Nearest).unwrap();
    let e = Lookahead::new(bf16, config(2, 0.5, true), [0.0f32; N], &[0.0; N]).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
}

/// With `reset_state`, the inner Adam restarts after each synchronization: its step count is
/// back to 0, so the step after a synchronization is Adam's first step again (|Δθ| = lr·(1 − ε)).
#[test]
fn reset_state_restarts_the_inner_optimizer() {
    let inner = Adam::<f64, N>::new(AdamConfig { lr: 0.01, ..AdamConfig::default() }).unwrap();
    let mut la = Lookahead::new(inner, config(2, 0.5, true), [0.0; N], &[0.0; N]).unwrap();
    let mut p = [0.0; N];
    for t in 0..2 {
        la.step(&mut p, &grads(t)).unwrap();
    }
    assert_eq!(la.inner().steps(), 0);
    let before = p;
    la.step(&mut p, &grads(2)).unwrap();
    for i in 0..N {
        assert!(((p[i] - before[i]).abs() - 0.01).abs() < 1e-8, "{}", p[i] - before[i]);
    }
}

/// A step the inner optimizer skips (non-finite gradient, SkipStep policy) is not a step of the
/// cycle either.
#[test]
fn skipped_steps_do_not_count() {
    let cfg = SgdConfig { lr: 0.1, ..SgdConfig::default() };
    let inner = Sgd::<f64, N>::with_policy(cfg, NonFinitePolicy::SkipStep).unwrap();
    let mut la = Lookahead::new(inner, config(2, 0.5, false), [0.0; N], &[0.0; N]).unwrap();
    let mut p = [0.0; N];
    la.step(&mut p, &grads(0)).unwrap();
    let mut bad = grads(1);
    bad[2] = f64::NAN;
    assert!(matches!(la.step(&mut p, &bad).unwrap(), StepOutcome::Skipped { index: 2 }));
    assert_eq!(la.steps_since_sync(), 1);
}
