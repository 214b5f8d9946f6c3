//! Properties of every learning-rate schedule: bounds, monotonicity where it holds, periodicity
//! of warm restarts, continuity at sequential milestones, the plateau state machine and its
//! persistence, the stateful sequential schedule and the driver (save mid-way, restore, continue
//! == uninterrupted), and closed forms against PyTorch's recursive forms.

mod common;

use descent::adam::{Adam, AdamConfig};
use descent::schedule::{Anneal, Interpolate, PiecewiseInterpolate, Swalr};
use descent::schedule::{
    AnnealStrategy, AnySchedule, ConstantLr, CosineAnnealingLr, CosineAnnealingWarmRestarts, CyclicLr,
    CyclicMode, Driver, ExponentialLr, LinearLr, MultiStepLr, OneCycleLr, PlateauMode, PolynomialLr,
    ReduceLrOnPlateau, Schedule, Segment, Sequential, StepLr, ThresholdMode, WarmupCosine,
};
use descent::sgd::{SgdConfig, SgdMomentum};
use descent::{Error, Optimizer};
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
    // Values PyTorch leaves to the optimizer, which would refuse them there (a NaN or negative
    // lr, a NaN momentum) are refused when the schedule is built.
    assert_eq!(StepLr::new(f64::NAN, 1, 0.1).unwrap_err().to_string(), "Invalid base_lr value: nan");
    assert!(CosineAnnealingLr::new(-1.0, 5, 0.0).is_err());
    assert!(CyclicLr::new(0.1, 1.0, 2, None, CyclicMode::Triangular, Some((f64::NAN, 0.9))).is_err());
    assert!(CyclicLr::new(0.1, 1.0, 2, None, CyclicMode::ExpRange(f64::INFINITY), None).is_err());
    assert!(
        OneCycleLr::new(1.0, 9, 0.3, AnnealStrategy::Cos, Some((0.85, f64::NAN)), 25.0, 1e4, false).is_err()
    );
    let plateau = |lr, factor, min_lr| {
        ReduceLrOnPlateau::new(lr, PlateauMode::Min, factor, 1, 0.0, ThresholdMode::Rel, 0, min_lr, 0.0)
    };
    assert!(plateau(-0.1, 0.1, 0.0).is_err());
    assert_eq!(plateau(0.1, -0.5, 0.0).unwrap_err().to_string(), "Invalid factor value: -0.5");
    assert!(plateau(0.1, 0.5, -1e-3).is_err());
}

/// One schedule of every closed-form kind, with non-default arguments.
fn every_closed_schedule() -> Vec<AnySchedule> {
    vec![
        AnySchedule::Step(StepLr::new(0.1, 3, 0.5).unwrap()),
        AnySchedule::MultiStep(MultiStepLr::new(0.1, &[7, 2, 5, 5], 0.3).unwrap()),
        AnySchedule::Exponential(ExponentialLr::new(0.1, 0.93).unwrap()),
        AnySchedule::Cosine(CosineAnnealingLr::new(0.1, 9, 1e-3).unwrap()),
        AnySchedule::WarmRestarts(CosineAnnealingWarmRestarts::new(0.1, 3, 2, 1e-4).unwrap()),
        AnySchedule::OneCycle(
            OneCycleLr::new(0.4, 20, 0.25, AnnealStrategy::Linear, Some((0.8, 0.9)), 10.0, 100.0, true)
                .unwrap(),
        ),
        AnySchedule::Cyclic(
            CyclicLr::new(0.01, 0.1, 3, Some(5), CyclicMode::ExpRange(0.97), Some((0.7, 0.95))).unwrap(),
        ),
        AnySchedule::Linear(LinearLr::new(0.1, 0.2, 0.9, 6).unwrap()),
        AnySchedule::Constant(ConstantLr::new(0.1, 0.4, 4).unwrap()),
        AnySchedule::Polynomial(PolynomialLr::new(0.1, 12, 1.7).unwrap()),
        AnySchedule::WarmupCosine(WarmupCosine::new(0.1, 4, 15, 0.05, 1e-3).unwrap()),
        AnySchedule::Swa(Swalr::new(0.1, 0.01, 5, Anneal::Cos).unwrap()),
        AnySchedule::Piecewise(
            PiecewiseInterpolate::new(Interpolate::Cosine, 0.1, &[0, 3, 9], &[2.0, 0.5, 0.1]).unwrap(),
        ),
    ]
}

