//! Momentum one eigenvalue at a time, after Goh's "Why Momentum Really Works" (Distill, 2017).
//!
//! On a quadratic, heavy-ball momentum (PyTorch's `SGD(momentum=β)`) acts on each eigen-component
//! of the error separately: with h = lr·λ the component follows x_{t+1} = (1 + β − h)·x_t − β·x_{t−1},
//! so it is a combination of zᵗ for the two roots of z² − (1 + β − h)z + β. The convergence factor
//! is the larger root's modulus, ρ(h, β). The discriminant (1 + β − h)² − 4β sorts (h, β) into
//! regimes:
//!
//! | regime | where | the component |
//! |---|---|---|
//! | over-damped | 0 < h < (1 − √β)² | two real positive roots: creeps to 0 without changing sign |
//! | critically damped | h = (1 ± √β)² | a double root ±√β: the fastest decay for this h |
//! | under-damped | (1 − √β)² < h < (1 + √β)² | complex roots of modulus √β: spirals, envelope √βᵗ |
//! | sign-flipping | (1 + √β)² < h < 2(1 + β) | a real negative root: flips sign every step |
//! | divergent | h ≥ 2(1 + β) (or h ≤ 0) | a root of modulus ≥ 1 |
//!
//! Critical damping at the low edge gives β = (1 − √h)² and ρ = √β = 1 − √h, against gradient
//! descent's 1 − h: for h = 0.01 that is 0.9 per step instead of 0.99, the square-root speed-up.
//!
//! `write_momentum` draws the signed error of each eigen-component against the step, for gradient
//! descent and for momentum at the same learning rate, and a map of ρ over (h, β) with the regimes'
//! boundaries.

use super::output::Output;
use crate::plot::{Chart, Contour, Curve, Grid, Series, Style};
use crate::row;
use descent_core::Optimizer;
use descent_core::sgd::{SgdConfig, SgdMomentum};
use serde::Serialize;

/// Where (h, β) = (lr·λ, momentum) puts one eigen-component of heavy-ball momentum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Regime {
    /// Two real roots in (0, 1): no oscillation, slow when h is small.
    OverDamped,
    /// A double root: the boundary between over- and under-damping.
    CriticallyDamped,
    /// Complex roots of modulus √β: an oscillation inside a shrinking envelope.
    UnderDamped,
    /// A real root in (−1, −√β): the component changes sign every step.
    SignFlipping,
    /// A root of modulus at least 1: the component does not shrink.
    Divergent,
}

/// The roots' moduli (larger first) of z² − (1 + β − h)z + β, and whether they are complex.
fn roots(h: f64, beta: f64) -> (f64, f64, bool) {
    let b = 1.0 + beta - h;
    let disc = b * b - 4.0 * beta;
    if disc < 0.0 {
        (beta.sqrt(), beta.sqrt(), true)
    } else {
        let r = disc.sqrt();
        let (z1, z2) = ((b + r) / 2.0, (b - r) / 2.0);
        (z1.abs().max(z2.abs()), z1.abs().min(z2.abs()), false)
    }
}

/// The convergence factor ρ(h, β): how much one eigen-component of the error shrinks per step
/// in the long run (the larger root's modulus; ≥ 1 means no convergence).
pub fn convergence_factor(h: f64, beta: f64) -> f64 {
    roots(h, beta).0
}

/// The regime of (h, β), with `tol` the relative width given to the critical lines.
pub fn regime(h: f64, beta: f64, tol: f64) -> Regime {
    let s = beta.sqrt();
    let (lo, hi) = ((1.0 - s).powi(2), (1.0 + s).powi(2));
    let near = |edge: f64| (h - edge).abs() <= tol * edge.max(1e-300);
    if h <= 0.0 || h >= 2.0 * (1.0 + beta) {
        Regime::Divergent
    } else if near(lo) || near(hi) {
        Regime::CriticallyDamped
    } else if h < lo {
        Regime::OverDamped
    } else if h < hi {
        Regime::UnderDamped
    } else {
        Regime::SignFlipping
    }
}

/// The momentum that damps an eigen-component with h = lr·λ critically from below,
/// β = (1 − √h)², and the factor it then reaches, 1 − √h (for 0 < h < 1).
pub fn critical_momentum(h: f64) -> (f64, f64) {
    let s = h.sqrt();
    ((1.0 - s).powi(2), 1.0 - s)
}

