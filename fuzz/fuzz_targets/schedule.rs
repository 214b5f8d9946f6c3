//! Every learning-rate schedule built from arbitrary arguments and stepped: construction, the
//! closed forms at arbitrary t (0, milestones, u64::MAX), the driver applying values to an
//! optimizer, the plateau fed arbitrary metrics (NaN, ±∞), and sequential schedules of arbitrary
//! segments and milestones advanced with or without metrics. Every call returns Ok or Err, never
//! panics; a refused step changes nothing; saved bytes always restore to an equal schedule.
#![no_main]

use arbitrary::{Result, Unstructured};
use descent_core::Error;
use descent_core::adam::{Adam, AdamConfig};
use descent_core::schedule::{Anneal, Interpolate, PiecewiseInterpolate, Swalr};
use descent_core::schedule::{
    AnnealStrategy, AnySchedule, ConstantLr, CosineAnnealingLr, CosineAnnealingWarmRestarts, CyclicLr,
    CyclicMode, Driver, ExponentialLr, LinearLr, MultiStepLr, OneCycleLr, PlateauMode, PolynomialLr,
    ReduceLrOnPlateau, Schedule, Segment, Sequential, StepLr, ThresholdMode, WarmupCosine,
};
use descent_core::sgd::{SgdConfig, SgdMomentum};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

/// A step count: usually small, sometimes 0, huge or anything.
fn count(u: &mut Unstructured<'_>) -> Result<u64> {
    Ok(match u.int_in_range(0u8..=7)? {
        0 => 0,
        1 => u64::MAX - u.int_in_range(0u64..=2)?,
        2 => u.arbitrary()?,
        _ => u.int_in_range(1u64..=40)?,
    })
}

fn momentum(u: &mut Unstructured<'_>) -> Result<Option<(f64, f64)>> {
    Ok(if u.arbitrary()? { Some((common::hyper(u, 0.0, 1.0)?, common::hyper(u, 0.0, 1.0)?)) } else { None })
}

/// Any closed-form schedule, with arbitrary arguments (many of them refused).
fn closed(u: &mut Unstructured<'_>) -> Result<core::result::Result<AnySchedule, Error>> {
    let lr = common::hyper(u, 0.0, 1.0)?;
    let h = |u: &mut Unstructured<'_>| common::hyper(u, 0.0, 1.0);
    Ok(match u.int_in_range(0u8..=12)? {
        0 => StepLr::new(lr, count(u)?, h(u)?).map(AnySchedule::Step),
        1 => {
            let mut ms = Vec::new();
            for _ in 0..u.int_in_range(0usize..=40)? {
                ms.push(count(u)?);
            }
            MultiStepLr::new(lr, &ms, h(u)?).map(AnySchedule::MultiStep)
        }
        2 => ExponentialLr::new(lr, h(u)?).map(AnySchedule::Exponential),
        3 => CosineAnnealingLr::new(lr, count(u)?, h(u)?).map(AnySchedule::Cosine),
        4 => CosineAnnealingWarmRestarts::new(lr, count(u)?, count(u)?, h(u)?).map(AnySchedule::WarmRestarts),
        5 => {
            let anneal = if u.arbitrary()? { AnnealStrategy::Cos } else { AnnealStrategy::Linear };
            OneCycleLr::new(
                lr,
                count(u)?,
                h(u)?,
                anneal,
                momentum(u)?,
                common::hyper(u, 1.0, 100.0)?,
                common::hyper(u, 1.0, 1e5)?,
                u.arbitrary()?,
            )
            .map(AnySchedule::OneCycle)
        }
        6 => {
            let mode = match u.int_in_range(0u8..=2)? {
                0 => CyclicMode::Triangular,
                1 => CyclicMode::Triangular2,
                _ => CyclicMode::ExpRange(h(u)?),
            };
            let down = if u.arbitrary()? { Some(count(u)?) } else { None };
            CyclicLr::new(lr, common::hyper(u, 0.0, 10.0)?, count(u)?, down, mode, momentum(u)?)
                .map(AnySchedule::Cyclic)
        }
        7 => LinearLr::new(lr, h(u)?, h(u)?, count(u)?).map(AnySchedule::Linear),
        8 => ConstantLr::new(lr, h(u)?, count(u)?).map(AnySchedule::Constant),
        9 => PolynomialLr::new(lr, count(u)?, common::hyper(u, 0.0, 3.0)?).map(AnySchedule::Polynomial),
        10 => WarmupCosine::new(lr, count(u)?, count(u)?, h(u)?, h(u)?).map(AnySchedule::WarmupCosine),
        11 => {
            let anneal = if u.arbitrary()? { Anneal::Cos } else { Anneal::Linear };
            Swalr::new(lr, h(u)?, count(u)?, anneal).map(AnySchedule::Swa)
        }
        _ => {
            let kind = if u.arbitrary()? { Interpolate::Cosine } else { Interpolate::Linear };
            let k = u.int_in_range(0usize..=4)?;
            let mut bounds = [0u64; 4];
            let mut scales = [0.0f64; 4];
            for i in 0..k {
                bounds[i] = count(u)?;
                scales[i] = common::hyper(u, -0.5, 3.0)?;
            }
            PiecewiseInterpolate::new(kind, lr, &bounds[..k], &scales[..k]).map(AnySchedule::Piecewise)
        }
    })
}

