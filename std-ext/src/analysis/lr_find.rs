//! The learning-rate range test on an MLP, with descent-core's [`LrRangeTest`]: train with the
//! lr rising exponentially from `start` to `end`, one step per mini-batch, until the smoothed loss
//! exceeds 4× its best; suggest the lr where it falls fastest.

use super::net::Net;
use super::output::Output;
use crate::model::{Activation, Loss};
use crate::plot::{Chart, Series, Style};
use crate::registry;
use crate::row;
use crate::train::Split;
use descent_core::NonFinitePolicy;
use descent_core::lr_finder::{LrRangeTest, RangePoint, RangeStatus};
use serde::Serialize;
use serde_json::{Map, Value};

/// Most steps a range test records.
pub const MAX_STEPS: usize = 4096;

/// The test's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The optimizer (its lr is overwritten at every step).
    pub optimizer: Map<String, Value>,
    /// First lr.
    pub start_lr: f64,
    /// Last lr.
    pub end_lr: f64,
    /// Steps from the first to the last lr.
    pub steps: usize,
    /// Smoothing β of the loss's moving average, in [0, 1) (fastai and Smith use 0.98).
    pub beta: f64,
    /// Layer widths.
    pub sizes: Vec<usize>,
    /// Mini-batch size.
    pub batch: usize,
    /// Seed for initialization and shuffling.
    pub seed: u64,
    /// Threads for the matrix products (the same bits at every count).
    pub threads: usize,
}

/// What the test found.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    /// The recorded points (lr, loss, smoothed loss).
    pub points: Vec<(f64, f64, f64)>,
    /// The suggested learning rate.
    pub suggestion: Option<f64>,
    /// Whether it stopped because the loss diverged (rather than reaching `end_lr`).
    pub diverged: bool,
}

/// Runs the range test on `data`.
pub fn range_test(data: Split<'_>, s: &Settings, mut progress: impl FnMut(usize)) -> Result<Found, String> {
    let mut test = LrRangeTest::<MAX_STEPS>::with_smoothing(s.start_lr, s.end_lr, s.steps, s.beta, 4.0)
        .map_err(|e| e.to_string())?;
    let mut net = Net::new(data, &s.sizes, Activation::Relu, Loss::CrossEntropy, s.seed, s.batch)?
        .with_threads(s.threads);
    let n = net.params.len();
    let mut opt = registry::build::<f32>(&s.optimizer, &[n], n, NonFinitePolicy::Propagate)
        .map_err(|e| e.to_string())?;
    let mut epoch = 0;
    let mut k = net.batches();
    loop {
        if k == net.batches() {
            epoch += 1;
            net.shuffle(s.seed, epoch);
            k = 0;
        }
        opt.set_lr(test.lr()).map_err(|e| e.to_string())?;
        let loss = net.batch_gradient(k);
        k += 1;
        progress(test.points().len());
        // The loss of this batch is the loss the previous step's lr led to.
        let status = test.record(loss).map_err(|e| e.to_string())?;
        if status != RangeStatus::Continue {
            break;
        }
        opt.step(&mut net.params, &net.grad).map_err(|e| e.to_string())?;
    }
    let points = test.points().iter().map(|p: &RangePoint| (p.lr, p.loss, p.smoothed)).collect();
    Ok(Found { points, suggestion: test.suggestion(), diverged: test.status() == RangeStatus::Diverged })
}

/// Writes `lr_find.svg` (raw and smoothed loss against lr, the suggestion marked), `lr_find.csv`
/// and `lr_find.json`.
pub fn write_lr_find(
    out: &mut Output,
    data: Split<'_>,
    s: &Settings,
    progress: impl FnMut(usize),
) -> Result<Found, String> {
    let found = range_test(data, s, progress)?;
    let rows: Vec<_> = found.points.iter().map(|&(lr, l, sm)| row![lr, l, sm]).collect();
    out.csv("lr_find.csv", &["lr", "loss", "smoothed"], &rows)?;
    out.json("lr_find.json", &found)?;
    let name = s.optimizer.get("name").and_then(Value::as_str).unwrap_or("?");
    let mut chart = Chart::new(
        &format!("LR range test, {name}, MLP {:?} on MNIST", s.sizes),
        "learning rate",
        "training loss",
    )
    .log(true, true)
    .curve_in(
        Series { name: "batch loss".into(), points: found.points.iter().map(|p| (p.0, p.1)).collect() },
        Style::Line,
        6,
    )
    .curve_in(
        Series {
            name: format!("smoothed (β = {})", s.beta),
            points: found.points.iter().map(|p| (p.0, p.2)).collect(),
        },
        Style::Line,
        0,
    );
    if let Some(lr) = found.suggestion {
        chart.markers.push((lr, format!("suggestion {lr:.2e}")));
    }
    // Keep the divergence from flattening the curve: at most 4× the best smoothed loss.
    let best = found.points.iter().map(|p| p.2).fold(f64::INFINITY, f64::min);
    let top = found.points.iter().map(|p| p.1.max(p.2)).fold(0.0, f64::max).min(8.0 * best);
    let low = found.points.iter().map(|p| p.1.min(p.2)).fold(f64::INFINITY, f64::min);
    chart.y_range = Some((low / 1.2, top * 1.2));
    out.svg("lr_find.svg", |p| chart.write(p))?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_test_stops_at_divergence_and_suggests_an_lr_inside_the_range() {
        // Two overlapping clouds in 4-D: learnable, but not separable, so the loss cannot go to
        // zero, and a huge lr makes confident wrong predictions: the loss blows up.
        let n = 512;
        let mut x = Vec::with_capacity(n * 4);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let c = (i % 2) as f32;
            for j in 0..4 {
                x.push(0.3 * (2.0 * c - 1.0) + (((i * 7 + j * 13) % 17) as f32 / 8.0 - 1.0));
            }
            y.push(c as u8);
        }
        let data = Split { x: &x, y: &y, values: &[], n };
        let s = Settings {
            optimizer: crate::named::parse("optimizer", "sgd:lr=0.1").unwrap(),
            start_lr: 1e-4,
            end_lr: 1e3,
            steps: 200,
            beta: 0.98,
            sizes: vec![4, 8, 2],
            batch: 32,
            seed: 3,
            threads: 1,
        };
        let f = range_test(data, &s, |_| {}).unwrap();
        let tail: Vec<_> = f.points.iter().rev().take(8).collect();
        assert!(f.diverged, "lr up to 1e3 must blow up: {tail:?}");
        assert!(f.points.len() < 200);
        let sugg = f.suggestion.unwrap();
        let last_lr = f.points.last().unwrap().0;
        assert!(sugg > 1e-4 && sugg < last_lr, "suggestion {sugg}, stopped at {last_lr}");
        // The smoothed loss at the suggestion is below the starting loss: the lr does learn.
        let at = f.points.iter().find(|p| p.0 >= sugg).unwrap();
        assert!(at.2 < f.points[0].2);
        // Same seed, same record.
        let g = range_test(data, &s, |_| {}).unwrap();
        assert_eq!(f.points, g.points);
    }
}
