//! Every optimizer, arbitrary lengths, hyperparameters and values: steps, lr and momentum changes,
//! save and restore must return Ok or Err and never panic; a refused call changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let mut u = arbitrary::Unstructured::new(data);
    let _ = common::any_optimizer(&mut u);
});
