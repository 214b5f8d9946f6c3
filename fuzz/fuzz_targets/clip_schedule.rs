//! Clipping (value, global norm, percentile, AGC), accumulation, the LR range test and L-BFGS
//! (every line search, on objectives with arbitrary, possibly NaN or unbounded, coefficients) on
//! arbitrary input: Ok or Err, never a panic or a hang. The learning-rate schedules have their
//! own target, `schedule.rs`.
#![no_main]

use arbitrary::Unstructured;
use descent_core::accumulate::{AccumulateMode, AccumulateView};
use descent_core::clip::{self, NormType, PercentileClipper};
use descent_core::lbfgs::{Lbfgs, LbfgsConfig, LineSearch, lbfgs_state_len};
use descent_core::lr_finder::LrRangeTest;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let slices = u.int_in_range(0usize..=3)?;
    let mut data: Vec<Vec<f32>> = Vec::new();
    for _ in 0..slices {
        let n = u.int_in_range(0usize..=50)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(common::value::<f32>(u)?);
        }
        data.push(v);
    }
    let norm = match u.int_in_range(0u8..=2)? {
        0 => NormType::L1,
        1 => NormType::L2,
        _ => NormType::Inf,
    };
    let _ = NormType::from_f64(common::hyper(u, 0.0, 3.0)?);
    let mut views: Vec<&mut [f32]> = data.iter_mut().map(|v| v.as_mut_slice()).collect();
    let _ = clip::clip_grad_norm(&mut views, common::hyper(u, 0.0, 10.0)?, norm, u.arbitrary()?);
    let _ = clip::clip_grad_value(&mut views, common::hyper(u, 0.0, 10.0)?);
    let mut pc = PercentileClipper::<8>::new(common::hyper(u, 0.0, 100.0)?, u.int_in_range(0usize..=9)?);
    if let Ok(pc) = pc.as_mut() {
        for _ in 0..u.int_in_range(0u8..=10)? {
            let _ = pc.clip(&mut views);
        }
    }
    let flat: Vec<f32> = data.iter().flatten().copied().collect();
    let rows = u.int_in_range(0usize..=8)?;
    let cols = u.int_in_range(0usize..=8)?;
    let mut g = flat.clone();
    let _ =
        clip::clip_agc(&flat, &mut g, rows, cols, common::hyper(u, 0.0, 1.0)?, common::hyper(u, 0.0, 1e-3)?);
    let mut buf = vec![0.0f32; u.int_in_range(0usize..=60)?];
    if let Ok(mut acc) = AccumulateView::with_buffer(
        &mut buf,
        flat.len(),
        u.int_in_range(0usize..=4)?,
        if u.arbitrary()? { AccumulateMode::RunningMean } else { AccumulateMode::SumThenScale },
    ) {
        for _ in 0..u.int_in_range(0u8..=6)? {
            let _ = acc.push(&flat);
            let _ = acc.gradient();
        }
    }
    if let Ok(mut rt) = LrRangeTest::<16>::with_smoothing(
        common::hyper(u, 0.0, 1.0)?,
        common::hyper(u, 0.0, 10.0)?,
        u.int_in_range(0usize..=20)?,
        common::hyper(u, 0.0, 1.0)?,
        common::hyper(u, 0.0, 10.0)?,
    ) {
        for _ in 0..u.int_in_range(0u8..=20)? {
            let _ = rt.record(common::hyper(u, 0.0, 10.0)?);
            let _ = rt.suggestion();
        }
    }
    Ok(())
}

/// L-BFGS on f(x) = Σ aᵢxᵢ²/2 + bᵢxᵢ (or a loss that turns NaN/∞ past a point), with arbitrary
/// hyperparameters; iterations and evaluations stay small so a run cannot take long.
fn lbfgs(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    const M: usize = 3;
    let n = u.int_in_range(0usize..=6)?;
    let line_search = match u.int_in_range(0u8..=2)? {
        0 => LineSearch::None,
        1 => LineSearch::StrongWolfe,
        _ => LineSearch::Armijo,
    };
    // A huge max_iter only with a small max_eval, which bounds the run (an unbounded default
    // max_eval = max_iter·5/4 runs as long as asked, as PyTorch's does; tests/lbfgs.rs checks
    // that computing it does not overflow).
    let (max_iter, max_eval) = if u.ratio(1u8, 16)? {
        (u.arbitrary()?, Some(u.int_in_range(0usize..=40)?))
    } else {
        (u.int_in_range(0usize..=25)?, if u.arbitrary()? { Some(u.int_in_range(0usize..=40)?) } else { None })
    };
    let cfg = LbfgsConfig {
        lr: common::hyper(u, 0.0, 2.0)?,
        max_iter,
        max_eval,
        tolerance_grad: common::hyper(u, 0.0, 1e-5)?,
        tolerance_change: common::hyper(u, 0.0, 1e-7)?,
        line_search,
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..n {
        a.push(common::hyper(u, -1.0, 4.0)?);
        b.push(common::hyper(u, -2.0, 2.0)?);
    }
    let blow_up = common::hyper(u, 1.0, 100.0)?;
    let mut x: Vec<f64> = (0..n).map(|_| common::hyper(u, -3.0, 3.0)).collect::<arbitrary::Result<_>>()?;
    let buf_len = if u.ratio(1u8, 8)? { u.int_in_range(0usize..=100)? } else { lbfgs_state_len(n, M) };
    let n_claimed = if u.ratio(1u8, 16)? { u.arbitrary()? } else { n };
    let Ok(mut opt) = Lbfgs::<f64, Vec<f64>, M>::new(cfg, n_claimed, vec![0.0; buf_len]) else {
        return Ok(());
    };
    let mut f = |x: &[f64], g: &mut [f64]| {
        let mut loss = 0.0;
        for i in 0..x.len() {
            g[i] = a[i] * x[i] + b[i];
            loss += 0.5 * a[i] * x[i] * x[i] + b[i] * x[i];
        }
        if x.iter().any(|v| v.abs() > blow_up) { f64::NAN } else { loss }
    };
    for _ in 0..u.int_in_range(1u8..=3)? {
        let _ = opt.step(&mut x, &mut f);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    if u.arbitrary().unwrap_or(false) {
        let _ = lbfgs(&mut u);
    } else {
        let _ = run(&mut u);
    }
});
