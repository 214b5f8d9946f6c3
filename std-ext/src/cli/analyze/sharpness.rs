//! `descent analyze sharpness`: the top Hessian eigenvalue (sharpness) after every epoch, by power iteration on Hessian-vector products.

use super::{done, optimizer, positive, progress, report};
use crate::analysis::{self, Output};
use crate::cli::Failure;
use crate::cli::flags::Net;
use crate::cli::train::{load_data, splits};
use std::path::Path;

/// Arguments of `descent analyze sharpness`.
#[derive(clap::Args)]
pub struct Args {
    /// Optimizer specs to compare (repeatable).
    #[arg(long = "run", default_values = ["sgd:lr=0.05", "sgd:lr=0.2", "adam:lr=0.001"])]
    runs: Vec<String>,
    /// Epochs.
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Examples the Hessian is measured on.
    #[arg(long, default_value_t = 1000)]
    eval: usize,
    #[command(flatten)]
    data: Net,
}

impl Args {
    /// Runs the analysis, writing into `dir`.
    pub fn run(&self, dir: &Path) -> Result<(), Failure> {
        let Args { runs, epochs, eval, data } = self;
        data.check()?;
        positive("epochs", *epochs)?;
        positive("eval", *eval)?;
        let runs = runs
            .iter()
            .map(|r| optimizer("--run", r).map(|m| (r.clone(), m)))
            .collect::<Result<Vec<_>, _>>()?;
        let mnist = load_data(&data.input.data)?;
        let (train, _) = splits(&mnist);
        let (bar, tick) = progress(runs.len() * epochs, "epochs");
        let tracks = analysis::sharpness::track(train, &data.setup(&[128]), &runs, *epochs, *eval, tick)
            .map_err(Failure)?;
        done(bar);
        for t in &tracks {
            let l: Vec<String> = t.points.iter().map(|p| format!("{:.1}", p.1)).collect();
            let edge = t.edge.map_or(String::new(), |e| format!("  (stability edge {e:.0})"));
            say!("{:<16} λ_max per epoch: {}{edge}", t.label, l.join(" "));
        }
        let mut out = Output::new(dir).map_err(Failure)?;
        analysis::sharpness::write_sharpness(&mut out, &tracks).map_err(Failure)?;
        report(&mut out)?;
        Ok(())
    }
}
