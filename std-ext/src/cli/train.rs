//! `descent train`: the main job.

use super::{Failure, write_atomically};
use crate::data::mnist::Mnist;
use crate::model::{Activation, Init};
use crate::train::{EpochRecord, Observer, SchedulePer, Split, TrainOptions};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};

use std::io::IsTerminal;
use std::path::PathBuf;

/// Arguments of `descent train`.
#[derive(clap::Args, Clone)]
#[command(allow_negative_numbers = true)]
pub struct Args {
    /// Directory with the four MNIST-format files (default: the bundled 10k subset).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Optimizer, as in `descent replay`: sgd, adam, adamw, adagrad, rmsprop, adamax, nadam, radam, adadelta, asgd, rprop, adafactor, lion.
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    /// Learning rate (default: 1e-3).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Momentum (SGD, RMSprop) or betas[0] (Adam family, Lion).
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Weight decay (L2 for most; decoupled for AdamW and Lion).
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Nesterov momentum (SGD).
    #[arg(long)]
    pub nesterov: bool,
    /// Any other optimizer keyword arguments as a JSON object, e.g. '{"amsgrad": true}'.
    #[arg(long)]
    pub optimizer_args: Option<String>,
    /// Epochs.
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Examples per batch.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Hidden layer widths, comma-separated.
    #[arg(long, default_value = "128", value_delimiter = ',')]
    pub hidden: Vec<usize>,
    /// Hidden activation: relu, tanh or sigmoid.
    #[arg(long, default_value = "relu")]
    pub activation: String,
    /// Weight initialization: he or xavier.
    #[arg(long, default_value = "he")]
    pub init: String,
    /// Learning-rate schedule: a JSON object with PyTorch's names, e.g. '{"name": "cosine_annealing_lr", "T_max": 5}', or NAME:key=value,... e.g. step_lr:step_size=2,gamma=0.5.
    #[arg(long)]
    pub scheduler: Option<String>,
    /// Step the schedule per batch or per epoch.
    #[arg(long, default_value = "epoch", value_parser = ["batch", "epoch"])]
    pub schedule_per: String,
    /// Clip the global gradient 2-norm to this value.
    #[arg(long)]
    pub clip_norm: Option<f64>,
    /// Micro-batches per optimizer step.
    #[arg(long, default_value_t = 1)]
    pub accumulate: usize,
    /// Stop after this many epochs without a better test loss.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Seed for initialization and shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Threads for the matrix products.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Write the per-epoch history as JSON.
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Save the best checkpoint (model and optimizer state).
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// No progress bar or per-epoch lines.
    #[arg(long)]
    pub quiet: bool,
}

/// The optimizer keyword arguments the flags describe.
pub fn optimizer_kwargs(a: &Args) -> Result<Map<String, Value>, Failure> {
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
pub fn options(a: &Args) -> Result<TrainOptions, Failure> {
    if a.epochs == 0 {
        return Err(Failure("--epochs must be at least 1".into()));
    }
    if a.batch_size == 0 {
        return Err(Failure("--batch-size must be at least 1".into()));
    }
    if a.hidden.contains(&0) {
        return Err(Failure("--hidden sizes must be positive".into()));
    }
    if a.threads == 0 {
        return Err(Failure("--threads must be at least 1".into()));
    }
    if let Some(c) = a.clip_norm
        && !(c > 0.0)
    {
        return Err(Failure(format!("--clip-norm must be positive, got {c}")));
    }
    Ok(TrainOptions {
        optimizer: optimizer_kwargs(a)?,
        epochs: a.epochs,
        batch_size: a.batch_size,
        hidden: a.hidden.clone(),
        activation: a.activation.parse::<Activation>()?,
        init: a.init.parse::<Init>()?,
        clip_norm: a.clip_norm,
        accumulate: a.accumulate.max(1),
        seed: a.seed,
        patience: a.patience,
        schedule_per: if a.schedule_per == "batch" { SchedulePer::Batch } else { SchedulePer::Epoch },
        ..TrainOptions::default()
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

/// Loads the data set named by `--data` (or the bundled one).
pub fn load_data(dir: &Option<PathBuf>) -> Result<Mnist, Failure> {
    let dir = dir.clone().unwrap_or_else(crate::data::mnist::default_dir);
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
    format!(
        "epoch {:>2}/{epochs}  train loss {:.4} acc {:5.2}%  test loss {:.4} acc {:5.2}%  lr {:.2e}  |g| {:.3}  {:.3} s",
        r.epoch, r.train_loss, r.train_accuracy, r.test_loss, r.test_accuracy, r.lr, r.grad_norm, r.seconds
    )
}

/// The data set's splits.
pub fn splits(data: &Mnist) -> (Split<'_>, Split<'_>) {
    (
        Split { x: &data.train.images, y: &data.train.labels, values: &[], n: data.train.n },
        Split { x: &data.test.images, y: &data.test.labels, values: &[], n: data.test.n },
    )
}

pub fn run(a: Args) -> Result<(), Failure> {
    let opts = options(&a)?;
    // Build the optimizer once up front so a bad name or value fails before any work.
    let probe =
        crate::registry::build::<f32>(&opts.optimizer, &[1], 1, descent_core::NonFinitePolicy::Propagate)?;
    let mut schedule = match &a.scheduler {
        Some(s) => Some(
            crate::schedule_spec::for_training(s, a.lr, probe.momentum().is_some())
                .map_err(|e| Failure(format!("--scheduler: {e}")))?,
        ),
        None => None,
    };
    set_threads(a.threads);
    let data = load_data(&a.data)?;
    let (train, test) = splits(&data);
    let inputs = data.train.rows * data.train.cols;
    if !a.quiet {
        let hidden: Vec<String> = opts.hidden.iter().map(ToString::to_string).collect();
        println!(
            "descent train: {} train / {} test images, MLP {inputs}-{}-10 {}, {} lr {}, batch {}, {} epochs, {} thread(s)",
            train.n,
            test.n,
            hidden.join("-"),
            a.activation,
            a.optimizer,
            a.lr,
            a.batch_size,
            a.epochs,
            a.threads
        );
    }
    let mut report = Report::new(a.epochs, a.quiet, "");
    let schedule_ref = schedule.as_mut().map(|s| s.as_mut() as &mut dyn crate::train::Schedule);
    let t = crate::train::train(train, test, inputs, 10, &opts, schedule_ref, &mut report)?;
    if let Some(path) = &a.history {
        write_atomically(path, serde_json::to_string_pretty(&t.history)?.as_bytes())?;
    }
    if let Some(path) = &a.save {
        t.best.save(path)?;
    }
    if !a.quiet {
        let last = t.history.epochs.last();
        let best = t.history.epochs.iter().max_by(|x, y| x.test_accuracy.total_cmp(&y.test_accuracy));
        let secs: f64 =
            t.history.epochs.iter().map(|r| r.seconds).sum::<f64>() / t.history.epochs.len().max(1) as f64;
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
    Ok(())
}
