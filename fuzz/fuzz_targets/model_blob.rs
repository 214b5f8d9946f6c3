//! Reading a model blob (`descent_core::nn::ModelBlob`) from arbitrary bytes, and from a valid
//! blob with flips and truncations (checksum left stale and recomputed, so that the header and
//! width checks are reached), must be refused or accepted, never panic. An accepted blob is used:
//! every layer is asked for at every shape up to 4×4 (and one past the last index), run in place
//! with `FrozenDense::forward`, and copied with `load_into` into an f32 and an f64 `Dense`; the f32
//! copy must compute the same bits as the frozen layer.
#![no_main]

use descent_core::nn::{BLOB_MAGIC, BLOB_VERSION, Dense, ModelBlob};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

/// Widths a layer can be asked for: the const-generic shapes below are every pair of them.
const MAX_WIDTH: u8 = 4;

/// Layer `index` of `blob` as an `IN`→`OUT` layer: refused (wrong shape or index) or run on an
/// input taken from `seed`, in place and as loaded f32 and f64 copies.
fn use_layer<const IN: usize, const OUT: usize>(blob: &ModelBlob<'_>, index: usize, seed: &[u8]) {
    let Ok(frozen) = blob.layer::<IN, OUT>(index) else { return };
    assert_eq!(blob.width(index), Some(IN), "layer {index} accepted at the wrong input width");
    assert_eq!(blob.width(index + 1), Some(OUT), "layer {index} accepted at the wrong output width");
    let x: [f32; IN] = core::array::from_fn(|i| {
        let b = seed.get(i).copied().unwrap_or(i as u8);
        if b == 0xff { f32::NAN } else { (f32::from(b) - 128.0) / 32.0 }
    });
    let mut y = [0.0f32; OUT];
    frozen.forward(&x, &mut y);
    let mut copy = Dense::<f32, IN, OUT>::zeros();
    frozen.load_into(&mut copy);
    let mut y_copy = [0.0f32; OUT];
    copy.forward(&x, &mut y_copy);
    for (a, b) in y.iter().zip(&y_copy) {
        assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "frozen {a} vs loaded {b}");
    }
    let mut wide = Dense::<f64, IN, OUT>::zeros();
    frozen.load_into(&mut wide);
    let mut y_wide = [0.0f64; OUT];
    wide.forward(&x.map(f64::from), &mut y_wide);
}

/// Every shape up to 4×4 for layer `index`.
fn every_shape(blob: &ModelBlob<'_>, index: usize, seed: &[u8]) {
    macro_rules! shapes {
        ($($i:literal),*) => {$(
            use_layer::<$i, 1>(blob, index, seed);
            use_layer::<$i, 2>(blob, index, seed);
            use_layer::<$i, 3>(blob, index, seed);
            use_layer::<$i, 4>(blob, index, seed);
        )*};
    }
    shapes!(1, 2, 3, 4);
}

/// Parses `bytes`; if accepted, reads every width and uses every layer.
fn check(bytes: &[u8], seed: &[u8]) {
    let Ok(blob) = ModelBlob::parse(bytes) else { return };
    let layers = blob.layers();
    assert!(layers >= 1, "a blob without layers was accepted");
    for i in 0..=layers {
        assert!(blob.width(i).is_some_and(|w| w > 0), "width {i} missing or zero");
    }
    assert_eq!(blob.width(layers + 1), None);
    let _ = blob.activation();
    for index in 0..=layers {
        every_shape(&blob, index, seed);
    }
}

/// A valid blob whose shape, activation and values come from `data`: 1 to 3 layers of widths
/// 1 to [`MAX_WIDTH`], weights and biases small floats, now and then a non-finite one.
fn valid_blob(data: &[u8]) -> Vec<u8> {
    let mut bytes = data.iter().copied().chain(core::iter::repeat(7));
    let mut next = || bytes.next().unwrap_or(0);
    let layers = 1 + next() % 3;
    let widths: Vec<u32> = (0..=layers).map(|_| u32::from(1 + next() % MAX_WIDTH)).collect();
    let mut out = BLOB_MAGIC.to_vec();
    out.extend_from_slice(&BLOB_VERSION.to_le_bytes());
    out.push(next() % 3);
    out.push(layers);
    for w in &widths {
        out.extend_from_slice(&w.to_le_bytes());
    }
    for pair in widths.windows(2) {
        for _ in 0..(pair[0] + 1) * pair[1] {
            let v = match next() {
                0xff => f32::INFINITY,
                0xfe => f32::NAN,
                b => (f32::from(b) - 128.0) / 64.0,
            };
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out.extend_from_slice(&[0; 4]);
    common::reseal(&mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    check(data, data);
    // Arbitrary bytes behind a valid header, resealed: past the magic, version and checksum.
    let mut headed = BLOB_MAGIC.to_vec();
    headed.extend_from_slice(&BLOB_VERSION.to_le_bytes());
    headed.extend_from_slice(data);
    headed.extend_from_slice(&[0; 4]);
    common::reseal(&mut headed);
    check(&headed, data);
    // A valid blob, then flipped, truncated and resealed as `data` says.
    let valid = valid_blob(data);
    assert!(ModelBlob::parse(&valid).is_ok(), "a valid blob was refused");
    check(&valid, data);
    common::mutations(&valid, data, |b| check(b, data));
});