/// optax's piecewise_interpolate_schedule and join_schedules, as `descent replay` and
/// `descent train --scheduler` build them, drive an optimizer's lr through optax's values
/// (tests/data/schedules/optax.json, from tools/conformance/gen_optax_schedules.py with seed 5).
#[test]
fn optax_piecewise_and_joined_schedules_match_optax() {
    let cases: serde_json::Value = serde_json::from_str(include_str!("data/schedules/optax.json")).unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for case in cases.as_array().unwrap() {
        let spec = case["scheduler"].as_object().unwrap();
        kinds.insert(spec["name"].as_str().unwrap().to_string());
        let lr = case["lr"].as_f64().unwrap();
        let mut opt = Adam::<f64, 1>::new(AdamConfig { lr, ..AdamConfig::default() }).unwrap();
        let mut s = descent::std_ext::schedule_spec::build(spec, &[lr], true).unwrap();
        s.start(&mut opt).unwrap();
        for (t, e) in case["values"].as_array().unwrap().iter().enumerate() {
            let e = e.as_f64().unwrap();
            assert!(
                (opt.lr() - e).abs() <= 1e-12 + 1e-9 * e.abs(),
                "{spec:?} t={t}: {} vs optax {e}",
                opt.lr()
            );
            s.advance(&mut opt, None).unwrap();
        }
    }
    assert_eq!(kinds.len(), 2, "{kinds:?}");
}

fn plateau(lr: f64, patience: u64, cooldown: u64) -> ReduceLrOnPlateau {
    ReduceLrOnPlateau::new(
        lr,
        PlateauMode::Min,
        0.5,
        patience,
        1e-3,
        ThresholdMode::Rel,
        cooldown,
        1e-4,
        1e-8,
    )
    .unwrap()
}

/// A metric that improves, stalls and recovers, so the plateau cuts several times.
fn metric(k: u64) -> f64 {
    1.0 / (1.0 + (k % 13) as f64) + 0.01 * (k / 13) as f64
}

fn saved(save: impl Fn(&mut [u8]) -> Result<usize, Error>, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    assert_eq!(save(&mut b).unwrap(), len);
    assert!(matches!(save(&mut vec![0u8; len - 1]), Err(Error::BufferTooSmall { .. })));
    b
}

/// Every truncation and every single-byte flip of `bytes` is refused, and leaves `x` unchanged.
fn refuses_damage<T: PartialEq + Clone + std::fmt::Debug>(
    x: &mut T,
    bytes: &[u8],
    restore: impl Fn(&mut T, &[u8]) -> Result<(), Error>,
) {
    let before = x.clone();
    for i in 0..bytes.len() {
        assert!(restore(x, &bytes[..i]).is_err(), "truncation to {i} accepted");
        let mut bad = bytes.to_vec();
        bad[i] ^= 0x24;
        assert!(restore(x, &bad).is_err(), "flipped byte {i} accepted");
        assert_eq!(*x, before, "a refused restore changed the schedule");
    }
}

