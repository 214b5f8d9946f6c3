//! State sizes as documented, and the error contract: bad input gets an error naming the problem,
//! and nothing is modified.

mod common;

use common::{ALL, AnyConfig, values};
use descent::adadelta::Adadelta;
use descent::adafactor::Adafactor;
use descent::adagrad::{Adagrad, AdagradConfig};
use descent::adam::{Adam, AdamAmsgrad, AdamConfig};
use descent::adamax::Adamax;
use descent::asgd::Asgd;
use descent::dadapt_adamw::DadaptAdamw;
use descent::lion::Lion;
use descent::nadam::Nadam;
use descent::prodigy::Prodigy;
use descent::radam::Radam;
use descent::rmsprop::{Rmsprop, RmspropConfig, RmspropFull};
use descent::rprop::Rprop;
use descent::sgd::{Sgd, SgdConfig, SgdMomentum};
use descent::{Error, NonFinitePolicy, OPTIMIZERS, Optim, Optimizer, StepOutcome, UpdateRule};
use std::mem::size_of;

/// Bytes the owned form spends per parameter: size(N = 64) − size(N = 0), divided by 64.
macro_rules! bytes_per_param {
    ($t:ident) => {
        (size_of::<$t<f32, 64>>() - size_of::<$t<f32, 0>>()) / 64
    };
}

#[test]
fn owned_state_costs_exactly_the_documented_bytes_per_parameter() {
    // f32: 4 bytes per state value. The table is the README's and descent::OPTIMIZERS'.
    assert_eq!(bytes_per_param!(Sgd), 0);
    assert_eq!(bytes_per_param!(SgdMomentum), 4);
    assert_eq!(bytes_per_param!(Adam), 8);
    assert_eq!(bytes_per_param!(AdamAmsgrad), 12);
    assert_eq!(bytes_per_param!(Adagrad), 4);
    assert_eq!(bytes_per_param!(Rmsprop), 4);
    assert_eq!(bytes_per_param!(RmspropFull), 12);
    assert_eq!(bytes_per_param!(Adamax), 8);
    assert_eq!(bytes_per_param!(Nadam), 8);
    assert_eq!(bytes_per_param!(Radam), 8);
    assert_eq!(bytes_per_param!(Adadelta), 8);
    assert_eq!(bytes_per_param!(Asgd), 4);
    assert_eq!(bytes_per_param!(Rprop), 8);
    assert_eq!(bytes_per_param!(Adafactor), 4);
    assert_eq!(bytes_per_param!(Lion), 4);
    assert_eq!(bytes_per_param!(Prodigy), 16);
    assert_eq!(bytes_per_param!(DadaptAdamw), 12);
    // f64 doubles it.
    assert_eq!((size_of::<Adam<f64, 64>>() - size_of::<Adam<f64, 0>>()) / 64, 16);
}

#[test]
fn state_len_matches_the_registry_table() {
    assert_eq!(OPTIMIZERS.iter().map(|o| o.name).collect::<Vec<_>>(), ALL);
    for info in OPTIMIZERS {
        let n = 10;
        let default = AnyConfig::default_for(info.name, n);
        let default_len = with_config!(default, |c| c.state_len(n));
        // The registry's "default" for SGD means momentum 0 (PyTorch's default); the test table
        // turns momentum on, which is the registry's maximum.
        let expected = if info.name == "sgd" { info.state_per_param_max } else { info.state_per_param };
        assert_eq!(default_len, expected * n, "{}", info.name);
    }
    let full = RmspropConfig { centered: true, momentum: 0.9, ..RmspropConfig::default() };
    assert_eq!(full.state_len(10), 30);
    assert_eq!(AdamConfig { amsgrad: true, ..AdamConfig::default() }.state_len(10), 30);
    assert_eq!(SgdConfig::default().state_len(10), 0);
    let factored = descent::adafactor::AdafactorConfig::for_shape(&[3, 4, 5]).unwrap();
    assert_eq!(factored.state_len(60), 3 * (4 + 5));
}

