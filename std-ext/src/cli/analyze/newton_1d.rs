//! `descent analyze newton-1d`: newton against gradient descent on x⁴ − 4x² + x: Newton heads for the nearest stationary point, even a maximum.

use super::{positive, report};
use crate::analysis::{self, Output};
use crate::cli::Failure;
use std::path::Path;

/// Arguments of `descent analyze newton-1d`.
#[derive(clap::Args)]
pub struct Args {
    /// Steps.
    #[arg(long, default_value_t = 8)]
    steps: usize,
}

impl Args {
    /// Runs the analysis, writing into `dir`.
    pub fn run(&self, dir: &Path) -> Result<(), Failure> {
        let Args { steps } = self;
        positive("steps", *steps)?;
        let mut out = Output::new(dir).map_err(Failure)?;
        for (x0, newton, gd) in analysis::second_order::write_newton_1d(&mut out, *steps).map_err(Failure)? {
            say!("from x = {x0}: newton ends at {newton:.4}, gradient descent at {gd:.4}");
        }
        report(&mut out)?;
        Ok(())
    }
}
