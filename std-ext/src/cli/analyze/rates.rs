//! `descent analyze rates`: measured linear convergence rates on quadratics against the theory.

use super::{MAX_DIM, positive, report};
use crate::analysis::{self, Output};
use crate::cli::Failure;
use crate::cli::check;
use std::path::Path;

/// Arguments of `descent analyze rates`.
#[derive(clap::Args)]
pub struct Args {
    /// Condition numbers.
    #[arg(long, value_delimiter = ',', default_value = "10,30,100,300,1000")]
    kappas: Vec<f64>,
    /// Variables (at most 1000).
    #[arg(long, default_value_t = 10)]
    dim: usize,
    /// Most steps per run.
    #[arg(long, default_value_t = 400_000)]
    max_steps: usize,
}

impl Args {
    /// Runs the analysis, writing into `dir`.
    pub fn run(&self, dir: &Path) -> Result<(), Failure> {
        let Args { kappas, dim, max_steps } = self;
        check::numbers("--kappas", kappas, "condition numbers ≥ 1", |k| k >= 1.0)?;
        check::count("--dim", *dim, 1, MAX_DIM)?;
        positive("max-steps", *max_steps)?;
        let mut out = Output::new(dir).map_err(Failure)?;
        let rates = analysis::rates::write_rates(&mut out, kappas, *dim, *max_steps).map_err(Failure)?;
        say!(
            "{:>8} {:>8} {:<30} {:>10} {:>10} {:>10}",
            "kappa",
            "rotated",
            "method",
            "predicted",
            "measured",
            "exp. err"
        );
        for r in rates {
            say!(
                "{:>8} {:>8} {:<30} {:>10.6} {:>10.6} {:>9.2}%",
                r.kappa,
                r.rotated,
                r.method.label(),
                r.predicted,
                r.measured,
                100.0 * r.exponent_error
            );
        }
        report(&mut out)?;
        Ok(())
    }
}
