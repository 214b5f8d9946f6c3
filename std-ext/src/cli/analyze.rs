//! `descent analyze <topic>`: one command per analysis of [`crate::analysis`]. Each writes its
//! plots (SVG) and the numbers behind them (CSV, JSON) into `--out` (default
//! `analysis/<topic>`), and prints a short summary.

use super::check::{self, MAX_EPOCHS, MAX_STEPS, MAX_THREADS};
use super::train::{load_data, splits};
use super::{Failure, check_output_dir};
use crate::analysis::net::Setup;
use crate::analysis::{self, Output, Surface};
use crate::model::{Activation, Loss};
use crate::train::{Silent, TrainOptions};
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
    /// Watch the optimizers move: an animated contour map, one dot per optimizer.
    Animation {
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
    },
    /// Measured linear convergence rates on quadratics against the theory.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    Rates {
        /// Condition numbers.
        #[arg(long, value_delimiter = ',', default_value = "10,30,100,300,1000")]
        kappas: Vec<f64>,
        /// Variables (at most 1000).
        #[arg(long, default_value_t = 10)]
        dim: usize,
        /// Most steps per run.
        #[arg(long, default_value_t = 400_000)]
        max_steps: usize,
    },
    /// Gradient descent on x² for learning rates 0.01 … 1.1: where it converges, oscillates, diverges.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    LrDemo {
        /// Learning rates.
        #[arg(long, value_delimiter = ',', default_value = "0.01,0.1,0.5,0.9,1.0,1.1")]
        lrs: Vec<f64>,
        /// Steps.
        #[arg(long, default_value_t = 20)]
        steps: usize,
    },
    /// Gradient descent against momentum in the ravine x² + 10y².
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    Ravine {
        /// Steps.
        #[arg(long, default_value_t = 60)]
        steps: usize,
    },
    /// Momentum one eigenvalue at a time: each error component, and the map of the rate over (lr·λ, β).
    Momentum {
        /// Steps.
        #[arg(long, default_value_t = 100)]
        steps: usize,
    },
    /// Every learning-rate schedule's curve (and the cycled momentum).
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    Schedules,
    /// The optimizers' family tree, each edge labelled with the problem the child fixed.
    FamilyTree,
    /// Final loss against learning rate: optimizers on 2-D functions, and Adam on the MNIST MLP.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    Sweep {
        /// Learning rates for the 2-D functions: LO,HI,COUNT (log-spaced, COUNT at most 10000).
        #[arg(long, value_delimiter = ',', default_value = "1e-4,1,25")]
        grid: Vec<f64>,
        /// Steps on the 2-D functions.
        #[arg(long, default_value_t = 200)]
        steps: usize,
        /// Learning rates of the MNIST sweep.
        #[arg(long, value_delimiter = ',', default_value = "1e-4,3e-4,1e-3,3e-3,1e-2,3e-2,1e-1")]
        lrs: Vec<f64>,
        /// Optimizer of the MNIST sweep (its lr is swept).
        #[arg(long, default_value = "adam")]
        optimizer: String,
        /// Epochs per MNIST run (0 skips the MNIST sweep).
        #[arg(long, default_value_t = 3)]
        epochs: usize,
        #[command(flatten)]
        data: DataArgs,
    },
    /// The learning-rate range test on the MNIST MLP, the suggestion marked.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    LrFind {
        /// Optimizer (its lr is overwritten by the ramp), e.g. 'sgd:momentum=0.9'.
        #[arg(long, default_value = "adam")]
        optimizer: String,
        /// First learning rate.
        #[arg(long, default_value_t = 1e-6)]
        start_lr: f64,
        /// Last learning rate.
        #[arg(long, default_value_t = 10.0)]
        end_lr: f64,
        /// Steps from first to last (at most 4096).
        #[arg(long, default_value_t = 300)]
        steps: usize,
        /// Smoothing β of the loss (its exponential moving average, bias-corrected), in [0, 1).
        #[arg(long, default_value_t = 0.98)]
        beta: f64,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Per-layer gradient norms of a deep MLP (784-256-128-64-32-10) during training.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    GradientFlow {
        /// Hidden activations to compare.
        #[arg(long, value_delimiter = ',', default_value = "relu,sigmoid")]
        activations: Vec<String>,
        /// Optimizer.
        #[arg(long, default_value = "sgd:lr=0.01,momentum=0.9")]
        optimizer: String,
        /// Training steps.
        #[arg(long, default_value_t = 200)]
        steps: usize,
        #[command(flatten)]
        data: DataArgs,
    },
    /// The loss landscape around trained parameters: 1-D interpolation and a filter-normalized 2-D slice.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    Landscape {
        /// Optimizer.
        #[arg(long, default_value = "adam:lr=0.001")]
        optimizer: String,
        /// Training epochs before looking around.
        #[arg(long, default_value_t = 5)]
        epochs: usize,
        /// Points per side of the 2-D slice (3 to 1000).
        #[arg(long, default_value_t = 25)]
        side: usize,
        /// Half-width of the slice (in units of the normalized directions).
        #[arg(long, default_value_t = 1.0)]
        span: f64,
        /// Examples the losses are measured on.
        #[arg(long, default_value_t = 1000)]
        eval: usize,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Newton and L-BFGS against gradient descent, momentum and Adam (Rosenbrock, an ill-conditioned quadratic), and Newton on x⁴ − 4x² + x.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    SecondOrder(SecondOrderArgs),
    /// Newton against gradient descent on x⁴ − 4x² + x: Newton heads for the nearest stationary point, even a maximum.
    #[command(name = "newton-1d")]
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    Newton1d {
        /// Steps.
        #[arg(long, default_value_t = 8)]
        steps: usize,
    },
    /// Two moons with a 2-16-8-2 MLP: optimizers compared, and AdamW's weight decay against train and test loss.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    Moons {
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
    },
    /// Linear regression with SGD, momentum, Adam and AdamW against the least-squares optimum.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    LinearRegression {
        /// Epochs.
        #[arg(long, default_value_t = 50)]
        epochs: usize,
        /// Seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// y = x₀² + x₁² + noise (20 features), 128-128 MLP, AdamW, warmup then cosine, clipping, early stopping.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    Synthetic {
        /// Most epochs (early stopping may end sooner).
        #[arg(long, default_value_t = 100)]
        epochs: usize,
        /// Seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// The top Hessian eigenvalue (sharpness) after every epoch, by power iteration on Hessian-vector products.
    #[command(allow_negative_numbers = true, allow_hyphen_values = true)]
    Sharpness {
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
        data: DataArgs,
    },
}

