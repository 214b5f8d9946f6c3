//! descent's L-BFGS against `torch.optim.LBFGS` (f64; `tools/torch_lbfgs.py` →
//! `tests/data/lbfgs/torch.json`): the same iterates, losses and evaluation counts, with and without
//! the strong-Wolfe line search; and the Armijo variant converges.

use descent::lbfgs::{Lbfgs, LbfgsConfig, LineSearch, lbfgs_state_len};
use serde_json::Value;

fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
    let (a, b) = (x[0], x[1]);
    g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
    g[1] = 200.0 * (b - a * a);
    (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
}

fn quadratic(x: &[f64], g: &mut [f64]) -> f64 {
    let mut f = 0.0;
    for i in 0..10 {
        let a = 1.0 + 99.0 * i as f64 / 9.0;
        let c = (0.7 * i as f64).sin();
        g[i] = a * (x[i] - c);
        f += 0.5 * a * (x[i] - c).powi(2);
    }
    f
}

/// ½ (x − 1)ᵀ R (x − 1) with R = Q diag(1000^(i/9)) Qᵀ, Q the Householder reflection of
/// u = (1, …, 10): the analysis' ill-conditioned rotated quadratic (κ = 1000).
fn rotated(x: &[f64], g: &mut [f64]) -> f64 {
    let uu: f64 = (1..=10).map(|i| (i * i) as f64).sum();
    let q = |i: usize, j: usize| f64::from(u8::from(i == j)) - 2.0 * ((i + 1) * (j + 1)) as f64 / uu;
    let r =
        |i: usize, j: usize| (0..10).map(|k| q(i, k) * 1000f64.powf(k as f64 / 9.0) * q(j, k)).sum::<f64>();
    let mut f = 0.0;
    for i in 0..10 {
        g[i] = (0..10).map(|j| r(i, j) * (x[j] - 1.0)).sum();
        f += 0.5 * (x[i] - 1.0) * g[i];
    }
    f
}

fn run<const M: usize>(case: &Value) {
    let f: fn(&[f64], &mut [f64]) -> f64 = match case["function"].as_str() {
        Some("rosenbrock") => rosenbrock,
        Some("rotated") => rotated,
        _ => quadratic,
    };
    let x0: Vec<f64> = case["x0"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let n = x0.len();
    let d = LbfgsConfig::default();
    let cfg = LbfgsConfig {
        lr: case["lr"].as_f64().unwrap(),
        tolerance_change: case["tolerance_change"].as_f64().unwrap(),
        tolerance_grad: case["tolerance_grad"].as_f64().unwrap_or(d.tolerance_grad),
        max_iter: case["max_iter"].as_u64().map_or(d.max_iter, |v| v as usize),
        max_eval: case["max_eval"].as_u64().map(|v| v as usize),
        line_search: if case["line_search_fn"].is_null() {
            LineSearch::None
        } else {
            LineSearch::StrongWolfe
        },
    };
    let mut opt = Lbfgs::<f64, Vec<f64>, M>::new(cfg, n, vec![0.0; lbfgs_state_len(n, M)]).unwrap();
    let mut x = x0.clone();
    for (k, s) in case["steps"].as_array().unwrap().iter().enumerate() {
        let r = opt.step(&mut x, &mut |x, g| f(x, g)).unwrap();
        let loss = s["loss"].as_f64().unwrap();
        // PyTorch's dot products go through BLAS (FMA); the last-bit differences grow over the
        // iterations of an ill-conditioned problem to ~1e-9 relative, hence 1e-7.
        assert!(
            (r.loss - loss).abs() <= 1e-7 * loss.abs() + 1e-12,
            "{case} step {k}: loss {} vs {loss}",
            r.loss
        );
        for (a, e) in x.iter().zip(s["x"].as_array().unwrap()) {
            let e = e.as_f64().unwrap();
            assert!(
                (a - e).abs() <= 1e-7 * e.abs() + 1e-9,
                "{} {:?} M={M} step {k}: {a} vs {e}",
                case["function"],
                cfg.line_search
            );
        }
        let (evals, iters) = (s["func_evals"].as_u64().unwrap(), s["n_iter"].as_u64().unwrap());
        if case["max_iter"].is_null() {
            assert_eq!(opt.evaluations(), evals, "evaluations, step {k}");
            assert_eq!(opt.iterations(), iters, "iterations, step {k}");
        } else {
            // A run to full precision with tolerance_change 0: once at the floor of f64, the
            // last-bit differences of BLAS decide how many noisy steps the tail takes, so the
            // counts agree only roughly. What must hold is that the line search stops on its own
            // 1e-9 tolerance (PyTorch's) instead of spending the whole max_eval budget.
            let budget = case["max_eval"].as_u64().unwrap();
            assert!(
                opt.evaluations() < budget / 2,
                "{}: {} evaluations",
                case["function"],
                opt.evaluations()
            );
            assert!(
                opt.evaluations() * 2 > evals && opt.evaluations() < 2 * evals,
                "{} vs {evals}",
                opt.evaluations()
            );
        }
    }
}

#[test]
fn matches_pytorch_lbfgs() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/lbfgs/torch.json");
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(cases.len(), 19);
    for case in &cases {
        match case["history_size"].as_u64().unwrap() {
            3 => run::<3>(case),
            10 => run::<10>(case),
            h => panic!("history {h}"),
        }
    }
}

#[test]
fn armijo_backtracking_converges_on_rosenbrock() {
    let cfg = LbfgsConfig {
        line_search: LineSearch::Armijo,
        max_iter: 200,
        max_eval: Some(2000),
        ..LbfgsConfig::default()
    };
    let mut opt =
        Lbfgs::<f64, [f64; lbfgs_state_len(2, 5)], 5>::new(cfg, 2, [0.0; lbfgs_state_len(2, 5)]).unwrap();
    let mut x = [-1.5, 2.0];
    for _ in 0..5 {
        opt.step(&mut x, &mut |x, g| rosenbrock(x, g)).unwrap();
    }
    assert!((x[0] - 1.0).abs() < 1e-5 && (x[1] - 1.0).abs() < 1e-5, "{x:?}");
}

/// Sizes and counts at the edge of `usize` are refused or handled, never overflow: a state size
/// that does not fit in memory, and the default max_eval = max_iter·5/4 of a huge max_iter.
#[test]
fn huge_sizes_and_iteration_counts_do_not_overflow() {
    assert_eq!(lbfgs_state_len(usize::MAX / 2, 5), usize::MAX);
    assert!(matches!(
        Lbfgs::<f64, Vec<f64>, 5>::new(LbfgsConfig::default(), usize::MAX / 2, vec![0.0; 8]),
        Err(descent::Error::BufferTooSmall { .. })
    ));
    let cfg = LbfgsConfig { max_iter: usize::MAX, ..LbfgsConfig::default() };
    let mut opt = Lbfgs::<f64, Vec<f64>, 2>::new(cfg, 2, vec![0.0; lbfgs_state_len(2, 2)]).unwrap();
    let mut x = [1.0, 2.0];
    // Already optimal: the step returns after one evaluation.
    let r = opt.step(&mut x, &mut |_, g| {
        g.fill(0.0);
        0.0
    });
    assert_eq!(r.unwrap().evaluations, 1);
}