fn plateau(u: &mut Unstructured<'_>) -> Result<core::result::Result<ReduceLrOnPlateau, Error>> {
    let mode = if u.arbitrary()? { PlateauMode::Min } else { PlateauMode::Max };
    let tm = if u.arbitrary()? { ThresholdMode::Rel } else { ThresholdMode::Abs };
    let h = |u: &mut Unstructured<'_>| common::hyper(u, 0.0, 1.0);
    Ok(ReduceLrOnPlateau::new(h(u)?, mode, h(u)?, count(u)?, h(u)?, tm, count(u)?, h(u)?, h(u)?))
}

/// A metric: usually ordinary, sometimes NaN, ±∞ or anything.
fn metric(u: &mut Unstructured<'_>) -> Result<f64> {
    common::hyper(u, -10.0, 10.0)
}

/// Saves `s` and restores the bytes into `into`: must succeed and give back the same state
/// (compared by its saved bytes, which NaN fields cannot fool).
fn round_trip<T>(
    s: &T,
    into: &mut T,
    len: impl Fn(&T) -> usize,
    save: impl Fn(&T, &mut [u8]) -> core::result::Result<usize, Error>,
    restore: impl Fn(&mut T, &[u8]) -> core::result::Result<(), Error>,
) {
    let mut b = vec![0u8; len(s)];
    let n = save(s, &mut b).expect("saving into saved_len bytes");
    assert_eq!(n, b.len(), "saved_len disagrees with save");
    restore(into, &b).expect("own bytes refused");
    let mut again = vec![0u8; len(into)];
    save(into, &mut again).expect("saving a restored schedule");
    assert_eq!(again, b, "restore gave another schedule");
}

/// The saved bytes of a driver (its state, compared without NaN ≠ NaN getting in the way).
fn bytes(d: &Driver<AnySchedule>) -> Vec<u8> {
    let mut b = vec![0u8; d.saved_len()];
    d.save(&mut b).expect("saving into saved_len bytes");
    b
}

/// Values at a few step counts, through the driver onto an optimizer, and a save/restore.
fn exercise_closed(u: &mut Unstructured<'_>, s: AnySchedule) -> Result<()> {
    for _ in 0..u.int_in_range(0u8..=8)? {
        let t = count(u)?;
        let _ = (s.lr_at(t), s.momentum_at(t));
    }
    let mut d = Driver::at(s, count(u)?);
    let mut sgd = SgdMomentum::<f32, 2>::new(SgdConfig { momentum: 0.9, ..SgdConfig::default() }).unwrap();
    let mut adam = Adam::<f64, 2>::new(AdamConfig::default()).unwrap();
    let _ = d.start(&mut sgd);
    for _ in 0..u.int_in_range(0u8..=6)? {
        let before = (bytes(&d), common::snapshot(&sgd));
        if d.step(&mut sgd).is_err() {
            assert_eq!((bytes(&d), common::snapshot(&sgd)), before, "refused step changed something");
        }
        let before = (bytes(&d), common::snapshot(&adam));
        if d.step(&mut adam).is_err() {
            assert_eq!((bytes(&d), common::snapshot(&adam)), before, "refused step changed something");
        }
    }
    let mut other = Driver::new(AnySchedule::Constant(ConstantLr::new(1.0, 1.0, 0).unwrap()));
    round_trip(&d, &mut other, |s| s.saved_len(), |s, b| s.save(b), |s, b| s.restore(b));
    Ok(())
}

