//! `descent train`: the main job.

use super::check::{self, MAX_EPOCHS, MAX_THREADS};
use super::flags::Input;
use super::{Failure, Staged, check_output};
use crate::checkpoint::Checkpoint;
use crate::data::mnist::Mnist;
use crate::model::{Activation, Init, Mlp};
use crate::param_groups::{GroupsPlan, build_for_mlp};
use crate::registry::{self, BuildError};
use crate::split::Owned;
use crate::train::{Data, EpochRecord, Observer, SchedulePer, Split, Start, TrainOptions};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Arguments of `descent train`.
#[derive(clap::Args, Clone)]
#[command(allow_negative_numbers = true, allow_hyphen_values = true)]
pub struct Args {
    /// The data and the threads.
    #[command(flatten)]
    pub input: Input,
    /// How to train (stored in checkpoints; not allowed with --resume).
    #[command(flatten)]
    pub recipe: Recipe,
    /// Epochs in total (with --resume: the epoch to continue up to).
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Write the per-epoch history as JSON.
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Save the best checkpoint (model, optimizer and schedule state, history, these settings),
    /// replaced atomically after every epoch that improves on it, so an interrupted run (Ctrl-C
    /// stops after the current batch) continues with --resume. May name the --resume file.
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
    /// Optimizer, by its name in `descent replay` (adafactor factors each weight matrix; lamb and
    /// lars scale each tensor by its trust ratio; muon: Muon for the hidden weight matrices, AdamW
    /// for biases and the output layer, with AdamW's settings under "adamw" in --optimizer-args;
    /// schedule_free_sgd and schedule_free_adamw report test and validation results at their
    /// average x, keep training from the point y they step, and --save / export give x).
    #[arg(long, default_value = "adam", conflicts_with = "resume",
          value_parser = clap::builder::PossibleValuesParser::new(descent_core::OPTIMIZERS.iter().map(|o| o.name)))]
    pub optimizer: String,
    /// Learning rate [default: 1e-3; 1 for prodigy and dadapt_adamw, whose lr multiplies the step
    /// size they estimate (optax's default)].
    #[arg(long, conflicts_with = "resume")]
    pub lr: Option<f64>,
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
    /// Owned per batch.
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
    /// Stop after this many epochs without a better selection loss (validation, else training).
    #[arg(long, conflicts_with = "resume")]
    pub patience: Option<usize>,
    /// Hold out this fraction of the training examples (a random selection fixed by --seed) as a
    /// validation set, which selects the best epoch (early stopping, --save, reduce_lr_on_plateau);
    /// 0 holds out nothing and selects on the training loss. The test set never selects.
    #[arg(long, default_value_t = 0.1, conflicts_with = "resume")]
    pub val_fraction: f64,
    /// Train on only the first N training examples (before the validation hold-out).
    #[arg(long, value_name = "N", conflicts_with = "resume")]
    pub limit: Option<usize>,
    /// Seed for initialization and shuffling.
    #[arg(long, default_value_t = 0, conflicts_with = "resume")]
    pub seed: u64,
    /// No weight decay on the biases (a second parameter group with weight_decay 0, as PyTorch
    /// users write it).
    #[arg(long, conflicts_with = "resume")]
    pub no_decay_bias: bool,
    /// Freeze these layers (from 0, comma-separated): their weights, biases and optimizer state
    /// stay as they are (and take no optimizer memory).
    #[arg(long, value_name = "LAYERS", value_delimiter = ',', conflicts_with = "resume")]
    pub freeze: Vec<usize>,
    /// Layer-wise lr decay: layer L of N trains at lr·X^(N − 1 − L) (the output layer at lr).
    #[arg(long, value_name = "X", conflicts_with = "resume", allow_negative_numbers = true)]
    pub layer_lr_decay: Option<f64>,
    /// Parameter groups as PyTorch writes them, a JSON list of objects: "params" names tensors
    /// (layers.L.weight, layers.L.bias, or their indices), the other keys override the
    /// optimizer's for them, "frozen": true freezes them; e.g.
    /// '[{"params": ["layers.1.weight", "layers.1.bias"], "lr": 0.01}]'.
    #[arg(long, value_name = "JSON", conflicts_with = "resume")]
    pub param_groups: Option<String>,
}

