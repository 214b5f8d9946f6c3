//! `descent train`: the main job.

use super::{Failure, Staged, check_output};
use crate::checkpoint::Checkpoint;
use crate::data::mnist::Mnist;
use crate::model::{Activation, Init};
use crate::train::{Data, EpochRecord, Observer, SchedulePer, Split, Start, TrainOptions};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use std::io::IsTerminal;
use std::path::PathBuf;

/// Arguments of `descent train`.
#[derive(clap::Args, Clone)]
#[command(allow_negative_numbers = true)]
pub struct Args {
    /// Directory with the four MNIST-format files, e.g. /usr/share/datasets/fashion-mnist
    /// (default: $DESCENT_DATA, else ./data/mnist-10k, else the bundled subset where it was built).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// How to train (stored in checkpoints; not allowed with --resume).
    #[command(flatten)]
    pub recipe: Recipe,
    /// Epochs in total (with --resume: the epoch to continue up to).
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Threads for the matrix products.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Write the per-epoch history as JSON.
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Save the best checkpoint (model, optimizer and schedule state, history, these settings).
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Continue the run saved by --save in FILE, with its settings, bit-identically.
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
    /// No progress bar or per-epoch lines.
    #[arg(long)]
    pub quiet: bool,
}

/// The flags that define a run: saved in its checkpoints, so `--resume` repeats them exactly.
#[derive(clap::Args, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    /// Optimizer, as in `descent replay`: sgd, adam, adamw, adagrad, rmsprop, adamax, nadam, radam, adadelta, asgd, rprop, adafactor, lion.
    #[arg(long, default_value = "adam", conflicts_with = "resume")]
    pub optimizer: String,
    /// Learning rate.
    #[arg(long, default_value_t = 1e-3, conflicts_with = "resume")]
    pub lr: f64,
    /// Momentum (SGD, RMSprop) or betas[0] (Adam family, Lion).
    #[arg(long, conflicts_with = "resume")]
    pub momentum: Option<f64>,
    /// Weight decay (L2 for most; decoupled for AdamW and Lion).
    #[arg(long, conflicts_with = "resume")]
    pub weight_decay: Option<f64>,
    /// Nesterov momentum (SGD).
    #[arg(long, conflicts_with = "resume")]
    pub nesterov: bool,
    /// Any other optimizer keyword arguments as a JSON object, e.g. '{"amsgrad": true}'.
    #[arg(long, conflicts_with = "resume")]
    pub optimizer_args: Option<String>,
    /// Examples per batch.
    #[arg(long, default_value_t = 128, conflicts_with = "resume")]
    pub batch_size: usize,
    /// Hidden layer widths, comma-separated.
    #[arg(long, default_value = "128", value_delimiter = ',', conflicts_with = "resume")]
    pub hidden: Vec<usize>,
    /// Hidden activation: relu, tanh or sigmoid.
    #[arg(long, default_value = "relu", conflicts_with = "resume")]
    pub activation: String,
    /// Weight initialization: he, xavier, or torch (PyTorch nn.Linear's default, U(±1/√fan_in) for W and b).
    #[arg(long, default_value = "he", conflicts_with = "resume")]
    pub init: String,
    /// Learning-rate schedule: a JSON object with PyTorch's names, e.g. '{"name": "cosine_annealing_lr", "T_max": 5}', or NAME:key=value,... e.g. step_lr:step_size=2,gamma=0.5.
    #[arg(long, conflicts_with = "resume")]
    pub scheduler: Option<String>,
    /// Step the schedule per batch (optimizer step) or per epoch.
    #[arg(long, default_value = "epoch", value_parser = ["batch", "epoch"], conflicts_with = "resume")]
    pub schedule_per: String,
    /// Clip the global gradient 2-norm to this value.
    #[arg(long, conflicts_with = "resume")]
    pub clip_norm: Option<f64>,
    /// Micro-batches per optimizer step (at least 1); an epoch's leftover micro-batches make one
    /// more step, averaged over their count.
    #[arg(long, default_value_t = 1, conflicts_with = "resume")]
    pub accumulate: usize,
    /// Stop after this many epochs without a better selection loss (validation, else test).
    #[arg(long, conflicts_with = "resume")]
    pub patience: Option<usize>,
    /// Hold out this fraction of the training files (their last examples, as Keras's
    /// validation_split) to select the best epoch; 0 selects on the test set.
    #[arg(long, default_value_t = 0.0, conflicts_with = "resume")]
    pub val_fraction: f64,
    /// Train on only the first N training examples (before the validation hold-out).
    #[arg(long, value_name = "N", conflicts_with = "resume")]
    pub limit: Option<usize>,
    /// Seed for initialization and shuffling.
    #[arg(long, default_value_t = 0, conflicts_with = "resume")]
    pub seed: u64,
}

