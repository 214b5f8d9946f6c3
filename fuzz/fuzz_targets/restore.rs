//! Restoring arbitrary bytes, and valid saved bytes with flips and truncations, must be refused or
//! accepted, never panic, and a refusal changes nothing.
#![no_main]

use descent_core::adam::{Adam, AdamConfig};
use descent_core::grad_scaler::{GradScaler, GradScalerConfig};
use descent_core::nadam::{Nadam, NadamConfig};
use descent_core::sgd::{SgdConfig, SgdMomentum};
use descent_core::Optimizer;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fn check<O: Optimizer<f32>>(opt: &mut O, bytes: &[u8]) {
    let before = common::snapshot(opt);
    if opt.restore(bytes).is_err() {
        assert_eq!(common::snapshot(opt), before, "a refused restore changed the optimizer");
    }
}

fn mutated<O: Optimizer<f32>>(opt: &mut O, data: &[u8]) {
    // A valid blob, then the input decides where to flip bits and where to cut.
    let mut blob = common::snapshot(opt);
    if blob.is_empty() {
        return;
    }
    for pair in data.chunks(2) {
        if let [at, bits] = *pair {
            let i = at as usize % blob.len();
            blob[i] ^= bits;
        }
    }
    let cut = data.first().map_or(blob.len(), |&c| blob.len() - (c as usize % (blob.len() + 1)).min(blob.len()));
    check(opt, &blob[..cut]);
    check(opt, &blob);
}

fuzz_target!(|data: &[u8]| {
    let mut adam = Adam::<f32, 5>::new(AdamConfig::default()).unwrap();
    let mut p = [0.5f32; 5];
    let _ = adam.step(&mut p, &[0.1, -0.2, 0.3, 0.0, 1.0]);
    check(&mut adam, data);
    mutated(&mut adam, data);
    let mut sgd = SgdMomentum::<f32, 3>::new(SgdConfig { momentum: 0.9, ..SgdConfig::default() }).unwrap();
    check(&mut sgd, data);
    mutated(&mut sgd, data);
    let mut nadam = Nadam::<f32, 2>::new(NadamConfig::default()).unwrap();
    check(&mut nadam, data);
    let mut scaler = GradScaler::new(GradScalerConfig::default()).unwrap();
    let before = scaler.clone();
    if scaler.restore(data).is_err() {
        assert_eq!(scaler, before);
    }
});
