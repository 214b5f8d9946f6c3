//! Clipping, accumulation and the LR range test: properties and bounds.

mod common;

use common::values;
use descent::accumulate::{Accumulate, AccumulateMode, Accumulated};
use descent::clip::{self, NormType, PercentileClipper};
use descent::lr_finder::{LrRangeTest, RangeStatus};
use descent::{Error, Real};
use proptest::prelude::*;

/// Σx² (or Σ|x|, max|x|) in f64 with Neumaier compensation: exact to about 1 ulp of f64.
fn compensated(grads: &[Vec<f64>], norm: NormType) -> f64 {
    let (mut s, mut c) = (0.0f64, 0.0f64);
    let mut m = 0.0f64;
    for x in grads.iter().flatten() {
        let t = match norm {
            NormType::L2 => x * x,
            NormType::L1 => x.abs(),
            NormType::Inf => {
                m = m.max(x.abs());
                continue;
            }
        };
        let sum = s + t;
        c += if s.abs() >= t.abs() { (s - sum) + t } else { (t - sum) + s };
        s = sum;
    }
    match norm {
        NormType::L2 => (s + c).sqrt(),
        NormType::L1 => s + c,
        NormType::Inf => m,
    }
}

fn norm_type() -> impl Strategy<Value = NormType> {
    prop_oneof![Just(NormType::L1), Just(NormType::L2), Just(NormType::Inf)]
}

fn slices() -> impl Strategy<Value = Vec<Vec<f64>>> {
    (prop::collection::vec(0usize..3000, 1..4), any::<u64>(), prop_oneof![Just(1e-3), Just(1.0), Just(1e3)])
        .prop_map(|(lens, seed, scale)| {
            lens.iter().enumerate().map(|(i, &n)| values(seed + i as u64, n, scale)).collect()
        })
}

fn check_bounds<F: Real>(grads: &[Vec<f64>], norm: NormType) -> Result<(), TestCaseError> {
    let g: Vec<Vec<F>> = grads.iter().map(|s| s.iter().map(|&x| F::from_f64(x)).collect()).collect();
    // The exact norm of the values as rounded to F.
    let exact =
        compensated(&g.iter().map(|s| s.iter().map(|x| x.as_f64()).collect()).collect::<Vec<_>>(), norm);
    let n: usize = g.iter().map(Vec::len).sum();
    let lanes = clip::total_norm::<F, _>(&g, norm).as_f64();
    let scalar = clip::total_norm_reference::<F, _>(&g, norm).as_f64();
    let bl = clip::norm_error_bound::<F>(n, g.len(), F::LANES, norm) * exact;
    let bs = clip::norm_error_bound::<F>(n, g.len(), 1, norm) * exact;
    prop_assert!((lanes - exact).abs() <= bl, "lanes {lanes:e} vs exact {exact:e}, bound {bl:e}");
    prop_assert!((scalar - exact).abs() <= bs, "scalar {scalar:e} vs exact {exact:e}, bound {bs:e}");
    prop_assert!((lanes - scalar).abs() <= bl + bs);
    Ok(())
}

