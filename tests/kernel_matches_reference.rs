//! The lane-chunked kernels give the same bits as the scalar references — for every optimizer,
//! both dtypes, lane widths 1, 4, 8, 16 and the production width, every length 0..=1000, random
//! data and random hyperparameters. Adafactor's reductions and LAMB's and LARS's norms are summed
//! in lane-blocked order, so they are checked against their references within a stated bound
//! instead. (Muon's matrix products accumulate each element in the same order in both, and
//! Prodigy's and D-Adaptation's sums over every parameter are kept in 8 partial sums at every
//! lane width: bitwise.)

mod common;

use common::{ALL, AnyConfig, any_config, shaped, values};
use descent::{Optim, Optimizer, Real, UpdateRule};
use proptest::prelude::*;

fn same_bits<F: Real>(a: &[F], b: &[F]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x.to_bits_u64() != y.to_bits_u64() && !(x.is_nan() && y.is_nan()))
}

/// Adafactor, LAMB and LARS: |kernel − reference| ≤ (2n + 64)·ε·Σ|Δθ| + 4ε·|θ| per element, where
/// Σ|Δθ| is the total movement of that element. The reductions (RMS(θ), RMS(U), row means, the
/// norms of θ and of the update) differ only in summation order, whose relative error is at most
/// (n − 1)·ε; it scales the step.
fn within_adafactor_bound<F: Real>(a: &[F], b: &[F], moved: &[f64], n: usize) -> Option<usize> {
    let eps = F::EPSILON.as_f64();
    a.iter().zip(b).zip(moved).position(|((x, y), m)| {
        let (x, y) = (x.as_f64(), y.as_f64());
        !((x - y).abs() <= (2.0 * n as f64 + 64.0) * eps * m + 4.0 * eps * y.abs()
            || (x.is_nan() && y.is_nan()))
    })
}

fn check<R: UpdateRule, F: Real, const L: usize>(
    cfg: R,
    p0: &[f64],
    grads: &[Vec<f64>],
    production: bool,
) -> Result<(), String> {
    let n = p0.len();
    let len = cfg.buffer_len(n);
    let (mut sa, mut sb) = (vec![F::ZERO; len], vec![F::ZERO; len]);
    let mut kernel = Optim::with_buffer(cfg.clone(), n, &mut sa).map_err(|e| e.to_string())?;
    let mut reference = Optim::with_buffer(cfg.clone(), n, &mut sb).map_err(|e| e.to_string())?;
    let mut pa: Vec<F> = p0.iter().map(|&x| F::from_f64(x)).collect();
    let mut pb = pa.clone();
    let mut moved = vec![0.0f64; n];
    // Rules with per-tensor reductions (norms, RMS) sum in lane-blocked order in the kernel.
    let adafactor = matches!(R::NAME, "adafactor" | "lamb" | "lars" | "novograd");
    for g in grads {
        let g: Vec<F> = g.iter().map(|&x| F::from_f64(x)).collect();
        // Sophia: a Hessian estimate before every step (100·|g|), so the step divides by h ≠ 0
        // and the clip is active for some elements and not for others.
        if cfg.hessian_stream().is_some() {
            let estimate: Vec<F> = g.iter().map(|&x| x.abs() * F::from_f64(100.0)).collect();
            kernel.update_hessian(&estimate).map_err(|e| e.to_string())?;
            reference.update_hessian(&estimate).map_err(|e| e.to_string())?;
        }
        if production {
            kernel.step(&mut pa, &g).map_err(|e| e.to_string())?;
        } else {
            kernel.step_with_lanes::<L>(&mut pa, &g).map_err(|e| e.to_string())?;
        }
        let before = pb.clone();
        reference.step_reference(&mut pb, &g).map_err(|e| e.to_string())?;
        for ((m, a), b) in moved.iter_mut().zip(&before).zip(&pb) {
            *m += (a.as_f64() - b.as_f64()).abs();
        }
        let bad = if adafactor { within_adafactor_bound(&pa, &pb, &moved, n) } else { same_bits(&pa, &pb) };
        if let Some(i) = bad {
            return Err(format!(
                "{} {} L={L} n={n}: params[{i}] kernel {:e} reference {:e}",
                R::NAME,
                F::NAME,
                pa[i],
                pb[i]
            ));
        }
        if !adafactor && let Some(i) = same_bits(kernel.state(), reference.state()) {
            return Err(format!("{} {} L={L} n={n}: state[{i}] differs", R::NAME, F::NAME));
        }
    }
    Ok(())
}