/// Warmup, then a plateau, then a cosine: a sequential schedule that holds state. Saving it at
/// every step of a run (with an optimizer it drives) and restoring into a differently built one
/// continues bit-identically to the uninterrupted run.
#[test]
fn sequential_with_a_plateau_resumes_bit_identically_after_restore() {
    let build = |lr: f64| {
        Sequential::<4>::with_segments(
            &[
                Segment::Closed(AnySchedule::Linear(LinearLr::new(lr, 0.1, 1.0, 5).unwrap())),
                Segment::Plateau(plateau(lr, 2, 1)),
                Segment::Closed(AnySchedule::Cosine(CosineAnnealingLr::new(lr * 0.1, 10, 0.0).unwrap())),
            ],
            &[5, 40],
        )
        .unwrap()
    };
    let total = 60u64;
    let run = |save_at: Option<u64>| -> (Vec<u64>, [f32; 3], Sequential<4>) {
        let mut seq = build(0.1);
        let mut opt =
            SgdMomentum::<f32, 3>::new(SgdConfig { momentum: 0.9, ..SgdConfig::default() }).unwrap();
        let mut p = [1.0f32, -2.0, 0.5];
        seq.apply(&mut opt).unwrap();
        let mut lrs = vec![seq.lr().to_bits()];
        for k in 0..total {
            let g = p.map(|x| 2.0 * x);
            opt.step(&mut p, &g).unwrap();
            seq.step(&mut opt, Some(metric(k))).unwrap();
            lrs.push(opt.lr().to_bits());
            if save_at == Some(k) {
                let (sb, ob) =
                    (saved(|b| seq.save(b), seq.saved_len()), saved(|b| opt.save(b), opt.saved_len()));
                // Restore into a schedule built with other arguments, and a fresh optimizer.
                let mut other = build(0.7);
                other.restore(&sb).unwrap();
                assert_eq!(other, seq);
                let mut fresh =
                    SgdMomentum::<f32, 3>::new(SgdConfig { momentum: 0.5, ..SgdConfig::default() }).unwrap();
                fresh.restore(&ob).unwrap();
                (seq, opt) = (other, fresh);
            }
        }
        (lrs, p, seq)
    };
    let (lrs, p, end) = run(None);
    // The plateau cut at least twice inside its segment, and the cosine took over at 40.
    let distinct: std::collections::BTreeSet<u64> = lrs[6..41].iter().copied().collect();
    assert!(distinct.len() >= 3, "{distinct:?}");
    assert_eq!(end.t(), total);
    for save_at in [0, 3, 4, 5, 6, 20, 39, 40, 55] {
        let (l2, p2, e2) = run(Some(save_at));
        assert_eq!(l2, lrs, "save at {save_at}");
        assert_eq!(p2.map(f32::to_bits), p.map(f32::to_bits), "save at {save_at}");
        assert_eq!(e2, end);
    }
}

#[test]
fn sequential_feeds_the_plateau_only_inside_its_segment() {
    let mut seq = Sequential::<2>::with_segments(
        &[AnySchedule::Constant(ConstantLr::new(1.0, 0.5, 3).unwrap()).into(), plateau(1.0, 0, 0).into()],
        &[2],
    )
    .unwrap();
    assert!(!seq.is_closed_form());
    // Closed segment: the metric is ignored, even None.
    assert_eq!(seq.advance(None).unwrap(), 0.5);
    // Entering the plateau at t = 2: the metric of a step taken under the warmup is not fed.
    assert_eq!(seq.advance(Some(f64::NAN)).unwrap(), 1.0);
    let Segment::Plateau(p) = &seq.segments()[1] else { panic!() };
    assert_eq!(p.last_epoch(), 0);
    // Inside it, a metric is required; refused without one, and nothing changes.
    let before = seq.clone();
    assert!(matches!(seq.advance(None), Err(Error::Unsupported { .. })));
    assert_eq!(seq, before);
    assert_eq!(seq.advance(Some(1.0)).unwrap(), 1.0); // best
    assert_eq!(seq.advance(Some(1.0)).unwrap(), 0.5); // 1 bad > patience 0: cut
    assert_eq!(seq.t(), 4);
}

/// A closed-form sequential schedule stepped as a state machine agrees with its closed form.
#[test]
fn closed_form_sequential_advances_along_its_closed_form() {
    let parts = every_closed_schedule();
    let mut seq = Sequential::<13>::new(&parts, &[3, 6, 10, 12, 20, 25, 25, 30, 33, 41, 45, 50]).unwrap();
    assert!(seq.is_closed_form());
    let closed = seq.clone();
    for t in 1..60 {
        assert_eq!(seq.advance(None).unwrap().to_bits(), closed.lr_at(t).to_bits(), "t={t}");
        assert_eq!(seq.momentum(), closed.momentum_at(t));
    }
    let bytes = saved(|b| seq.save(b), seq.saved_len());
    let mut back = closed.clone();
    back.restore(&bytes).unwrap();
    assert_eq!(back, seq);
    let mut small = Sequential::<4>::new(&parts[..1], &[]).unwrap();
    assert!(matches!(small.restore(&bytes), Err(Error::StateMismatch { field: "schedules", .. })));
    refuses_damage(&mut back, &bytes, |s, b| s.restore(b));
}

