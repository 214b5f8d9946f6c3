//! Properties of every learning-rate schedule: bounds, monotonicity where it holds, periodicity
//! of warm restarts, continuity at sequential milestones, the plateau state machine and its
//! persistence, and closed forms against PyTorch's recursive forms.

mod common;

use descent::schedule::{
    AnnealStrategy, AnySchedule, ConstantLr, CosineAnnealingLr, CosineAnnealingWarmRestarts, CyclicLr,
    CyclicMode, ExponentialLr, LinearLr, MultiStepLr, OneCycleLr, PlateauMode, PolynomialLr,
    ReduceLrOnPlateau, Schedule, Sequential, StepLr, ThresholdMode, WarmupCosine,
};
use proptest::prelude::*;

fn non_increasing(s: &impl Schedule, n: u64) -> bool {
    (0..n).all(|t| s.lr_at(t + 1) <= s.lr_at(t) * (1.0 + 1e-12))
}

proptest! {
    #![proptest_config(common::config(128))]

    #[test]
    fn decaying_schedules_stay_in_bounds_and_never_rise(base in 1e-5..1.0f64, gamma in 0.01..1.0f64, step in 1u64..20, ms in prop::collection::vec(1u64..100, 0..8)) {
        let schedules = [
            AnySchedule::Step(StepLr::new(base, step, gamma).unwrap()),
            AnySchedule::MultiStep(MultiStepLr::new(base, &ms, gamma).unwrap()),
            AnySchedule::Exponential(ExponentialLr::new(base, gamma).unwrap()),
            AnySchedule::Polynomial(PolynomialLr::new(base, step, 1.0 + gamma).unwrap()),
        ];
        for s in &schedules {
            prop_assert_eq!(s.lr_at(0), base);
            prop_assert!(non_increasing(s, 200), "{s:?}");
            prop_assert!((0..200).all(|t| s.lr_at(t) >= 0.0 && s.lr_at(t) <= base));
        }
        // Polynomial reaches zero at total_iters and stays there.
        prop_assert_eq!(schedules[3].lr_at(step), 0.0);
        prop_assert_eq!(schedules[3].lr_at(step + 50), 0.0);
        // MultiStep: one factor of γ per milestone passed (repeats count).
        let passed = ms.iter().filter(|&&m| m <= 50).count() as i32;
        prop_assert!((schedules[1].lr_at(50) - base * gamma.powi(passed)).abs() <= 1e-12 * base);
    }

    #[test]
    fn cosine_annealing_falls_to_eta_min_and_is_periodic(base in 1e-4..1.0f64, frac in 0.0..0.5f64, t_max in 1u64..100) {
        let eta_min = base * frac;
        let s = CosineAnnealingLr::new(base, t_max, eta_min).unwrap();
        prop_assert!(non_increasing(&s, t_max));
        prop_assert!((s.lr_at(t_max) - eta_min).abs() <= 1e-12 * base);
        for t in 0..3 * t_max {
            let lr = s.lr_at(t);
            prop_assert!(lr >= eta_min - 1e-12 && lr <= base + 1e-12);
            prop_assert!((lr - s.lr_at(t + 2 * t_max)).abs() <= 1e-12 * base, "period 2·T_max");
        }
    }

    #[test]
    fn warm_restarts_restart_and_repeat(base in 1e-4..1.0f64, t0 in 1u64..20, mult in 1u64..4) {
        let s = CosineAnnealingWarmRestarts::new(base, t0, mult, 0.0).unwrap();
        // Restarts at T_0, T_0 + T_0·m, …: the lr jumps back to base there.
        let mut start = 0;
        let mut len = t0;
        for _ in 0..4 {
            prop_assert_eq!(s.lr_at(start), base);
            prop_assert!(non_increasing(&Window(&s, start), len - 1));
            start += len;
            len *= mult;
        }
        if mult == 1 {
            prop_assert!((0..5 * t0).all(|t| (s.lr_at(t) - s.lr_at(t + t0)).abs() <= 1e-15 * base), "periodic with T_0");
        }
    }

    #[test]
    fn linear_warmup_rises_to_the_end_factor(base in 1e-4..1.0f64, start in 0.01..1.0f64, total in 1u64..50) {
        let s = LinearLr::new(base, start, 1.0, total).unwrap();
        prop_assert!((0..total + 10).all(|t| s.lr_at(t + 1) >= s.lr_at(t) - 1e-15));
        prop_assert!((s.lr_at(total) - base).abs() <= 1e-15 * base);
        prop_assert!((s.lr_at(0) - base * start).abs() <= 1e-15 * base);
        let c = ConstantLr::new(base, start, total).unwrap();
        prop_assert!((c.lr_at(total - 1) - base * start).abs() <= 1e-15 * base && c.lr_at(total) == base);
    }

    #[test]
    fn one_cycle_peaks_at_max_lr_and_cycles_momentum_inversely(max_lr in 1e-3..1.0f64, n in 10u64..200, pct in 0.1..0.5f64, cos in any::<bool>(), three in any::<bool>()) {
        let anneal = if cos { AnnealStrategy::Cos } else { AnnealStrategy::Linear };
        let s = OneCycleLr::new(max_lr, n, pct, anneal, Some((0.85, 0.95)), 25.0, 1e4, three).unwrap();
        prop_assert!((s.lr_at(0) - max_lr / 25.0).abs() <= 1e-12);
        prop_assert!((s.momentum_at(0).unwrap() - 0.95).abs() <= 1e-12);
        let peak = (0..n).map(|t| s.lr_at(t)).fold(0.0, f64::max);
        prop_assert!(peak <= max_lr * (1.0 + 1e-12));
        // The final value is max_lr/(25·1e4) at N − 1.
        prop_assert!((s.lr_at(n - 1) - max_lr / 25.0 / 1e4).abs() <= 1e-12 * max_lr);
        for t in 0..n {
            let (lr, m) = (s.lr_at(t), s.momentum_at(t).unwrap());
            prop_assert!(lr > 0.0 && (0.85 - 1e-12..=0.95 + 1e-12).contains(&m));
        }
    }

    #[test]
    fn cyclic_stays_between_base_and_max(base in 1e-4..1e-2f64, span in 1.0..10.0f64, up in 1u64..10, down in 1u64..10, mode in 0u8..3) {
        let mode = match mode { 0 => CyclicMode::Triangular, 1 => CyclicMode::Triangular2, _ => CyclicMode::ExpRange(0.99) };
        let s = CyclicLr::new(base, base * span, up, Some(down), mode, Some((0.8, 0.9))).unwrap();
        for t in 0..200 {
            let lr = s.lr_at(t);
            prop_assert!(lr >= base - 1e-15 && lr <= base * span * (1.0 + 1e-12));
            let m = s.momentum_at(t).unwrap();
            prop_assert!((0.8 - 1e-12..=0.9 + 1e-12).contains(&m));
        }
        prop_assert!((s.lr_at(up) - base * span).abs() <= 1e-12 * base * span || !matches!(mode, CyclicMode::Triangular));
        if matches!(mode, CyclicMode::Triangular) {
            prop_assert!((0..100).all(|t| (s.lr_at(t) - s.lr_at(t + up + down)).abs() <= 1e-12 * base * span));
        }
    }

    /// Warmup then cosine, as a Sequential of LinearLR and CosineAnnealingLR and as the one closed
    /// form: equal everywhere before the end, and continuous at the milestone.
    #[test]
    fn sequential_joins_continuously_and_equals_warmup_cosine(base in 1e-4..1.0f64, w in 1u64..30, rest in 1u64..100, s0 in 0.01..1.0f64) {
        let seq = Sequential::<4>::new(
            &[AnySchedule::Linear(LinearLr::new(base, s0, 1.0, w).unwrap()), AnySchedule::Cosine(CosineAnnealingLr::new(base, rest, 0.0).unwrap())],
            &[w],
        ).unwrap();
        let one = WarmupCosine::new(base, w, w + rest, s0, 0.0).unwrap();
        for t in 0..w + rest {
            prop_assert!((seq.lr_at(t) - one.lr_at(t)).abs() <= 1e-12 * base, "t={t}");
        }
        // Continuity: the warmup would reach base at w, where the cosine starts at base.
        let warm = LinearLr::new(base, s0, 1.0, w).unwrap();
        prop_assert!((seq.lr_at(w) - warm.lr_at(w)).abs() <= 1e-12 * base);
    }

    #[test]
    fn plateau_never_goes_below_min_lr(lr in 1e-4..1.0f64, factor in 0.0..0.99f64, patience in 0u64..5, min_frac in 0.0..0.5f64, metrics in prop::collection::vec(0.0..2.0f64, 1..60)) {
        let min_lr = lr * min_frac;
        let mut p = ReduceLrOnPlateau::new(lr, PlateauMode::Min, factor, patience, 1e-4, ThresholdMode::Rel, 1, min_lr, 1e-8).unwrap();
        let mut last = lr;
        for m in metrics {
            let now = p.step(m);
            prop_assert!(now >= min_lr - 1e-15 && now <= last);
            last = now;
        }
    }
}