fn check_all_widths(cfg: AnyConfig, p0: &[f64], grads: &[Vec<f64>]) -> Result<(), String> {
    with_config!(cfg, |c| {
        check::<_, f32, 1>(c, p0, grads, false)?;
        check::<_, f32, 4>(c, p0, grads, false)?;
        check::<_, f32, 8>(c, p0, grads, false)?;
        check::<_, f32, 16>(c, p0, grads, false)?;
        // descent-std's AVX-512 path.
        check::<_, f32, 32>(c, p0, grads, false)?;
        check::<_, f32, 1>(c, p0, grads, true)?;
        check::<_, f64, 1>(c, p0, grads, false)?;
        check::<_, f64, 4>(c, p0, grads, false)?;
        check::<_, f64, 8>(c, p0, grads, false)?;
        check::<_, f64, 16>(c, p0, grads, false)?;
        check::<_, f64, 1>(c, p0, grads, true)
    })
}

fn case(name: &'static str) -> impl Strategy<Value = (AnyConfig, Vec<f64>, Vec<Vec<f64>>)> {
    (
        any_config(name),
        0usize..=1000,
        1usize..=4,
        any::<u64>(),
        prop_oneof![Just(1e-3), Just(1.0), Just(100.0)],
        any::<u8>(),
    )
        .prop_map(|(cfg, n, steps, seed, scale, kind)| {
            let cfg = shaped(cfg, n, kind);
            let n = match cfg {
                AnyConfig::Adafactor(c) => c.shape.dims().iter().product(),
                AnyConfig::Sm3(c) => c.shape.dims().iter().product(),
                _ => n,
            };
            let p0 = values(seed, n, 1.0);
            let grads = (0..steps).map(|k| values(seed ^ ((k as u64 + 1) * 0x1234_5678), n, scale)).collect();
            (cfg, p0, grads)
        })
}

macro_rules! kernel_tests {
    ($($test:ident => $name:literal),* $(,)?) => {$(
        proptest! {
            #![proptest_config(common::config(48))]
            #[test]
            fn $test((cfg, p0, grads) in case($name)) {
                prop_assert_eq!(check_all_widths(cfg, &p0, &grads), Ok(()));
            }
        }
    )*};
}

kernel_tests! {
    sgd_kernel_matches_reference_bitwise => "sgd",
    adam_kernel_matches_reference_bitwise => "adam",
    adamw_kernel_matches_reference_bitwise => "adamw",
    adagrad_kernel_matches_reference_bitwise => "adagrad",
    rmsprop_kernel_matches_reference_bitwise => "rmsprop",
    adamax_kernel_matches_reference_bitwise => "adamax",
    nadam_kernel_matches_reference_bitwise => "nadam",
    radam_kernel_matches_reference_bitwise => "radam",
    adadelta_kernel_matches_reference_bitwise => "adadelta",
    asgd_kernel_matches_reference_bitwise => "asgd",
    rprop_kernel_matches_reference_bitwise => "rprop",
    adafactor_kernel_matches_reference_within_bound => "adafactor",
    lion_kernel_matches_reference_bitwise => "lion",
    muon_kernel_matches_reference_bitwise => "muon",
    lamb_kernel_matches_reference_within_bound => "lamb",
    lars_kernel_matches_reference_within_bound => "lars",
    yogi_kernel_matches_reference_bitwise => "yogi",
    adabelief_kernel_matches_reference_bitwise => "adabelief",
    adopt_kernel_matches_reference_bitwise => "adopt",
    ademamix_kernel_matches_reference_bitwise => "ademamix",
    adan_kernel_matches_reference_bitwise => "adan",
    novograd_kernel_matches_reference_within_bound => "novograd",
    sm3_kernel_matches_reference_bitwise => "sm3",
    prodigy_kernel_matches_reference_bitwise => "prodigy",
    dadapt_adamw_kernel_matches_reference_bitwise => "dadapt_adamw",
    schedule_free_sgd_kernel_matches_reference_bitwise => "schedule_free_sgd",
    schedule_free_adamw_kernel_matches_reference_bitwise => "schedule_free_adamw",
    sophia_kernel_matches_reference_bitwise => "sophia",
}

