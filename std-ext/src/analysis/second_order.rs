//! Second-order methods against first-order ones: Newton's method, L-BFGS (descent-core's, with
//! PyTorch's strong-Wolfe line search or backtracking Armijo), gradient descent, momentum and Adam
//! on Rosenbrock and on an ill-conditioned quadratic; and Newton against gradient descent on the
//! 1-D quartic x⁴ − 4x² + x, where Newton's method is drawn to whatever stationary point is near.
//!
//! Newton's step solves ∇²f(x)·d = −∇f(x) by Cholesky. Where the Hessian is not positive definite
//! it is shifted, ∇²f + λI with λ doubling from 1e-3·max|H_ii| until Cholesky succeeds
//! (Levenberg's remedy; Nocedal & Wright §3.4), so d is always a descent direction; the step
//! length halves from 1 until the Armijo condition f(x + t·d) ≤ f(x) + 1e-4·t·∇fᵀd holds.
//! Pure Newton (the 1-D demonstration) takes x ← x − f′(x)/f″(x) with no safeguard.

use super::functions::{Line, Objective, Quadratic, Surface};
use super::output::Output;
use super::runner::{iterate, kwargs};
use crate::plot::{Chart, Series, Style};
use crate::row;
use descent_core::lbfgs::{Lbfgs, LbfgsConfig, LineSearch, lbfgs_state_len};
use serde::Serialize;
use std::cell::Cell;
use std::time::Instant;

/// Solves A·x = b for symmetric positive definite A (row-major n × n) by Cholesky; `None` when A
/// is not positive definite.
pub fn cholesky_solve(a: &[f64], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = a[i * n + j] - (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum::<f64>();
            if i == j {
                if !(s > 0.0) {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = (b[i] - (0..i).map(|k| l[i * n + k] * y[k]).sum::<f64>()) / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        x[i] = (y[i] - (i + 1..n).map(|k| l[k * n + i] * x[k]).sum::<f64>()) / l[i * n + i];
    }
    Some(x)
}

/// One method's run to tolerance.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// The function.
    pub function: String,
    /// The method.
    pub method: String,
    /// Iterations (steps) taken.
    pub iterations: usize,
    /// Function evaluations.
    pub f_evals: usize,
    /// Gradient evaluations.
    pub g_evals: usize,
    /// Hessian evaluations.
    pub h_evals: usize,
    /// Whether f − f* fell below the tolerance.
    pub converged: bool,
    /// Gradient evaluations until f − f* first fell below the tolerance (L-BFGS runs its
    /// `max_iter` iterations regardless, so its totals above count more).
    pub to_tolerance: Option<usize>,
    /// f − f* at the end.
    pub gap: f64,
    /// Wall time in microseconds.
    pub micros: f64,
    /// (gradient evaluations so far, f − f*) after every iteration.
    pub curve: Vec<(usize, f64)>,
}

/// Counts evaluations of an objective.
struct Counted<'a> {
    f: &'a dyn Objective,
    f_evals: Cell<usize>,
    g_evals: Cell<usize>,
    h_evals: Cell<usize>,
}

impl<'a> Counted<'a> {
    fn new(f: &'a dyn Objective) -> Self {
        Counted { f, f_evals: Cell::new(0), g_evals: Cell::new(0), h_evals: Cell::new(0) }
    }
    fn value(&self, x: &[f64]) -> f64 {
        self.f_evals.set(self.f_evals.get() + 1);
        self.f.value(x)
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        self.g_evals.set(self.g_evals.get() + 1);
        self.f.gradient(x, g);
    }
    fn hessian(&self, x: &[f64], h: &mut [f64]) {
        self.h_evals.set(self.h_evals.get() + 1);
        self.f.hessian(x, h);
    }
    fn finish(
        &self,
        method: &str,
        iterations: usize,
        curve: Vec<(usize, f64)>,
        tol: f64,
        t0: Instant,
    ) -> Run {
        let gap = curve.last().map_or(f64::NAN, |c| c.1);
        Run {
            function: self.f.name(),
            method: method.into(),
            iterations,
            f_evals: self.f_evals.get(),
            g_evals: self.g_evals.get(),
            h_evals: self.h_evals.get(),
            converged: gap <= tol,
            to_tolerance: curve.iter().find(|c| c.1 <= tol).map(|c| c.0),
            gap,
            micros: t0.elapsed().as_secs_f64() * 1e6,
            curve,
        }
    }
}