/// A schedule seen from `start` on.
struct Window<'a, S>(&'a S, u64);
impl<S: Schedule> Schedule for Window<'_, S> {
    fn lr_at(&self, t: u64) -> f64 {
        self.0.lr_at(self.1 + t)
    }
}

#[test]
fn plateau_cuts_after_patience_plus_one_bad_epochs_and_resumes_exactly() {
    let mut p =
        ReduceLrOnPlateau::new(1.0, PlateauMode::Min, 0.5, 2, 0.0, ThresholdMode::Abs, 0, 0.0, 1e-8).unwrap();
    assert_eq!(p.step(1.0), 1.0); // best
    assert_eq!(p.step(1.0), 1.0); // bad 1
    assert_eq!(p.step(1.0), 1.0); // bad 2 = patience: no cut yet (Keras would cut here)
    assert_eq!(p.step(1.0), 0.5); // bad 3 > patience: cut
    // Save mid-way, continue both, same lrs.
    let mut bytes = vec![0u8; p.saved_len()];
    p.save(&mut bytes).unwrap();
    let mut q =
        ReduceLrOnPlateau::new(9.0, PlateauMode::Max, 0.1, 0, 0.0, ThresholdMode::Rel, 0, 0.0, 1e-8).unwrap();
    q.restore(&bytes).unwrap();
    for m in [0.9, 1.2, 1.2, 1.2, 0.5, 0.5, 0.7, 0.7, 0.7] {
        assert_eq!(p.step(m).to_bits(), q.step(m).to_bits());
    }
    assert_eq!(p, q);
    bytes[33] ^= 0x10;
    assert!(q.restore(&bytes).is_err());
    assert_eq!(p, q);
    assert_eq!(
        ReduceLrOnPlateau::new(1.0, PlateauMode::Min, 1.0, 0, 0.0, ThresholdMode::Rel, 0, 0.0, 0.0)
            .unwrap_err()
            .to_string(),
        "Factor should be < 1.0."
    );
}

