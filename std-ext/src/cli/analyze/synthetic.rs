//! `descent analyze synthetic`: y = x₀² + x₁² + noise (20 features), 128-128 MLP, AdamW, warmup then cosine, clipping, early stopping.

use super::{positive, report};
use crate::analysis::{self, Output};
use crate::cli::Failure;
use std::path::Path;

/// Arguments of `descent analyze synthetic`.
#[derive(clap::Args)]
pub struct Args {
    /// Most epochs (early stopping may end sooner).
    #[arg(long, default_value_t = 100)]
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
        let s = analysis::regression::write_synthetic(&mut out, *epochs, *seed).map_err(Failure)?;
        let stop = if s.stopped_early { "stopped early" } else { "ran every epoch" };
        say!(
            "{} epochs ({stop}); best test loss {:.4} at epoch {} (predicting the mean: {:.4})",
            s.history.epochs.len(),
            s.best.0,
            s.best.1,
            s.baseline
        );
        report(&mut out)?;
        Ok(())
    }
}
