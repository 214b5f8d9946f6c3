//! The no_std training path: gradients of Dense + ReLU + softmax cross-entropy against finite
//! differences, a small MLP trained with fixed buffers and a core optimizer, and model blobs
//! (layers run in place, damaged bytes refused).

mod common;

use common::resealed;

use descent::adam::{Adam, AdamConfig};
use descent::nn::{
    Activation, Dense, DenseGrad, ModelBlob, argmax, relu, relu_backward, softmax_cross_entropy,
};
use descent::{Error, Optimizer};
use proptest::prelude::*;

fn loss(l1: &Dense<f64, 3, 5>, l2: &Dense<f64, 5, 4>, x: &[f64; 3], label: usize) -> f64 {
    let mut h = [0.0; 5];
    l1.forward(x, &mut h);
    relu(&mut h);
    let mut z = [0.0; 4];
    l2.forward(&h, &mut z);
    softmax_cross_entropy(&z, label, &mut [0.0; 4]).unwrap()
}

#[test]
fn dense_relu_cross_entropy_gradients_match_finite_differences() {
    let mut l1 = Dense::<f64, 3, 5>::zeros();
    let mut l2 = Dense::<f64, 5, 4>::zeros();
    for (i, w) in l1.w.as_flattened_mut().iter_mut().enumerate() {
        *w = ((i as f64) * 0.77).sin();
    }
    for (i, w) in l2.w.as_flattened_mut().iter_mut().enumerate() {
        *w = ((i as f64) * 0.31).cos();
    }
    l1.b = [0.1, -0.2, 0.3, 0.05, 0.2];
    let x = [0.5, -1.0, 2.0];
    let label = 2;
    // Backward.
    let mut h = [0.0; 5];
    l1.forward(&x, &mut h);
    relu(&mut h);
    let mut z = [0.0; 4];
    l2.forward(&h, &mut z);
    let mut dz = [0.0; 4];
    softmax_cross_entropy(&z, label, &mut dz).unwrap();
    let (mut g1, mut g2) = (DenseGrad::<f64, 3, 5>::zeros(), DenseGrad::<f64, 5, 4>::zeros());
    let mut dh = [0.0; 5];
    l2.backward(&h, &dz, &mut g2, Some(&mut dh));
    relu_backward(&h, &mut dh);
    l1.backward(&x, &dh, &mut g1, None);
    // Finite differences on every parameter.
    let eps = 1e-6;
    for i in 0..15 {
        let orig = l1.w.as_flattened()[i];
        l1.w.as_flattened_mut()[i] = orig + eps;
        let up = loss(&l1, &l2, &x, label);
        l1.w.as_flattened_mut()[i] = orig - eps;
        let down = loss(&l1, &l2, &x, label);
        l1.w.as_flattened_mut()[i] = orig;
        let fd = (up - down) / (2.0 * eps);
        assert!((fd - g1.w_flat()[i]).abs() < 1e-6, "W1[{i}]: {fd} vs {}", g1.w_flat()[i]);
    }
    for i in 0..20 {
        let orig = l2.w.as_flattened()[i];
        l2.w.as_flattened_mut()[i] = orig + eps;
        let up = loss(&l1, &l2, &x, label);
        l2.w.as_flattened_mut()[i] = orig - eps;
        let down = loss(&l1, &l2, &x, label);
        l2.w.as_flattened_mut()[i] = orig;
        assert!(((up - down) / (2.0 * eps) - g2.w_flat()[i]).abs() < 1e-6);
    }
    for i in 0..4 {
        let orig = l2.b[i];
        l2.b[i] = orig + eps;
        let up = loss(&l1, &l2, &x, label);
        l2.b[i] = orig - eps;
        let down = loss(&l1, &l2, &x, label);
        l2.b[i] = orig;
        assert!(((up - down) / (2.0 * eps) - g2.b[i]).abs() < 1e-6);
    }
}

