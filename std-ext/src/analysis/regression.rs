//! The regression experiments.
//!
//! - Linear regression y = w*·x + b* + ε (10 features) as a one-layer model with mean squared
//!   error, trained with SGD, momentum, Adam and AdamW, against the least-squares optimum (solved
//!   exactly from the normal equations): how close each gets to the best possible training loss.
//! - The synthetic regression y = x₀² + x₁² + ε with 20 features, a 20-128-128-1 ReLU MLP trained
//!   with AdamW, linear warmup then cosine decay (per batch), global-norm clipping at 1 and early
//!   stopping with patience: an "everything together" run.

use super::datasets::{Owned, linear, squares};
use super::output::Output;
use super::second_order::cholesky_solve;
use crate::model::Loss;
use crate::plot::{Chart, Series, Style};
use crate::row;
use crate::train::{History, SchedulePer, Silent, TrainOptions};
use serde::Serialize;

/// The optimizers of the linear-regression comparison.
pub const LINEAR_OPTIMIZERS: [(&str, &str); 4] = [
    ("sgd", "sgd:lr=0.01"),
    ("momentum", "sgd:lr=0.01,momentum=0.9"),
    ("adam", "adam:lr=0.01"),
    ("adamw", "adamw:lr=0.01,weight_decay=0.01"),
];

/// One run of the linear-regression comparison.
#[derive(Debug, Clone, Serialize)]
pub struct LinearRun {
    /// The optimizer.
    pub label: String,
    /// Per-epoch history.
    pub history: History,
    /// ‖(w, b) − (w_ls, b_ls)‖ at the end.
    pub distance: f64,
}

/// The least-squares fit (w, b) of `data` (`d` features) and its mean squared error.
pub fn least_squares(data: &Owned, d: usize) -> (Vec<f64>, f64) {
    // Normal equations for [x, 1]: (AᵀA) θ = Aᵀy.
    let m = d + 1;
    let (mut ata, mut aty) = (vec![0.0; m * m], vec![0.0; m]);
    for i in 0..data.n {
        let row: Vec<f64> = data.x[i * d..(i + 1) * d].iter().map(|v| f64::from(*v)).chain([1.0]).collect();
        for a in 0..m {
            aty[a] += row[a] * f64::from(data.values[i]);
            for b in 0..m {
                ata[a * m + b] += row[a] * row[b];
            }
        }
    }
    let theta = cholesky_solve(&ata, &aty).unwrap_or_else(|| vec![f64::NAN; m]);
    let mse = (0..data.n)
        .map(|i| {
            let p: f64 = (0..d).map(|j| f64::from(data.x[i * d + j]) * theta[j]).sum::<f64>() + theta[d];
            (p - f64::from(data.values[i])).powi(2)
        })
        .sum::<f64>()
        / data.n as f64;
    (theta, mse)
}

/// Trains each optimizer of [`LINEAR_OPTIMIZERS`] for `epochs` epochs on 500 examples; returns
/// the runs and the least-squares training loss.
pub fn linear_regression(epochs: usize, seed: u64) -> Result<(Vec<LinearRun>, f64), String> {
    let d = 10;
    let (train, _, _) = linear(500, d, 0.1, seed);
    let test = linear_test(d, seed);
    let (theta, ls_mse) = least_squares(&train, d);
    let mut runs = Vec::new();
    for (label, spec) in LINEAR_OPTIMIZERS {
        let opts = TrainOptions {
            optimizer: crate::named::parse("optimizer", spec)?,
            epochs,
            batch_size: 32,
            hidden: vec![],
            loss: Loss::Mse,
            seed,
            ..TrainOptions::default()
        };
        let t = crate::train::train(train.split(), test.split(), d, 1, &opts, None, &mut Silent)
            .map_err(|e| format!("{label}: {e}"))?;
        // One layer: W is d × 1 (parameters 0..d), then b.
        let distance = (0..=d).map(|j| (f64::from(t.params[j]) - theta[j]).powi(2)).sum::<f64>().sqrt();
        runs.push(LinearRun { label: label.into(), history: t.history, distance });
    }
    Ok((runs, ls_mse))
}

/// 500 test examples for the training set of `linear(500, d, 0.1, seed)`: the same w* and b*
/// (drawn first from the same seed), the next 500 examples of the stream.
fn linear_test(d: usize, seed: u64) -> Owned {
    let (all, _, _) = linear(1000, d, 0.1, seed);
    Owned { x: all.x[500 * d..].to_vec(), y: Vec::new(), values: all.values[500..].to_vec(), n: 500 }
}

/// The synthetic regression's result.
#[derive(Debug, Clone, Serialize)]
pub struct Synthetic {
    /// Per-epoch history (the lr column shows warmup and cosine).
    pub history: History,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// The best test loss and its epoch.
    pub best: (f64, usize),
    /// The variance of the test targets: the loss of always predicting their mean.
    pub baseline: f64,
}

