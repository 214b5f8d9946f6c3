//! `descent analyze second-order`: newton and L-BFGS against gradient descent, momentum and Adam (Rosenbrock, an ill-conditioned quadratic), and Newton on x⁴ − 4x² + x.

use super::{positive, report};
use crate::analysis::{self, Output};
use crate::cli::Failure;
use crate::cli::check;
use std::path::Path;

/// Arguments of `descent analyze second-order`.
#[derive(clap::Args)]
pub struct Args {
    /// Stop at f − f* ≤ this.
    #[arg(long, default_value_t = 1e-10)]
    tolerance: f64,
    /// Most steps of the first-order methods.
    #[arg(long, default_value_t = 100_000)]
    max_steps: usize,
    /// Most iterations of Newton and L-BFGS.
    #[arg(long, default_value_t = 500)]
    max_iter: usize,
}

impl Args {
    /// Runs the analysis, writing into `dir`.
    pub fn run(&self, dir: &Path) -> Result<(), Failure> {
        let a = self;
        check::number("--tolerance", a.tolerance, "a positive number", |t| t > 0.0)?;
        positive("max-steps", a.max_steps)?;
        positive("max-iter", a.max_iter)?;
        let mut out = Output::new(dir).map_err(Failure)?;
        let runs = analysis::second_order::write_second_order(&mut out, a.tolerance, a.max_steps, a.max_iter)
            .map_err(Failure)?;
        say!(
            "{:<18} {:<22} {:>6} {:>8} {:>8} {:>6} {:>12} {:>10} {:>10}",
            "function",
            "method",
            "iters",
            "f evals",
            "g evals",
            "H",
            "g to tol",
            "f − f*",
            "µs"
        );
        for r in runs {
            let to_tol = r.to_tolerance.map_or("-".into(), |n| n.to_string());
            say!(
                "{:<18} {:<22} {:>6} {:>8} {:>8} {:>6} {:>12} {:>10.2e} {:>10.0}",
                r.function,
                r.method,
                r.iterations,
                r.f_evals,
                r.g_evals,
                r.h_evals,
                to_tol,
                r.gap,
                r.micros
            );
        }
        report(&mut out)?;
        Ok(())
    }
}
