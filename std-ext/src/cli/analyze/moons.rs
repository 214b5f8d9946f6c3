//! `descent analyze moons`: two moons with a 2-16-8-2 MLP: optimizers compared, and AdamW's weight decay against train and test loss.

use super::{MAX_MOONS, positive, report};
use crate::analysis::{self, Output};
use crate::cli::Failure;
use crate::cli::check;
use std::path::Path;

/// Arguments of `descent analyze moons`.
#[derive(clap::Args)]
pub struct Args {
    /// Training points.
    #[arg(long, default_value_t = 200)]
    train: usize,
    /// Noise deviation.
    #[arg(long, default_value_t = 0.25)]
    noise: f64,
    /// Epochs.
    #[arg(long, default_value_t = 200)]
    epochs: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

impl Args {
    /// Runs the analysis, writing into `dir`.
    pub fn run(&self, dir: &Path) -> Result<(), Failure> {
        let Args { train, noise, epochs, seed } = self;
        check::count("--train", *train, 1, MAX_MOONS)?;
        positive("epochs", *epochs)?;
        check::number("--noise", *noise, "a non-negative number", |n| n >= 0.0)?;
        let s = analysis::moons::Settings {
            train: *train,
            noise: *noise,
            epochs: *epochs,
            seed: *seed,
            ..Default::default()
        };
        let mut out = Output::new(dir).map_err(Failure)?;
        let (opt, decay) = analysis::moons::write_moons(&mut out, &s).map_err(Failure)?;
        say!("{:<20} {:>10} {:>10} {:>9}", "run", "train loss", "test loss", "test acc");
        for o in opt.iter().chain(&decay) {
            let (tr, te, acc) = o.last();
            say!("{:<20} {tr:>10.4} {te:>10.4} {acc:>8.2}%", o.label);
        }
        report(&mut out)?;
        Ok(())
    }
}
