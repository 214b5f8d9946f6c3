//! Running a core optimizer (built by name, in f64) on a test function and recording its path.

use super::functions::Objective;
use crate::registry::{self, BuildError};
use descent_core::NonFinitePolicy;
use serde_json::{Map, Value};

/// The path of one run: the point before every step and after the last, and f there.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// x₀, x₁, …, x_T (shorter when the run diverged).
    pub points: Vec<Vec<f64>>,
    /// f(x₀), …, f(x_T).
    pub values: Vec<f64>,
    /// Whether f became non-finite or exceeded 1e12 × |f(x₀)| (the run stopped there).
    pub diverged: bool,
}

impl Path {
    /// The last point.
    pub fn last(&self) -> &[f64] {
        self.points.last().map_or(&[], Vec::as_slice)
    }
    /// f at the last point.
    pub fn last_value(&self) -> f64 {
        self.values.last().copied().unwrap_or(f64::NAN)
    }
    /// The 2-D points as (x, y) pairs, for plotting.
    pub fn xy(&self) -> Vec<(f64, f64)> {
        self.points.iter().filter(|p| p.len() >= 2).map(|p| (p[0], p[1])).collect()
    }
}

/// Optimizer keyword arguments from `NAME` or `NAME:key=value,key=value` (PyTorch's names; values
/// are JSON: numbers, booleans, `[0.9,0.99]`), e.g. `sgd:lr=0.01,momentum=0.9,nesterov=true`.
pub fn kwargs(spec: &str) -> Result<Map<String, Value>, String> {
    crate::named::parse("optimizer", spec)
}

/// Runs up to `steps` steps of the optimizer `kwargs` on `f` from `start` (in f64), calling
/// `visit(k, x_k)` for k = 0, 1, …; stops early when `visit` returns `false`.
pub fn iterate(
    f: &dyn Objective,
    kwargs: &Map<String, Value>,
    start: &[f64],
    steps: usize,
    mut visit: impl FnMut(usize, &[f64]) -> bool,
) -> Result<(), BuildError> {
    let n = f.dim();
    let mut opt = registry::build::<f64>(kwargs, &[n], n, NonFinitePolicy::Propagate)?;
    let mut x = start.to_vec();
    let mut g = vec![0.0; n];
    if !visit(0, &x) {
        return Ok(());
    }
    for k in 1..=steps {
        f.gradient(&x, &mut g);
        opt.step(&mut x, &g)?;
        if !visit(k, &x) {
            break;
        }
    }
    Ok(())
}

/// Runs `steps` steps of the optimizer `kwargs` on `f` from `start` (in f64) and records the path.
/// Stops early when the run diverges.
pub fn descend(
    f: &dyn Objective,
    kwargs: &Map<String, Value>,
    start: &[f64],
    steps: usize,
) -> Result<Path, BuildError> {
    let limit = 1e12 * f.value(start).abs().max(1.0);
    let mut path = Path { points: Vec::new(), values: Vec::new(), diverged: false };
    iterate(f, kwargs, start, steps, |_, x| {
        let v = f.value(x);
        path.points.push(x.to_vec());
        path.values.push(v);
        path.diverged = !v.is_finite() || v.abs() > limit || x.iter().any(|c| !c.is_finite());
        !path.diverged
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::functions::{Line, Surface};

    #[test]
    fn gradient_descent_on_the_square_follows_the_closed_form() {
        // x_{k+1} = (1 − 2·lr)·x_k exactly, in floating point too (one multiply, one subtract).
        let p = descend(&Line::Square, &kwargs("sgd:lr=0.1").unwrap(), &[1.0], 10).unwrap();
        let mut x = 1.0f64;
        for k in 0..=10 {
            assert!((p.points[k][0] - x).abs() <= 1e-15, "step {k}");
            x -= 0.1 * (2.0 * x);
        }
        assert!(!p.diverged);
    }

    #[test]
    fn divergence_stops_the_run() {
        let p = descend(&Line::Square, &kwargs("sgd:lr=1.5").unwrap(), &[1.0], 10_000).unwrap();
        assert!(p.diverged && p.points.len() < 100, "{} points", p.points.len());
    }

    #[test]
    fn unknown_optimizers_and_keys_are_refused_by_name() {
        let e = descend(&Surface::Ravine, &kwargs("sgdd:lr=0.1").unwrap(), &[1.0, 1.0], 1).unwrap_err();
        assert!(e.to_string().contains("sgdd"), "{e}");
        let e = descend(&Surface::Ravine, &kwargs("sgd:lrr=0.1").unwrap(), &[1.0, 1.0], 1).unwrap_err();
        assert!(e.to_string().contains("lrr"), "{e}");
        assert!(kwargs("adam:lr").is_err());
    }
}