/// A 4-8-3 MLP on three separable blobs, trained example by example with Adam over fixed
/// arrays (the way a device would run it).
#[test]
fn a_small_mlp_trains_with_fixed_buffers() {
    let mut l1 = Dense::<f32, 4, 8>::zeros();
    let mut l2 = Dense::<f32, 8, 3>::zeros();
    let mut s: u32 = 12345;
    let mut rnd = || {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        (s as f32 / u32::MAX as f32) - 0.5
    };
    l1.w.as_flattened_mut().iter_mut().for_each(|w| *w = rnd());
    l2.w.as_flattened_mut().iter_mut().for_each(|w| *w = rnd());
    let cfg = AdamConfig { lr: 1e-2, ..AdamConfig::default() };
    let (mut o1w, mut o1b) = (Adam::<f32, 32>::new(cfg).unwrap(), Adam::<f32, 8>::new(cfg).unwrap());
    let (mut o2w, mut o2b) = (Adam::<f32, 24>::new(cfg).unwrap(), Adam::<f32, 3>::new(cfg).unwrap());
    let example = |k: usize, noise: &mut dyn FnMut() -> f32| {
        let c = k % 3;
        let x: [f32; 4] = core::array::from_fn(|d| if d == c { 1.5 } else { 0.0 } + noise());
        (x, c)
    };
    let accuracy = |l1: &Dense<f32, 4, 8>, l2: &Dense<f32, 8, 3>, noise: &mut dyn FnMut() -> f32| {
        let mut right = 0;
        for k in 0..300 {
            let (x, c) = example(k, noise);
            let mut h = [0.0; 8];
            l1.forward(&x, &mut h);
            relu(&mut h);
            let mut z = [0.0; 3];
            l2.forward(&h, &mut z);
            let arg = (0..3).fold(0, |b, i| if z[i] > z[b] { i } else { b });
            right += usize::from(arg == c);
        }
        right as f32 / 300.0
    };
    let before = accuracy(&l1, &l2, &mut rnd);
    for epoch in 0..20 {
        for batch in 0..10 {
            let (mut g1, mut g2) = (DenseGrad::<f32, 4, 8>::zeros(), DenseGrad::<f32, 8, 3>::zeros());
            for k in 0..16 {
                let (x, c) = example(epoch * 1000 + batch * 16 + k, &mut rnd);
                let mut h = [0.0; 8];
                l1.forward(&x, &mut h);
                relu(&mut h);
                let mut z = [0.0; 3];
                l2.forward(&h, &mut z);
                let mut dz = [0.0; 3];
                softmax_cross_entropy(&z, c, &mut dz).unwrap();
                let mut dh = [0.0; 8];
                l2.backward(&h, &dz, &mut g2, Some(&mut dh));
                relu_backward(&h, &mut dh);
                l1.backward(&x, &dh, &mut g1, None);
            }
            g1.scale(1.0 / 16.0);
            g2.scale(1.0 / 16.0);
            let (w, b) = l1.params_mut();
            o1w.step(w, g1.w_flat()).unwrap();
            o1b.step(b, &g1.b).unwrap();
            let (w, b) = l2.params_mut();
            o2w.step(w, g2.w_flat()).unwrap();
            o2b.step(b, &g2.b).unwrap();
        }
    }
    let after = accuracy(&l1, &l2, &mut rnd);
    assert!(after > 0.95 && after > before, "accuracy {before} -> {after}");
}

/// The host model of the fine-tuning example, as `descent export` wrote it.
static BLOB: &[u8] = include_bytes!("../tools/finetune-device/data/host-model.blob");

#[test]
fn a_frozen_layer_computes_what_its_loaded_copy_computes_bit_for_bit() {
    let blob = ModelBlob::parse(BLOB).unwrap();
    assert_eq!((blob.layers(), blob.activation()), (2, Activation::Relu));
    let frozen = blob.layer::<196, 32>(0).unwrap();
    let mut copy = Box::new(Dense::<f32, 196, 32>::zeros());
    frozen.load_into(&mut copy);
    let x: [f32; 196] = core::array::from_fn(|i| ((i as f32) * 0.173).sin());
    let (mut a, mut b) = ([0.0f32; 32], [0.0f32; 32]);
    frozen.forward(&x, &mut a);
    copy.forward(&x, &mut b);
    assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits));
    // The same layer as f64: every weight converted exactly.
    let mut wide = Box::new(Dense::<f64, 196, 32>::zeros());
    frozen.load_into(&mut wide);
    assert!(wide.w.as_flattened().iter().zip(copy.w.as_flattened()).all(|(&w, &n)| w == f64::from(n)));
}

