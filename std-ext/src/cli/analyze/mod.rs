//! `descent analyze <topic>`: one command per analysis of [`crate::analysis`]. Each writes its
//! plots (SVG) and the numbers behind them (CSV, JSON) into `--out` (default
//! `analysis/<topic>`), and prints a short summary.

mod animation;
mod family_tree;
mod gradient_flow;
mod landscape;
mod linear_regression;
mod lr_demo;
mod lr_find;
mod momentum;
mod moons;
mod newton_1d;
mod rates;
mod ravine;
mod schedules;
mod second_order;
mod sharpness;
mod sweep;
mod synthetic;
mod trajectories;

use super::check::{self, MAX_EPOCHS, MAX_STEPS};
use super::{Failure, check_output_dir};
use crate::analysis::Output;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};
use std::io::IsTerminal;
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
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    Trajectories(trajectories::Args),
    /// Watch the optimizers move: an animated contour map, one dot per optimizer.
    Animation(animation::Args),
    /// Measured linear convergence rates on quadratics against the theory.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    Rates(rates::Args),
    /// Gradient descent on x² for learning rates 0.01 … 1.1: where it converges, oscillates, diverges.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    LrDemo(lr_demo::Args),
    /// Gradient descent against momentum in the ravine x² + 10y².
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    Ravine(ravine::Args),
    /// Momentum one eigenvalue at a time: each error component, and the map of the rate over (lr·λ, β).
    Momentum(momentum::Args),
    /// Every learning-rate schedule's curve (and the cycled momentum).
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    Schedules(schedules::Args),
    /// The optimizers' family tree, each edge labelled with the problem the child fixed.
    FamilyTree(family_tree::Args),
    /// Final loss against learning rate: optimizers on 2-D functions, and Adam on the MNIST MLP.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    Sweep(sweep::Args),
    /// The learning-rate range test on the MNIST MLP, the suggestion marked.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    LrFind(lr_find::Args),
    /// Per-layer gradient norms of a deep MLP (784-256-128-64-32-10) during training.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    GradientFlow(gradient_flow::Args),
    /// The loss landscape around trained parameters: 1-D interpolation and a filter-normalized 2-D slice.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    Landscape(landscape::Args),
    /// Newton and L-BFGS against gradient descent, momentum and Adam (Rosenbrock, an ill-conditioned quadratic), and Newton on x⁴ − 4x² + x.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    SecondOrder(second_order::Args),
    /// Newton against gradient descent on x⁴ − 4x² + x: Newton heads for the nearest stationary point, even a maximum.
    #[command(name = "newton-1d")]
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    Newton1d(newton_1d::Args),
    /// Two moons with a 2-16-8-2 MLP: optimizers compared, and AdamW's weight decay against train and test loss.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    Moons(moons::Args),
    /// Linear regression with SGD, momentum, Adam and AdamW against the least-squares optimum.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    LinearRegression(linear_regression::Args),
    /// y = x₀² + x₁² + noise (20 features), 128-128 MLP, AdamW, warmup then cosine, clipping, early stopping.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    Synthetic(synthetic::Args),
    /// The top Hessian eigenvalue (sharpness) after every epoch, by power iteration on Hessian-vector products.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    Sharpness(sharpness::Args),
}

/// A progress bar on a terminal (nothing otherwise), returning the closure the analyses call.
fn progress(total: usize, what: &str) -> (Option<ProgressBar>, impl FnMut(usize)) {
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = ProgressBar::new(total as u64);
        if let Ok(style) = ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len}") {
            b.set_style(style);
        }
        b.set_prefix(what.to_string());
        b
    });
    let handle = bar.clone();
    (bar, move |k: usize| {
        if let Some(b) = &handle {
            b.set_position(k as u64 + 1);
        }
    })
}

fn done(bar: Option<ProgressBar>) {
    if let Some(b) = bar {
        b.finish_and_clear();
    }
}