/// PyTorch's `CosineAnnealingLR.step()` is recursive; over 1000 steps (five periods) it stays
/// within 1e-12 relative of the closed form descent uses.
#[test]
fn cosine_closed_form_matches_pytorchs_recursion() {
    use std::f64::consts::PI;
    let (base, eta_min, t_max) = (0.1f64, 0.001f64, 200u64);
    let s = CosineAnnealingLr::new(base, t_max, eta_min).unwrap();
    let mut lr = base;
    for t in 1..1000u64 {
        let tm = t_max as f64;
        lr = if (t - 1).wrapping_sub(t_max) % (2 * t_max) == 0 && t > t_max {
            lr + (base - eta_min) * (1.0 - (PI / tm).cos()) / 2.0
        } else {
            (1.0 + (PI * t as f64 / tm).cos()) / (1.0 + (PI * (t - 1) as f64 / tm).cos()) * (lr - eta_min)
                + eta_min
        };
        let closed = s.lr_at(t);
        assert!((lr - closed).abs() <= 1e-12 * base, "t={t}: recursive {lr} closed {closed}");
    }
}

#[test]
fn invalid_arguments_are_refused_with_pytorchs_words() {
    assert_eq!(
        LinearLr::new(1.0, 0.0, 1.0, 5).unwrap_err().to_string(),
        "Starting multiplicative factor expected to be greater than 0 and less or equal to 1."
    );
    assert_eq!(
        ConstantLr::new(1.0, 1.5, 5).unwrap_err().to_string(),
        "Constant multiplicative factor expected to be between 0 and 1."
    );
    assert_eq!(
        CosineAnnealingWarmRestarts::new(1.0, 0, 1, 0.0).unwrap_err().to_string(),
        "Expected positive integer T_0, but got 0"
    );
    assert!(StepLr::new(1.0, 0, 0.1).is_err());
    assert!(OneCycleLr::new(1.0, 0, 0.3, AnnealStrategy::Cos, None, 25.0, 1e4, false).is_err());
    assert!(Sequential::<2>::new(&[], &[]).is_err());
}
