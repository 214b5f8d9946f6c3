//! 8-bit optimizer state (`descent_core::quant_state`) under arbitrary use: any supported rule
//! with arbitrary (also invalid) hyperparameters, buffer sizes, block sizes 64 and 3, rounding and
//! non-finite policy; steps with arbitrary values and lengths, learning-rate and momentum changes,
//! save and restore of its own bytes, of arbitrary bytes and of its bytes flipped, truncated and
//! resealed; and the codes on arbitrary values and scales. Nothing may panic, and a call that
//! returns an error changes neither parameters nor state.
#![no_main]

use arbitrary::{Result, Unstructured};
use descent_core::Optimizer;
use descent_core::adam::AdamConfig;
use descent_core::adamax::AdamaxConfig;
use descent_core::nadam::NadamConfig;
use descent_core::quant_state::{QuantOptim, QuantRule, Rounding, SplitMix64, StreamCode};
use descent_core::radam::RadamConfig;
use descent_core::sgd::SgdConfig;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

use common::{hyper, snapshot, value};

/// A restore of `bytes` either succeeds and the optimizer still steps and saves, or changes
/// nothing.
fn restore(opt: &mut dyn Optimizer<f32>, bytes: &[u8]) {
    let before = snapshot(opt);
    if opt.restore(bytes).is_err() {
        assert_eq!(snapshot(opt), before, "a refused restore changed the state");
    } else {
        let n = opt.len();
        let _ = opt.step(&mut vec![1.0; n], &vec![1.0; n]);
        assert!(!snapshot(opt).is_empty(), "cannot save after restore");
    }
}

fn exercise<R: QuantRule, const BLOCK: usize>(u: &mut Unstructured<'_>, cfg: R, data: &[u8]) -> Result<()> {
    let n = u.int_in_range(0usize..=150)?;
    let mut codes = vec![0u8; u.int_in_range(0usize..=460)?];
    let mut scales = vec![0.0f32; u.int_in_range(0usize..=160)?];
    let rounding = if u.arbitrary()? { Rounding::Stochastic(u.arbitrary()?) } else { Rounding::Nearest };
    let policy = common::policy(u)?;
    let Ok(mut opt) = QuantOptim::<R, &mut [u8], &mut [f32], BLOCK>::from_storage(
        cfg,
        &mut codes,
        &mut scales,
        n,
        rounding,
        policy,
    ) else {
        return Ok(());
    };
    for _ in 0..u.int_in_range(0u8..=8)? {
        match u.int_in_range(0u8..=5)? {
            0..=2 => {
                let pn = if u.ratio(1u8, 8)? { u.int_in_range(0usize..=151)? } else { n };
                let gn = if u.ratio(1u8, 8)? { u.int_in_range(0usize..=151)? } else { n };
                let mut p = Vec::with_capacity(pn);
                for _ in 0..pn {
                    p.push(value::<f32>(u)?);
                }
                let mut g = Vec::with_capacity(gn);
                for _ in 0..gn {
                    g.push(value::<f32>(u)?);
                }
                let (p0, s0) = (p.clone(), snapshot(&opt));
                if opt.step(&mut p, &g).is_err() {
                    assert!(
                        p.iter().zip(&p0).all(|(a, b)| a.to_bits() == b.to_bits()),
                        "params changed on error"
                    );
                    assert_eq!(snapshot(&opt), s0, "state changed on error");
                }
            }
            3 => {
                let s0 = snapshot(&opt);
                if opt.set_lr(hyper(u, 0.0, 1.0)?).is_err() {
                    assert_eq!(snapshot(&opt), s0);
                }
            }
            4 => {
                let s0 = snapshot(&opt);
                if opt.set_momentum(hyper(u, 0.0, 1.0)?).is_err() {
                    assert_eq!(snapshot(&opt), s0);
                }
            }
            _ => {
                let own = snapshot(&opt);
                assert!(opt.restore(&own).is_ok(), "own bytes refused");
                assert_eq!(snapshot(&opt), own);
                restore(&mut opt, data);
                common::mutations(&own, data, |b| restore(&mut opt, b));
                let _ = opt.restore(&own);
            }
        }
    }
    let mut out = vec![0.0f32; u.int_in_range(0usize..=460)?];
    opt.state_f32(&mut out);
    Ok(())
}

/// The codes on arbitrary values, scales and code bytes.
fn codes(u: &mut Unstructured<'_>) -> Result<()> {
    let mut rng = SplitMix64(u.arbitrary()?);
    for code in [StreamCode::Signed, StreamCode::Denominator] {
        let len = u.int_in_range(0usize..=70)?;
        let mut values = Vec::with_capacity(len);
        for _ in 0..len {
            values.push(value::<f32>(u)?);
        }
        let mut out = vec![0u8; u.int_in_range(0usize..=70)?];
        let stochastic = u.arbitrary::<bool>()?;
        let scale = code.quantize(&values, &mut out, if stochastic { Some(&mut rng) } else { None });
        let mut back = vec![0.0f32; out.len()];
        code.dequantize(&out, scale, &mut back);
        let (x, s, c) = (value::<f32>(u)?, value::<f32>(u)?, u.arbitrary::<u8>()?);
        let _ = (code.encode(x, s, Some(&mut rng)), code.encode(x, s, None), code.decode(c, s));
    }
    Ok(())
}

fn run(u: &mut Unstructured<'_>, data: &[u8]) -> Result<()> {
    codes(u)?;
    let lr = hyper(u, 0.0, 1.0)?;
    let wd = hyper(u, 0.0, 0.1)?;
    let betas = (hyper(u, 0.0, 1.0)?, hyper(u, 0.0, 1.0)?);
    let eps = hyper(u, 0.0, 1e-3)?;
    let maximize = u.arbitrary()?;
    let small_blocks = u.arbitrary::<bool>()?;
    macro_rules! go {
        ($cfg:expr) => {{
            let cfg = $cfg;
            if small_blocks { exercise::<_, 3>(u, cfg, data) } else { exercise::<_, 64>(u, cfg, data) }
        }};
    }
    match u.int_in_range(0u8..=4)? {
        0 => go!(SgdConfig {
            lr,
            momentum: hyper(u, 0.0, 1.0)?,
            dampening: hyper(u, 0.0, 1.0)?,
            weight_decay: wd,
            nesterov: u.arbitrary()?,
            maximize
        }),
        1 => go!(AdamConfig {
            lr,
            betas,
            eps,
            weight_decay: wd,
            amsgrad: u.arbitrary()?,
            maximize,
            decoupled_weight_decay: u.arbitrary()?
        }),
        2 => go!(AdamaxConfig { lr, betas, eps, weight_decay: wd, maximize }),
        3 => go!(NadamConfig {
            lr,
            betas,
            eps,
            weight_decay: wd,
            momentum_decay: hyper(u, 0.0, 0.1)?,
            decoupled_weight_decay: u.arbitrary()?,
            maximize
        }),
        _ => go!(RadamConfig {
            lr,
            betas,
            eps,
            weight_decay: wd,
            decoupled_weight_decay: u.arbitrary()?,
            maximize
        }),
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data), data);
});