/// Trains the synthetic regression (2000 training and 500 test examples, 20 features).
pub fn synthetic(epochs: usize, seed: u64) -> Result<Synthetic, String> {
    let train = squares(2000, 20, 0.1, seed);
    let test = squares(500, 20, 0.1, seed.wrapping_add(1_000_003));
    let batch = 64;
    let total = epochs * train.n.div_ceil(batch);
    let opts = TrainOptions {
        optimizer: crate::named::parse("optimizer", "adamw:lr=0.001,weight_decay=0.01")?,
        epochs,
        batch_size: batch,
        hidden: vec![128, 128],
        loss: Loss::Mse,
        clip_norm: Some(1.0),
        seed,
        patience: Some(10),
        schedule_per: SchedulePer::Batch,
        ..TrainOptions::default()
    };
    let spec = format!("warmup_cosine:warmup_steps={},total_steps={total}", total / 20);
    let mut schedule = crate::schedule_spec::for_training(&spec, &[1e-3], true).map_err(|e| e.to_string())?;
    let t =
        crate::train::train(train.split(), test.split(), 20, 1, &opts, Some(schedule.as_mut()), &mut Silent)?;
    let best = t
        .history
        .epochs
        .iter()
        .map(|r| (r.test_loss, r.epoch))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap_or((f64::NAN, 0));
    let mean = test.values.iter().map(|v| f64::from(*v)).sum::<f64>() / test.n as f64;
    let baseline = test.values.iter().map(|v| (f64::from(*v) - mean).powi(2)).sum::<f64>() / test.n as f64;
    Ok(Synthetic { history: t.history, stopped_early: t.stopped_early, best, baseline })
}

/// Writes `linear_regression.svg` (training loss per epoch, the least-squares loss dashed),
/// `linear_regression.csv` and `linear_regression.json`.
pub fn write_linear(out: &mut Output, epochs: usize, seed: u64) -> Result<(Vec<LinearRun>, f64), String> {
    let (runs, ls) = linear_regression(epochs, seed)?;
    let title = "Linear regression (10 features, σ = 0.1): training loss";
    let c = runs
        .iter()
        .fold(Chart::new(title, "epoch", "mean squared error").log(false, true), |c, r| {
            let pts = r.history.epochs.iter().map(|e| (e.epoch as f64, e.train_loss)).collect();
            c.curve(Series { name: r.label.clone(), points: pts }, Style::Line)
        })
        .curve(
            Series { name: format!("least squares {ls:.4}"), points: vec![(1.0, ls), (epochs as f64, ls)] },
            Style::Dashed,
        );
    out.svg("linear_regression.svg", |p| c.write(p))?;
    let rows: Vec<_> = runs
        .iter()
        .flat_map(|r| {
            r.history.epochs.iter().map(move |e| row![r.label.as_str(), e.epoch, e.train_loss, e.test_loss])
        })
        .collect();
    out.csv("linear_regression.csv", &["optimizer", "epoch", "train_loss", "test_loss"], &rows)?;
    out.json("linear_regression.json", &(&runs, ls))?;
    Ok((runs, ls))
}

/// Writes `synthetic.svg` (train and test loss, the mean predictor dashed), `synthetic_lr.svg`,
/// `synthetic.csv` and `synthetic.json`.
pub fn write_synthetic(out: &mut Output, epochs: usize, seed: u64) -> Result<Synthetic, String> {
    let s = synthetic(epochs, seed)?;
    let pick = |f: fn(&crate::train::EpochRecord) -> f64| -> Vec<(f64, f64)> {
        s.history.epochs.iter().map(|r| (r.epoch as f64, f(r))).collect()
    };
    let last = s.history.epochs.len() as f64;
    let c = Chart::new(
        "y = x₀² + x₁² + ε: AdamW, warmup + cosine, clipping, early stopping",
        "epoch",
        "mean squared error",
    )
    .log(false, true)
    .curve(Series { name: "train".into(), points: pick(|r| r.train_loss) }, Style::Line)
    .curve(Series { name: "test".into(), points: pick(|r| r.test_loss) }, Style::Line)
    .curve(
        Series {
            name: format!("predict the mean ({:.2})", s.baseline),
            points: vec![(1.0, s.baseline), (last, s.baseline)],
        },
        Style::Dashed,
    );
    out.svg("synthetic.svg", |p| c.write(p))?;
    let c = Chart::new("Learning rate of each epoch's last step", "epoch", "learning rate")
        .curve(Series { name: "warmup_cosine".into(), points: pick(|r| r.lr) }, Style::LinePoints);
    out.svg("synthetic_lr.svg", |p| c.write(p))?;
    let rows: Vec<_> = s
        .history
        .epochs
        .iter()
        .map(|e| row![e.epoch, e.train_loss, e.test_loss, e.lr, e.grad_norm])
        .collect();
    out.csv("synthetic.csv", &["epoch", "train_loss", "test_loss", "lr", "grad_norm"], &rows)?;
    out.json("synthetic.json", &s)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares_recovers_the_true_weights_without_noise() {
        let (data, w, b) = linear(200, 4, 0.0, 5);
        let (theta, mse) = least_squares(&data, 4);
        for j in 0..4 {
            assert!((theta[j] - w[j]).abs() < 1e-4);
        }
        assert!((theta[4] - b).abs() < 1e-4 && mse < 1e-9);
    }

    #[test]
    fn momentum_and_adam_reach_the_least_squares_loss() {
        let (runs, ls) = linear_regression(40, 1).unwrap();
        // σ = 0.1: the best possible training MSE is about σ² = 0.01.
        assert!(ls > 0.005 && ls < 0.015, "{ls}");
        for r in &runs[1..3] {
            let last = r.history.epochs.last().unwrap().train_loss;
            assert!(last < 1.3 * ls, "{}: {last} vs {ls}", r.label);
            assert!(r.distance < 0.05, "{}: {}", r.label, r.distance);
        }
    }

    #[test]
    fn the_synthetic_regression_learns_far_below_the_mean_predictor() {
        let s = synthetic(12, 0).unwrap();
        assert!(s.best.0 < 0.25 * s.baseline, "best {:?} vs baseline {}", s.best, s.baseline);
        // Warmup: the first epoch's last lr is below the peak, and the lr then decays.
        let lrs: Vec<f64> = s.history.epochs.iter().map(|r| r.lr).collect();
        assert!(lrs[0] < 1e-3 && lrs[lrs.len() - 1] < lrs[1], "{lrs:?}");
    }
}
