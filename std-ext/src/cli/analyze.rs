//! `descent analyze <topic>`: one command per analysis of [`crate::analysis`]. Each writes its
//! plots (SVG) and the numbers behind them (CSV, JSON) into `--out` (default
//! `analysis/<topic>`), and prints a short summary.

use super::Failure;
use crate::analysis::{self, Output, Surface};
use clap::Subcommand;
use std::path::PathBuf;

/// Arguments of `descent analyze`.
#[derive(clap::Args)]
pub struct Args {
    /// Output directory (default: analysis/<topic>).
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    #[command(subcommand)]
    topic: Topic,
}

#[derive(Subcommand)]
enum Topic {
    /// Every optimizer's path over the 2-D test functions, on contour plots.
    Trajectories {
        /// Functions: ravine, ravine3, rosenbrock, multimodal, saddle, himmelblau (default: all).
        #[arg(long, value_delimiter = ',')]
        functions: Vec<String>,
        /// Optimizer specs instead of the defaults, e.g. 'sgd:lr=0.01,momentum=0.9' (repeatable).
        #[arg(long = "run")]
        runs: Vec<String>,
        /// Steps (default: per function).
        #[arg(long)]
        steps: Option<usize>,
    },
    /// Measured linear convergence rates on quadratics against the theory.
    Rates {
        /// Condition numbers.
        #[arg(long, value_delimiter = ',', default_value = "10,30,100,300,1000")]
        kappas: Vec<f64>,
        /// Variables.
        #[arg(long, default_value_t = 10)]
        dim: usize,
        /// Most steps per run.
        #[arg(long, default_value_t = 400_000)]
        max_steps: usize,
    },
    /// Gradient descent on x² for learning rates 0.01 … 1.1: where it converges, oscillates, diverges.
    LrDemo {
        /// Learning rates.
        #[arg(long, value_delimiter = ',', default_value = "0.01,0.1,0.5,0.9,1.0,1.1")]
        lrs: Vec<f64>,
        /// Steps.
        #[arg(long, default_value_t = 20)]
        steps: usize,
    },
    /// Gradient descent against momentum in the ravine x² + 10y².
    Ravine {
        /// Steps.
        #[arg(long, default_value_t = 60)]
        steps: usize,
    },
    /// Every learning-rate schedule's curve (and the cycled momentum).
    Schedules,
}

impl Topic {
    fn name(&self) -> &'static str {
        match self {
            Topic::Trajectories { .. } => "trajectories",
            Topic::Rates { .. } => "rates",
            Topic::LrDemo { .. } => "lr-demo",
            Topic::Ravine { .. } => "ravine",
            Topic::Schedules => "schedules",
        }
    }
}

fn positive(name: &str, v: usize) -> Result<usize, Failure> {
    if v == 0 { Err(Failure(format!("--{name} must be at least 1"))) } else { Ok(v) }
}

/// Runs one analysis.
pub fn run(a: Args) -> Result<(), Failure> {
    let dir = a.out.clone().unwrap_or_else(|| PathBuf::from("analysis").join(a.topic.name()));
    // Validate everything before creating the directory.
    match &a.topic {
        Topic::Trajectories { functions, runs, steps } => {
            let surfaces = functions
                .iter()
                .map(|f| Surface::by_name(f).ok_or_else(|| Failure(format!("unknown function '{f}'"))))
                .collect::<Result<Vec<_>, _>>()?;
            let surfaces = if surfaces.is_empty() { Surface::ALL.to_vec() } else { surfaces };
            let runs = runs
                .iter()
                .map(|s| analysis::trajectories::Run::from_spec(s).map_err(Failure))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(s) = steps {
                positive("steps", *s)?;
            }
            let mut out = Output::new(&dir).map_err(Failure)?;
            let runs = (!runs.is_empty()).then_some(runs.as_slice());
            let outcomes = analysis::trajectories::write_trajectories(&mut out, &surfaces, runs, *steps)
                .map_err(Failure)?;
            println!(
                "{:<12} {:<28} {:>6} {:>24} {:>12} {:>10}",
                "function", "optimizer", "steps", "end", "f", "distance"
            );
            for o in outcomes {
                let end = format!("({:.4}, {:.4})", o.end[0], o.end[1]);
                let d = o.distance.map_or("-".into(), |d| format!("{d:.2e}"));
                let tag = if o.diverged { " diverged" } else { "" };
                println!(
                    "{:<12} {:<28} {:>6} {end:>24} {:>12.4e} {d:>10}{tag}",
                    o.function, o.optimizer, o.steps, o.value
                );
            }
            report(&out);
        }
        Topic::Rates { kappas, dim, max_steps } => {
            if kappas.is_empty() || kappas.iter().any(|k| !(*k >= 1.0)) {
                return Err(Failure("--kappas must be condition numbers ≥ 1".into()));
            }
            positive("dim", *dim)?;
            positive("max-steps", *max_steps)?;
            let mut out = Output::new(&dir).map_err(Failure)?;
            let rates = analysis::rates::write_rates(&mut out, kappas, *dim, *max_steps).map_err(Failure)?;
            println!(
                "{:>8} {:>8} {:<30} {:>10} {:>10} {:>10}",
                "kappa", "rotated", "method", "predicted", "measured", "exp. err"
            );
            for r in rates {
                println!(
                    "{:>8} {:>8} {:<30} {:>10.6} {:>10.6} {:>9.2}%",
                    r.kappa,
                    r.rotated,
                    r.method.label(),
                    r.predicted,
                    r.measured,
                    100.0 * r.exponent_error
                );
            }
            report(&out);
        }
        Topic::LrDemo { lrs, steps } => {
            if lrs.is_empty() || lrs.iter().any(|l| !(*l >= 0.0)) {
                return Err(Failure("--lrs must be non-negative learning rates".into()));
            }
            positive("steps", *steps)?;
            let mut out = Output::new(&dir).map_err(Failure)?;
            let rows = analysis::trajectories::write_lr_demo(&mut out, lrs, *steps).map_err(Failure)?;
            println!("{:>6} {:>12} {:>12} {:>12}  behaviour", "lr", "|1 − 2 lr|", "measured", "|x_T|");
            for r in rows {
                println!(
                    "{:>6} {:>12.4} {:>12.4} {:>12.3e}  {}",
                    r.lr, r.predicted_factor, r.measured_factor, r.final_distance, r.behaviour
                );
            }
            report(&out);
        }
        Topic::Ravine { steps } => {
            positive("steps", *steps)?;
            let mut out = Output::new(&dir).map_err(Failure)?;
            for o in analysis::trajectories::write_ravine(&mut out, *steps).map_err(Failure)? {
                println!(
                    "{:<40} distance to the minimum after {} steps: {:.3e}",
                    o.optimizer,
                    o.steps,
                    o.distance.unwrap_or(f64::NAN)
                );
            }
            report(&out);
        }
        Topic::Schedules => {
            let mut out = Output::new(&dir).map_err(Failure)?;
            let curves = analysis::schedules::write_schedules(&mut out).map_err(Failure)?;
            println!("{} schedules over {} steps", curves.len(), curves.first().map_or(0, |c| c.lr.len()));
            report(&out);
        }
    }
    Ok(())
}

fn report(out: &Output) {
    println!("wrote {} files to {}", out.written().len(), out.dir().display());
}
