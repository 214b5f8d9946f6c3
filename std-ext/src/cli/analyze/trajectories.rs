//! `descent analyze trajectories`: every optimizer's path over the 2-D test functions, on contour plots.

use super::{optimizer, positive, report};
use crate::analysis::{self, Output, Surface};
use crate::cli::Failure;
use std::path::Path;

/// Arguments of `descent analyze trajectories`.
#[derive(clap::Args)]
pub struct Args {
    /// Functions: ravine, ravine3, rosenbrock, multimodal, saddle, himmelblau (default: all).
    #[arg(long, value_delimiter = ',')]
    functions: Vec<String>,
    /// Optimizer specs instead of the defaults, e.g. 'sgd:lr=0.01,momentum=0.9' (repeatable).
    #[arg(long = "run")]
    runs: Vec<String>,
    /// Steps (default: per function).
    #[arg(long)]
    steps: Option<usize>,
}

impl Args {
    /// Runs the analysis, writing into `dir`.
    pub fn run(&self, dir: &Path) -> Result<(), Failure> {
        let Args { functions, runs, steps } = self;
        let surfaces = functions
            .iter()
            .map(|f| Surface::by_name(f).ok_or_else(|| Failure(format!("unknown function '{f}'"))))
            .collect::<Result<Vec<_>, _>>()?;
        let surfaces = if surfaces.is_empty() { Surface::ALL.to_vec() } else { surfaces };
        let runs = runs
            .iter()
            .map(|s| {
                optimizer("--run", s)?;
                analysis::trajectories::Run::from_spec(s).map_err(Failure)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(s) = steps {
            positive("steps", *s)?;
        }
        let mut out = Output::new(dir).map_err(Failure)?;
        let runs = (!runs.is_empty()).then_some(runs.as_slice());
        let outcomes =
            analysis::trajectories::write_trajectories(&mut out, &surfaces, runs, *steps).map_err(Failure)?;
        say!(
            "{:<12} {:<28} {:>6} {:>24} {:>12} {:>10}",
            "function",
            "optimizer",
            "steps",
            "end",
            "f",
            "distance"
        );
        for o in outcomes {
            let end = format!("({:.4}, {:.4})", o.end[0], o.end[1]);
            let d = o.distance.map_or("-".into(), |d| format!("{d:.2e}"));
            let tag = if o.diverged { " diverged" } else { "" };
            say!(
                "{:<12} {:<28} {:>6} {end:>24} {:>12.4e} {d:>10}{tag}",
                o.function,
                o.optimizer,
                o.steps,
                o.value
            );
        }
        report(&mut out)?;
        Ok(())
    }
}
