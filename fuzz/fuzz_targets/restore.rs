//! Restoring arbitrary bytes, and valid saved bytes with flips and truncations (with the checksum
//! left stale and recomputed, so that the body parser is reached), must be refused or accepted,
//! never panic, and a refusal changes nothing. Covers every optimizer of
//! `descent_core::OPTIMIZERS` in f32 and f64, the grad scaler, and the saved schedules (plateau,
//! sequential, driver).
#![no_main]

use descent_core::Optimizer;
use descent_core::Real;
use descent_core::adam::{Adam, AdamConfig};
use descent_core::averaged::{Average, Averaged};
use descent_core::grad_scaler::{GradScaler, GradScalerConfig};
use descent_core::lookahead::{Lookahead, LookaheadConfig};
use descent_core::sam::{Sam, SamConfig};
use descent_core::schedule::{
    AnySchedule, CosineAnnealingLr, Driver, LinearLr, MultiStepLr, PlateauMode, ReduceLrOnPlateau, Schedule,
    Segment, Sequential, ThresholdMode,
};
use descent_core::sgd::{SgdConfig, SgdMomentum};
use descent_core::sparse_adam::{SparseAdam, SparseAdamConfig, SparseGrad};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fn optimizers<F: Real>(only: Option<usize>, data: &[u8]) {
    common::each_optimizer::<F>(only, data, |opt| {
        let valid = common::snapshot(opt);
        common::check_restore(opt, data);
        common::mutations(&valid, data, |b| common::check_restore(opt, b));
        // Its own bytes always come back.
        opt.restore(&valid).expect("own bytes refused");
    });
}

/// A restore of `bytes` into `x` either succeeds, and the restored value can be used (`run`), or
/// leaves `x` equal to what it was.
fn schedule<T: Clone + PartialEq + core::fmt::Debug>(
    x: &T,
    valid: &[u8],
    data: &[u8],
    restore: impl Fn(&mut T, &[u8]) -> Result<(), descent_core::Error>,
    run: impl Fn(&mut T),
) {
    let attempt = |b: &[u8]| {
        let mut y = x.clone();
        if restore(&mut y, b).is_err() {
            assert_eq!(&y, x, "a refused restore changed the schedule");
        } else {
            run(&mut y);
        }
    };
    attempt(data);
    common::mutations(valid, data, attempt);
}

fn schedules(data: &[u8]) {
    let mut plateau =
        ReduceLrOnPlateau::new(0.1, PlateauMode::Max, 0.5, 2, 1e-3, ThresholdMode::Abs, 1, 1e-4, 1e-8)
            .unwrap();
    for &b in data.iter().take(8) {
        plateau.step(b as f64);
    }
    let mut pb = vec![0u8; plateau.saved_len()];
    plateau.save(&mut pb).unwrap();
    schedule(
        &plateau,
        &pb,
        data,
        |s, b| s.restore(b),
        |s| {
            for m in [1.0, f64::NAN, 0.5, 0.5, 0.5] {
                s.step(m);
            }
        },
    );

    let mut seq = Sequential::<3>::with_segments(
        &[
            Segment::Closed(AnySchedule::Linear(LinearLr::new(0.1, 0.2, 1.0, 3).unwrap())),
            Segment::Plateau(plateau),
            Segment::Closed(AnySchedule::MultiStep(MultiStepLr::new(0.1, &[2, 4, 4], 0.5).unwrap())),
        ],
        &[3, 9],
    )
    .unwrap();
    for &b in data.iter().take(12) {
        let _ = seq.advance(Some(b as f64));
    }
    let mut sb = vec![0u8; seq.saved_len()];
    seq.save(&mut sb).unwrap();
    let advance = |s: &mut Sequential<3>| {
        for m in [None, Some(1.0), Some(f64::INFINITY), Some(0.5)] {
            let _ = s.advance(m);
            let _ = (s.lr(), s.momentum(), s.lr_at(u64::MAX));
        }
    };
    schedule(&seq, &sb, data, |s, b| s.restore(b), advance);

    let driver =
        Driver::at(AnySchedule::Cosine(CosineAnnealingLr::new(0.1, 7, 0.0).unwrap()), data.len() as u64);
    let mut db = vec![0u8; driver.saved_len()];
    driver.save(&mut db).unwrap();
    let drive = |d: &mut Driver<AnySchedule>| {
        let mut adam = Adam::<f32, 1>::new(AdamConfig::default()).unwrap();
        let _ = d.start(&mut adam);
        for _ in 0..3 {
            let _ = d.step(&mut adam);
        }
        let _ = (d.schedule().lr_at(0), d.schedule().momentum_at(u64::MAX));
    };
    schedule(&driver, &db, data, |s, b| s.restore(b), drive);
    // Bytes of one kind offered to another.
    schedule(&driver, &sb, data, |s, b| s.restore(b), drive);
    schedule(&seq, &db, data, |s, b| s.restore(b), advance);
}

