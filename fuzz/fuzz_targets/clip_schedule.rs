//! Clipping (value, global norm, percentile, AGC), accumulation and the LR range test on
//! arbitrary input: Ok or Err, never a panic. The learning-rate schedules have their own target,
//! `schedule.rs`.
#![no_main]

use arbitrary::Unstructured;
use descent_core::accumulate::{AccumulateMode, AccumulateView};
use descent_core::clip::{self, NormType, PercentileClipper};
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

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