/// A driver saved mid-run beside its optimizer, then restored into a driver of another schedule
/// and a fresh optimizer, continues bit-identically, for every closed-form schedule.
#[test]
fn driver_resumes_bit_identically_after_restore() {
    for (i, schedule) in every_closed_schedule().into_iter().enumerate() {
        let total = 25u64;
        let run = |save_at: Option<u64>| -> Vec<u32> {
            let mut d = Driver::new(schedule.clone());
            let mut opt = Adam::<f32, 4>::new(AdamConfig::default()).unwrap();
            let mut p = [0.3f32, -1.0, 2.0, 0.0];
            d.start(&mut opt).unwrap();
            for k in 0..total {
                let g = p.map(|x| x - 0.5);
                opt.step(&mut p, &g).unwrap();
                d.step(&mut opt).unwrap();
                if save_at == Some(k) {
                    let db = saved(|b| d.save(b), d.saved_len());
                    let ob = saved(|b| opt.save(b), opt.saved_len());
                    let mut other = Driver::new(every_closed_schedule()[(i + 1) % 11].clone());
                    other.restore(&db).unwrap();
                    assert_eq!(other, d);
                    let mut fresh =
                        Adam::<f32, 4>::new(AdamConfig { lr: 0.5, ..AdamConfig::default() }).unwrap();
                    fresh.restore(&ob).unwrap();
                    (d, opt) = (other, fresh);
                }
            }
            p.map(f32::to_bits).to_vec()
        };
        let straight = run(None);
        for save_at in [0, 7, 19] {
            assert_eq!(run(Some(save_at)), straight, "{schedule:?}, saved at {save_at}");
        }
    }
}

#[test]
fn driver_restore_refuses_damaged_or_mismatched_bytes() {
    let d = Driver::at(CosineAnnealingLr::new(0.1, 9, 1e-3).unwrap(), 17);
    let bytes = saved(|b| d.save(b), d.saved_len());
    let mut back = Driver::new(CosineAnnealingLr::new(1.0, 2, 0.0).unwrap());
    back.restore(&bytes).unwrap();
    assert_eq!(back, d);
    refuses_damage(&mut back, &bytes, |s, b| s.restore(b));
    // Another schedule kind, and a plateau's or an optimizer's bytes, are refused.
    let mut step = Driver::new(StepLr::new(0.1, 3, 0.5).unwrap());
    assert!(matches!(step.restore(&bytes), Err(Error::StateMismatch { field: "schedule", .. })));
    let p = plateau(0.1, 1, 0);
    let pb = saved(|b| p.save(b), p.saved_len());
    assert!(matches!(back.restore(&pb), Err(Error::StateMismatch { field: "kind", .. })));
    let adam = Adam::<f32, 2>::new(AdamConfig::default()).unwrap();
    let ab = saved(|b| adam.save(b), adam.saved_len());
    assert!(matches!(back.restore(&ab), Err(Error::StateMismatch { field: "kind", .. })));
    assert_eq!(back, d);
    // A driver over AnySchedule restores any kind.
    let mut any = Driver::new(AnySchedule::Constant(ConstantLr::new(1.0, 1.0, 0).unwrap()));
    any.restore(&bytes).unwrap();
    assert_eq!(any.t(), 17);
    assert_eq!(any.schedule().lr_at(3), d.schedule().lr_at(3));
}

/// A refused value leaves both the driver and the optimizer as they were.
#[test]
fn driver_step_changes_nothing_when_the_optimizer_refuses() {
    // Momentum 1.5 is not a valid β1: the cyclic momentum is refused at step 1.
    let s = CyclicLr::new(0.01, 0.1, 1, None, CyclicMode::Triangular, Some((1.5, 0.9))).unwrap();
    let mut d = Driver::new(s);
    let mut opt = Adam::<f32, 1>::new(AdamConfig::default()).unwrap();
    d.start(&mut opt).unwrap();
    let (lr, m) = (opt.lr(), opt.momentum());
    assert!(d.step(&mut opt).is_err());
    assert_eq!((d.t(), opt.lr(), opt.momentum()), (0, lr, m));
}

// Schedules over parameter groups.

mod groups {
    use super::*;
    use descent::group::{Group, GroupedArrays};
    use descent::layout::{Layout, Tensor};
    use descent::schedule::{Chained, LambdaLr, MultiplicativeLr};