impl Recipe {
    /// The learning rate: `--lr`, or the optimizer's default for it ([`default_lr`]).
    pub fn lr(&self) -> f64 {
        self.lr.unwrap_or_else(|| default_lr(&self.optimizer))
    }
}

/// `--lr`'s default: 1e-3, but 1 for the learning-rate-free rules (prodigy, dadapt_adamw), whose lr
/// multiplies the step size they estimate (optax's default; a schedule treats 1 as its base).
pub fn default_lr(optimizer: &str) -> f64 {
    match optimizer {
        "prodigy" | "dadapt_adamw" => 1.0,
        _ => 1e-3,
    }
}

/// The parameter groups the flags describe (values checked finite).
pub fn groups_plan(a: &Recipe) -> Result<GroupsPlan, Failure> {
    // A rule without weight decay (yogi, adabelief, adopt, sm3, …) has none to take off the biases.
    let decays = registry::default_kwargs(&a.optimizer).map_or(true, |d| d.contains_key("weight_decay"));
    if a.no_decay_bias && !decays {
        return Err(Failure(format!("--no-decay-bias: {} has no weight decay to turn off", a.optimizer)));
    }
    if let Some(x) = a.layer_lr_decay {
        check::number("--layer-lr-decay", x, "a positive number", |x| x > 0.0)?;
    }
    let param_groups = match &a.param_groups {
        None => Vec::new(),
        Some(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(groups)) => groups
                .into_iter()
                .map(|g| match g {
                    Value::Object(m) => {
                        check::finite_kwargs("--param-groups", &m)?;
                        Ok(m)
                    }
                    _ => Err(Failure("--param-groups: every group must be a JSON object".into())),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(Failure(format!("--param-groups must be a JSON list of groups, got {s}"))),
        },
    };
    Ok(GroupsPlan {
        no_decay_bias: a.no_decay_bias,
        freeze: a.freeze.clone(),
        layer_lr_decay: a.layer_lr_decay,
        param_groups,
    })
}

/// The optimizer keyword arguments the flags describe (their values already checked finite).
pub fn optimizer_kwargs(a: &Recipe) -> Result<Map<String, Value>, Failure> {
    let mut m = match &a.optimizer_args {
        Some(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => m,
            _ => return Err(Failure(format!("--optimizer-args must be a JSON object, got {s}"))),
        },
        None => Map::new(),
    };
    check::finite_kwargs("--optimizer-args", &m)?;
    m.insert("name".into(), a.optimizer.clone().into());
    m.insert("lr".into(), check::hyperparameter("--lr", "lr", a.lr())?.into());
    if let Some(mu) = a.momentum {
        let mu = check::hyperparameter("--momentum", "momentum", mu)?;
        // Rules with betas take --momentum as betas[0] and keep betas[1] (given, or the default).
        let defaults = registry::default_kwargs(&a.optimizer).unwrap_or_default();
        match defaults.get("betas").and_then(|b| b.get(1)).and_then(Value::as_f64) {
            Some(b2) => {
                let b2 = m.get("betas").and_then(|b| b.get(1)).and_then(Value::as_f64).unwrap_or(b2);
                m.insert("betas".into(), serde_json::json!([mu, b2]));
            }
            None => {
                m.insert("momentum".into(), mu.into());
            }
        }
    }
    if let Some(wd) = a.weight_decay {
        m.insert("weight_decay".into(), check::hyperparameter("--weight-decay", "weight_decay", wd)?.into());
    }
    if a.nesterov {
        m.insert("nesterov".into(), true.into());
    }
    Ok(m)
}

/// The flags each of the core's hyperparameter names comes from (the rest: --optimizer-args).
const HYPERPARAMETER_FLAGS: [(&str, &str); 7] = [
    ("lr", "--lr"),
    ("adafactor.lr", "--lr"),
    ("momentum", "--momentum"),
    ("betas[0]", "--momentum"),
    ("weight_decay", "--weight-decay"),
    ("adafactor.weight_decay", "--weight-decay"),
    ("nesterov", "--nesterov"),
];

/// Training options from the flags, every value checked.
pub fn options(a: &Recipe, epochs: usize) -> Result<TrainOptions, Failure> {
    check::count("--epochs", epochs, 1, MAX_EPOCHS)?;
    check::count("--accumulate", a.accumulate, 1, usize::MAX)?;
    check::number("--val-fraction", a.val_fraction, "in [0, 1)", |f| (0.0..1.0).contains(&f))?;
    if let Some(l) = a.limit {
        check::count("--limit", l, 1, usize::MAX)?;
    }
    if let Some(p) = a.patience {
        check::count("--patience", p, 1, MAX_EPOCHS)?;
    }
    check::count("--batch-size", a.batch_size, 1, usize::MAX)?;
    if a.hidden.is_empty() || a.hidden.contains(&0) {
        return Err(Failure("--hidden sizes must be positive".into()));
    }
    if let Some(c) = a.clip_norm {
        check::number("--clip-norm", c, "a positive number", |c| c > 0.0)?;
    }
    Ok(TrainOptions {
        optimizer: optimizer_kwargs(a)?,
        groups: groups_plan(a)?,
        epochs,
        batch_size: a.batch_size,
        hidden: a.hidden.clone(),
        activation: a.activation.parse::<Activation>().map_err(|e| Failure(format!("--activation: {e}")))?,
        init: a.init.parse::<Init>().map_err(|e| Failure(format!("--init: {e}")))?,
        clip_norm: a.clip_norm,
        accumulate: a.accumulate,
        seed: a.seed,
        patience: a.patience,
        schedule_per: if a.schedule_per == "batch" { SchedulePer::Batch } else { SchedulePer::Epoch },
        loss: crate::model::Loss::CrossEntropy,
        // Not part of the recipe: any thread count gives the same bits (set by the run).
        threads: 1,
    })
}

/// Loads the data set named by `--data` (or the default one, [`crate::data::mnist::default_dir`]).
pub fn load_data(dir: &Option<PathBuf>) -> Result<Mnist, Failure> {
    let dir = match dir {
        Some(d) => {
            check::not_empty("--data", d)?;
            d.clone()
        }
        None => crate::data::mnist::default_dir()?,
    };
    Mnist::load(&dir).map_err(|e| match dir_flag(dir.as_path()) {
        Some(flag) => Failure(format!("{flag}: {e}")),
        None => Failure(e.to_string()),
    })
}

/// `--data` when the user named `dir` (not the default data), for messages.
fn dir_flag(dir: &Path) -> Option<&'static str> {
    let default = crate::data::mnist::default_dir().ok();
    (default.as_deref() != Some(dir)).then_some("--data")
}

