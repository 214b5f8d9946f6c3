//! `descent analyze lr-demo`: gradient descent on x² for learning rates 0.01 … 1.1: where it converges, oscillates, diverges.

use super::{positive, report};
use crate::analysis::{self, Output};
use crate::cli::Failure;
use crate::cli::check;
use std::path::Path;

/// Arguments of `descent analyze lr-demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Learning rates.
    #[arg(long, value_delimiter = ',', default_value = "0.01,0.1,0.5,0.9,1.0,1.1")]
    lrs: Vec<f64>,
    /// Steps.
    #[arg(long, default_value_t = 20)]
    steps: usize,
}

impl Args {
    /// Runs the analysis, writing into `dir`.
    pub fn run(&self, dir: &Path) -> Result<(), Failure> {
        let Args { lrs, steps } = self;
        check::numbers("--lrs", lrs, "non-negative learning rates", |l| l >= 0.0)?;
        positive("steps", *steps)?;
        let mut out = Output::new(dir).map_err(Failure)?;
        let rows = analysis::trajectories::write_lr_demo(&mut out, lrs, *steps).map_err(Failure)?;
        say!("{:>6} {:>12} {:>12} {:>12}  behaviour", "lr", "|1 − 2 lr|", "measured", "|x_T|");
        for r in rows {
            say!(
                "{:>6} {:>12.4} {:>12.4} {:>12.3e}  {}",
                r.lr,
                r.predicted_factor,
                r.measured_factor,
                r.final_distance,
                r.behaviour
            );
        }
        report(&mut out)?;
        Ok(())
    }
}
