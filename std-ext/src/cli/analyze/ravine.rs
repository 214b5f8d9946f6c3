//! `descent analyze ravine`: gradient descent against momentum in the ravine x² + 10y².

use super::{positive, report};
use crate::analysis::{self, Output};
use crate::cli::Failure;
use std::path::Path;

/// Arguments of `descent analyze ravine`.
#[derive(clap::Args)]
pub struct Args {
    /// Steps.
    #[arg(long, default_value_t = 60)]
    steps: usize,
}

impl Args {
    /// Runs the analysis, writing into `dir`.
    pub fn run(&self, dir: &Path) -> Result<(), Failure> {
        let Args { steps } = self;
        positive("steps", *steps)?;
        let mut out = Output::new(dir).map_err(Failure)?;
        for o in analysis::trajectories::write_ravine(&mut out, *steps).map_err(Failure)? {
            say!(
                "{:<40} distance to the minimum after {} steps: {:.3e}",
                o.optimizer,
                o.steps,
                o.distance.unwrap_or(f64::NAN)
            );
        }
        report(&mut out)?;
        Ok(())
    }
}