/// Options of `descent analyze second-order`.
#[derive(clap::Args)]
struct SecondOrderArgs {
    /// Stop at f − f* ≤ this.
    #[arg(long, default_value_t = 1e-10)]
    tolerance: f64,
    /// Most steps of the first-order methods.
    #[arg(long, default_value_t = 100_000)]
    max_steps: usize,
    /// Most iterations of Newton and L-BFGS.
    #[arg(long, default_value_t = 500)]
    max_iter: usize,
}

/// Options of the analyses that train an MLP on MNIST.
#[derive(clap::Args)]
struct DataArgs {
    /// Directory with the four MNIST-format files (default: the bundled 10k subset).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Hidden layer widths (default: 128; gradient-flow uses 256,128,64,32).
    #[arg(long, value_delimiter = ',')]
    hidden: Vec<usize>,
    /// Examples per batch.
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads for the matrix products.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

impl DataArgs {
    fn setup(&self, default_hidden: &[usize]) -> Setup {
        Setup {
            sizes: self.sizes(default_hidden),
            batch: self.batch_size,
            seed: self.seed,
            threads: self.threads,
        }
    }
    fn sizes(&self, default_hidden: &[usize]) -> Vec<usize> {
        let hidden = if self.hidden.is_empty() { default_hidden } else { &self.hidden };
        std::iter::once(784).chain(hidden.iter().copied()).chain(std::iter::once(10)).collect()
    }
    fn check(&self) -> Result<(), Failure> {
        check::count("--batch-size", self.batch_size, 1, usize::MAX)?;
        check::count("--threads", self.threads, 1, MAX_THREADS)?;
        if let Some(d) = &self.data {
            check::not_empty("--data", d)?;
        }
        if self.hidden.contains(&0) {
            return Err(Failure("--hidden sizes must be positive".into()));
        }
        Ok(())
    }
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
            Topic::Trajectories { .. } => "trajectories",
            Topic::Animation { .. } => "animation",
            Topic::Rates { .. } => "rates",
            Topic::LrDemo { .. } => "lr-demo",
            Topic::Ravine { .. } => "ravine",
            Topic::Momentum { .. } => "momentum",
            Topic::Schedules => "schedules",
            Topic::FamilyTree => "family-tree",
            Topic::Sweep { .. } => "sweep",
            Topic::LrFind { .. } => "lr-find",
            Topic::GradientFlow { .. } => "gradient-flow",
            Topic::Landscape { .. } => "landscape",
            Topic::Sharpness { .. } => "sharpness",
            Topic::SecondOrder(_) => "second-order",
            Topic::Newton1d { .. } => "newton-1d",
            Topic::Moons { .. } => "moons",
            Topic::LinearRegression { .. } => "linear-regression",
            Topic::Synthetic { .. } => "synthetic",
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
        Topic::Trajectories { functions, runs, steps } => {
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
            let mut out = Output::new(&dir).map_err(Failure)?;
            let runs = (!runs.is_empty()).then_some(runs.as_slice());
            let outcomes = analysis::trajectories::write_trajectories(&mut out, &surfaces, runs, *steps)
                .map_err(Failure)?;
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
        }
        Topic::Animation { function, runs, steps, seconds } => {
            let surface = Surface::by_name(function)
                .ok_or_else(|| Failure(format!("unknown function '{function}'")))?;
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
            let mut out = Output::new(&dir).map_err(Failure)?;
            let runs = (!runs.is_empty()).then_some(runs.as_slice());
            analysis::animation::write_animation(&mut out, surface, runs, *steps, *seconds)
                .map_err(Failure)?;
            report(&mut out)?;
        }
        Topic::Rates { kappas, dim, max_steps } => {
            check::numbers("--kappas", kappas, "condition numbers ≥ 1", |k| k >= 1.0)?;
            check::count("--dim", *dim, 1, MAX_DIM)?;
            positive("max-steps", *max_steps)?;
            let mut out = Output::new(&dir).map_err(Failure)?;
            let rates = analysis::rates::write_rates(&mut out, kappas, *dim, *max_steps).map_err(Failure)?;
            say!(
                "{:>8} {:>8} {:<30} {:>10} {:>10} {:>10}",
                "kappa",
                "rotated",
                "method",
                "predicted",
                "measured",
                "exp. err"
            );
            for r in rates {
                say!(
                    "{:>8} {:>8} {:<30} {:>10.6} {:>10.6} {:>9.2}%",
                    r.kappa,
                    r.rotated,
                    r.method.label(),
                    r.predicted,
                    r.measured,
                    100.0 * r.exponent_error
                );
            }
            report(&mut out)?;
        }
        Topic::LrDemo { lrs, steps } => {
            check::numbers("--lrs", lrs, "non-negative learning rates", |l| l >= 0.0)?;
            positive("steps", *steps)?;
            let mut out = Output::new(&dir).map_err(Failure)?;
            let rows = analysis::trajectories::write_lr_demo(&mut out, lrs, *steps).map_err(Failure)?;
            say!("{:>6} {:>12} {:>12} {:>12}  behaviour", "lr", "|1 − 2 lr|", "measured", "|x_T|");
            for r in rows {
                say!(
                    "{:>6} {:>12.4} {:>12.4} {:>12.3e}  {}",
                    r.lr,
                    r.predicted_factor,
                    r.measured_factor,
                    r.final_distance,
                    r.behaviour
                );
            }
            report(&mut out)?;
        }
        Topic::Ravine { steps } => {
            positive("steps", *steps)?;
            let mut out = Output::new(&dir).map_err(Failure)?;
            for o in analysis::trajectories::write_ravine(&mut out, *steps).map_err(Failure)? {
                say!(
                    "{:<40} distance to the minimum after {} steps: {:.3e}",
                    o.optimizer,
                    o.steps,
                    o.distance.unwrap_or(f64::NAN)
                );
            }
            report(&mut out)?;
        }
        Topic::Momentum { steps } => {
            positive("steps", *steps)?;
            let mut out = Output::new(&dir).map_err(Failure)?;
            say!("{:>8} {:>6} {:<18} {:>10} {:>10}", "lr·λ", "β", "regime", "predicted", "measured");
            for c in analysis::momentum::write_momentum(&mut out, *steps).map_err(Failure)? {
                let regime = format!("{:?}", c.regime);
                say!("{:>8} {:>6} {regime:<18} {:>10.4} {:>10.4}", c.h, c.beta, c.predicted, c.measured);
            }
            report(&mut out)?;
        }
        Topic::FamilyTree => {
            let mut out = Output::new(&dir).map_err(Failure)?;
            analysis::family::write_family_tree(&mut out).map_err(Failure)?;
            report(&mut out)?;
        }
        Topic::Schedules => {
            let mut out = Output::new(&dir).map_err(Failure)?;
            let curves = analysis::schedules::write_schedules(&mut out).map_err(Failure)?;
            say!("{} schedules over {} steps", curves.len(), curves.first().map_or(0, |c| c.lr.len()));
            report(&mut out)?;
        }
        Topic::Sweep { grid, steps, lrs, optimizer: name, epochs, data } => {
            let [lo, hi, count] = grid[..] else {
                return Err(Failure("--grid must be LO,HI,COUNT".into()));
            };
            if !(lo > 0.0
                && hi > lo
                && hi.is_finite()
                && count >= 2.0
                && count <= MAX_GRID
                && count.fract() == 0.0)
            {
                return Err(Failure(format!(
                    "--grid must be LO,HI,COUNT with 0 < LO < HI finite and COUNT a whole number from 2 to {MAX_GRID}"
                )));
            }
            positive("steps", *steps)?;
            check::numbers("--lrs", lrs, "positive learning rates", |l| l > 0.0)?;
            check::count("--epochs", *epochs, 0, MAX_EPOCHS)?;
            data.check()?;
            let opt = optimizer("--optimizer", name)?;
            let mut points = Vec::new();
            for s in [Surface::Ravine, Surface::Rosenbrock, Surface::Himmelblau] {
                points.extend(
                    analysis::sweep::surface_sweep(
                        s,
                        &analysis::sweep::log_grid(lo, hi, count as usize),
                        *steps,
                    )
                    .map_err(Failure)?,
                );
            }
            if *epochs > 0 {
                let mnist = load_data(&data.data)?;
                let (train, test) = splits(&mnist);
                let opts = TrainOptions {
                    optimizer: opt,
                    epochs: *epochs,
                    batch_size: data.batch_size,
                    hidden: if data.hidden.is_empty() { vec![128] } else { data.hidden.clone() },
                    seed: data.seed,
                    threads: data.threads,
                    ..TrainOptions::default()
                };
                let (bar, tick) = progress(lrs.len(), "learning rates");
                points.extend(analysis::sweep::mnist_sweep(train, test, &opts, lrs, tick).map_err(Failure)?);
                done(bar);
            }
            let mut out = Output::new(&dir).map_err(Failure)?;
            analysis::sweep::write_sweep(&mut out, &points).map_err(Failure)?;
            for t in ["ravine", "rosenbrock", "himmelblau", "mnist"] {
                let mut names: Vec<&str> =
                    points.iter().filter(|p| p.target == t).map(|p| p.optimizer.as_str()).collect();
                names.dedup();
                for n in names {
                    let best = points
                        .iter()
                        .filter(|p| p.target == t && p.optimizer == n && p.loss.is_finite())
                        .min_by(|a, b| a.loss.total_cmp(&b.loss));
                    let diverged = points
                        .iter()
                        .filter(|p| p.target == t && p.optimizer == n && !p.loss.is_finite())
                        .count();
                    if let Some(b) = best {
                        say!(
                            "{t:<11} {n:<9} best lr {:>9.3e}  loss {:>10.3e}  ({diverged} lrs diverged)",
                            b.lr,
                            b.loss
                        );
                    }
                }
            }
            report(&mut out)?;
        }
        Topic::LrFind { optimizer: name, start_lr, end_lr, steps, beta, data } => {
            data.check()?;
            check::number("--beta", *beta, "in [0, 1)", |b| (0.0..1.0).contains(&b))?;
            if !(*start_lr > 0.0 && end_lr > start_lr && end_lr.is_finite())
                || *steps < 2
                || *steps > analysis::lr_find::MAX_STEPS
            {
                return Err(Failure(format!(
                    "need 0 < --start-lr < --end-lr and 2 ≤ --steps ≤ {}",
                    analysis::lr_find::MAX_STEPS
                )));
            }
            let settings = analysis::lr_find::Settings {
                optimizer: optimizer("--optimizer", name)?,
                start_lr: *start_lr,
                end_lr: *end_lr,
                steps: *steps,
                beta: *beta,
                sizes: data.sizes(&[128]),
                batch: data.batch_size,
                seed: data.seed,
                threads: data.threads,
            };
            let mnist = load_data(&data.data)?;
            let (train, _) = splits(&mnist);
            let mut out = Output::new(&dir).map_err(Failure)?;
            let (bar, tick) = progress(*steps, "range test");
            let found =
                analysis::lr_find::write_lr_find(&mut out, train, &settings, tick).map_err(Failure)?;
            done(bar);
            let end = if found.diverged { "the loss diverged" } else { "reached --end-lr" };
            say!("{} steps, stopped because {end}", found.points.len());
            match found.suggestion {
                Some(lr) => say!("suggested learning rate: {lr:.3e}"),
                None => say!("no suggestion (too few points)"),
            }
            report(&mut out)?;
        }
        Topic::GradientFlow { activations, optimizer: name, steps, data } => {
            data.check()?;
            positive("steps", *steps)?;
            let acts = activations
                .iter()
                .map(|a| a.parse::<Activation>().map_err(Failure))
                .collect::<Result<Vec<_>, _>>()?;
            let opt = optimizer("--optimizer", name)?;
            let mnist = load_data(&data.data)?;
            let (train, _) = splits(&mnist);
            let setup = data.setup(&analysis::gradient_flow::DEEP[1..5]);
            let mut flows = Vec::new();
            for act in acts {
                let (bar, tick) = progress(*steps, act.name());
                let f = analysis::gradient_flow::measure(train, &setup, act, &opt, *steps, tick)
                    .map_err(Failure)?;
                done(bar);
                let norms: Vec<String> = f.mean_norms.iter().map(|n| format!("{n:.2e}")).collect();
                say!(
                    "{:<8} mean layer gradient norms [{}]  mean max/min ratio {:.1}",
                    f.activation,
                    norms.join(", "),
                    f.mean_ratio
                );
                if f.warning {
                    say!(
                        "warning: {}: the layer gradient norms differ by more than {}× (vanishing or exploding gradients)",
                        f.activation,
                        analysis::gradient_flow::WARN_RATIO
                    );
                }
                flows.push(f);
            }
            let mut out = Output::new(&dir).map_err(Failure)?;
            analysis::gradient_flow::write_gradient_flow(&mut out, &flows).map_err(Failure)?;
            report(&mut out)?;
        }
        Topic::Landscape { optimizer: name, epochs, side, span, eval, data } => {
            data.check()?;
            positive("epochs", *epochs)?;
            positive("eval", *eval)?;
            check::count("--side", *side, 3, MAX_SIDE)?;
            check::number("--span", *span, "a positive number", |s| s > 0.0)?;
            let opt = optimizer("--optimizer", name)?;
            let mnist = load_data(&data.data)?;
            let (train, test) = splits(&mnist);
            let sizes = data.sizes(&[128]);
            let opts = TrainOptions {
                optimizer: opt,
                epochs: *epochs,
                batch_size: data.batch_size,
                hidden: sizes[1..sizes.len() - 1].to_vec(),
                seed: data.seed,
                threads: data.threads,
                ..TrainOptions::default()
            };
            let trained =
                crate::train::train(train, test, 784, 10, &opts, None, &mut Silent).map_err(Failure)?;
            let mut net = analysis::net::Net::new(
                train,
                &sizes,
                Activation::Relu,
                Loss::CrossEntropy,
                data.seed,
                data.batch_size,
            )
            .map_err(Failure)?
            .with_threads(data.threads);
            let initial = std::mem::replace(&mut net.params, trained.params);
            let (bar, tick) = progress(61 + side * side, "landscape");
            let l = analysis::landscape::explore(
                &mut net,
                &initial,
                train,
                test.head(*eval),
                *eval,
                61,
                *side,
                *span,
                data.seed,
                tick,
            );
            done(bar);
            let title = format!("MLP {sizes:?}, {epochs} epochs {name}");
            let mut out = Output::new(&dir).map_err(Failure)?;
            analysis::landscape::write_landscape(&mut out, &l, &title).map_err(Failure)?;
            let at = |a: f64| {
                l.line
                    .iter()
                    .min_by(|x, y| (x.0 - a).abs().total_cmp(&(y.0 - a).abs()))
                    .map_or(f64::NAN, |p| p.1)
            };
            let (lo, hi) = l.slice.iter().fold((f64::INFINITY, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
            say!(
                "train loss at θ₀ {:.4}, at θ* {:.4}; on the slice from {lo:.4} to {hi:.4}",
                at(0.0),
                at(1.0)
            );
            report(&mut out)?;
        }
        Topic::SecondOrder(a) => {
            check::number("--tolerance", a.tolerance, "a positive number", |t| t > 0.0)?;
            positive("max-steps", a.max_steps)?;
            positive("max-iter", a.max_iter)?;
            let mut out = Output::new(&dir).map_err(Failure)?;
            let runs =
                analysis::second_order::write_second_order(&mut out, a.tolerance, a.max_steps, a.max_iter)
                    .map_err(Failure)?;
            say!(
                "{:<18} {:<22} {:>6} {:>8} {:>8} {:>6} {:>12} {:>10} {:>10}",
                "function",
                "method",
                "iters",
                "f evals",
                "g evals",
                "H",
                "g to tol",
                "f − f*",
                "µs"
            );
            for r in runs {
                let to_tol = r.to_tolerance.map_or("-".into(), |n| n.to_string());
                say!(
                    "{:<18} {:<22} {:>6} {:>8} {:>8} {:>6} {:>12} {:>10.2e} {:>10.0}",
                    r.function,
                    r.method,
                    r.iterations,
                    r.f_evals,
                    r.g_evals,
                    r.h_evals,
                    to_tol,
                    r.gap,
                    r.micros
                );
            }
            report(&mut out)?;
        }
        Topic::Newton1d { steps } => {
            positive("steps", *steps)?;
            let mut out = Output::new(&dir).map_err(Failure)?;
            for (x0, newton, gd) in
                analysis::second_order::write_newton_1d(&mut out, *steps).map_err(Failure)?
            {
                say!("from x = {x0}: newton ends at {newton:.4}, gradient descent at {gd:.4}");
            }
            report(&mut out)?;
        }
        Topic::Moons { train, noise, epochs, seed } => {
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
            let mut out = Output::new(&dir).map_err(Failure)?;
            let (opt, decay) = analysis::moons::write_moons(&mut out, &s).map_err(Failure)?;
            say!("{:<20} {:>10} {:>10} {:>9}", "run", "train loss", "test loss", "test acc");
            for o in opt.iter().chain(&decay) {
                let (tr, te, acc) = o.last();
                say!("{:<20} {tr:>10.4} {te:>10.4} {acc:>8.2}%", o.label);
            }
            report(&mut out)?;
        }
        Topic::LinearRegression { epochs, seed } => {
            positive("epochs", *epochs)?;
            let mut out = Output::new(&dir).map_err(Failure)?;
            let (runs, ls) = analysis::regression::write_linear(&mut out, *epochs, *seed).map_err(Failure)?;
            say!("least-squares training loss {ls:.5}");
            for r in runs {
                let last = r.history.epochs.last().map_or(f64::NAN, |e| e.train_loss);
                say!("{:<9} final training loss {last:.5}  ‖θ − θ_ls‖ {:.2e}", r.label, r.distance);
            }
            report(&mut out)?;
        }
        Topic::Synthetic { epochs, seed } => {
            positive("epochs", *epochs)?;
            let mut out = Output::new(&dir).map_err(Failure)?;
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
        }
        Topic::Sharpness { runs, epochs, eval, data } => {
            data.check()?;
            positive("epochs", *epochs)?;
            positive("eval", *eval)?;
            let runs = runs
                .iter()
                .map(|r| optimizer("--run", r).map(|m| (r.clone(), m)))
                .collect::<Result<Vec<_>, _>>()?;
            let mnist = load_data(&data.data)?;
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
            let mut out = Output::new(&dir).map_err(Failure)?;
            analysis::sharpness::write_sharpness(&mut out, &tracks).map_err(Failure)?;
            report(&mut out)?;
        }
    }
    Ok(())
}

/// Puts the files in place and says so.
fn report(out: &mut Output) -> Result<(), Failure> {
    out.commit().map_err(Failure)?;
    say!("wrote {} files to {}", out.written().len(), out.dir().display());
    Ok(())
}