/// The optimizer keyword arguments the flags describe.
pub fn optimizer_kwargs(a: &Recipe) -> Result<Map<String, Value>, Failure> {
    let mut m = match &a.optimizer_args {
        Some(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => m,
            _ => return Err(Failure(format!("--optimizer-args must be a JSON object, got {s}"))),
        },
        None => Map::new(),
    };
    m.insert("name".into(), a.optimizer.clone().into());
    m.insert("lr".into(), a.lr.into());
    if let Some(mu) = a.momentum {
        let betas = ["adam", "adamw", "adamax", "nadam", "radam", "lion"];
        if betas.contains(&a.optimizer.as_str()) {
            let b2 = match a.optimizer.as_str() {
                "lion" => 0.99,
                _ => 0.999,
            };
            let b2 = m.get("betas").and_then(|b| b.get(1)).and_then(Value::as_f64).unwrap_or(b2);
            m.insert("betas".into(), serde_json::json!([mu, b2]));
        } else {
            m.insert("momentum".into(), mu.into());
        }
    }
    if let Some(wd) = a.weight_decay {
        m.insert("weight_decay".into(), wd.into());
    }
    if a.nesterov {
        m.insert("nesterov".into(), true.into());
    }
    Ok(m)
}

/// Training options from the flags.
pub fn options(a: &Recipe, epochs: usize) -> Result<TrainOptions, Failure> {
    if epochs == 0 {
        return Err(Failure("--epochs must be at least 1".into()));
    }
    if a.accumulate == 0 {
        return Err(Failure("--accumulate must be at least 1".into()));
    }
    if !(0.0..1.0).contains(&a.val_fraction) {
        return Err(Failure(format!("--val-fraction must be in [0, 1), got {}", a.val_fraction)));
    }
    if a.limit == Some(0) {
        return Err(Failure("--limit must be at least 1".into()));
    }
    if a.batch_size == 0 {
        return Err(Failure("--batch-size must be at least 1".into()));
    }
    if a.hidden.contains(&0) {
        return Err(Failure("--hidden sizes must be positive".into()));
    }
    if let Some(c) = a.clip_norm
        && !(c > 0.0)
    {
        return Err(Failure(format!("--clip-norm must be positive, got {c}")));
    }
    Ok(TrainOptions {
        optimizer: optimizer_kwargs(a)?,
        epochs,
        batch_size: a.batch_size,
        hidden: a.hidden.clone(),
        activation: a.activation.parse::<Activation>()?,
        init: a.init.parse::<Init>()?,
        clip_norm: a.clip_norm,
        accumulate: a.accumulate,
        seed: a.seed,
        patience: a.patience,
        schedule_per: if a.schedule_per == "batch" { SchedulePer::Batch } else { SchedulePer::Epoch },
        loss: crate::model::Loss::CrossEntropy,
    })
}

/// Sets the matrix-product thread count (matrixmultiply reads it once, at its first use).
pub fn set_threads(threads: usize) {
    #[allow(unsafe_code)]
    // SAFETY: called at start-up from the main thread, before any other thread exists.
    unsafe {
        std::env::set_var("MATMUL_NUM_THREADS", threads.to_string());
    }
}

/// Loads the data set named by `--data` (or the default one, [`crate::data::mnist::default_dir`]).
pub fn load_data(dir: &Option<PathBuf>) -> Result<Mnist, Failure> {
    let dir = match dir {
        Some(d) => d.clone(),
        None => crate::data::mnist::default_dir()?,
    };
    Ok(Mnist::load(&dir)?)
}

