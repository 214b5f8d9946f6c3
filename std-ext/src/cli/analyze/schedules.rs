//! `descent analyze schedules`: every learning-rate schedule's curve (and the cycled momentum).

use super::report;
use crate::analysis::{self, Output};
use crate::cli::Failure;
use std::path::Path;

/// Arguments of `descent analyze schedules`.
#[derive(clap::Args)]
pub struct Args {}

impl Args {
    /// Runs the analysis, writing into `dir`.
    pub fn run(&self, dir: &Path) -> Result<(), Failure> {
        let mut out = Output::new(dir).map_err(Failure)?;
        let curves = analysis::schedules::write_schedules(&mut out).map_err(Failure)?;
        say!("{} schedules over {} steps", curves.len(), curves.first().map_or(0, |c| c.lr.len()));
        report(&mut out)?;
        Ok(())
    }
}