/// Damped Newton (see the module docs) until f − f* ≤ `tol` or `max_iter` iterations.
pub fn newton(f: &dyn Objective, f_min: f64, tol: f64, max_iter: usize) -> Run {
    let t0 = Instant::now();
    let c = Counted::new(f);
    let n = f.dim();
    let mut x = f.start();
    let (mut g, mut h) = (vec![0.0; n], vec![0.0; n * n]);
    let mut fx = c.value(&x);
    let mut curve = vec![(0, fx - f_min)];
    let mut it = 0;
    while it < max_iter && fx - f_min > tol {
        it += 1;
        c.gradient(&x, &mut g);
        c.hessian(&x, &mut h);
        let neg: Vec<f64> = g.iter().map(|v| -v).collect();
        let scale = (0..n).map(|i| h[i * n + i].abs()).fold(0.0, f64::max).max(1e-12);
        let mut shift = 0.0;
        let d = loop {
            let mut hs = h.clone();
            (0..n).for_each(|i| hs[i * n + i] += shift);
            if let Some(d) = cholesky_solve(&hs, &neg) {
                break d;
            }
            shift = if shift == 0.0 { 1e-3 * scale } else { 2.0 * shift };
        };
        let slope: f64 = g.iter().zip(&d).map(|(a, b)| a * b).sum();
        let mut t = 1.0;
        let mut trial: Vec<f64>;
        loop {
            trial = x.iter().zip(&d).map(|(a, b)| a + t * b).collect();
            let ft = c.value(&trial);
            if ft <= fx + 1e-4 * t * slope || t < 1e-12 {
                fx = ft;
                break;
            }
            t *= 0.5;
        }
        x = trial;
        curve.push((c.g_evals.get(), fx - f_min));
    }
    c.finish("newton", it, curve, tol, t0)
}

/// L-BFGS from descent-core with history 10, in one `step` call with a large `max_iter` (as
/// PyTorch users run full-batch problems), stopping on PyTorch's change tolerance set to a
/// hundredth of `tol`.
pub fn lbfgs(
    f: &dyn Objective,
    f_min: f64,
    tol: f64,
    max_iter: usize,
    line_search: LineSearch,
) -> Result<Run, String> {
    const M: usize = 10;
    let t0 = Instant::now();
    let c = Counted::new(f);
    let n = f.dim();
    let cfg = LbfgsConfig {
        lr: 1.0,
        max_iter,
        max_eval: Some(max_iter * 4),
        tolerance_grad: 0.0,
        // Stop once an iteration changes f by less than a hundredth of the target gap, which on
        // these problems is soon after reaching it (PyTorch's own stopping rule).
        tolerance_change: 1e-2 * tol,
        line_search,
    };
    let mut opt = Lbfgs::<f64, Vec<f64>, M>::new(cfg, n, vec![0.0; lbfgs_state_len(n, M)])
        .map_err(|e| e.to_string())?;
    let mut x = f.start();
    let mut curve = vec![(0, f.value(&x) - f_min)];
    let mut closure = |p: &[f64], g: &mut [f64]| {
        c.gradient(p, g);
        let v = c.value(p);
        let gap = v - f_min;
        if gap < curve.last().map_or(f64::INFINITY, |l| l.1) {
            curve.push((c.g_evals.get(), gap));
        }
        v
    };
    let report = opt.step(&mut x, &mut closure).map_err(|e| e.to_string())?;
    let gap = f.value(&x) - f_min;
    if curve.last().is_none_or(|l| l.1 > gap) {
        curve.push((c.g_evals.get(), gap));
    }
    let name = match line_search {
        LineSearch::StrongWolfe => "l-bfgs (strong Wolfe)",
        LineSearch::Armijo => "l-bfgs (Armijo)",
        LineSearch::None => "l-bfgs (fixed step)",
    };
    Ok(c.finish(name, report.iterations, curve, tol, t0))
}

/// A first-order optimizer of descent-core (by spec) until f − f* ≤ `tol` or `max_iter` steps.
pub fn first_order(
    f: &dyn Objective,
    label: &str,
    spec: &str,
    f_min: f64,
    tol: f64,
    max_iter: usize,
) -> Result<Run, String> {
    let t0 = Instant::now();
    let c = Counted::new(f);
    let mut curve = Vec::new();
    let mut steps = 0;
    iterate(f, &kwargs(spec)?, &f.start(), max_iter, |k, x| {
        let gap = c.value(x) - f_min;
        curve.push((k, gap));
        steps = k;
        gap > tol && gap.is_finite()
    })
    .map_err(|e| e.to_string())?;
    // `iterate` computed one gradient per step.
    c.g_evals.set(steps);
    Ok(c.finish(label, steps, curve, tol, t0))
}

