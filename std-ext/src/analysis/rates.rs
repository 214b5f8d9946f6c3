//! Linear convergence rates on quadratics, measured against the theory.
//!
//! On f(x) = ½ xᵀA x with eigenvalues in [μ, L] and κ = L/μ, each method below is a linear
//! iteration whose error shrinks by a fixed factor r per step (its spectral radius). For each
//! method the prediction is:
//!
//! | method | lr | momentum | r |
//! |---|---|---|---|
//! | gradient descent | 2/(L + μ) | – | (κ − 1)/(κ + 1) |
//! | heavy ball (Polyak) | 4/(√L + √μ)² | ((√κ − 1)/(√κ + 1))² | (√κ − 1)/(√κ + 1) |
//! | Nesterov | 1/L | (√κ − 1)/(√κ + 1) | 1 − 1/√κ |
//! | gradient descent, too large | 2.2/L | – | 1.2 (diverges: any lr > 2/L does) |
//!
//! Heavy ball and Nesterov are PyTorch's `SGD(momentum=β)` and `SGD(momentum=β, nesterov=True)`;
//! their characteristic polynomials per eigenvalue λ are r² − (1 + β − lr·λ)r + β and
//! r² − (1 + β)(1 − lr·λ)r + β(1 − lr·λ), whose largest root at the tuned values is the r above
//! (a double root at the extreme eigenvalues, so the error behaves like k·rᵏ).
//!
//! The measured rate is exp of the least-squares slope of ln‖x_k − x*‖ against k, fitted where
//! the error has fallen between 1e-8 and 1e-100 of its start (past the transient, far from
//! underflow; the minimizer is the origin, so floating point keeps full relative precision all
//! the way down), or, for a diverging run, risen above 100 times its start (until the run is
//! stopped as diverged). The k factor of a
//! double root biases the fit by about ln(k₂/k₁)/(k₂ − k₁), under 2 % of ln r here.

use super::functions::{Objective, Quadratic};
use super::output::Output;
use super::runner::{iterate, kwargs};
use crate::plot::{Chart, Series, Style};
use crate::row;
use serde::Serialize;

/// A method of the table above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Method {
    /// Gradient descent at lr 2/(L + μ).
    GradientDescent,
    /// Heavy ball with Polyak's optimal lr and momentum.
    HeavyBall,
    /// Nesterov at lr 1/L, momentum (√κ − 1)/(√κ + 1).
    Nesterov,
    /// Gradient descent at lr 2.2/L > 2/L.
    TooLarge,
}

impl Method {
    /// Every method.
    pub const ALL: [Method; 4] =
        [Method::GradientDescent, Method::HeavyBall, Method::Nesterov, Method::TooLarge];

    /// Label for tables and legends.
    pub fn label(self) -> &'static str {
        match self {
            Method::GradientDescent => "gradient descent, lr 2/(L+μ)",
            Method::HeavyBall => "heavy ball (Polyak)",
            Method::Nesterov => "Nesterov, lr 1/L",
            Method::TooLarge => "gradient descent, lr 2.2/L",
        }
    }

    /// (lr, momentum, predicted rate) for eigenvalues in [μ, L].
    pub fn tuning(self, mu: f64, l: f64) -> (f64, f64, f64) {
        let k = l / mu;
        let sk = k.sqrt();
        match self {
            Method::GradientDescent => (2.0 / (l + mu), 0.0, (k - 1.0) / (k + 1.0)),
            Method::HeavyBall => {
                let r = (sk - 1.0) / (sk + 1.0);
                (4.0 / (l.sqrt() + mu.sqrt()).powi(2), r * r, r)
            }
            Method::Nesterov => (1.0 / l, (sk - 1.0) / (sk + 1.0), 1.0 - 1.0 / sk),
            Method::TooLarge => (2.2 / l, 0.0, 1.2),
        }
    }

    /// The optimizer spec.
    pub fn spec(self, mu: f64, l: f64) -> String {
        let (lr, m, _) = self.tuning(mu, l);
        match self {
            Method::GradientDescent | Method::TooLarge => format!("sgd:lr={lr}"),
            Method::HeavyBall => format!("sgd:lr={lr},momentum={m}"),
            // At κ = 1 the tuned momentum is 0, and Nesterov's method is gradient descent (PyTorch
            // refuses nesterov=True without momentum).
            Method::Nesterov if m == 0.0 => format!("sgd:lr={lr}"),
            Method::Nesterov => format!("sgd:lr={lr},momentum={m},nesterov=true"),
        }
    }
}

