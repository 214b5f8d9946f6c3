//! The two-moons experiments: a 2-16-8-2 ReLU MLP on a small noisy two-moons set,
//! (1) trained with SGD, momentum, RMSprop and Adam, and (2) trained with AdamW at several weight
//! decays, to show decay trading training fit for test loss.

use super::datasets::{Owned, two_moons};
use super::output::Output;
use crate::plot::{Chart, Series, Style};
use crate::row;
use crate::train::{History, Silent, TrainOptions};
use serde::Serialize;

/// The experiment's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Training points.
    pub train: usize,
    /// Test points.
    pub test: usize,
    /// Noise deviation.
    pub noise: f64,
    /// Epochs.
    pub epochs: usize,
    /// Seed for the data and the model.
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { train: 200, test: 1000, noise: 0.25, epochs: 200, seed: 0 }
    }
}

/// The optimizers compared, with their learning rates.
pub const OPTIMIZERS: [(&str, &str); 4] = [
    ("sgd", "sgd:lr=0.1"),
    ("momentum", "sgd:lr=0.05,momentum=0.9"),
    ("rmsprop", "rmsprop:lr=0.01"),
    ("adam", "adam:lr=0.01"),
];

/// The weight decays compared (AdamW, lr 0.01).
pub const DECAYS: [f64; 5] = [0.0, 0.01, 0.1, 1.0, 3.0];

/// One training run.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Label.
    pub label: String,
    /// Per-epoch history.
    pub history: History,
}

impl Outcome {
    /// The last epoch's (train loss, test loss, test accuracy).
    pub fn last(&self) -> (f64, f64, f64) {
        self.history
            .epochs
            .last()
            .map_or((f64::NAN, f64::NAN, f64::NAN), |r| (r.train_loss, r.test_loss, r.test_accuracy))
    }
}

fn data(s: &Settings) -> (Owned, Owned) {
    (two_moons(s.train, s.noise, s.seed), two_moons(s.test, s.noise, s.seed.wrapping_add(1_000_003)))
}

fn run(s: &Settings, train: &Owned, test: &Owned, label: &str, spec: &str) -> Result<Outcome, String> {
    let opts = TrainOptions {
        optimizer: crate::named::parse("optimizer", spec)?,
        epochs: s.epochs,
        batch_size: 32,
        hidden: vec![16, 8],
        seed: s.seed,
        ..TrainOptions::default()
    };
    let t = crate::train::train(train.split(), test.split(), 2, 2, &opts, None, &mut Silent)
        .map_err(|e| format!("{label}: {e}"))?;
    Ok(Outcome { label: label.into(), history: t.history })
}

/// The optimizer comparison.
pub fn optimizers(s: &Settings) -> Result<Vec<Outcome>, String> {
    let (train, test) = data(s);
    OPTIMIZERS.iter().map(|(l, spec)| run(s, &train, &test, l, spec)).collect()
}

/// The weight-decay comparison.
pub fn weight_decay(s: &Settings) -> Result<Vec<Outcome>, String> {
    let (train, test) = data(s);
    DECAYS
        .iter()
        .map(|wd| {
            run(s, &train, &test, &format!("weight_decay {wd}"), &format!("adamw:lr=0.01,weight_decay={wd}"))
        })
        .collect()
}

fn curves(
    title: &str,
    y: &str,
    runs: &[Outcome],
    pick: fn(&crate::train::EpochRecord) -> f64,
    log: bool,
) -> Chart {
    runs.iter().fold(Chart::new(title, "epoch", y).log(false, log), |c, o| {
        c.curve(
            Series {
                name: o.label.clone(),
                points: o.history.epochs.iter().map(|r| (r.epoch as f64, pick(r))).collect(),
            },
            Style::Line,
        )
    })
}

/// Writes `moons_loss.svg`, `moons_accuracy.svg`, `moons_decay.svg` (final train and test loss
/// against weight decay), `moons.csv` and `moons.json`.
pub fn write_moons(out: &mut Output, s: &Settings) -> Result<(Vec<Outcome>, Vec<Outcome>), String> {
    let opt = optimizers(s)?;
    let decay = weight_decay(s)?;
    let title = format!("Two moons ({} points, noise {}), MLP 2-16-8-2", s.train, s.noise);
    let c = curves(&format!("Training loss: {title}"), "cross-entropy", &opt, |r| r.train_loss, true);
    out.svg("moons_loss.svg", |p| c.write(p))?;
    let c = curves(&format!("Test accuracy: {title}"), "accuracy (%)", &opt, |r| r.test_accuracy, false);
    out.svg("moons_accuracy.svg", |p| c.write(p))?;
    // Decay 0 cannot go on a log axis: put it at a tenth of the smallest positive decay.
    let x = |wd: f64| {
        if wd > 0.0 {
            wd
        } else {
            DECAYS.iter().copied().filter(|d| *d > 0.0).fold(f64::INFINITY, f64::min) / 10.0
        }
    };
    let pts = |f: fn((f64, f64, f64)) -> f64| -> Vec<(f64, f64)> {
        DECAYS.iter().zip(&decay).map(|(wd, o)| (x(*wd), f(o.last()))).collect()
    };
    let c = Chart::new(
        "AdamW: final loss against weight decay (decay 0 drawn at 0.001)",
        "weight decay",
        "cross-entropy",
    )
    .log(true, true)
    .curve(Series { name: "train".into(), points: pts(|l| l.0) }, Style::LinePoints)
    .curve(Series { name: "test".into(), points: pts(|l| l.1) }, Style::LinePoints);
    out.svg("moons_decay.svg", |p| c.write(p))?;
    let rows: Vec<_> = opt
        .iter()
        .chain(&decay)
        .flat_map(|o| {
            o.history
                .epochs
                .iter()
                .map(move |r| row![o.label.as_str(), r.epoch, r.train_loss, r.test_loss, r.test_accuracy])
        })
        .collect();
    out.csv("moons.csv", &["run", "epoch", "train_loss", "test_loss", "test_accuracy"], &rows)?;
    out.json("moons.json", &(&opt, &decay))?;
    Ok((opt, decay))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_optimizer_learns_the_moons_and_decay_trades_train_fit_for_test_loss() {
        let s = Settings { epochs: 60, ..Settings::default() };
        let opt = optimizers(&s).unwrap();
        for o in &opt {
            let (_, _, acc) = o.last();
            assert!(acc > 90.0, "{}: {acc}%", o.label);
        }
        let decay = weight_decay(&s).unwrap();
        let train: Vec<f64> = decay.iter().map(|o| o.last().0).collect();
        // Strong decay shrinks the weights: the training loss rises with the decay.
        assert!(train[4] > train[0] && train[3] > train[0], "{train:?}");
    }
}