/// The terminal reporter: a progress bar over batches on a terminal, plain lines otherwise.
pub struct Report {
    bar: Option<ProgressBar>,
    epochs: usize,
    quiet: bool,
    prefix: String,
}

impl Report {
    /// A reporter for `epochs` epochs; `prefix` starts every line (e.g. the optimizer's name).
    pub fn new(epochs: usize, quiet: bool, prefix: &str) -> Self {
        Report { bar: None, epochs, quiet, prefix: prefix.to_string() }
    }
}

impl Observer for Report {
    fn epoch_start(&mut self, epoch: usize, batches: usize) {
        if self.quiet || !std::io::stderr().is_terminal() {
            return;
        }
        let bar = ProgressBar::new(batches as u64);
        if let Ok(style) = ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} batches, loss {msg}") {
            bar.set_style(style);
        }
        bar.set_prefix(format!("{}epoch {epoch}/{}", self.prefix, self.epochs));
        self.bar = Some(bar);
    }
    fn batch_done(&mut self, loss: f64) {
        if let Some(b) = &self.bar {
            b.set_message(format!("{loss:.4}"));
            b.inc(1);
        }
    }
    fn epoch_done(&mut self, r: &EpochRecord) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        if !self.quiet {
            println!("{}{}", self.prefix, line(r, self.epochs));
        }
    }
}

/// One epoch as a line of text.
pub fn line(r: &EpochRecord, epochs: usize) -> String {
    let val = match (r.val_loss, r.val_accuracy) {
        (Some(l), Some(a)) => format!("  val loss {l:.4} acc {a:5.2}%"),
        _ => String::new(),
    };
    format!(
        "epoch {:>2}/{epochs}  train loss {:.4} acc {:5.2}%{val}  test loss {:.4} acc {:5.2}%  lr {:.2e}  |g| {:.3}  {:.3} s",
        r.epoch, r.train_loss, r.train_accuracy, r.test_loss, r.test_accuracy, r.lr, r.grad_norm, r.seconds
    )
}

/// The data set's training and test splits.
pub fn splits(data: &Mnist) -> (Split<'_>, Split<'_>) {
    (
        Split { x: &data.train.images, y: &data.train.labels, values: &[], n: data.train.n },
        Split { x: &data.test.images, y: &data.test.labels, values: &[], n: data.test.n },
    )
}

/// The splits of a run: training (its first `limit` examples, less the validation hold-out),
/// validation, test.
pub fn data_splits(data: &Mnist, limit: Option<usize>, val_fraction: f64) -> Result<Data<'_>, Failure> {
    let (train, test) = splits(data);
    let train = train.head(limit.unwrap_or(usize::MAX));
    let (train, validation) =
        train.hold_out(val_fraction).map_err(|e| Failure(format!("--val-fraction: {e}")))?;
    Ok(Data { train, validation, test })
}

/// Checks the numeric flags that are not part of the recipe.
fn check_run_flags(a: &Args) -> Result<(), Failure> {
    if a.threads == 0 {
        return Err(Failure("--threads must be at least 1".into()));
    }
    if a.epochs == 0 {
        return Err(Failure("--epochs must be at least 1".into()));
    }
    Ok(())
}

/// The schedule `--scheduler` describes, built before any work so a bad one fails first.
fn schedule(r: &Recipe, opts: &TrainOptions) -> Result<Option<Box<dyn crate::train::Schedule>>, Failure> {
    // Build the optimizer once up front so a bad name or value fails before any work.
    let probe =
        crate::registry::build::<f32>(&opts.optimizer, &[1], 1, descent_core::NonFinitePolicy::Propagate)?;
    match &r.scheduler {
        Some(s) => Ok(Some(
            crate::schedule_spec::for_training(s, &[r.lr], probe.momentum().is_some())
                .map_err(|e| Failure(format!("--scheduler: {e}")))?,
        )),
        None => Ok(None),
    }
}

