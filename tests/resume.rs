//! Saving mid-run and restoring into a fresh optimizer continues bit-identically, for every
//! optimizer and both dtypes; corrupt, truncated and mismatched bytes are refused and change
//! nothing.

mod common;

use common::{ALL, AnyConfig, shaped, values};
use descent::{Error, Optim, Optimizer, Real, UpdateRule};

fn twin<R: UpdateRule, F: Real>(cfg: R, n: usize, save_at: usize, total: usize) {
    let len = cfg.buffer_len(n);
    let (mut s1, mut s2) = (vec![F::ZERO; len], vec![F::ZERO; len]);
    let mut straight = Optim::with_buffer(cfg.clone(), n, &mut s1).unwrap();
    let mut p1: Vec<F> = values(1, n, 1.0).into_iter().map(F::from_f64).collect();
    let mut p2 = p1.clone();
    let grads: Vec<Vec<F>> =
        (0..total).map(|k| values(10 + k as u64, n, 1.0).into_iter().map(F::from_f64).collect()).collect();
    let mut bytes = vec![0u8; 0];
    {
        let mut first = Optim::with_buffer(cfg.clone(), n, &mut s2).unwrap();
        for g in &grads[..save_at] {
            first.step(&mut p2, g).unwrap();
        }
        bytes.resize(first.saved_len(), 0);
        assert_eq!(first.save(&mut bytes).unwrap(), bytes.len());
        assert!(matches!(first.save(&mut vec![0u8; bytes.len() - 1]), Err(Error::BufferTooSmall { .. })));
    }
    // A fresh optimizer with a different learning rate: restore brings back everything.
    let mut fresh_state = vec![F::ZERO; len];
    let mut resumed = Optim::with_buffer(cfg.clone(), n, &mut fresh_state).unwrap();
    resumed.set_lr(cfg.lr() * 0.5 + 1e-3).unwrap();
    resumed.restore(&bytes).unwrap();
    assert_eq!(resumed.steps(), save_at as u64);
    for g in &grads[..save_at] {
        straight.step(&mut p1, g).unwrap();
    }
    for g in &grads[save_at..] {
        straight.step(&mut p1, g).unwrap();
        resumed.step(&mut p2, g).unwrap();
    }
    let b1: Vec<u64> = p1.iter().map(|x| x.to_bits_u64()).collect();
    let b2: Vec<u64> = p2.iter().map(|x| x.to_bits_u64()).collect();
    assert_eq!(b1, b2, "{} {}", R::NAME, F::NAME);
    assert_eq!(
        straight.state().iter().map(|x| x.to_bits_u64()).collect::<Vec<_>>(),
        resumed.state().iter().map(|x| x.to_bits_u64()).collect::<Vec<_>>()
    );

    // Every single-byte corruption and every truncation is refused, and nothing changes.
    let mut before = vec![0u8; resumed.saved_len()];
    resumed.save(&mut before).unwrap();
    for i in (0..bytes.len()).step_by(1 + bytes.len() / 97) {
        let mut bad = bytes.clone();
        bad[i] ^= 0x41;
        assert!(resumed.restore(&bad).is_err(), "{}: flipped byte {i} accepted", R::NAME);
        assert!(resumed.restore(&bytes[..i]).is_err(), "{}: truncation to {i} accepted", R::NAME);
    }
    let mut after = vec![0u8; resumed.saved_len()];
    resumed.save(&mut after).unwrap();
    assert_eq!(before, after, "{}: a refused restore modified the optimizer", R::NAME);
}

#[test]
fn resume_after_restore_is_bit_identical() {
    for name in ALL {
        for &(n, save_at) in &[(1usize, 1usize), (13, 3), (64, 7)] {
            let cfg = shaped(AnyConfig::default_for(name, n), n, 1).with_lr(0.01);
            let cfg = match cfg {
                AnyConfig::Sgd(c) => AnyConfig::Sgd(descent::sgd::SgdConfig { momentum: 0.9, ..c }),
                AnyConfig::Adam(c) => AnyConfig::Adam(descent::adam::AdamConfig { amsgrad: n == 13, ..c }),
                other => other,
            };
            with_config!(cfg, |c| {
                twin::<_, f32>(c, n, save_at, save_at + 5);
                twin::<_, f64>(c, n, save_at, save_at + 5);
            });
        }
    }
}

#[test]
fn restore_refuses_another_optimizer_dtype_or_size() {
    use descent::adam::{Adam, AdamConfig};
    use descent::sgd::{SgdConfig, SgdMomentum};
    let a = Adam::<f32, 4>::new(AdamConfig::default()).unwrap();
    let mut bytes = vec![0u8; a.saved_len()];
    a.save(&mut bytes).unwrap();
    let mut other_kind =
        SgdMomentum::<f32, 4>::new(SgdConfig { momentum: 0.9, ..SgdConfig::default() }).unwrap();
    assert!(matches!(other_kind.restore(&bytes), Err(Error::StateMismatch { field: "optimizer", .. })));
    let mut other_dtype = Adam::<f64, 4>::new(AdamConfig::default()).unwrap();
    assert!(matches!(other_dtype.restore(&bytes), Err(Error::StateMismatch { field: "float width", .. })));
    let mut other_size = Adam::<f32, 5>::new(AdamConfig::default()).unwrap();
    assert!(matches!(other_size.restore(&bytes), Err(Error::StateMismatch { field: "parameter count", .. })));
    let mut same = Adam::<f32, 4>::new(AdamConfig { lr: 0.5, ..AdamConfig::default() }).unwrap();
    same.restore(&bytes).unwrap();
    assert_eq!(same.lr(), 1e-3);
    assert!(matches!(same.restore(b"not descent state at all"), Err(Error::CorruptState { .. })));
}