/// Every length 0..=1000 (every tail of every lane width), production kernel against reference,
/// one seeded random configuration per optimizer and length.
#[test]
fn every_length_up_to_1000_matches_reference() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::new(common::config(1));
    for name in ALL {
        let strategy = any_config(name);
        for n in 0..=1000usize {
            let cfg = shaped(strategy.new_tree(&mut runner).unwrap().current(), n, (n % 3) as u8);
            let n = match cfg {
                AnyConfig::Adafactor(c) => c.shape.dims().iter().product(),
                _ => n,
            };
            let p0 = values(n as u64, n, 1.0);
            let grads = vec![values(n as u64 + 7, n, 1.0), values(n as u64 + 9, n, 0.5)];
            let r = with_config!(cfg, |c| check::<_, f32, 1>(c, &p0, &grads, true).and_then(|_| check::<
                _,
                f64,
                1,
            >(
                c, &p0, &grads, true
            )));
            assert_eq!(r, Ok(()), "{name} n={n}");
        }
    }
}

/// SparseAdam (not an `UpdateRule`: its step takes a sparse gradient): the kernel at lane widths 1,
/// 4, 8, 16 and the production width gives the reference's bits, for tables up to 40 columns
/// (every tail), repeated and unsorted indices, maximize, and three steps.
mod sparse_adam {
    use super::same_bits;
    use descent::Real;
    use descent::sparse_adam::{SparseAdamConfig, SparseAdamView, SparseGrad};
    use proptest::prelude::*;

    fn run<F: Real>(
        config: SparseAdamConfig,
        rows: usize,
        cols: usize,
        p0: &[f64],
        steps: &[(Vec<usize>, Vec<f64>)],
        width: usize,
    ) -> (Vec<F>, Vec<F>, Vec<F>) {
        let mut buf = vec![F::ZERO; 2 * rows * cols];
        let mut o = SparseAdamView::with_buffer(config, rows, cols, &mut buf).unwrap();
        let mut p: Vec<F> = p0.iter().map(|&x| F::from_f64(x)).collect();
        for (indices, values) in steps {
            let values: Vec<F> = values.iter().map(|&x| F::from_f64(x)).collect();
            let g = SparseGrad { indices, values: &values };
            match width {
                0 => o.step_reference(&mut p, g),
                1 => o.step_with_lanes::<1>(&mut p, g),
                4 => o.step_with_lanes::<4>(&mut p, g),
                8 => o.step_with_lanes::<8>(&mut p, g),
                16 => o.step_with_lanes::<16>(&mut p, g),
                _ => o.step(&mut p, g),
            }
            .unwrap();
        }
        (p, o.exp_avg().to_vec(), o.exp_avg_sq().to_vec())
    }

    /// A configuration, rows, cols, the initial table and the steps (indices and values).
    type Case = (SparseAdamConfig, usize, usize, Vec<f64>, Vec<(Vec<usize>, Vec<f64>)>);

    fn case() -> impl Strategy<Value = Case> {
        (1usize..12, 1usize..41, 1e-4f64..0.5, 0.0f64..0.99, 0.5f64..0.9999, 1e-10f64..1e-2, any::<bool>())
            .prop_flat_map(|(rows, cols, lr, b1, b2, eps, maximize)| {
                let config = SparseAdamConfig { lr, betas: (b1, b2), eps, maximize };
                let step = (0usize..10).prop_flat_map(move |k| {
                    (
                        prop::collection::vec(0..rows, k),
                        prop::collection::vec(-10.0f64..10.0, k * cols),
                        any::<bool>(),
                    )
                        .prop_map(|(mut idx, vals, sort)| {
                            if sort {
                                idx.sort();
                            }
                            (idx, vals)
                        })
                });
                (
                    Just(config),
                    Just(rows),
                    Just(cols),
                    prop::collection::vec(-2.0f64..2.0, rows * cols),
                    prop::collection::vec(step, 1..4),
                )
            })
    }

    proptest! {
        #![proptest_config(crate::common::config(256))]
        #[test]
        fn sparse_adam_kernel_matches_reference_bitwise((config, rows, cols, p0, steps) in case()) {
            for width in [1, 4, 8, 16, usize::MAX] {
                let (a, b) = (run::<f32>(config, rows, cols, &p0, &steps, 0), run::<f32>(config, rows, cols, &p0, &steps, width));
                prop_assert_eq!(same_bits(&a.0, &b.0).or(same_bits(&a.1, &b.1)).or(same_bits(&a.2, &b.2)), None, "f32, width {}", width);
                let (a, b) = (run::<f64>(config, rows, cols, &p0, &steps, 0), run::<f64>(config, rows, cols, &p0, &steps, width));
                prop_assert_eq!(same_bits(&a.0, &b.0).or(same_bits(&a.1, &b.1)).or(same_bits(&a.2, &b.2)), None, "f64, width {}", width);
            }
        }
    }
}
