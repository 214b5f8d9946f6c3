//! `descent analyze sweep`: final loss against learning rate: optimizers on 2-D functions, and Adam on the MNIST MLP.

use super::{MAX_GRID, done, optimizer, positive, progress, report};
use crate::analysis::{self, Output, Surface};
use crate::cli::Failure;
use crate::cli::check::{self, MAX_EPOCHS};
use crate::cli::flags::Net;
use crate::cli::train::{load_data, splits};
use crate::train::TrainOptions;
use std::path::Path;

/// Arguments of `descent analyze sweep`.
#[derive(clap::Args)]
pub struct Args {
    /// Learning rates for the 2-D functions: LO,HI,COUNT (log-spaced, COUNT at most 10000).
    #[arg(long, value_delimiter = ',', default_value = "1e-4,1,25")]
    grid: Vec<f64>,
    /// Steps on the 2-D functions.
    #[arg(long, default_value_t = 200)]
    steps: usize,
    /// Learning rates of the MNIST sweep.
    #[arg(long, value_delimiter = ',', default_value = "1e-4,3e-4,1e-3,3e-3,1e-2,3e-2,1e-1")]
    lrs: Vec<f64>,
    /// Optimizer of the MNIST sweep (its lr is swept).
    #[arg(long, default_value = "adam")]
    optimizer: String,
    /// Epochs per MNIST run (0 skips the MNIST sweep).
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    #[command(flatten)]
    data: Net,
}

impl Args {
    /// Runs the analysis, writing into `dir`.
    pub fn run(&self, dir: &Path) -> Result<(), Failure> {
        let Args { grid, steps, lrs, optimizer: name, epochs, data } = self;
        let [lo, hi, count] = grid[..] else {
            return Err(Failure("--grid must be LO,HI,COUNT".into()));
        };
        if !(lo > 0.0
            && hi > lo
            && hi.is_finite()
            && count >= 2.0
            && count <= MAX_GRID
            && count.fract() == 0.0)
        {
            return Err(Failure(format!(
                "--grid must be LO,HI,COUNT with 0 < LO < HI finite and COUNT a whole number from 2 to {MAX_GRID}"
            )));
        }
        positive("steps", *steps)?;
        check::numbers("--lrs", lrs, "positive learning rates", |l| l > 0.0)?;
        check::count("--epochs", *epochs, 0, MAX_EPOCHS)?;
        data.check()?;
        let opt = optimizer("--optimizer", name)?;
        let mut points = Vec::new();
        for s in [Surface::Ravine, Surface::Rosenbrock, Surface::Himmelblau] {
            points.extend(
                analysis::sweep::surface_sweep(s, &analysis::sweep::log_grid(lo, hi, count as usize), *steps)
                    .map_err(Failure)?,
            );
        }
        if *epochs > 0 {
            let mnist = load_data(&data.input.data)?;
            let (train, test) = splits(&mnist);
            let opts = TrainOptions {
                optimizer: opt,
                epochs: *epochs,
                batch_size: data.batch_size,
                hidden: data.hidden_or(&[128]),
                seed: data.seed,
                threads: data.input.threads,
                ..TrainOptions::default()
            };
            let (bar, tick) = progress(lrs.len(), "learning rates");
            points.extend(analysis::sweep::mnist_sweep(train, test, &opts, lrs, tick).map_err(Failure)?);
            done(bar);
        }
        let mut out = Output::new(dir).map_err(Failure)?;
        analysis::sweep::write_sweep(&mut out, &points).map_err(Failure)?;
        for t in ["ravine", "rosenbrock", "himmelblau", "mnist"] {
            let mut names: Vec<&str> =
                points.iter().filter(|p| p.target == t).map(|p| p.optimizer.as_str()).collect();
            names.dedup();
            for n in names {
                let best = points
                    .iter()
                    .filter(|p| p.target == t && p.optimizer == n && p.loss.is_finite())
                    .min_by(|a, b| a.loss.total_cmp(&b.loss));
                let diverged = points
                    .iter()
                    .filter(|p| p.target == t && p.optimizer == n && !p.loss.is_finite())
                    .count();
                if let Some(b) = best {
                    say!(
                        "{t:<11} {n:<9} best lr {:>9.3e}  loss {:>10.3e}  ({diverged} lrs diverged)",
                        b.lr,
                        b.loss
                    );
                }
            }
        }
        report(&mut out)?;
        Ok(())
    }
}