fn exercise_plateau(u: &mut Unstructured<'_>, mut p: ReduceLrOnPlateau) -> Result<()> {
    for _ in 0..u.int_in_range(0u8..=30)? {
        p.step(metric(u)?);
    }
    let mut other =
        ReduceLrOnPlateau::new(1.0, PlateauMode::Min, 0.1, 0, 0.0, ThresholdMode::Rel, 0, 0.0, 0.0).unwrap();
    round_trip(&p, &mut other, |s| s.saved_len(), |s, b| s.save(b), |s, b| s.restore(b));
    Ok(())
}

fn seq_bytes(s: &Sequential<4>) -> Vec<u8> {
    let mut b = vec![0u8; s.saved_len()];
    s.save(&mut b).expect("saving into saved_len bytes");
    b
}

fn exercise_sequential(u: &mut Unstructured<'_>) -> Result<()> {
    let mut segments = Vec::new();
    for _ in 0..u.int_in_range(0usize..=5)? {
        let seg = if u.ratio(1u8, 4)? {
            plateau(u)?.map(Segment::Plateau)
        } else {
            closed(u)?.map(Segment::Closed)
        };
        if let Ok(seg) = seg {
            segments.push(seg);
        }
    }
    let mut milestones = Vec::new();
    let k = if u.ratio(1u8, 8)? { u.int_in_range(0usize..=6)? } else { segments.len().saturating_sub(1) };
    let mut m = 0u64;
    for _ in 0..k {
        m = if u.ratio(1u8, 8)? { count(u)? } else { m.saturating_add(u.int_in_range(0u64..=6)?) };
        milestones.push(m);
    }
    let Ok(mut seq) = Sequential::<4>::with_segments(&segments, &milestones) else { return Ok(()) };
    for _ in 0..u.int_in_range(0u8..=8)? {
        let t = count(u)?;
        let _ = (seq.lr_at(t), seq.momentum_at(t));
    }
    let mut adam = Adam::<f32, 2>::new(AdamConfig::default()).unwrap();
    let _ = seq.apply(&mut adam);
    for _ in 0..u.int_in_range(0u8..=40)? {
        let m = if u.ratio(1u8, 6)? { None } else { Some(metric(u)?) };
        let before = (seq_bytes(&seq), common::snapshot(&adam));
        if u.arbitrary()? {
            if seq.step(&mut adam, m).is_err() {
                assert_eq!(
                    (seq_bytes(&seq), common::snapshot(&adam)),
                    before,
                    "refused step changed something"
                );
            }
        } else if seq.advance(m).is_err() {
            assert_eq!(seq_bytes(&seq), before.0, "refused advance changed the schedule");
        }
    }
    let mut other =
        Sequential::<4>::new(&[AnySchedule::Constant(ConstantLr::new(1.0, 1.0, 0).unwrap())], &[]).unwrap();
    round_trip(&seq, &mut other, |s| s.saved_len(), |s, b| s.save(b), |s, b| s.restore(b));
    // Also as the schedule of a driver.
    let d = Driver::at(seq.clone(), count(u)?);
    let mut od = Driver::new(other);
    round_trip(&d, &mut od, |s| s.saved_len(), |s, b| s.save(b), |s, b| s.restore(b));
    Ok(())
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    match u.int_in_range(0u8..=2)? {
        0 => match closed(u)? {
            Ok(s) => exercise_closed(u, s),
            Err(_) => Ok(()),
        },
        1 => match plateau(u)? {
            Ok(p) => exercise_plateau(u, p),
            Err(_) => Ok(()),
        },
        _ => exercise_sequential(u),
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
