//! descent's GradScaler against the sequences `torch.amp.GradScaler` produced
//! (`tools/torch_grad_scaler.py` → `tests/data/grad_scaler/torch.json`).

mod common;

use common::resealed;
use descent::StepOutcome;
use descent::grad_scaler::{GradScaler, GradScalerConfig};
use descent::sgd::{Sgd, SgdConfig};
use serde_json::Value;

#[test]
fn matches_pytorch_grad_scaler_sequences() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/grad_scaler/torch.json");
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        let c = &case["config"];
        let cfg = GradScalerConfig {
            init_scale: c["init_scale"].as_f64().unwrap(),
            growth_factor: c["growth_factor"].as_f64().unwrap(),
            backoff_factor: c["backoff_factor"].as_f64().unwrap(),
            growth_interval: c["growth_interval"].as_u64().unwrap() as u32,
        };
        let mut scaler = GradScaler::new(cfg).unwrap();
        let mut opt = Sgd::<f32, 3>::new(SgdConfig { lr: 0.1, ..SgdConfig::default() }).unwrap();
        let mut p = [1.0f32, -2.0, 0.5];
        for (k, s) in case["steps"].as_array().unwrap().iter().enumerate() {
            let bad = s["bad"].as_bool().unwrap();
            let w = [0.3 + 0.01 * k as f32, -0.2, 0.05];
            // d/dp of scale·(p·w)·(∞ or 1), as autograd computes it.
            let factor = if bad { f32::INFINITY } else { 1.0 };
            let mut g = w.map(|wi| wi * (scaler.scale() * factor));
            let outcome = scaler.step(&mut opt, &mut p, &mut g).unwrap();
            assert_eq!(outcome == StepOutcome::Stepped, s["stepped"].as_bool().unwrap(), "{cfg:?} step {k}");
            assert_eq!(scaler.scale() as f64, s["scale"].as_f64().unwrap(), "{cfg:?} step {k}");
            for (a, e) in p.iter().zip(s["params"].as_array().unwrap()) {
                let e = e.as_f64().unwrap();
                assert!((*a as f64 - e).abs() <= 1e-6 + 1e-5 * e.abs(), "{cfg:?} step {k}: {a} vs {e}");
            }
        }
        // Save, restore into a fresh scaler, same state.
        let mut bytes = vec![0u8; scaler.saved_len()];
        scaler.save(&mut bytes).unwrap();
        let mut other = GradScaler::new(GradScalerConfig::default()).unwrap();
        other.restore(&bytes).unwrap();
        assert_eq!(other, scaler);
        bytes[30] ^= 1;
        assert!(other.restore(&bytes).is_err());
        assert_eq!(other, scaler);
    }
}

#[test]
fn refuses_pytorchs_invalid_factors() {
    let bad = |c: GradScalerConfig| GradScaler::new(c).is_err();
    assert!(bad(GradScalerConfig { growth_factor: 1.0, ..Default::default() }));
    assert!(bad(GradScalerConfig { backoff_factor: 1.0, ..Default::default() }));
    assert!(bad(GradScalerConfig { init_scale: f64::INFINITY, ..Default::default() }));
    assert!(bad(GradScalerConfig { growth_interval: 0, ..Default::default() }));
}

/// A growth tracker at or past growth_interval never occurs in a running scaler (it resets on
/// reaching it); restored from intact, re-sealed bytes it is refused (it would never grow again,
/// and u32::MAX would overflow on the next update).
#[test]
fn restore_refuses_a_growth_tracker_past_the_interval() {
    let mut scaler =
        GradScaler::new(GradScalerConfig { growth_interval: 3, ..GradScalerConfig::default() }).unwrap();
    scaler.update(false);
    scaler.update(false);
    let mut bytes = vec![0u8; scaler.saved_len()];
    scaler.save(&mut bytes).unwrap();
    let mut back = GradScaler::new(GradScalerConfig::default()).unwrap();
    back.restore(&bytes).unwrap();
    assert_eq!(back, scaler);
    for tracker in [3u64, u64::from(u32::MAX)] {
        let mut bad = bytes.clone();
        bad[16..24].copy_from_slice(&tracker.to_le_bytes()); // header: step count = growth tracker
        let bad = resealed(bad);
        assert!(matches!(back.restore(&bad), Err(descent::Error::CorruptState { reason: "growth tracker" })));
        assert_eq!(back, scaler);
    }
}