    /// An SGD optimizer with two groups of one tensor each, at lrs `a` and `b`.
    fn two_groups(a: f64, b: f64) -> GroupedArrays<SgdConfig, f64, 2, 2, 6> {
        let layout = Layout::new([Tensor::new(0, &[2], 0), Tensor::new(2, &[1], 1)], 3, 2).unwrap();
        let sgd = |lr| Group::new(SgdConfig { lr, momentum: 0.9, ..SgdConfig::default() });
        GroupedArrays::owned(layout, [sgd(a), sgd(b)]).unwrap()
    }

    /// Each group follows its own schedule from its own base lr (PyTorch's base_lrs); cycled
    /// momentum too.
    #[test]
    fn every_group_follows_its_schedule() {
        let mut opt = two_groups(0.1, 0.01);
        let per_group = [
            AnySchedule::Step(StepLr::new(0.1, 2, 0.5).unwrap()),
            AnySchedule::OneCycle(
                OneCycleLr::new(0.05, 10, 0.3, AnnealStrategy::Cos, Some((0.85, 0.95)), 25.0, 1e4, false)
                    .unwrap(),
            ),
        ];
        let mut d = Driver::per_group(per_group.clone());
        d.start(&mut opt).unwrap();
        for t in 0..6 {
            assert_eq!(opt.group_lr(0).unwrap(), per_group[0].lr_at(t));
            assert_eq!(opt.group_lr(1).unwrap(), per_group[1].lr_at(t));
            assert_eq!(opt.group_momentum(1).unwrap(), per_group[1].momentum_at(t));
            assert_eq!(opt.group_momentum(0).unwrap(), Some(0.9));
            d.step(&mut opt).unwrap();
        }
        // One schedule for two groups is refused, changing nothing.
        let mut one = Driver::new(AnySchedule::Step(StepLr::new(0.1, 2, 0.5).unwrap()));
        let before = opt.group_lr(1).unwrap();
        assert!(matches!(one.step(&mut opt), Err(Error::LengthMismatch { .. })));
        assert_eq!(opt.group_lr(1).unwrap(), before);
        // Saved and restored with both schedules.
        let bytes = saved(|o| d.save(o), d.saved_len());
        let mut back = Driver::per_group(per_group.clone());
        back.restore(&bytes).unwrap();
        assert_eq!(back, d);
        assert!(Driver::new(per_group[0].clone()).restore(&bytes).is_err());
    }

    /// A group refusing its value (a cycled β1 of 1.0) leaves every group as it was.
    #[test]
    fn a_refusal_in_one_group_changes_no_group() {
        let layout = Layout::new([Tensor::new(0, &[2], 0), Tensor::new(2, &[1], 1)], 3, 2).unwrap();
        let adam = |lr| Group::new(AdamConfig { lr, ..AdamConfig::default() });
        let mut opt = GroupedArrays::<_, f64, 2, 2, 6>::owned(layout, [adam(0.1), adam(0.2)]).unwrap();
        let fine = AnySchedule::Constant(ConstantLr::new(0.1, 0.5, 3).unwrap());
        // Momentum cycled from 0.9 at step 0 to 1.0 at step 1, which is not a valid β1.
        let bad = AnySchedule::Cyclic(
            CyclicLr::new(0.2, 0.3, 1, None, CyclicMode::Triangular, Some((1.0, 0.9))).unwrap(),
        );
        let mut d = Driver::per_group([fine, bad]);
        d.start(&mut opt).unwrap();
        let lrs = (opt.group_lr(0).unwrap(), opt.group_lr(1).unwrap());
        assert!(d.step(&mut opt).is_err());
        assert_eq!((opt.group_lr(0).unwrap(), opt.group_lr(1).unwrap()), lrs);
        assert_eq!(d.t(), 0);
    }