fn snapshot<F: descent::Real, O: Optimizer<F>>(o: &O) -> Vec<u8> {
    let mut b = vec![0u8; o.saved_len()];
    o.save(&mut b).unwrap();
    b
}

fn mismatch_changes_nothing<R: UpdateRule>(cfg: R) {
    let n = 8;
    let mut s = vec![0.0f32; cfg.buffer_len(n)];
    let mut opt = Optim::with_buffer(cfg, n, &mut s).unwrap();
    let mut p: Vec<f32> = values(1, n, 1.0).into_iter().map(|x| x as f32).collect();
    let g: Vec<f32> = values(2, n, 1.0).into_iter().map(|x| x as f32).collect();
    opt.step(&mut p, &g).unwrap();
    let (p_before, s_before) = (p.clone(), snapshot(&opt));
    let e = opt.step(&mut p, &g[..n - 1]).unwrap_err();
    assert_eq!(e, Error::LengthMismatch { what: "grads", expected: n, found: n - 1 });
    let mut short = p[..n - 2].to_vec();
    assert!(matches!(opt.step(&mut short, &g), Err(Error::LengthMismatch { what: "params", .. })));
    assert_eq!(
        opt.set_lr(-1.0),
        Err(Error::InvalidHyperparameter {
            name: match R::NAME {
                "adafactor" => "adafactor.lr",
                "muon" => "muon.lr",
                _ => "lr",
            },
            value: -1.0
        })
    );
    assert!(opt.set_lr(f64::NAN).is_err());
    assert_eq!(p, p_before);
    assert_eq!(snapshot(&opt), s_before, "{}", R::NAME);
}

#[test]
fn bad_lengths_and_values_are_refused_and_change_nothing() {
    for name in ALL {
        with_config!(AnyConfig::default_for(name, 8), |c| mismatch_changes_nothing(c));
    }
}

fn policies<R: UpdateRule>(cfg: R) {
    let n = 6;
    let p0: Vec<f64> = values(4, n, 1.0);
    let mut g = values(5, n, 1.0);
    g[3] = f64::NAN;
    for policy in [NonFinitePolicy::SkipStep, NonFinitePolicy::Error, NonFinitePolicy::Propagate] {
        let mut s = vec![0.0f64; cfg.buffer_len(n)];
        let mut opt = Optim::with_buffer_and_policy(cfg.clone(), n, &mut s, policy).unwrap();
        let mut p = p0.clone();
        let before = snapshot(&opt);
        let r = opt.step(&mut p, &g);
        match policy {
            NonFinitePolicy::SkipStep => {
                assert_eq!(r, Ok(StepOutcome::Skipped { index: 3 }));
                assert_eq!((p.clone(), opt.steps(), snapshot(&opt)), (p0.clone(), 0, before));
            }
            NonFinitePolicy::Error => {
                assert_eq!(r, Err(Error::NonFinite { what: "grads", index: 3 }));
                assert_eq!((p.clone(), snapshot(&opt)), (p0.clone(), before));
            }
            NonFinitePolicy::Propagate => {
                assert_eq!(r, Ok(StepOutcome::Stepped));
                // PyTorch's behaviour: the NaN reaches the parameter (Rprop and Lion: sign(NaN) = NaN too).
                assert!(p[3].is_nan(), "{}: NaN did not propagate", R::NAME);
            }
        }
    }
}

#[test]
fn non_finite_gradient_policies() {
    for name in ALL {
        with_config!(AnyConfig::default_for(name, 6), |c| policies(c));
    }
}