/// The terminal reporter: a progress bar over batches on a terminal, plain lines otherwise. With a
/// checkpoint file, it writes every new best checkpoint there as training goes; with a stop flag,
/// it stops training after the batch in which the flag is raised (Ctrl-C).
pub struct Report {
    bar: Option<ProgressBar>,
    epochs: usize,
    quiet: bool,
    prefix: String,
    save: Option<(PathBuf, Map<String, Value>)>,
    stop: Option<Arc<AtomicBool>>,
}

impl Report {
    /// A reporter for `epochs` epochs; `prefix` starts every line (e.g. the optimizer's name).
    pub fn new(epochs: usize, quiet: bool, prefix: &str) -> Self {
        Report { bar: None, epochs, quiet, prefix: prefix.to_string(), save: None, stop: None }
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
            say!("{}{}", self.prefix, line(r, self.epochs));
        }
    }
    fn improved(&mut self, best: &Checkpoint) -> Result<(), String> {
        match &self.save {
            Some((path, settings)) => {
                let c = Checkpoint { settings: settings.clone(), ..best.clone() };
                super::write_atomically(path, &c.to_bytes()).map_err(|Failure(e)| format!("--save: {e}"))
            }
            None => Ok(()),
        }
    }
    fn stop(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed))
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

/// The training examples of a run: the first `limit` of the training files, with a random
/// `val_fraction` of them, chosen by `seed`, moved to the end (see [`data_splits`]).
pub fn training_examples(
    data: &Mnist,
    limit: Option<usize>,
    val_fraction: f64,
    seed: u64,
) -> Result<Owned, Failure> {
    let (train, _) = splits(data);
    train
        .head(limit.unwrap_or(usize::MAX))
        .validation_last(val_fraction, seed)
        .map_err(|e| Failure(format!("--val-fraction: {e}")))
}