proptest! {
    #![proptest_config(common::config(64))]

    /// Both summation paths stay within their stated error bound of a compensated f64 sum, and
    /// within the sum of the bounds of each other.
    #[test]
    fn norm_paths_agree_within_the_stated_bound(g in slices(), norm in norm_type()) {
        check_bounds::<f32>(&g, norm)?;
        check_bounds::<f64>(&g, norm)?;
    }

    /// After clip_grad_norm the norm is ≤ max_norm, the direction is kept, and below the threshold
    /// nothing changes (PyTorch's factor is exactly 1 there).
    #[test]
    fn clip_grad_norm_bounds_the_norm_and_keeps_direction(g in slices(), max_norm in 1e-3..1e3f64, norm in norm_type()) {
        let mut v: Vec<Vec<f32>> = g.iter().map(|s| s.iter().map(|&x| x as f32).collect()).collect();
        let before = v.clone();
        let mut views: Vec<&mut [f32]> = v.iter_mut().map(|s| s.as_mut_slice()).collect();
        let total = clip::clip_grad_norm(&mut views, max_norm, norm, true).unwrap() as f64;
        let after = clip::total_norm::<f32, _>(&v, norm) as f64;
        if total + 1e-6 <= max_norm {
            prop_assert_eq!(&v, &before);
        } else {
            prop_assert!(after <= max_norm * (1.0 + 1e-5), "{after} > {max_norm}");
            // Same direction: every value scaled by one factor c ∈ (0, 1].
            let c = max_norm / (total + 1e-6);
            for (a, b) in v.iter().flatten().zip(before.iter().flatten()) {
                prop_assert!((*a as f64 - c * *b as f64).abs() <= 1e-6 * b.abs() as f64 + 1e-30);
            }
        }
    }

    /// clip_grad_value clamps into [−c, c] and leaves values inside alone.
    #[test]
    fn clip_grad_value_clamps(g in slices(), c in 0.0..10.0f64) {
        let mut v = g.clone();
        let mut views: Vec<&mut [f64]> = v.iter_mut().map(|s| s.as_mut_slice()).collect();
        clip::clip_grad_value(&mut views, c).unwrap();
        for (a, b) in v.iter().flatten().zip(g.iter().flatten()) {
            prop_assert_eq!(*a, b.clamp(-c, c));
        }
    }

    /// AGC: after clipping, every unit's gradient norm is ≤ λ·max(‖W_i‖, ε) (up to rounding), and
    /// units under the bound are untouched.
    #[test]
    fn agc_bounds_each_unit(rows in 1usize..20, cols in 1usize..40, seed: u64, lam in 1e-3..1.0f64) {
        let w: Vec<f64> = values(seed, rows * cols, 1.0);
        let mut g: Vec<f64> = values(seed + 1, rows * cols, 10.0);
        let before = g.clone();
        clip::clip_agc(&w, &mut g, rows, cols, lam, 1e-3).unwrap();
        for r in 0..rows {
            let unit = |v: &[f64]| v[r * cols..(r + 1) * cols].iter().map(|x| x * x).sum::<f64>().sqrt();
            let bound = lam * unit(&w).max(1e-3);
            prop_assert!(unit(&g) <= bound * (1.0 + 1e-12) || unit(&before) <= bound);
            if unit(&before) <= bound {
                prop_assert_eq!(&g[r * cols..(r + 1) * cols], &before[r * cols..(r + 1) * cols]);
            }
        }
    }
}

#[test]
fn clip_grad_norm_refuses_non_finite_norms_only_when_asked() {
    let mut a = vec![1.0f32, f32::INFINITY];
    let mut views = [a.as_mut_slice()];
    assert_eq!(
        clip::clip_grad_norm(&mut views, 1.0, NormType::L2, true),
        Err(Error::NonFinite { what: "total norm", index: 0 })
    );
    assert_eq!(a, vec![1.0, f32::INFINITY]);
    let mut views = [a.as_mut_slice()];
    assert!(clip::clip_grad_norm(&mut views, 1.0, NormType::L2, false).unwrap().is_infinite());
    assert!(clip::clip_grad_norm(&mut [&mut [1.0f64][..]], -1.0, NormType::L2, false).is_err());
    assert_eq!(NormType::from_f64(3.0), Err(Error::InvalidHyperparameter { name: "norm_type", value: 3.0 }));
}