/// Runs `descent train`.
pub fn run(a: Args) -> Result<(), Failure> {
    check_run_flags(&a)?;
    let resumed = match &a.resume {
        Some(path) => Some(Checkpoint::load(path).map_err(Failure)?),
        None => None,
    };
    let recipe = match &resumed {
        Some(c) => serde_json::from_value::<Recipe>(Value::Object(c.settings.clone())).map_err(|e| {
            Failure(format!(
                "--resume {}: no training settings in this checkpoint ({e})",
                a.resume.as_deref().unwrap_or(std::path::Path::new("")).display()
            ))
        })?,
        None => a.recipe.clone(),
    };
    let opts = options(&recipe, a.epochs)?;
    let mut schedule = schedule(&recipe, &opts)?;
    if let Some(c) = &resumed
        && c.epoch >= a.epochs
    {
        return Err(Failure(format!(
            "--resume: the checkpoint has {} epochs done already; pass a larger --epochs",
            c.epoch
        )));
    }
    if let Some(p) = &a.history {
        check_output(p, "--history")?;
    }
    if let Some(p) = &a.save {
        check_output(p, "--save")?;
    }
    set_threads(a.threads);
    let mnist = load_data(&a.data)?;
    let data = data_splits(&mnist, recipe.limit, recipe.val_fraction)?;
    let inputs = mnist.train.rows * mnist.train.cols;
    let start = match &resumed {
        Some(c) => {
            if c.settings.get("train_examples").and_then(Value::as_u64) != Some(data.train.n as u64) {
                return Err(Failure(format!(
                    "--resume: the checkpoint was trained on {} examples, this data gives {}",
                    c.settings.get("train_examples").unwrap_or(&Value::Null),
                    data.train.n
                )));
            }
            Start::from_checkpoint(c).map_err(Failure)?
        }
        None => Start::fresh(inputs, 10, &opts).map_err(Failure)?,
    };
    if start.model.inputs() != inputs {
        return Err(Failure(format!(
            "the model takes {} inputs, the images have {inputs} pixels",
            start.model.inputs()
        )));
    }
    if !a.quiet {
        let sizes: Vec<String> = start.model.sizes().iter().map(ToString::to_string).collect();
        println!(
            "descent train: {} train / {}{} test images, MLP {} {}, {} lr {}, batch {}, {} epochs{}, {} thread(s)",
            data.train.n,
            data.validation.map_or(String::new(), |v| format!("{} validation / ", v.n)),
            data.test.n,
            sizes.join("-"),
            recipe.activation,
            recipe.optimizer,
            recipe.lr,
            recipe.batch_size,
            a.epochs,
            if start.epoch > 0 { format!(" (resuming after epoch {})", start.epoch) } else { String::new() },
            a.threads
        );
    }
    let mut report = Report::new(a.epochs, a.quiet, "");
    let schedule_ref = schedule.as_mut().map(|s| s.as_mut() as &mut dyn crate::train::Schedule);
    let t = crate::train::run(start, data, &opts, schedule_ref, &mut report).map_err(Failure)?;
    let mut staged = Staged::default();
    if let Some(path) = &a.history {
        staged.write(path, serde_json::to_string_pretty(&t.history)?.as_bytes())?;
    }
    if let Some(path) = &a.save {
        let mut best = t.best.clone();
        best.settings = match serde_json::to_value(&recipe)? {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        best.settings.insert("train_examples".into(), data.train.n.into());
        staged.write(path, &best.to_bytes())?;
    }
    staged.commit()?;
    if !a.quiet {
        summary(&t);
    }
    Ok(())
}

fn summary(t: &crate::train::Trained) {
    let last = t.history.epochs.last();
    let best = t.history.epochs.iter().max_by(|x, y| x.test_accuracy.total_cmp(&y.test_accuracy));
    let timed: Vec<f64> = t.history.epochs.iter().map(|r| r.seconds).collect();
    let secs = timed.iter().sum::<f64>() / timed.len().max(1) as f64;
    if let (Some(l), Some(b)) = (last, best) {
        println!(
            "final test accuracy {:.2}% (best {:.2}% at epoch {}), {:.3} s per epoch{}",
            l.test_accuracy,
            b.test_accuracy,
            b.epoch,
            secs,
            if t.stopped_early { ", stopped early" } else { "" }
        );
    }
}