/// The signed error of one eigen-component, started at 1, after each of `steps` steps of
/// descent's `SgdMomentum` (momentum 0 is plain gradient descent) on ½λx² with lr·λ = h and lr 1.
pub fn component(h: f64, beta: f64, steps: usize) -> Result<Vec<f64>, String> {
    let config = SgdConfig { lr: 1.0, momentum: beta, ..SgdConfig::default() };
    let mut opt = SgdMomentum::<f64, 1>::new(config).map_err(|e| e.to_string())?;
    let mut x = [1.0f64];
    let mut errors = vec![x[0]];
    for _ in 0..steps {
        let g = [h * x[0]];
        opt.step(&mut x, &g).map_err(|e| e.to_string())?;
        errors.push(x[0]);
    }
    Ok(errors)
}

/// The h = lr·λ values of the component figures: spread over every regime of β = 0.81.
pub const COMPONENTS: [f64; 5] = [0.002, 0.01, 0.3, 2.0, 3.5];
/// The momentum of the component figures (√β = 0.9: critical at h = 0.01 and h = 3.61).
pub const BETA: f64 = 0.81;

/// One row of the written table: h, β, regime, ρ predicted and measured.
#[derive(Debug, Clone, Serialize)]
pub struct Component {
    /// lr·λ.
    pub h: f64,
    /// The momentum.
    pub beta: f64,
    /// Its regime.
    pub regime: Regime,
    /// ρ(h, β).
    pub predicted: f64,
    /// |x_T / x_{T−k}|^{1/k} over the last quarter of the run, or the envelope's rate for an
    /// oscillating component (largest |x| over a window).
    pub measured: f64,
}

/// The measured factor per step: the ratio of the largest |x| over the last 20 steps to the
/// largest over the 20 steps ending `k` earlier, to the power 1/k.
fn measured(errors: &[f64]) -> f64 {
    let n = errors.len() - 1;
    let k = n / 4;
    let env = |t: usize| errors[t.saturating_sub(20)..=t].iter().fold(0.0f64, |m, e| m.max(e.abs()));
    (env(n) / env(n - k)).powf(1.0 / k as f64)
}

/// Writes `components_gd.svg` and `components_momentum.svg` (the signed error of each eigen-
/// component of [`COMPONENTS`] against the step, β = 0 and β = [`BETA`]), `rate_map.svg` (ρ over
/// h ∈ (0, 4] and β ∈ [0, 1) with the regimes' boundaries), `components.csv` and `momentum.json`.
pub fn write_momentum(out: &mut Output, steps: usize) -> Result<Vec<Component>, String> {
    let mut rows = Vec::new();
    let mut table = Vec::new();
    for (beta, name, title) in [
        (0.0, "components_gd.svg", "Gradient descent: each eigen-component of the error (β = 0)"),
        (BETA, "components_momentum.svg", "Momentum β = 0.81: each eigen-component of the error"),
    ] {
        let mut chart = Chart::new(title, "step t", "error component x_t (started at 1)");
        for &h in &COMPONENTS {
            let e = component(h, beta, steps)?;
            let r = regime(h, beta, 1e-9);
            rows.extend(e.iter().enumerate().map(|(t, x)| row![beta, h, t, *x]));
            table.push(Component {
                h,
                beta,
                regime: r,
                predicted: convergence_factor(h, beta),
                measured: measured(&e),
            });
            let label = format!("lr·λ = {h} ({})", regime_name(r));
            chart = chart.curve(
                Series { name: label, points: e.iter().enumerate().map(|(t, x)| (t as f64, *x)).collect() },
                Style::Line,
            );
        }
        chart.y_range = Some((-1.6, 1.6));
        out.svg(name, |p| chart.write(p))?;
    }
    out.csv("components.csv", &["beta", "h", "step", "x"], &rows)?;

    // The map of ρ over (h, β).
    let (hs, bs) = ((0.0, 4.0), (0.0, 0.995));
    let grid = Grid::sample(hs, bs, 200, 150, |h, b| convergence_factor(h, b).min(1.0));
    let mut map = Contour::heat_map("Convergence factor ρ of one eigen-component, heavy ball", grid);
    map.labels = ("lr·λ".into(), "momentum β".into());
    map.colour_label = "ρ (1: no progress)".into();
    map.levels = Some(vec![0.5, 0.9, 0.99]);
    let line = |f: &dyn Fn(f64) -> f64| -> Vec<(f64, f64)> {
        (0..=400).map(|i| 0.995 * i as f64 / 400.0).map(|b| (f(b), b)).collect()
    };
    map.curves = vec![
        Curve {
            series: Series {
                name: "critical damping (1 ± √β)²".into(),
                points: line(&|b| (1.0 - b.sqrt()).powi(2)),
            },
            style: Style::Dashed,
            colour: 99,
        },
        Curve {
            series: Series { name: String::new(), points: line(&|b| (1.0 + b.sqrt()).powi(2)) },
            style: Style::Dashed,
            colour: 99,
        },
        Curve {
            series: Series { name: "divergence 2(1 + β)".into(), points: line(&|b| 2.0 * (1.0 + b)) },
            style: Style::Line,
            colour: 1,
        },
    ];
    map.texts = REGION_LABELS.iter().map(|(t, p, _)| ((*t).to_string(), *p)).collect();
    out.svg("rate_map.svg", |p| map.write(p))?;
    out.json("momentum.json", &table)?;
    Ok(table)
}

