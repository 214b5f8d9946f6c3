//! Learning-rate sensitivity: the final loss against the learning rate, on the 2-D test functions
//! for several optimizers, and an Adam sweep on the MNIST MLP.

use super::functions::{Objective, Surface};
use super::output::Output;
use super::runner::{descend, kwargs};
use crate::plot::{Chart, Series, Style};
use crate::row;
use crate::train::{Silent, Split, TrainOptions};
use serde::Serialize;

/// `count` learning rates spaced evenly in log scale from `lo` to `hi`.
pub fn log_grid(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    if count < 2 {
        return vec![lo];
    }
    (0..count).map(|i| lo * (hi / lo).powf(i as f64 / (count - 1) as f64)).collect()
}

/// One point of a sweep.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// What was swept (function or data set).
    pub target: String,
    /// The optimizer.
    pub optimizer: String,
    /// Learning rate.
    pub lr: f64,
    /// Final loss (f − min f on the test functions; test loss on MNIST); NaN when diverged.
    pub loss: f64,
    /// Test accuracy in percent (MNIST only).
    pub accuracy: Option<f64>,
}

/// The optimizers of the 2-D sweep, as spec prefixes (the lr is appended).
pub const SURFACE_OPTIMIZERS: [(&str, &str); 4] =
    [("sgd", "sgd"), ("momentum", "sgd:momentum=0.9"), ("rmsprop", "rmsprop"), ("adam", "adam")];

/// f − min f after `steps` steps from the surface's start, for each optimizer and learning rate.
pub fn surface_sweep(s: Surface, lrs: &[f64], steps: usize) -> Result<Vec<Point>, String> {
    let floor = s.min_value().unwrap_or(0.0);
    let mut points = Vec::new();
    for (label, spec) in SURFACE_OPTIMIZERS {
        for &lr in lrs {
            let sep = if spec.contains(':') { ',' } else { ':' };
            let p = descend(&s, &kwargs(&format!("{spec}{sep}lr={lr}"))?, &s.start(), steps)
                .map_err(|e| e.to_string())?;
            let loss = if p.diverged { f64::NAN } else { p.last_value() - floor };
            points.push(Point { target: s.name(), optimizer: label.into(), lr, loss, accuracy: None });
        }
    }
    Ok(points)
}

/// The MNIST sweep: Adam (or `optimizer`) at each lr on the MLP, `opts.epochs` epochs each.
pub fn mnist_sweep(
    train: Split<'_>,
    test: Split<'_>,
    opts: &TrainOptions,
    lrs: &[f64],
    mut progress: impl FnMut(usize),
) -> Result<Vec<Point>, String> {
    let name = opts.optimizer.get("name").and_then(|v| v.as_str()).unwrap_or("?").to_string();
    let mut points = Vec::new();
    for (i, &lr) in lrs.iter().enumerate() {
        let mut o = opts.clone();
        o.optimizer.insert("lr".into(), lr.into());
        let inputs = train.x.len() / train.n.max(1);
        let (loss, accuracy) = match crate::train::train(train, test, inputs, 10, &o, None, &mut Silent) {
            Ok(t) => {
                t.history.epochs.last().map_or((f64::NAN, None), |r| (r.test_loss, Some(r.test_accuracy)))
            }
            // Diverged (non-finite gradients): no result at this lr.
            Err(_) => (f64::NAN, None),
        };
        points.push(Point { target: "mnist".into(), optimizer: name.clone(), lr, loss, accuracy });
        progress(i);
    }
    Ok(points)
}

/// The lowest loss a sweep plot shows (smaller ones, exact zeros included, are drawn on it).
const FLOOR: f64 = 1e-20;

/// Writes `sweep_<function>.svg` for each surface sweep, `sweep_mnist.svg` (test loss and
/// accuracy against lr) when there is an MNIST sweep, `sweep.csv` and `sweep.json`.
pub fn write_sweep(out: &mut Output, points: &[Point]) -> Result<(), String> {
    let mut targets: Vec<&str> = points.iter().map(|p| p.target.as_str()).collect();
    targets.dedup();
    for t in targets {
        let of_t: Vec<&Point> = points.iter().filter(|p| p.target == t).collect();
        let mut names: Vec<&str> = of_t.iter().map(|p| p.optimizer.as_str()).collect();
        names.dedup();
        let y = if t == "mnist" { "test loss" } else { "f − min f after the run" };
        let mut chart = names.iter().fold(
            Chart::new(&format!("Final loss against learning rate: {t}"), "learning rate", y).log(true, true),
            |c, n| {
                // Diverged runs (NaN) are left out; losses below the floor (exact zeros too) sit on it.
                let pts = of_t
                    .iter()
                    .filter(|p| p.optimizer == *n && p.loss.is_finite())
                    .map(|p| (p.lr, p.loss.max(FLOOR)))
                    .collect();
                c.curve(Series { name: (*n).into(), points: pts }, Style::LinePoints)
            },
        );
        // The range of the losses shown, not down to the floor: MNIST's test losses lie within a
        // decade, and a range from 1e-20 would squash them against the top.
        let finite = || of_t.iter().map(|p| p.loss).filter(|l| l.is_finite()).map(|l| l.max(FLOOR));
        let (low, top) = (finite().fold(f64::INFINITY, f64::min), finite().fold(FLOOR, f64::max));
        chart.y_range = Some((if low.is_finite() { low / 2.0 } else { FLOOR }, 2.0 * top));
        out.svg(&format!("sweep_{t}.svg"), |p| chart.write(p))?;
        if t == "mnist" {
            let acc =
                Chart::new("Test accuracy against learning rate: mnist", "learning rate", "accuracy (%)")
                    .log(true, false)
                    .curve(
                        Series {
                            name: of_t[0].optimizer.clone(),
                            points: of_t.iter().filter_map(|p| p.accuracy.map(|a| (p.lr, a))).collect(),
                        },
                        Style::LinePoints,
                    );
            out.svg("sweep_mnist_accuracy.svg", |p| acc.write(p))?;
        }
    }
    let rows: Vec<_> = points
        .iter()
        .map(|p| row![p.target.as_str(), p.optimizer.as_str(), p.lr, p.loss, p.accuracy.unwrap_or(f64::NAN)])
        .collect();
    out.csv("sweep.csv", &["target", "optimizer", "lr", "loss", "accuracy"], &rows)?;
    out.json("sweep.json", &points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgd_on_the_ravine_converges_below_2_over_l_and_diverges_above() {
        // L = 20: gradient descent is stable for lr < 0.1.
        let pts = surface_sweep(Surface::Ravine, &[0.05, 0.07, 0.09, 0.11, 0.2], 200).unwrap();
        let sgd: Vec<&Point> = pts.iter().filter(|p| p.optimizer == "sgd").collect();
        assert!(sgd[..3].iter().all(|p| p.loss < 1e-6), "{:?}", sgd);
        assert!(sgd[3..].iter().all(|p| p.loss.is_nan()), "{:?}", sgd);
        // And the best lr is the one nearest 2/(L + μ) = 1/11.
        let best = sgd.iter().min_by(|a, b| a.loss.total_cmp(&b.loss)).unwrap();
        assert_eq!(best.lr, 0.09);
    }

    #[test]
    fn the_log_grid_spans_its_ends() {
        let g = log_grid(1e-4, 1e-1, 7);
        assert_eq!(g.len(), 7);
        assert!((g[0] - 1e-4).abs() < 1e-18 && (g[6] - 0.1).abs() < 1e-15);
        assert!((g[2] / g[1] - g[1] / g[0]).abs() < 1e-12);
    }
}