    /// ReduceLROnPlateau cuts every group from its own lr, min_lr and eps as PyTorch's
    /// `_reduce_lr`.
    #[test]
    fn plateau_cuts_every_group() {
        let mut opt = two_groups(0.1, 0.01);
        let mut p =
            ReduceLrOnPlateau::new(0.1, PlateauMode::Min, 0.5, 0, 1e-4, ThresholdMode::Rel, 0, 0.004, 1e-8)
                .unwrap();
        p.step_groups(1.0, &mut opt).unwrap();
        assert_eq!((opt.group_lr(0).unwrap(), opt.group_lr(1).unwrap()), (0.1, 0.01));
        p.step_groups(2.0, &mut opt).unwrap(); // worse: cut
        assert_eq!((opt.group_lr(0).unwrap(), opt.group_lr(1).unwrap()), (0.05, 0.005));
        p.step_groups(2.0, &mut opt).unwrap(); // again: the second group stops at min_lr
        assert_eq!((opt.group_lr(0).unwrap(), opt.group_lr(1).unwrap()), (0.025, 0.004));
        assert_eq!(p.lr(), 0.025);
    }

    /// ChainedScheduler multiplies its children's factors: PyTorch's recursion, step by step.
    #[test]
    fn chained_factors_compose_as_pytorch_steps_them() {
        let base = 0.3;
        let exp = AnySchedule::Exponential(ExponentialLr::new(base, 0.9).unwrap());
        let step = AnySchedule::Step(StepLr::new(base, 3, 0.5).unwrap());
        let c = Chained::new(base, &[exp, step]).unwrap();
        // PyTorch: lr ← lr·0.9 every step, ·0.5 at multiples of 3.
        let mut lr = base;
        for t in 0..20u64 {
            assert!((c.lr_at(t) - lr).abs() <= 1e-14 * lr, "t={t}: {} vs {lr}", c.lr_at(t));
            lr *= 0.9;
            if (t + 1) % 3 == 0 {
                lr *= 0.5;
            }
        }
        let cyclic = AnySchedule::OneCycle(
            OneCycleLr::new(0.3, 10, 0.3, AnnealStrategy::Cos, None, 25.0, 1e4, false).unwrap(),
        );
        assert!(Chained::new(base, &[cyclic]).is_err());
        assert!(Chained::new(base, &[]).is_err());
        let cos = |eta_min| AnySchedule::Cosine(CosineAnnealingLr::new(base, 10, eta_min).unwrap());
        assert!(Chained::new(base, &[cos(0.0)]).is_ok() && Chained::new(base, &[cos(0.01)]).is_err());
        // Saved in a driver and restored.
        let d = Driver::at(c.clone(), 7);
        let bytes = saved(|o| d.save(o), d.saved_len());
        let mut back = Driver::new(Chained::new(base, &[cos(0.0)]).unwrap());
        back.restore(&bytes).unwrap();
        assert_eq!((back.schedule(), back.t()), (&c, 7));
    }

    /// LambdaLR and MultiplicativeLR take any function of the step; MultiplicativeLR's running
    /// product gives the same bits however the steps are asked for.
    #[test]
    fn lambda_and_multiplicative_follow_their_function() {
        let l = LambdaLr::new(0.2, |t| 1.0 / (1.0 + t as f64)).unwrap();
        assert_eq!((l.lr_at(0), l.lr_at(3)), (0.2, 0.05));
        let factor = |t: u64| 0.9 + 0.01 * (t % 5) as f64;
        let m = MultiplicativeLr::new(0.1, factor).unwrap();
        let mut want = vec![0.1];
        for t in 1..30u64 {
            want.push(want[t as usize - 1] * factor(t));
        }
        let forward: Vec<f64> = (0..30).map(|t| m.lr_at(t)).collect();
        assert_eq!(forward, want);
        let fresh = MultiplicativeLr::new(0.1, factor).unwrap();
        assert_eq!((fresh.lr_at(29), fresh.lr_at(3), fresh.lr_at(29)), (want[29], want[3], want[29]));
        assert!(LambdaLr::new(f64::NAN, |_| 1.0).is_err() && MultiplicativeLr::new(-1.0, factor).is_err());
        // Driven like any schedule.
        let mut opt =
            SgdMomentum::<f64, 3>::new(SgdConfig { lr: 0.1, momentum: 0.9, ..SgdConfig::default() }).unwrap();
        let mut d = Driver::new(MultiplicativeLr::new(0.1, factor).unwrap());
        d.start(&mut opt).unwrap();
        for t in 1..10 {
            d.step(&mut opt).unwrap();
            assert_eq!(opt.lr(), want[t]);
        }
    }
}
