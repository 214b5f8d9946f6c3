//! `descent analyze linear-regression`: linear regression with SGD, momentum, Adam and AdamW against the least-squares optimum.

use super::{positive, report};
use crate::analysis::{self, Output};
use crate::cli::Failure;
use std::path::Path;

/// Arguments of `descent analyze linear-regression`.
#[derive(clap::Args)]
pub struct Args {
    /// Epochs.
    #[arg(long, default_value_t = 50)]
    epochs: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

impl Args {
    /// Runs the analysis, writing into `dir`.
    pub fn run(&self, dir: &Path) -> Result<(), Failure> {
        let Args { epochs, seed } = self;
        positive("epochs", *epochs)?;
        let mut out = Output::new(dir).map_err(Failure)?;
        let (runs, ls) = analysis::regression::write_linear(&mut out, *epochs, *seed).map_err(Failure)?;
        say!("least-squares training loss {ls:.5}");
        for r in runs {
            let last = r.history.epochs.last().map_or(f64::NAN, |e| e.train_loss);
            say!("{:<9} final training loss {last:.5}  ‖θ − θ_ls‖ {:.2e}", r.label, r.distance);
        }
        report(&mut out)?;
        Ok(())
    }
}