/// The splits of a run: `examples` of [`training_examples`] less the validation hold-out at their
/// end, the hold-out, and the test files.
pub fn data_splits<'a>(examples: &'a Owned, data: &'a Mnist, val_fraction: f64) -> Result<Data<'a>, Failure> {
    let (train, validation) =
        examples.split().hold_out(val_fraction).map_err(|e| Failure(format!("--val-fraction: {e}")))?;
    Ok(Data { train, validation, test: splits(data).1 })
}

/// Checks the numeric flags that are not part of the recipe.
fn check_run_flags(a: &Args) -> Result<(), Failure> {
    check::count("--threads", a.input.threads, 1, MAX_THREADS)?;
    check::count("--epochs", a.epochs, 1, MAX_EPOCHS)?;
    Ok(())
}

/// Builds the optimizer once up front, so a bad name or value fails before any work, blaming the
/// flag that set it (or, for a resumed run, the checkpoint).
fn probe(
    opts: &TrainOptions,
    recipe: &Recipe,
    resume: Option<&Path>,
) -> Result<crate::registry::DynOptimizer<f32>, Failure> {
    // A model of the same depth, every width 2: the groups depend on the layers, not the widths.
    let tiny = Mlp::new(&vec![2; opts.hidden.len() + 2], opts.activation).map_err(Failure)?;
    let policy = descent_core::NonFinitePolicy::Propagate;
    // First without --param-groups, so that a refusal names the flag that set the value; then
    // with them, so that theirs names --param-groups.
    let conventions = GroupsPlan { param_groups: Vec::new(), ..opts.groups.clone() };
    let opt = build_for_mlp(&tiny, &opts.optimizer, &conventions, policy).map_err(|e| match (resume, e) {
        (Some(p), e) => Failure(format!("--resume {}: {e}", p.display())),
        // The group conventions name their flag themselves.
        (None, BuildError::Spec(m)) if m.starts_with("--") => Failure(m),
        (None, e) => {
            let rest = if recipe.optimizer_args.is_some() { "--optimizer-args" } else { "--optimizer" };
            check::attribute(e, &HYPERPARAMETER_FLAGS, rest)
        }
    })?;
    if opts.groups.param_groups.is_empty() {
        return Ok(opt);
    }
    build_for_mlp(&tiny, &opts.optimizer, &opts.groups, policy).map_err(|e| match (resume, e) {
        (Some(p), e) => Failure(format!("--resume {}: {e}", p.display())),
        (None, BuildError::Spec(m)) if m.starts_with("--") => Failure(m),
        (None, e) => Failure(format!("--param-groups: {e}")),
    })
}

/// The schedule `--scheduler` describes, built before any work so a bad one fails first.
fn schedule(
    r: &Recipe,
    probe: &dyn descent_core::Optimizer<f32>,
) -> Result<Option<Box<dyn crate::train::LrControl>>, Failure> {
    match &r.scheduler {
        Some(s) => {
            check::finite_kwargs("--scheduler", &crate::named::parse("--scheduler", s).map_err(Failure)?)?;
            Ok(Some(
                crate::schedule_spec::for_training(s, &base_lrs(probe), probe.momentum().is_some())
                    .map_err(|e| Failure(format!("--scheduler: {e}")))?,
            ))
        }
        None => Ok(None),
    }
}