/// One measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Rate {
    /// Condition number.
    pub kappa: f64,
    /// Whether the quadratic was rotated (not axis-aligned).
    pub rotated: bool,
    /// The method.
    pub method: Method,
    /// Its learning rate.
    pub lr: f64,
    /// Its momentum (0 for none).
    pub momentum: f64,
    /// The theory's rate.
    pub predicted: f64,
    /// The fitted rate (NaN when there were too few points to fit).
    pub measured: f64,
    /// Steps run.
    pub steps: usize,
    /// |ln measured − ln predicted| / |ln predicted|: the relative error of the convergence
    /// exponent, which, unlike the rate itself, does not look small just because r is near 1.
    pub exponent_error: f64,
}

/// The fitted rate of a sequence of errors (see the module documentation), or `None` when fewer
/// than 10 errors fall in the fitting window.
pub fn fit_rate(errors: &[f64]) -> Option<f64> {
    let e0 = *errors.first()?;
    let inside = |e: f64| {
        let q = e / e0;
        (q <= 1e-8 && q >= 1e-100) || (q >= 1e2 && q <= 1e100)
    };
    let pts: Vec<(f64, f64)> =
        errors.iter().enumerate().filter(|(_, e)| inside(**e)).map(|(k, e)| (k as f64, e.ln())).collect();
    if pts.len() < 10 {
        return None;
    }
    let n = pts.len() as f64;
    let (mx, my) = (pts.iter().map(|p| p.0).sum::<f64>() / n, pts.iter().map(|p| p.1).sum::<f64>() / n);
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    Some((sxy / sxx).exp())
}

/// Distances ‖x_k − x*‖ of `method` on `q` for up to `max_steps` steps (stops once the error
/// leaves the fitting window for good).
pub fn errors(q: &Quadratic, method: Method, max_steps: usize) -> Result<Vec<f64>, String> {
    let spec = method.spec(q.mu(), q.l());
    let center = q.minimizer().unwrap_or_else(|| vec![0.0; q.dim()]);
    let dist = |x: &[f64]| x.iter().zip(&center).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
    let mut e = Vec::new();
    iterate(q, &kwargs(&spec)?, &q.start(), max_steps, |_, x| {
        let d = dist(x);
        let e0 = e.first().copied().unwrap_or(d);
        // Past the fitting window for good (or diverged past the point the fit uses).
        let done = !(d >= 1e-101 * e0 && d <= 1e101 * e0);
        if !done {
            e.push(d);
        }
        !done
    })
    .map_err(|err| err.to_string())?;
    Ok(e)
}

/// Measures every method on quadratics with `n` variables and each condition number, axis-aligned
/// and rotated.
pub fn measure(kappas: &[f64], n: usize, max_steps: usize) -> Result<Vec<Rate>, String> {
    let mut rates = Vec::new();
    for &kappa in kappas {
        for rotated in [false, true] {
            let q = Quadratic::conditioned(n, kappa, rotated).centered_at_origin();
            for method in Method::ALL {
                let (lr, momentum, predicted) = method.tuning(q.mu(), q.l());
                let e = errors(&q, method, max_steps)?;
                let measured = fit_rate(&e).unwrap_or(f64::NAN);
                let exponent_error = ((measured.ln() - predicted.ln()) / predicted.ln()).abs();
                rates.push(Rate {
                    kappa,
                    rotated,
                    method,
                    lr,
                    momentum,
                    predicted,
                    measured,
                    steps: e.len() - 1,
                    exponent_error,
                });
            }
        }
    }
    Ok(rates)
}

