//! 8-bit optimizer state (`descent_core::quant_state`) under arbitrary use: any supported rule
//! with arbitrary (also invalid) hyperparameters, buffer sizes, block sizes 64 and 3, rounding and
//! non-finite policy; steps with arbitrary values and lengths, learning-rate and momentum changes,
//! save and restore of its own bytes, of arbitrary bytes and of its bytes flipped, truncated and
//! resealed; and the codes on arbitrary values and scales. Nothing may panic, and a call that
//! returns an error changes neither parameters nor state.
#![no_main]

use arbitrary::{Result, Unstructured};
use descent_core::quant_state::{QuantOptim, QuantRule, Rounding, SplitMix64, StreamCode};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

use common::{Hypers, check_restore, hyper, snapshot, value};

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
    common::calls(u, &mut opt, 8, 151, |_, opt| {
        let own = snapshot(opt);
        assert!(opt.restore(&own).is_ok(), "own bytes refused");
        assert_eq!(snapshot(opt), own);
        check_restore(opt, data);
        common::mutations(&own, data, |b| check_restore(opt, b));
        let _ = opt.restore(&own);
        Ok(())
    })?;
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
    let h = Hypers::draw(u)?;
    let small_blocks = u.arbitrary::<bool>()?;
    macro_rules! go {
        ($cfg:expr) => {{
            let cfg = $cfg;
            if small_blocks { exercise::<_, 3>(u, cfg, data) } else { exercise::<_, 64>(u, cfg, data) }
        }};
    }
    match u.int_in_range(0u8..=5)? {
        0 => go!(h.sgd(u)?),
        1 => go!(h.adam(u.arbitrary()?, u.arbitrary()?)),
        2 => go!(h.adamax()),
        3 => go!(h.nadam(u)?),
        4 => go!(h.radam(u)?),
        // Sophia: its Hessian average h is a denominator stream, fed by update_hessian.
        _ => go!(descent_core::sophia::SophiaConfig {
            lr: h.lr,
            betas: h.betas,
            rho: hyper(u, 0.0, 1.0)?,
            eps: h.eps,
            weight_decay: h.wd,
            update_period: 10
        }),
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data), data);
});
