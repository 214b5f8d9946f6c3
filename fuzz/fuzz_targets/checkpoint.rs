//! Reading a checkpoint (`descent_std::checkpoint::Checkpoint::from_bytes`) from arbitrary bytes,
//! and from a valid checkpoint with flips and truncations (checksum left stale and recomputed, so
//! the header and section checks are reached), must be refused or accepted, never panic. An
//! accepted checkpoint writes the bytes it reads back as (to_bytes, from_bytes, to_bytes gives the
//! same bytes), and `restore` rebuilds its model and optimizer or refuses; a restored optimizer
//! steps the restored parameters.
#![no_main]

use descent_std::checkpoint::Checkpoint;
use descent_std::model::{Activation, Init, Mlp};
use descent_std::train::{EpochRecord, History};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    check(data);
    common::mutations(valid(), data, check);
});

/// A small checkpoint with every section filled: a 3-4-2 MLP, Adam's state after a step, a
/// schedule's bytes, a history and settings.
fn valid() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let model = Mlp::new(&[3, 4, 2], Activation::Tanh).unwrap();
        let mut params = model.init_params(Init::Xavier, 1);
        let n = params.len();
        let kwargs: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"name": "adam", "lr": 0.01, "amsgrad": true}"#).unwrap();
        let mut opt =
            descent_std::registry::build::<f32>(&kwargs, &[n], n, descent_core::NonFinitePolicy::Error)
                .unwrap();
        opt.step(&mut params, &vec![0.5; n]).unwrap();
        let mut c = Checkpoint::new(&model, &params, opt.as_ref(), &kwargs, 1).unwrap();
        c.schedule = vec![1, 2, 3];
        c.best_metric = 0.5;
        let record = EpochRecord {
            epoch: 1,
            train_loss: 0.7,
            train_accuracy: 50.0,
            test_loss: 0.6,
            test_accuracy: 55.0,
            val_loss: Some(0.5),
            val_accuracy: Some(60.0),
            lr: 0.01,
            grad_norm: 1.0,
            seconds: 0.1,
        };
        c.history = History { epochs: vec![record] };
        c.settings.insert("train_examples".into(), 10.into());
        c.to_bytes()
    })
}

fn check(bytes: &[u8]) {
    let Ok(c) = Checkpoint::from_bytes(bytes) else { return };
    let again = c.to_bytes();
    let back = Checkpoint::from_bytes(&again).expect("a checkpoint's own bytes read back");
    assert_eq!(back.to_bytes(), again, "a checkpoint does not write the bytes it reads back as");
    if let Ok((model, mut params, mut opt)) = c.restore() {
        assert_eq!(params.len(), model.num_params());
        let grads = vec![0.25; params.len()];
        let _ = opt.step(&mut params, &grads);
    }
}