/// Writes `rates.csv`, `rates.json`, `rates.svg` (1 − r against κ, measured points on predicted
/// lines, log–log) and `rates_curves.svg` (‖x_k − x*‖ against k at the middle κ).
pub fn write_rates(
    out: &mut Output,
    kappas: &[f64],
    n: usize,
    max_steps: usize,
) -> Result<Vec<Rate>, String> {
    let rates = measure(kappas, n, max_steps)?;
    let rows: Vec<_> = rates
        .iter()
        .map(|r| {
            row![
                r.kappa,
                r.rotated,
                r.method.label(),
                r.lr,
                r.momentum,
                r.predicted,
                r.measured,
                r.steps,
                r.exponent_error
            ]
        })
        .collect();
    out.csv(
        "rates.csv",
        &["kappa", "rotated", "method", "lr", "momentum", "predicted", "measured", "steps", "exponent_error"],
        &rows,
    )?;
    out.json("rates.json", &rates)?;
    let mut chart = Chart::new(
        "Convergence per step on quadratics: measured (dots) vs theory (dashes)",
        "condition number κ",
        "1 − r (larger is faster)",
    )
    .log(true, true);
    for (c, m) in Method::ALL.into_iter().filter(|m| *m != Method::TooLarge).enumerate() {
        let pick = |f: &dyn Fn(&Rate) -> f64| -> Vec<(f64, f64)> {
            rates.iter().filter(|r| r.method == m).map(|r| (r.kappa, f(r))).collect()
        };
        chart = chart
            .curve_in(
                Series { name: format!("{} (theory)", m.label()), points: pick(&|r| 1.0 - r.predicted) },
                Style::Dashed,
                c,
            )
            .curve_in(
                Series { name: format!("{} (measured)", m.label()), points: pick(&|r| 1.0 - r.measured) },
                Style::Points,
                c,
            );
    }
    out.svg("rates.svg", |p| chart.write(p))?;
    let kappa = kappas[kappas.len() / 2];
    let q = Quadratic::conditioned(n, kappa, true).centered_at_origin();
    let mut curves = Chart::new(
        &format!("Distance to the minimum, rotated quadratic, κ = {kappa}"),
        "step k",
        "‖x_k − x*‖",
    )
    .log(false, true);
    for m in Method::ALL {
        let e = errors(&q, m, max_steps)?;
        let shown: Vec<(f64, f64)> = e.iter().enumerate().take(2000).map(|(k, v)| (k as f64, *v)).collect();
        curves = curves.curve(Series { name: m.label().into(), points: shown }, Style::Line);
    }
    curves.y_range = Some((1e-60, 1e20));
    out.svg("rates_curves.svg", |p| curves.write(p))?;
    Ok(rates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_a_geometric_rate_exactly() {
        let e: Vec<f64> = (0..2000).map(|k| 3.0 * 0.9f64.powi(k)).collect();
        assert!((fit_rate(&e).unwrap() - 0.9).abs() < 1e-12);
        let d: Vec<f64> = (0..40).map(|k| 1.5f64.powi(k)).collect();
        assert!((fit_rate(&d).unwrap() - 1.5).abs() < 1e-12);
        assert!(fit_rate(&[1.0, 0.5]).is_none());
    }

    #[test]
    fn measured_rates_match_the_theory_across_condition_numbers() {
        let rates = measure(&[10.0, 100.0, 1000.0], 6, 300_000).unwrap();
        assert_eq!(rates.len(), 3 * 2 * 4);
        for r in &rates {
            assert!(
                r.exponent_error < 0.03,
                "κ {} rotated {} {}: measured {} predicted {} ({} steps)",
                r.kappa,
                r.rotated,
                r.method.label(),
                r.measured,
                r.predicted,
                r.steps
            );
        }
        // And the ordering the theory promises: at κ = 1000 Nesterov and heavy ball are ~30×
        // faster per step than gradient descent (1 − r ≈ 2/√κ or 1/√κ against 2/κ).
        let at = |m: Method| rates.iter().find(|r| r.kappa == 1000.0 && r.method == m).unwrap().measured;
        assert!((1.0 - at(Method::HeavyBall)) > 25.0 * (1.0 - at(Method::GradientDescent)));
        assert!((1.0 - at(Method::Nesterov)) > 12.0 * (1.0 - at(Method::GradientDescent)));
        assert!(at(Method::TooLarge) > 1.0);
    }
}
