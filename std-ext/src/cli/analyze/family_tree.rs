//! `descent analyze family-tree`: the optimizers' family tree, each edge labelled with the problem the child fixed.

use super::report;
use crate::analysis::{self, Output};
use crate::cli::Failure;
use std::path::Path;

/// Arguments of `descent analyze family-tree`.
#[derive(clap::Args)]
pub struct Args {}

impl Args {
    /// Runs the analysis, writing into `dir`.
    pub fn run(&self, dir: &Path) -> Result<(), Failure> {
        let mut out = Output::new(dir).map_err(Failure)?;
        analysis::family::write_family_tree(&mut out).map_err(Failure)?;
        report(&mut out)?;
        Ok(())
    }
}