/// The optimizer spec given to `flag`, checked (finite values, built once so a bad name or value
/// fails before any work).
fn optimizer(flag: &str, spec: &str) -> Result<Map<String, Value>, Failure> {
    let m = crate::named::parse(flag, spec).map_err(Failure)?;
    check::finite_kwargs(flag, &m)?;
    crate::registry::build::<f32>(&m, &[1], 1, descent_core::NonFinitePolicy::Propagate)
        .map_err(|e| Failure(format!("{flag}: {e}")))?;
    Ok(m)
}

impl Topic {
    fn name(&self) -> &'static str {
        match self {
            Topic::Trajectories(_) => "trajectories",
            Topic::Animation(_) => "animation",
            Topic::Rates(_) => "rates",
            Topic::LrDemo(_) => "lr-demo",
            Topic::Ravine(_) => "ravine",
            Topic::Momentum(_) => "momentum",
            Topic::Schedules(_) => "schedules",
            Topic::FamilyTree(_) => "family-tree",
            Topic::Sweep(_) => "sweep",
            Topic::LrFind(_) => "lr-find",
            Topic::GradientFlow(_) => "gradient-flow",
            Topic::Landscape(_) => "landscape",
            Topic::Sharpness(_) => "sharpness",
            Topic::SecondOrder(_) => "second-order",
            Topic::Newton1d(_) => "newton-1d",
            Topic::Moons(_) => "moons",
            Topic::LinearRegression(_) => "linear-regression",
            Topic::Synthetic(_) => "synthetic",
        }
    }
}

/// A count of steps or epochs, at least 1: `--steps` up to [`MAX_STEPS`] (the analyses record
/// every step), `--epochs` up to [`MAX_EPOCHS`], any other up to `usize::MAX`.
fn positive(name: &str, v: usize) -> Result<usize, Failure> {
    let most = match name {
        "steps" | "max-steps" | "max-iter" => MAX_STEPS,
        "epochs" => MAX_EPOCHS,
        _ => usize::MAX,
    };
    check::count(&format!("--{name}"), v, 1, most)
}

/// Most variables of `analyze rates` (its quadratics keep n × n matrices).
const MAX_DIM: usize = 1000;
/// Most points of `analyze sweep --grid`.
const MAX_GRID: f64 = 10_000.0;
/// Most points per side of `analyze landscape`.
const MAX_SIDE: usize = 1000;
/// Most training points of `analyze moons`.
const MAX_MOONS: usize = 1_000_000;

/// Runs one analysis.
pub fn run(a: Args) -> Result<(), Failure> {
    let dir = a.out.clone().unwrap_or_else(|| PathBuf::from("analysis").join(a.topic.name()));
    // Validate everything, the output directory first, before any work; the directory is created
    // when the results are written.
    check_output_dir(&dir, "--out")?;
    match &a.topic {
        Topic::Trajectories(t) => t.run(&dir),
        Topic::Animation(t) => t.run(&dir),
        Topic::Rates(t) => t.run(&dir),
        Topic::LrDemo(t) => t.run(&dir),
        Topic::Ravine(t) => t.run(&dir),
        Topic::Momentum(t) => t.run(&dir),
        Topic::Schedules(t) => t.run(&dir),
        Topic::FamilyTree(t) => t.run(&dir),
        Topic::Sweep(t) => t.run(&dir),
        Topic::LrFind(t) => t.run(&dir),
        Topic::GradientFlow(t) => t.run(&dir),
        Topic::Landscape(t) => t.run(&dir),
        Topic::SecondOrder(t) => t.run(&dir),
        Topic::Newton1d(t) => t.run(&dir),
        Topic::Moons(t) => t.run(&dir),
        Topic::LinearRegression(t) => t.run(&dir),
        Topic::Synthetic(t) => t.run(&dir),
        Topic::Sharpness(t) => t.run(&dir),
    }
}

/// Puts the files in place and says so.
fn report(out: &mut Output) -> Result<(), Failure> {
    out.commit().map_err(Failure)?;
    say!("wrote {} files to {}", out.written().len(), out.dir().display());
    Ok(())
}
