//! `descent analyze momentum`: momentum one eigenvalue at a time: each error component, and the map of the rate over (lr·λ, β).

use super::{positive, report};
use crate::analysis::{self, Output};
use crate::cli::Failure;
use std::path::Path;

/// Arguments of `descent analyze momentum`.
#[derive(clap::Args)]
pub struct Args {
    /// Steps.
    #[arg(long, default_value_t = 100)]
    steps: usize,
}

impl Args {
    /// Runs the analysis, writing into `dir`.
    pub fn run(&self, dir: &Path) -> Result<(), Failure> {
        let Args { steps } = self;
        positive("steps", *steps)?;
        let mut out = Output::new(dir).map_err(Failure)?;
        say!("{:>8} {:>6} {:<18} {:>10} {:>10}", "lr·λ", "β", "regime", "predicted", "measured");
        for c in analysis::momentum::write_momentum(&mut out, *steps).map_err(Failure)? {
            let regime = format!("{:?}", c.regime);
            say!("{:>8} {:>6} {regime:<18} {:>10.4} {:>10.4}", c.h, c.beta, c.predicted, c.measured);
        }
        report(&mut out)?;
        Ok(())
    }
}