/// Lookahead around momentum SGD (its saved bytes nest the inner optimizer's), SAM, SparseAdam and
/// the SWA and EMA averages.
fn wrappers(data: &[u8]) {
    let sgd =
        SgdMomentum::<f32, 3>::new(SgdConfig { lr: 0.1, momentum: 0.9, ..SgdConfig::default() }).unwrap();
    let config = LookaheadConfig { sync_period: 3, slow_step_size: 0.5, reset_state: true };
    let mut la = Lookahead::new(sgd, config, [0.0f32; 3], &[1.0, -1.0, 0.5]).unwrap();
    let mut p = [1.0f32, -1.0, 0.5];
    for &b in data.iter().take(4) {
        let _ = la.step(&mut p, &[b as f32 * 0.01, -0.5, 0.25]);
    }
    let valid = common::snapshot(&la);
    common::check_restore(&mut la, data);
    common::mutations(&valid, data, |b| common::check_restore(&mut la, b));
    la.restore(&valid).expect("own bytes refused");
    let adam = Adam::<f32, 3>::new(AdamConfig::default()).unwrap();
    let mut sam = Sam::new(adam, SamConfig { rho: 0.1, sync_period: 3 }, [0.0f32; 3]).unwrap();
    for &b in data.iter().take(2) {
        let _ = sam.step(&mut p, &[b as f32 * 0.01, -0.5, 0.25]);
    }
    let valid = common::snapshot(&sam);
    common::check_restore(&mut sam, data);
    common::mutations(&valid, data, |b| common::check_restore(&mut sam, b));
    sam.restore(&valid).expect("own bytes refused");
    let config = SparseAdamConfig { lr: 0.01, maximize: true, ..SparseAdamConfig::default() };
    let mut sparse = SparseAdam::<f32, 6>::new(config, 3, 2).unwrap();
    let mut table = [0.5f32; 6];
    for &b in data.iter().take(3) {
        let _ = sparse.step(
            &mut table,
            SparseGrad { indices: &[2, 0, 2], values: &[b as f32, 1.0, -1.0, 0.5, 0.25, 2.0] },
        );
    }
    let valid = common::snapshot(&sparse);
    common::check_restore(&mut sparse, data);
    common::mutations(&valid, data, |b| common::check_restore(&mut sparse, b));
    sparse.restore(&valid).expect("own bytes refused");
    for average in [Average::Swa, Average::Ema { decay: 0.75 }] {
        let mut a = Averaged::new(average, [0.0f64; 3], 3).unwrap();
        for &b in data.iter().take(3) {
            a.update(&[b as f64, 1.0, -2.0]).unwrap();
        }
        let mut ab = vec![0u8; a.saved_len()];
        a.save(&mut ab).unwrap();
        let attempt = |b: &[u8]| {
            let mut y = a.clone();
            let before = y.params().to_vec();
            if y.restore(b).is_err() {
                assert_eq!(y.params(), &before[..], "a refused restore changed the average");
            } else {
                let _ = y.update(&[0.0, 0.0, 0.0]);
            }
        };
        attempt(data);
        common::mutations(&ab, data, attempt);
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks one optimizer of the table and the dtype (so each input runs fast and
    // the fuzzer reaches every entry by varying it); the empty input runs all of them.
    match data.first() {
        None => {
            optimizers::<f32>(None, data);
            optimizers::<f64>(None, data);
        }
        Some(&b) if b & 0x80 == 0 => optimizers::<f32>(Some(b as usize), data),
        Some(&b) => optimizers::<f64>(Some((b & 0x7f) as usize), data),
    }
    schedules(data);
    wrappers(data);
    let scaler = GradScaler::new(GradScalerConfig::default()).unwrap();
    let mut gb = vec![0u8; scaler.saved_len()];
    scaler.save(&mut gb).unwrap();
    schedule(
        &scaler,
        &gb,
        data,
        |s, b| s.restore(b),
        |s| {
            let mut g = [1.0f32, f32::MAX];
            for found_inf in [false, true, false, false] {
                let _ = s.unscale(&mut [&mut g[..]]);
                s.update(found_inf);
            }
        },
    );
});
