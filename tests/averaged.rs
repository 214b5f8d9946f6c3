//! Averages of the parameters (PyTorch's AveragedModel: SWA and EMA): the formulas, save and
//! restore, refusals that change nothing. (Against PyTorch itself: tests/conformance.rs,
//! `torch_averaged_model_cases_match`.)

use descent::Error;
use descent::averaged::{Average, Averaged};

/// SWA is the mean of every set given; EMA weighs the newest by 1 − β; both start by copying.
#[test]
fn swa_is_the_mean_and_ema_the_moving_average() {
    let sets = [[1.0, -2.0], [3.0, 0.0], [8.0, 4.0]];
    let mut swa = Averaged::new(Average::Swa, [0.0f64; 2], 2).unwrap();
    let mut ema = Averaged::new(Average::Ema { decay: 0.9 }, [0.0f64; 2], 2).unwrap();
    for s in &sets {
        swa.update(s).unwrap();
        ema.update(s).unwrap();
    }
    println!("SWA {:?}, EMA {:?}", swa.params(), ema.params());
    assert_eq!(swa.params()[0], 4.0);
    assert!((swa.params()[1] - 2.0 / 3.0).abs() < 1e-15);
    for i in 0..2 {
        let by_hand = 0.9 * (0.9 * sets[0][i] + 0.1 * sets[1][i]) + 0.1 * sets[2][i];
        assert!((ema.params()[i] - by_hand).abs() < 1e-12);
    }
    assert_eq!(swa.n_averaged(), 3);
}

#[test]
fn save_restore_and_refusals() {
    let mut a = Averaged::new(Average::Ema { decay: 0.5 }, [0.0f32; 3], 3).unwrap();
    a.update(&[1.0, 2.0, 3.0]).unwrap();
    let mut bytes = vec![0u8; a.saved_len()];
    a.save(&mut bytes).unwrap();
    let mut b = Averaged::new(Average::Swa, [0.0f32; 3], 3).unwrap();
    b.restore(&bytes).unwrap();
    assert_eq!((b.params(), b.n_averaged(), b.average()), (a.params(), 1, Average::Ema { decay: 0.5 }));
    a.update(&[3.0, 2.0, 1.0]).unwrap();
    b.update(&[3.0, 2.0, 1.0]).unwrap();
    assert_eq!(a.params(), b.params());
    // Corrupt, truncated and mismatched bytes change nothing.
    let before = b.params().to_vec();
    let mut flipped = bytes.clone();
    flipped[30] ^= 4;
    let other = {
        let o = Averaged::new(Average::Swa, [0.0f32; 2], 2).unwrap();
        let mut v = vec![0u8; o.saved_len()];
        o.save(&mut v).unwrap();
        v
    };
    for bad in [&flipped[..], &bytes[..bytes.len() - 2], &other[..]] {
        assert!(b.restore(bad).is_err());
        assert_eq!(b.params(), &before[..]);
    }
    let e = Averaged::new(Average::Ema { decay: 1.5 }, [0.0f32; 3], 3).unwrap_err();
    assert_eq!(e.to_string(), "Invalid decay value 1.5 provided. Please provide a value in [0,1] range.");
    assert!(matches!(Averaged::new(Average::Swa, [0.0f32; 2], 3), Err(Error::BufferTooSmall { .. })));
    assert!(matches!(b.update(&[1.0]), Err(Error::LengthMismatch { .. })));
    assert_eq!(b.params(), &before[..]);
}
