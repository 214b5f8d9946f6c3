//! `descent analyze lr-find`: the learning-rate range test on the MNIST MLP, the suggestion marked.

use super::{done, optimizer, progress, report};
use crate::analysis::{self, Output};
use crate::cli::Failure;
use crate::cli::check;
use crate::cli::flags::Net;
use crate::cli::train::{load_data, splits};
use std::path::Path;

/// Arguments of `descent analyze lr-find`.
#[derive(clap::Args)]
pub struct Args {
    /// Optimizer (its lr is overwritten by the ramp), e.g. 'sgd:momentum=0.9'.
    #[arg(long, default_value = "adam")]
    optimizer: String,
    /// First learning rate.
    #[arg(long, default_value_t = 1e-6)]
    start_lr: f64,
    /// Last learning rate.
    #[arg(long, default_value_t = 10.0)]
    end_lr: f64,
    /// Steps from first to last (at most 4096).
    #[arg(long, default_value_t = 300)]
    steps: usize,
    /// Smoothing β of the loss (its exponential moving average, bias-corrected), in [0, 1).
    #[arg(long, default_value_t = 0.98)]
    beta: f64,
    #[command(flatten)]
    data: Net,
}

impl Args {
    /// Runs the analysis, writing into `dir`.
    pub fn run(&self, dir: &Path) -> Result<(), Failure> {
        let Args { optimizer: name, start_lr, end_lr, steps, beta, data } = self;
        data.check()?;
        check::number("--beta", *beta, "in [0, 1)", |b| (0.0..1.0).contains(&b))?;
        if !(*start_lr > 0.0 && end_lr > start_lr && end_lr.is_finite())
            || *steps < 2
            || *steps > analysis::lr_find::MAX_STEPS
        {
            return Err(Failure(format!(
                "need 0 < --start-lr < --end-lr and 2 ≤ --steps ≤ {}",
                analysis::lr_find::MAX_STEPS
            )));
        }
        let settings = analysis::lr_find::Settings {
            optimizer: optimizer("--optimizer", name)?,
            start_lr: *start_lr,
            end_lr: *end_lr,
            steps: *steps,
            beta: *beta,
            sizes: data.sizes(&[128]),
            batch: data.batch_size,
            seed: data.seed,
            threads: data.input.threads,
        };
        let mnist = load_data(&data.input.data)?;
        let (train, _) = splits(&mnist);
        let mut out = Output::new(dir).map_err(Failure)?;
        let (bar, tick) = progress(*steps, "range test");
        let found = analysis::lr_find::write_lr_find(&mut out, train, &settings, tick).map_err(Failure)?;
        done(bar);
        let end = if found.diverged { "the loss diverged" } else { "reached --end-lr" };
        say!("{} steps, stopped because {end}", found.points.len());
        match found.suggestion {
            Some(lr) => say!("suggested learning rate: {lr:.3e}"),
            None => say!("no suggestion (too few points)"),
        }
        report(&mut out)?;
        Ok(())
    }
}