#[test]
fn a_layer_of_the_wrong_shape_or_index_is_refused_with_its_sizes() {
    let blob = ModelBlob::parse(BLOB).unwrap();
    let e = blob.layer::<196, 31>(0).unwrap_err();
    assert_eq!(e, Error::LengthMismatch { what: "model blob layer outputs", expected: 31, found: 32 });
    let e = blob.layer::<32, 10>(0).unwrap_err();
    assert_eq!(e, Error::LengthMismatch { what: "model blob layer inputs", expected: 32, found: 196 });
    assert!(blob.layer::<32, 10>(1).is_ok());
    assert!(matches!(
        blob.layer::<10, 10>(2),
        Err(Error::LengthMismatch { what: "model blob layer index", .. })
    ));
}

#[test]
fn argmax_picks_the_first_largest_and_never_nan() {
    assert_eq!(argmax(&[0.1f32, 3.0, -1.0, 3.0]), 1);
    assert_eq!(argmax(&[f32::NAN, -5.0, -7.0]), 1);
    assert_eq!(argmax::<f32>(&[]), 0);
}

/// Each kind of damage is refused with an error that names the model blob and what is wrong.
#[test]
fn a_damaged_blob_is_refused_with_what_is_wrong() {
    let message = |bytes: &[u8]| ModelBlob::parse(bytes).unwrap_err().to_string();
    assert_eq!(message(&BLOB[..3]), "corrupt model blob: truncated");
    let mut bad = BLOB.to_vec();
    bad[20] ^= 1;
    assert_eq!(message(&bad), "corrupt model blob: checksum mismatch");
    let mut bad = BLOB.to_vec();
    bad[0] = b'X';
    assert_eq!(message(&resealed(bad)), "corrupt model blob: bad magic (not a model blob)");
    let mut bad = BLOB.to_vec();
    bad[4] = 2;
    assert_eq!(message(&resealed(bad)), "model blob format version 2, this build reads version 1");
    let mut bad = BLOB.to_vec();
    bad[6] = 9;
    assert_eq!(message(&resealed(bad)), "corrupt model blob: unknown activation id");
    let mut bad = BLOB.to_vec();
    bad[7] = 0;
    assert_eq!(message(&resealed(bad)), "corrupt model blob: no layers");
    let mut bad = BLOB.to_vec();
    bad[8..12].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(message(&resealed(bad)), "corrupt model blob: a layer width is zero");
    let mut bad = BLOB.to_vec();
    bad[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    bad[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(message(&resealed(bad)), "corrupt model blob: layer widths overflow");
    // Two layers need three widths (12 bytes); this body holds two.
    let bad = BLOB[..20].to_vec();
    assert_eq!(message(&resealed(bad)), "corrupt model blob: truncated in the layer widths");
    let mut bad = BLOB.to_vec();
    bad.insert(40, 0);
    assert_eq!(
        ModelBlob::parse(&resealed(bad)).unwrap_err(),
        Error::LengthMismatch {
            what: "model blob parameters (bytes)",
            expected: BLOB.len() - 24,
            found: BLOB.len() - 23
        }
    );
}

proptest! {
    #![proptest_config(common::config(256))]

    /// Every truncation and every changed byte is refused (the CRC-32 catches any single-byte
    /// change); nothing panics.
    #[test]
    fn a_damaged_blob_is_refused(cut in 0..BLOB.len(), at in 0..BLOB.len(), flip in 1..=255u8) {
        let refused = |bytes: &[u8]| {
            let e = ModelBlob::parse(bytes).unwrap_err();
            // The version is checked before the checksum: a changed version reads as another format.
            let version = matches!(e, Error::StateMismatch { field: "model blob version", .. });
            matches!(e, Error::CorruptModel { .. }) || version
        };
        prop_assert!(refused(&BLOB[..cut]));
        let mut bad = BLOB.to_vec();
        bad[at] ^= flip;
        prop_assert!(refused(&bad));
    }

    /// Arbitrary bytes, also behind a valid magic and version, never make parsing panic.
    #[test]
    fn parsing_arbitrary_bytes_never_panics(mut bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = ModelBlob::parse(&bytes);
        if bytes.len() >= 6 {
            bytes[..6].copy_from_slice(&[b'D', b'S', b'M', b'B', 1, 0]);
            let _ = ModelBlob::parse(&bytes);
        }
    }
}