/// numpy.percentile with linear interpolation, for the check.
fn percentile(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = p / 100.0 * (s.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    s[lo] + (s[hi] - s[lo]) * (rank - lo as f64)
}

#[test]
fn percentile_clipper_engages_after_min_history_and_tracks_the_window() {
    let mut clipper = PercentileClipper::<8>::new(50.0, 3).unwrap();
    let mut seen = Vec::new();
    for k in 0..20 {
        let scale = if k % 5 == 4 { 100.0 } else { 1.0 + k as f64 * 0.1 };
        let mut g = vec![scale, 0.0];
        let r = clipper.clip(&mut [g.as_mut_slice()]).unwrap();
        seen.push(scale);
        let window = &seen[seen.len().saturating_sub(8)..];
        if seen.len() < 3 {
            assert_eq!((r.threshold, r.clipped), (None, false));
            assert_eq!(g[0], scale);
        } else {
            let t = percentile(window, 50.0);
            assert!((r.threshold.unwrap() - t).abs() <= 1e-12 * t, "k={k}");
            assert_eq!(r.clipped, scale > t);
            assert!(g[0] <= t.max(scale.min(t)) + 1e-9);
        }
    }
    assert!(PercentileClipper::<8>::new(101.0, 3).is_err());
    assert!(PercentileClipper::<8>::new(50.0, 9).is_err());
}

proptest! {
    #![proptest_config(common::config(64))]

    /// The clipper's incrementally sorted window gives the threshold a fresh sort of the last W
    /// norms gives, bit for bit, on sequences with repeats, zeros and spikes.
    #[test]
    fn percentile_threshold_equals_sorting_the_window(p in 0.0..=100.0f64, min in 1usize..=5, norms in prop::collection::vec(prop_oneof![Just(0.0), Just(1.0), Just(2.5), 0.0..10.0f64, 1e3..1e6f64], 0..60)) {
        let mut clipper = PercentileClipper::<5>::new(p, min).unwrap();
        let mut seen = Vec::new();
        for &x in &norms {
            let mut g = [x];
            let r = clipper.clip(&mut [&mut g[..]]).unwrap();
            seen.push(x);
            let mut window = seen[seen.len().saturating_sub(5)..].to_vec();
            window.sort_by(f64::total_cmp);
            let k = window.len();
            let expected = (k >= min).then(|| {
                let rank = p / 100.0 * (k - 1) as f64;
                let lo = rank as usize;
                let hi = (lo + 1).min(k - 1);
                window[lo] + (window[hi] - window[lo]) * (rank - lo as f64)
            });
            prop_assert_eq!(r.threshold.map(f64::to_bits), expected.map(f64::to_bits));
            prop_assert_eq!(clipper.threshold(), r.threshold);
        }
    }
}

#[test]
fn accumulation_gives_the_mean_and_says_when_to_step() {
    for mode in [AccumulateMode::SumThenScale, AccumulateMode::RunningMean] {
        let mut acc = Accumulate::<f64, 3>::new(4, mode).unwrap();
        for round in 0..3 {
            let batches: Vec<[f64; 3]> =
                (0..4).map(|j| [j as f64, 1.0 + round as f64, -2.0 * j as f64]).collect();
            for (j, b) in batches.iter().enumerate() {
                let status = acc.push(b).unwrap();
                if j < 3 {
                    assert_eq!(status, Accumulated::Pending { have: j + 1, need: 4 });
                    assert_eq!(acc.gradient(), None);
                } else {
                    assert_eq!(status, Accumulated::Ready);
                }
            }
            assert_eq!(acc.gradient().unwrap(), &[1.5, 1.0 + round as f64, -3.0]);
        }
        assert!(acc.push(&[1.0, 2.0]).is_err());
    }
    assert!(Accumulate::<f32, 3>::new(0, AccumulateMode::SumThenScale).is_err());
}

#[test]
fn range_test_finds_the_steep_part_and_stops_on_divergence() {
    // A synthetic loss against lr: flat, falls steeply around lr = 1e-2, then blows up past 1.
    let loss = |lr: f64| {
        let x = lr.log10();
        1.0 - 0.8 / (1.0 + (-(x + 2.0) * 4.0).exp()) + if x > 0.0 { 10.0 * x * x } else { 0.0 }
    };
    let mut rt = LrRangeTest::<200>::new(1e-5, 10.0, 200).unwrap();
    let mut steps = 0;
    loop {
        steps += 1;
        match rt.record(loss(rt.lr())).unwrap() {
            RangeStatus::Continue => {}
            status => {
                assert_eq!(status, RangeStatus::Diverged);
                break;
            }
        }
    }
    assert!(steps < 200, "should stop before the end");
    let s = rt.suggestion().unwrap();
    // The smoothed curve lags the raw one a little; the steepest fall is near 1e-2.
    assert!((1e-3..1e-1).contains(&s), "suggestion {s:e}");
    assert!(rt.record(1.0).is_err());
    assert!(LrRangeTest::<10>::new(1e-3, 1e-4, 5).is_err());
    assert!(LrRangeTest::<10>::new(1e-3, 1.0, 11).is_err());
    // The lr ramp is exponential: equal ratios between steps.
    let r = LrRangeTest::<5>::new(1e-4, 1.0, 5).unwrap();
    assert!((r.lr_at(4) - 1.0).abs() < 1e-12 && (r.lr_at(2) - 1e-2).abs() < 1e-15);
}

/// A non-finite loss ends the test as divergence, and the suggestion leaves out only the step
/// that diverged: it equals the suggestion of the finite losses before it (the last of which is
/// the steepest fall here, so dropping it would move the suggestion).
#[test]
fn range_test_keeps_the_last_finite_point_when_the_loss_turns_non_finite() {
    let losses = [1.0, 0.99, 0.98, 0.97, 0.9, 0.5];
    for bad in [f64::NAN, f64::INFINITY] {
        let mut diverged = LrRangeTest::<20>::new(1e-4, 1.0, 20).unwrap();
        let mut finished = LrRangeTest::<20>::new(1e-4, 1.0, 20).unwrap();
        for &l in &losses {
            assert_eq!(diverged.record(l).unwrap(), RangeStatus::Continue);
            finished.record(l).unwrap();
        }
        let lr_of_bad_step = diverged.lr();
        assert_eq!(diverged.record(bad).unwrap(), RangeStatus::Diverged);
        let expected = finished.suggestion().unwrap();
        assert_eq!(expected, finished.lr_at(losses.len() - 1));
        assert_eq!(diverged.suggestion(), Some(expected), "loss {bad}");
        // The diverging step is on record (its lr and loss), and left out of the suggestion.
        let last = diverged.points().last().unwrap();
        assert_eq!((last.lr, last.loss.is_finite(), last.smoothed), (lr_of_bad_step, false, f64::INFINITY));
        assert_eq!(diverged.points()[..losses.len()], finished.points()[..]);
    }
}

// Per tensor and per parameter group, over a layout.

mod per_tensor {
    use super::*;
    use descent::layout::{Layout, Tensor};

    /// Three tensors in two groups, 20 values.
    fn layout() -> Layout<[Tensor; 3]> {
        Layout::new(
            [Tensor::new(0, &[3, 4], 0), Tensor::new(12, &[4], 1), Tensor::new(16, &[2, 2], 0)],
            20,
            2,
        )
        .unwrap()
    }

    fn rms(x: &[f64]) -> f64 {
        (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt()
    }

    proptest! {
        #![proptest_config(common::config(64))]

        /// optax's clip_by_block_rms: every tensor ends with RMS ≤ threshold (to rounding), and a
        /// tensor already under it is left bit for bit.
        #[test]
        fn block_rms_caps_every_tensor(seed in any::<u64>(), scale in 1e-3..10.0f64, threshold in 1e-3..2.0f64) {
            let l = layout();
            let g0: Vec<f32> = values(seed, 20, scale).into_iter().map(|x| x as f32).collect();
            let mut g = g0.clone();
            clip::clip_by_block_rms(&l, &mut g, threshold).unwrap();
            for t in l.tensors() {
                let before: Vec<f64> = g0[t.range()].iter().map(|&x| f64::from(x)).collect();
                let after: Vec<f64> = g[t.range()].iter().map(|&x| f64::from(x)).collect();
                prop_assert!(rms(&after) <= threshold * (1.0 + 1e-5));
                if rms(&before) <= threshold * (1.0 - 1e-5) {
                    prop_assert_eq!(&g[t.range()], &g0[t.range()]);
                } else {
                    // Scaled by threshold / RMS (the direction kept).
                    let k = threshold / rms(&before);
                    for (a, b) in after.iter().zip(&before) {
                        prop_assert!((a - k * b).abs() <= 1e-5 * b.abs().max(1e-30) + 1e-7 * k);
                    }
                }
            }
        }

        /// Keras's per-variable clipnorm: every tensor's 2-norm ≤ c.
        #[test]
        fn clipnorm_caps_every_tensor(seed in any::<u64>(), scale in 1e-3..10.0f64, c in 1e-3..3.0f64) {
            let l = layout();
            let mut g: Vec<f64> = values(seed, 20, scale);
            let g0 = g.clone();
            clip::clip_norm_per_tensor(&l, &mut g, c).unwrap();
            for t in l.tensors() {
                let n = g[t.range()].iter().map(|v| v * v).sum::<f64>().sqrt();
                let n0 = g0[t.range()].iter().map(|v| v * v).sum::<f64>().sqrt();
                prop_assert!(n <= c * (1.0 + 1e-12));
                if n0 <= c {
                    prop_assert!((n - n0).abs() <= 1e-12 * n0.max(1e-300));
                }
            }
        }

        /// Per group is PyTorch's clip_grad_norm_ over that group's tensors, bit for bit.
        #[test]
        fn per_group_is_clip_grad_norm_on_each_group(seed in any::<u64>(), scale in 1e-3..10.0f64, m in 1e-3..3.0f64) {
            let l = layout();
            let g0 = values(seed, 20, scale);
            let mut g = g0.clone();
            clip::clip_grad_norm_per_group(&l, &mut g, m, NormType::L2, false).unwrap();
            let mut want = g0.clone();
            let (a, rest) = want.split_at_mut(12);
            let (b, c) = rest.split_at_mut(4);
            clip::clip_grad_norm(&mut [a, c], m, NormType::L2, false).unwrap();
            clip::clip_grad_norm(&mut [b], m, NormType::L2, false).unwrap();
            prop_assert_eq!(g, want);
            let mut norms = [0.0f64; 2];
            clip::group_norms(&l, &g0, NormType::L2, &mut norms).unwrap();
            prop_assert_eq!(norms[1], clip::total_norm(&[&g0[12..16]], NormType::L2));
        }
    }

    #[test]
    fn bad_input_is_refused_and_changes_nothing() {
        let l = layout();
        let g0: Vec<f32> = values(1, 20, 1.0).into_iter().map(|x| x as f32).collect();
        let mut g = g0.clone();
        assert!(matches!(
            clip::clip_by_block_rms(&l, &mut g[..19], 1.0),
            Err(Error::LengthMismatch { what: "grads", .. })
        ));
        assert!(clip::clip_by_block_rms(&l, &mut g, -1.0).is_err());
        assert!(clip::clip_norm_per_tensor(&l, &mut g, f64::NAN).is_err());
        assert!(clip::clip_grad_norm_per_group(&l, &mut g, -1.0, NormType::L2, false).is_err());
        g[13] = f32::INFINITY;
        let with_inf = g.clone();
        let e = clip::clip_grad_norm_per_group(&l, &mut g, 1.0, NormType::L2, true).unwrap_err();
        assert_eq!(e, Error::NonFinite { what: "group norm", index: 1 });
        assert_eq!(g, with_inf);
        let mut short = [0.0f32; 1];
        assert!(matches!(
            clip::group_norms(&l, &g0, NormType::L2, &mut short),
            Err(Error::BufferTooSmall { .. })
        ));
    }
}
