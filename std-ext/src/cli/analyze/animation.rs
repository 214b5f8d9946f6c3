//! `descent analyze animation`: watch the optimizers move: an animated contour map, one dot per optimizer.

use super::{optimizer, positive, report};
use crate::analysis::{self, Output, Surface};
use crate::cli::Failure;
use std::path::Path;

/// Arguments of `descent analyze animation`.
#[derive(clap::Args)]
pub struct Args {
    /// Function: quadratic, rotated_quadratic, ravine, ravine3, rosenbrock, multimodal, saddle, himmelblau.
    #[arg(long, default_value = "rosenbrock")]
    function: String,
    /// Optimizer specs instead of the defaults (SGD, momentum, Adam), e.g. 'adam:lr=0.1' (repeatable).
    #[arg(long = "run")]
    runs: Vec<String>,
    /// Steps (default: per function).
    #[arg(long)]
    steps: Option<usize>,
    /// Seconds per pass of the animation.
    #[arg(long, default_value_t = 12.0)]
    seconds: f64,
}

impl Args {
    /// Runs the analysis, writing into `dir`.
    pub fn run(&self, dir: &Path) -> Result<(), Failure> {
        let Args { function, runs, steps, seconds } = self;
        let surface =
            Surface::by_name(function).ok_or_else(|| Failure(format!("unknown function '{function}'")))?;
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
        if !(*seconds > 0.0 && seconds.is_finite()) {
            return Err(Failure("--seconds must be positive".into()));
        }
        let mut out = Output::new(dir).map_err(Failure)?;
        let runs = (!runs.is_empty()).then_some(runs.as_slice());
        analysis::animation::write_animation(&mut out, surface, runs, *steps, *seconds).map_err(Failure)?;
        report(&mut out)?;
        Ok(())
    }
}