/// The region names drawn on the map, where, and the regime each stands in.
pub const REGION_LABELS: [(&str, (f64, f64), Regime); 4] = [
    ("over-damped", (0.22, 0.05), Regime::OverDamped),
    ("under-damped", (1.3, 0.55), Regime::UnderDamped),
    ("sign-flipping", (1.8, 0.05), Regime::SignFlipping),
    ("diverges", (3.45, 0.35), Regime::Divergent),
];

fn regime_name(r: Regime) -> &'static str {
    match r {
        Regime::OverDamped => "over-damped",
        Regime::CriticallyDamped => "critically damped",
        Regime::UnderDamped => "under-damped",
        Regime::SignFlipping => "sign-flipping",
        Regime::Divergent => "divergent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_measured_factor_of_every_component_is_the_predicted_one() {
        for beta in [0.0, BETA] {
            for &h in &COMPONENTS {
                let e = component(h, beta, 400).unwrap();
                let (p, m) = (convergence_factor(h, beta), measured(&e));
                if p < 1.0 {
                    // Critical damping's factor t·ρᵗ makes the envelope ratio a little larger.
                    assert!((m - p).abs() < 0.01, "h {h} β {beta}: measured {m}, predicted {p}");
                } else {
                    assert!(m >= 1.0, "h {h} β {beta}: {m}");
                }
            }
        }
    }

    #[test]
    fn critical_damping_is_the_fastest_momentum_for_one_eigenvalue() {
        for h in [0.0001, 0.01, 0.25, 0.64] {
            let (beta, rate) = critical_momentum(h);
            assert!((convergence_factor(h, beta) - rate).abs() < 1e-6, "h {h}");
            assert_eq!(regime(h, beta, 1e-9), Regime::CriticallyDamped);
            // Any other momentum is slower, and gradient descent (1 − h) slowest.
            for other in [0.0, 0.5 * beta, (beta + 1.0) / 2.0] {
                assert!(convergence_factor(h, other) > rate, "h {h}, β {other}");
            }
        }
        assert!((critical_momentum(0.01).1 - 0.9).abs() < 1e-12);
    }

    #[test]
    fn regimes_follow_the_discriminant_and_the_labels_sit_in_theirs() {
        assert_eq!(regime(0.002, BETA, 1e-9), Regime::OverDamped);
        assert_eq!(regime(0.01, BETA, 1e-9), Regime::CriticallyDamped);
        assert_eq!(regime(0.3, BETA, 1e-9), Regime::UnderDamped);
        assert_eq!(regime(3.65, BETA, 1e-9), Regime::Divergent);
        assert_eq!(regime(1.5, 0.0, 1e-9), Regime::SignFlipping);
        for (name, (h, b), r) in REGION_LABELS {
            assert_eq!(regime(h, b, 1e-9), r, "{name}");
        }
        // Under-damped: the factor is √β whatever h.
        for h in [0.1, 1.0, 3.0] {
            assert!((convergence_factor(h, BETA) - 0.9).abs() < 1e-12);
        }
    }
}