/// A problem of the comparison and the first-order methods' settings for it (label, spec).
pub type Problem = (Box<dyn Objective>, Vec<(&'static str, String)>);

/// The problems of the comparison: Rosenbrock from (−1.5, 2), and a rotated 10-D quadratic with
/// κ = 1000; with each the first-order methods' settings.
pub fn problems() -> Vec<Problem> {
    let q = Quadratic::conditioned(10, 1000.0, true);
    let (mu, l) = (q.mu(), q.l());
    let beta = ((l.sqrt() - mu.sqrt()) / (l.sqrt() + mu.sqrt())).powi(2);
    let quad_runs = vec![
        ("gradient descent", format!("sgd:lr={}", 2.0 / (l + mu))),
        ("momentum (Polyak)", format!("sgd:lr={},momentum={beta}", 4.0 / (l.sqrt() + mu.sqrt()).powi(2))),
        ("adam", "adam:lr=0.05".to_string()),
    ];
    let rosen_runs = vec![
        ("gradient descent", "sgd:lr=0.0005".to_string()),
        ("momentum", "sgd:lr=0.0002,momentum=0.9".to_string()),
        ("adam", "adam:lr=0.05".to_string()),
    ];
    vec![(Box::new(Surface::Rosenbrock), rosen_runs), (Box::new(q), quad_runs)]
}

/// Runs every method on every problem to f − f* ≤ `tol` (first-order methods at most
/// `max_first` steps, second-order ones `max_second` iterations).
pub fn compare(tol: f64, max_first: usize, max_second: usize) -> Result<Vec<Run>, String> {
    let mut runs = Vec::new();
    for (f, first) in problems() {
        let f_min = f.min_value().unwrap_or(0.0);
        runs.push(newton(f.as_ref(), f_min, tol, max_second));
        runs.push(lbfgs(f.as_ref(), f_min, tol, max_second, LineSearch::StrongWolfe)?);
        runs.push(lbfgs(f.as_ref(), f_min, tol, max_second, LineSearch::Armijo)?);
        for (label, spec) in first {
            runs.push(first_order(f.as_ref(), label, &spec, f_min, tol, max_first)?);
        }
    }
    Ok(runs)
}

/// Newton's iterates x ← x − f′/f″ and gradient descent's x ← x − lr·f′ on the quartic from `x0`.
pub fn quartic_paths(x0: f64, lr: f64, steps: usize) -> (Vec<f64>, Vec<f64>) {
    let q = Line::Quartic;
    let (mut g, mut h) = ([0.0], [0.0]);
    let (mut xn, mut xg) = (vec![x0], vec![x0]);
    for _ in 0..steps {
        let x = xn[xn.len() - 1];
        q.gradient(&[x], &mut g);
        q.hessian(&[x], &mut h);
        xn.push(x - g[0] / h[0]);
        let x = xg[xg.len() - 1];
        q.gradient(&[x], &mut g);
        xg.push(x - lr * g[0]);
    }
    (xn, xg)
}

/// Writes `second_order.svg` and `second_order_quadratic.svg` (f − f* against gradient
/// evaluations) and `second_order.csv`/`.json` (the table).
pub fn write_second_order(
    out: &mut Output,
    tol: f64,
    max_first: usize,
    max_second: usize,
) -> Result<Vec<Run>, String> {
    let runs = compare(tol, max_first, max_second)?;
    let rows: Vec<_> = runs
        .iter()
        .map(|r| {
            let to_tol = r.to_tolerance.map_or(-1.0, |n| n as f64);
            row![
                r.function.as_str(),
                r.method.as_str(),
                r.iterations,
                r.f_evals,
                r.g_evals,
                r.h_evals,
                to_tol,
                r.gap,
                r.micros
            ]
        })
        .collect();
    out.csv(
        "second_order.csv",
        &[
            "function",
            "method",
            "iterations",
            "f_evals",
            "g_evals",
            "h_evals",
            "gradients_to_tolerance",
            "gap",
            "micros",
        ],
        &rows,
    )?;
    out.json("second_order.json", &runs)?;
    for (file, function, title) in [
        ("second_order.svg", "rosenbrock", "Rosenbrock from (−1.5, 2)"),
        ("second_order_quadratic.svg", "rotated_quadratic", "Rotated quadratic, 10-D, κ = 1000"),
    ] {
        // Values below 1e-18 (exact zeros included) are drawn at the floor of the plot.
        const FLOOR: f64 = 1e-18;
        let mut chart = runs.iter().filter(|r| r.function == function).fold(
            Chart::new(title, "gradient evaluations", "f − f*").log(true, true),
            |c, r| {
                let pts = r.curve.iter().map(|&(k, v)| ((k + 1) as f64, v.max(FLOOR))).collect();
                c.curve(Series { name: r.method.clone(), points: pts }, Style::Line)
            },
        );
        let top = runs
            .iter()
            .filter(|r| r.function == function)
            .flat_map(|r| r.curve.iter().map(|c| c.1))
            .fold(1.0, f64::max);
        chart.y_range = Some((FLOOR, 2.0 * top));
        out.svg(file, |p| chart.write(p))?;
    }
    Ok(runs)
}

/// Writes `newton_1d.svg` (the quartic with Newton's and gradient descent's iterates from 0.5
/// and 2) and `newton_1d.csv`; returns the last iterates (start, newton, gradient descent).
pub fn write_newton_1d(out: &mut Output, steps: usize) -> Result<Vec<(f64, f64, f64)>, String> {
    let mut ends = Vec::new();
    let q = Line::Quartic;
    let mut chart = Chart::new("Newton vs gradient descent (lr 0.02) on x⁴ − 4x² + x", "x", "f(x)").curve_in(
        Series {
            name: "f(x)".into(),
            points: (0..=200).map(|i| -2.2 + 4.4 * i as f64 / 200.0).map(|x| (x, q.value(&[x]))).collect(),
        },
        Style::Line,
        6,
    );
    let mut rows = Vec::new();
    for (k, x0) in [0.5, 2.0].into_iter().enumerate() {
        let (xn, xg) = quartic_paths(x0, 0.02, steps);
        ends.push((x0, xn[xn.len() - 1], xg[xg.len() - 1]));
        for (method, xs, colour) in [("newton", &xn, 2 * k), ("gradient descent", &xg, 2 * k + 1)] {
            rows.extend(xs.iter().enumerate().map(|(i, x)| row![x0, method, i, *x, q.value(&[*x])]));
            let pts = xs.iter().map(|x| (*x, q.value(&[*x]))).collect();
            chart = chart.curve_in(
                Series { name: format!("{method} from {x0}"), points: pts },
                Style::LinePoints,
                colour,
            );
        }
    }
    out.svg("newton_1d.svg", |p| chart.write(p))?;
    out.csv("newton_1d.csv", &["x0", "method", "step", "x", "f"], &rows)?;
    Ok(ends)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_and_refuses_indefinite_matrices() {
        let a = [4.0, 2.0, 2.0, 3.0];
        let x = cholesky_solve(&a, &[2.0, 1.0]).unwrap();
        assert!(
            (4.0 * x[0] + 2.0 * x[1] - 2.0).abs() < 1e-12 && (2.0 * x[0] + 3.0 * x[1] - 1.0).abs() < 1e-12
        );
        assert!(cholesky_solve(&[1.0, 2.0, 2.0, 1.0], &[1.0, 1.0]).is_none());
    }

    #[test]
    fn newton_solves_a_quadratic_in_one_step_and_rosenbrock_in_a_few() {
        let q = Quadratic::conditioned(10, 1000.0, true);
        let r = newton(&q, 0.0, 1e-20, 10);
        assert_eq!(r.iterations, 1);
        assert!(r.gap < 1e-20);
        let r = newton(&Surface::Rosenbrock, 0.0, 1e-10, 100);
        assert!(r.converged && r.iterations < 30, "{} iterations", r.iterations);
    }

    #[test]
    fn second_order_methods_need_orders_of_magnitude_fewer_gradients_on_the_ill_conditioned_quadratic() {
        let runs = compare(1e-10, 200_000, 500).unwrap();
        let get = |f: &str, m: &str| runs.iter().find(|r| r.function == f && r.method == m).unwrap();
        let gd = get("rotated_quadratic", "gradient descent");
        let lb = get("rotated_quadratic", "l-bfgs (strong Wolfe)");
        let nt = get("rotated_quadratic", "newton");
        assert!(gd.converged && lb.converged && nt.converged);
        let (lb_n, gd_n) = (lb.to_tolerance.unwrap(), gd.to_tolerance.unwrap());
        assert!(lb_n * 20 < gd_n, "l-bfgs {lb_n} vs gd {gd_n} gradients");
        assert_eq!(nt.h_evals, 1);
        // On Rosenbrock L-BFGS with the strong-Wolfe search converges in well under 100 gradients.
        let lr = get("rosenbrock", "l-bfgs (strong Wolfe)");
        assert!(lr.to_tolerance.is_some_and(|n| n < 100), "{:?} gradients", lr.to_tolerance);
        assert!(get("rosenbrock", "newton").converged);
    }

    #[test]
    fn newton_climbs_to_the_maximum_where_the_curvature_is_negative() {
        // f″(0.5) = −5 < 0: pure Newton heads for the stationary point nearby, a maximum near
        // 0.126; gradient descent from the same start goes downhill to the minimum near 1.347.
        let (xn, xg) = quartic_paths(0.5, 0.02, 40);
        let xn = *xn.last().unwrap();
        let xg = *xg.last().unwrap();
        let mut h = [0.0];
        Line::Quartic.hessian(&[xn], &mut h);
        assert!((xn - 0.1264).abs() < 1e-3 && h[0] < 0.0, "newton ends at {xn}");
        assert!((xg - 1.3473).abs() < 1e-3, "gd ends at {xg}");
    }
}