#[test]
fn invalid_hyperparameters_are_refused_with_pytorchs_words() {
    let msg = |e: Error| e.to_string();
    let e = Adam::<f32, 2>::new(AdamConfig { betas: (1.5, 0.999), ..AdamConfig::default() }).unwrap_err();
    assert_eq!(msg(e), "Invalid beta parameter at index 0: 1.5");
    let e = Adam::<f32, 2>::new(AdamConfig { eps: -1e-3, ..AdamConfig::default() }).unwrap_err();
    assert_eq!(msg(e), "Invalid epsilon value: -0.001");
    let e = SgdMomentum::<f32, 2>::new(SgdConfig { nesterov: true, ..SgdConfig::default() }).unwrap_err();
    assert_eq!(msg(e), "Nesterov momentum requires a momentum and zero dampening");
    let e = Adagrad::<f32, 2>::new(AdagradConfig { lr_decay: -1.0, ..AdagradConfig::default() }).unwrap_err();
    assert_eq!(msg(e), "Invalid lr_decay value: -1.0");
    let e = Rprop::<f32, 2>::new(descent::rprop::RpropConfig { etas: (1.5, 1.2), ..Default::default() })
        .unwrap_err();
    assert_eq!(msg(e), "Invalid eta values: 1.5, 1.2");
    let e = Adafactor::<f32, 2>::new(descent::adafactor::AdafactorConfig { d: 0.5, ..Default::default() })
        .unwrap_err();
    assert_eq!(msg(e), "Clipping threshold d should be >= 1 but is: 0.5");
}

#[test]
fn momentum_changes_are_validated_and_need_room() {
    let mut plain = Sgd::<f32, 4>::new(SgdConfig::default()).unwrap();
    assert!(matches!(plain.set_momentum(0.9), Err(Error::BufferTooSmall { .. })));
    assert_eq!(plain.momentum(), Some(0.0));
    let mut with_room = SgdMomentum::<f32, 4>::new(SgdConfig::default()).unwrap();
    with_room.set_momentum(0.9).unwrap();
    assert_eq!(with_room.momentum(), Some(0.9));
    let mut adam = Adam::<f32, 4>::new(AdamConfig::default()).unwrap();
    assert!(adam.set_momentum(1.0).is_err());
    adam.set_momentum(0.85).unwrap();
    assert_eq!(adam.momentum(), Some(0.85));
    let mut adagrad = Adagrad::<f32, 4>::new(AdagradConfig::default()).unwrap();
    assert!(matches!(adagrad.set_momentum(0.9), Err(Error::Unsupported { .. })));
    let mut tiny = [0.0f32; 3];
    assert!(matches!(
        Optim::with_buffer(AdamConfig::default(), 2, &mut tiny[..]),
        Err(Error::BufferTooSmall { needed: 4, available: 3, .. })
    ));
}

/// f32 follows f64: over 100 steps on a quadratic, with every optimizer's defaults (lr 1e-2 where
/// PyTorch's default is larger), |x₃₂ − x₆₄| ≤ 100 · 16 · ε₃₂ · max(1, |x|) ≈ 1.9e-4·max(1, |x|).
#[test]
fn f32_follows_f64_within_the_stated_bound() {
    fn run<R: UpdateRule, F: descent::Real>(cfg: R) -> Vec<f64> {
        let n = 12;
        let c: Vec<f64> = (0..n).map(|i| (i as f64 * 0.3).cos()).collect();
        let mut x: Vec<F> =
            c.iter().enumerate().map(|(i, ci)| F::from_f64(ci + 1.0 + i as f64 * 0.2)).collect();
        let mut s = vec![F::ZERO; cfg.buffer_len(n)];
        let mut opt = Optim::with_buffer(cfg, n, &mut s).unwrap();
        for _ in 0..100 {
            let g: Vec<F> = x.iter().zip(&c).map(|(xi, ci)| F::from_f64(1.5 * (xi.as_f64() - ci))).collect();
            opt.step(&mut x, &g).unwrap();
        }
        x.iter().map(|v| v.as_f64()).collect()
    }
    for name in ALL {
        let cfg = AnyConfig::default_for(name, 12);
        let lr = with_config!(cfg, |c| c.lr);
        let cfg = cfg.with_lr(lr.min(1e-2));
        let (a, b) = with_config!(cfg, |c| (run::<_, f32>(c), run::<_, f64>(c)));
        for (x32, x64) in a.iter().zip(&b) {
            let bound = 100.0 * 16.0 * f32::EPSILON as f64 * x64.abs().max(1.0);
            assert!((x32 - x64).abs() <= bound, "{name}: {x32} vs {x64} (bound {bound:e})");
        }
    }
}
