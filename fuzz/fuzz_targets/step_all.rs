//! Every optimizer, arbitrary lengths, hyperparameters and values: steps, lr and momentum changes,
//! save and restore must return Ok or Err and never panic; a refused call changes nothing. SparseAdam
//! too, with arbitrary sparse gradients.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let mut u = arbitrary::Unstructured::new(data);
    // One input in 25 drives SparseAdam, which is not in the table (its step is sparse).
    let _ = match u.int_in_range(0u8..=24) {
        Ok(0) => common::sparse_adam(&mut u),
        _ => common::any_optimizer(&mut u),
    };
});