/// Every parameter group's learning rate (PyTorch's `base_lrs`).
fn base_lrs(opt: &dyn descent_core::Optimizer<f32>) -> Vec<f64> {
    (0..opt.groups()).filter_map(|g| opt.group_lr(g).ok()).collect()
}

/// The four data files of the MNIST directory `dir`, raw and gzipped: inputs no output may name.
fn data_files(dir: &Path) -> Vec<PathBuf> {
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
        .iter()
        .flat_map(|f| [dir.join(f), dir.join(format!("{f}.gz"))])
        .collect()
}

/// Raises the returned flag on Ctrl-C (SIGINT), once: training then stops after the current
/// batch and saves; a second Ctrl-C is left to its default (it ends the process).
fn on_interrupt() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let raised = flag.clone();
    // If a handler cannot be installed (one already is), Ctrl-C keeps its default.
    let _ = ctrlc::set_handler(move || {
        if raised.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
    });
    flag
}

/// Runs `descent train`.
pub fn run(a: Args) -> Result<(), Failure> {
    check_run_flags(&a)?;
    if let Some(p) = &a.resume {
        check::not_empty("--resume", p)?;
    }
    let resumed = match &a.resume {
        Some(path) => Some(Checkpoint::load(path).map_err(|e| Failure(format!("--resume: {e}")))?),
        None => None,
    };
    let recipe = match &resumed {
        Some(c) => serde_json::from_value::<Recipe>(Value::Object(c.settings.clone())).map_err(|e| {
            Failure(format!(
                "--resume {}: no training settings in this checkpoint ({e})",
                a.resume.as_deref().unwrap_or(Path::new("")).display()
            ))
        })?,
        None => {
            // The lr the run uses, saved as a number, so that --resume repeats it.
            let mut r = a.recipe.clone();
            r.lr = Some(r.lr());
            r
        }
    };
    let opts = match (options(&recipe, a.epochs), &a.resume) {
        (Err(Failure(e)), Some(p)) if !e.starts_with("--epochs") => {
            return Err(Failure(format!("--resume {}: {e}", p.display())));
        }
        (o, _) => TrainOptions { threads: a.input.threads, ..o? },
    };
    let probe = probe(&opts, &recipe, a.resume.as_deref())?;
    let mut schedule = schedule(&recipe, probe.as_ref())?;
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
    let outputs: Vec<(&str, &Path)> = [("--history", &a.history), ("--save", &a.save)]
        .into_iter()
        .filter_map(|(f, p)| Some((f, p.as_deref()?)))
        .collect();
    check::distinct(&outputs, &[])?;
    // --save may replace the checkpoint it resumes from (atomically, by a later one of the run).
    if let (Some(h), Some(r)) = (&a.history, &a.resume) {
        check::distinct(&[("--history", h)], &[("--resume", r)])?;
    }
    let data_dir = match &a.input.data {
        Some(d) => Some(d.clone()),
        None => crate::data::mnist::default_dir().ok(),
    };
    if let Some(dir) = &data_dir {
        let files = data_files(dir);
        let inputs: Vec<(&str, &Path)> = files.iter().map(|f| ("--data", f.as_path())).collect();
        check::distinct(&outputs, &inputs)?;
    }
    let mnist = load_data(&a.input.data)?;
    let examples = training_examples(&mnist, recipe.limit, recipe.val_fraction, recipe.seed)?;
    let data = data_splits(&examples, &mnist, recipe.val_fraction)?;
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
            Start::from_checkpoint(c).map_err(|e| Failure(format!("--resume: {e}")))?
        }
        None => {
            // Everything the run allocates, checked at once before any of it is (so a model that
            // does not fit is refused in a moment, not after filling the memory).
            let mut sizes = vec![inputs];
            sizes.extend(&opts.hidden);
            sizes.push(10);
            let largest = [data.train.n, data.test.n, data.validation.map_or(0, |v| v.n)].into_iter().max();
            let needed = crate::train::memory_needed(
                &opts,
                &sizes,
                probe.state_len().div_ceil(probe.len().max(1)).max(1),
                largest.unwrap_or(1),
            );
            crate::memory::check::<f32>(
                needed,
                &format!(
                    "--hidden: a {} model and its buffers",
                    sizes.iter().map(ToString::to_string).collect::<Vec<_>>().join("-")
                ),
            )
            .map_err(Failure)?;
            Start::fresh(inputs, 10, &opts).map_err(|e| Failure(format!("--hidden: {e}")))?
        }
    };
    if start.model.inputs() != inputs {
        return Err(Failure(format!(
            "the model takes {} inputs, the images have {inputs} pixels",
            start.model.inputs()
        )));
    }
    if !a.quiet {
        let sizes: Vec<String> = start.model.sizes().iter().map(ToString::to_string).collect();
        say!(
            "descent train: {} train / {}{} test images, MLP {} {}, {} lr {}, batch {}, {} epochs{}, {} thread(s)",
            data.train.n,
            data.validation.map_or(String::new(), |v| format!("{} validation / ", v.n)),
            data.test.n,
            sizes.join("-"),
            recipe.activation,
            recipe.optimizer,
            recipe.lr(),
            recipe.batch_size,
            a.epochs,
            if start.epoch > 0 { format!(" (resuming after epoch {})", start.epoch) } else { String::new() },
            a.input.threads
        );
        say!(
            "selecting the best epoch on the {}; the test set is only reported",
            if data.validation.is_some() {
                "validation loss (seeded hold-out, --val-fraction)"
            } else {
                "training loss (no --val-fraction)"
            }
        );
    }
    let mut settings = match serde_json::to_value(&recipe)? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    settings.insert("train_examples".into(), data.train.n.into());
    let first_epoch = start.epoch;
    let mut report = Report::new(a.epochs, a.quiet, "");
    report.save = a.save.clone().map(|p| (p, settings.clone()));
    report.stop = Some(on_interrupt());
    let schedule_ref = schedule.as_mut().map(|s| s.as_mut() as &mut dyn crate::train::LrControl);
    let t = crate::train::run(start, data, &opts, schedule_ref, &mut report).map_err(Failure)?;
    let mut staged = Staged::default();
    if let Some(path) = &a.history {
        staged.write(path, serde_json::to_string_pretty(&t.history)?.as_bytes())?;
    }
    if let Some(path) = &a.save {
        let best = Checkpoint { settings, ..t.best.clone() };
        staged.write(path, &best.to_bytes())?;
    }
    staged.commit()?;
    if let Some(epoch) = t.interrupted {
        let resume = match &a.save {
            Some(p) => format!(
                "; the best checkpoint (epoch {}) is in {}: continue with --resume {} --epochs {}",
                t.best.epoch,
                p.display(),
                p.display(),
                a.epochs
            ),
            None => String::new(),
        };
        super::complain(&format!("interrupted in epoch {epoch}, which is dropped{resume}"));
        std::process::exit(130);
    }
    if !a.quiet {
        summary(&t, first_epoch);
    }
    Ok(())
}

/// The last line: the final test accuracy, the selected epoch and its test accuracy, and the mean
/// training seconds of the epochs this invocation ran (not those of a resumed checkpoint).
fn summary(t: &crate::train::Trained, first_epoch: usize) {
    let last = t.history.epochs.last();
    let best = t.history.epochs.iter().find(|r| r.epoch == t.best.epoch);
    let ran: Vec<f64> =
        t.history.epochs.iter().filter(|r| r.epoch > first_epoch).map(|r| r.seconds).collect();
    let secs = ran.iter().sum::<f64>() / ran.len().max(1) as f64;
    if let Some(l) = last {
        let selected = match best {
            Some(b) => format!("selected epoch {} (test accuracy {:.2}%)", b.epoch, b.test_accuracy),
            None => format!("no epoch improved on epoch {}", t.best.epoch),
        };
        say!(
            "final test accuracy {:.2}%, {selected}, {:.3} s per epoch{}",
            l.test_accuracy,
            secs,
            if t.stopped_early { ", stopped early" } else { "" }
        );
    }
}
