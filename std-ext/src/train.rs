//! The training loop: mini-batches through an [`Mlp`] with any optimizer of the core (built by
//! name), an optional learning-rate schedule stepped per batch or per epoch, global-norm clipping,
//! gradient accumulation, early stopping with patience and the best checkpoint kept. The same
//! seed gives a bit-identical history (the timing column aside).

use crate::checkpoint::Checkpoint;
use crate::model::{Activation, BatchStats, Init, Loss, Mlp, Targets};
use crate::registry::{self, DynOptimizer};
use descent_core::accumulate::{AccumulateMode, Accumulated, Accumulator};
use descent_core::clip::{self, NormType};
use descent_core::{NonFinitePolicy, Optimizer, StepOutcome};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Instant;

/// A labelled data set for classification: `n` rows of `inputs` features and a class each.
#[derive(Debug, Clone, Copy)]
pub struct Split<'a> {
    /// Features, `n × inputs`, row-major.
    pub x: &'a [f32],
    /// Classes (cross-entropy) — empty when `values` is used.
    pub y: &'a [u8],
    /// Regression targets, `n × outputs` (MSE) — empty for classification.
    pub values: &'a [f32],
    /// Number of examples.
    pub n: usize,
}

/// When the schedule advances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchedulePer {
    /// After every optimizer step.
    Batch,
    /// After every epoch (with the test loss as the metric for reduce-on-plateau).
    Epoch,
}

/// Something that sets the optimizer's learning rate (and momentum) as training goes.
pub trait Schedule {
    /// Called once before training starts (step 0).
    fn start(&mut self, opt: &mut dyn Optimizer<f32>) -> Result<(), String>;
    /// Called after each step (per batch) or epoch (per epoch); `metric` is the epoch's test loss
    /// when advancing per epoch.
    fn advance(&mut self, opt: &mut dyn Optimizer<f32>, metric: Option<f64>) -> Result<(), String>;
}

/// Everything `descent train` can be told.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The optimizer: `{"name": "adam", "lr": 0.001, ...}` with PyTorch's keyword names.
    pub optimizer: Map<String, Value>,
    /// Passes over the training data.
    pub epochs: usize,
    /// Examples per micro-batch.
    pub batch_size: usize,
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Hidden activation.
    pub activation: Activation,
    /// Weight initialization.
    pub init: Init,
    /// Loss.
    pub loss: Loss,
    /// Clip the global 2-norm of the gradient to this value before each step.
    pub clip_norm: Option<f64>,
    /// Micro-batches per optimizer step.
    pub accumulate: usize,
    /// Seed for initialization and shuffling.
    pub seed: u64,
    /// Stop after this many epochs without a better test loss.
    pub patience: Option<usize>,
    /// When the schedule advances.
    pub schedule_per: SchedulePer,
}

impl Default for TrainOptions {
    /// The seeds' defaults: 784-128-10 ReLU, batch 128, Adam, lr 1e-3, 5 epochs.
    fn default() -> Self {
        let mut optimizer = Map::new();
        optimizer.insert("name".into(), "adam".into());
        optimizer.insert("lr".into(), 1e-3.into());
        TrainOptions {
            optimizer,
            epochs: 5,
            batch_size: 128,
            hidden: vec![128],
            activation: Activation::Relu,
            init: Init::He,
            loss: Loss::CrossEntropy,
            clip_norm: None,
            accumulate: 1,
            seed: 0,
            patience: None,
            schedule_per: SchedulePer::Batch,
        }
    }
}

/// One row of the history file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (as trained, before each step).
    pub train_loss: f64,
    /// Training accuracy in percent (as trained).
    pub train_accuracy: f64,
    /// Test loss after the epoch.
    pub test_loss: f64,
    /// Test accuracy in percent after the epoch.
    pub test_accuracy: f64,
    /// Learning rate of the epoch's last step.
    pub lr: f64,
    /// Mean global gradient 2-norm of the epoch's steps (before clipping).
    pub grad_norm: f64,
    /// Seconds of training (not evaluation) in the epoch.
    pub seconds: f64,
}

/// The history file: `{"epochs": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per epoch.
    pub epochs: Vec<EpochRecord>,
}

/// Progress reports during training.
pub trait Observer {
    /// A new epoch with `batches` batches starts.
    fn epoch_start(&mut self, _epoch: usize, _batches: usize) {}
    /// A batch finished.
    fn batch_done(&mut self, _loss: f64) {}
    /// An epoch finished.
    fn epoch_done(&mut self, _record: &EpochRecord) {}
}

/// An observer that reports nothing.
pub struct Silent;
impl Observer for Silent {}

/// What training produced.
#[derive(Debug)]
pub struct Trained {
    /// The model's structure.
    pub model: Mlp,
    /// Final parameters.
    pub params: Vec<f32>,
    /// The checkpoint of the epoch with the best test loss.
    pub best: Checkpoint,
    /// Per-epoch history.
    pub history: History,
    /// Whether early stopping ended training.
    pub stopped_early: bool,
}

/// Trains from scratch.
pub fn train(
    train: Split<'_>,
    test: Split<'_>,
    inputs: usize,
    outputs: usize,
    opts: &TrainOptions,
    schedule: Option<&mut dyn Schedule>,
    observer: &mut dyn Observer,
) -> Result<Trained, String> {
    if opts.batch_size == 0 {
        return Err("batch size must be at least 1".into());
    }
    if opts.accumulate == 0 {
        return Err("accumulate must be at least 1".into());
    }
    if train.n == 0 {
        return Err("the training set is empty".into());
    }
    let mut sizes = vec![inputs];
    sizes.extend(&opts.hidden);
    sizes.push(outputs);
    let model = Mlp::new(&sizes, opts.activation)?;
    let params = model.init_params(opts.init, opts.seed);
    let n = model.num_params();
    let opt = registry::build::<f32>(&opts.optimizer, &[n], n, NonFinitePolicy::Error)
        .map_err(|e| e.to_string())?;
    run(model, params, opt, train, test, opts, schedule, observer, 0)
}

/// Evaluates mean loss and accuracy (percent) on a split.
pub fn evaluate(model: &Mlp, params: &[f32], data: Split<'_>, loss: Loss, batch: usize) -> (f64, f64) {
    let mut ws = model.workspace(batch);
    let mut total = BatchStats::default();
    let (inp, out) = (model.inputs(), model.outputs());
    for start in (0..data.n).step_by(batch.max(1)) {
        let b = batch.min(data.n - start);
        let x = &data.x[start * inp..(start + b) * inp];
        let t = targets(data, start, b, out, loss);
        let s = model.evaluate(params, x, t, b, loss, &mut ws);
        total.loss_sum += s.loss_sum;
        total.correct += s.correct;
        total.count += s.count;
    }
    let c = total.count.max(1) as f64;
    (total.loss_sum / c, 100.0 * total.correct as f64 / c)
}

fn targets<'a>(data: Split<'a>, start: usize, b: usize, outputs: usize, loss: Loss) -> Targets<'a> {
    match loss {
        Loss::CrossEntropy => Targets::Classes(&data.y[start..start + b]),
        Loss::Mse => Targets::Values(&data.values[start * outputs..(start + b) * outputs]),
    }
}

/// The training loop proper, from given parameters and optimizer (epochs counted from `first_epoch`).
#[allow(clippy::too_many_arguments)]
pub fn run(
    model: Mlp,
    mut params: Vec<f32>,
    mut opt: DynOptimizer<f32>,
    train: Split<'_>,
    test: Split<'_>,
    opts: &TrainOptions,
    mut schedule: Option<&mut dyn Schedule>,
    observer: &mut dyn Observer,
    first_epoch: usize,
) -> Result<Trained, String> {
    let (inp, out, np) = (model.inputs(), model.outputs(), model.num_params());
    if train.x.len() != train.n * inp || test.x.len() != test.n * inp {
        return Err(format!(
            "data has {} features per example, the model expects {inp}",
            train.x.len() / train.n.max(1)
        ));
    }
    if let Some(s) = schedule.as_deref_mut() {
        s.start(opt.as_mut())?;
    }
    let b = opts.batch_size;
    let mut ws = model.workspace(b);
    let mut grad = vec![0.0f32; np];
    let mut acc = Accumulator::from_storage(
        crate::registry::HeapState(vec![0.0f32; np]),
        np,
        opts.accumulate,
        AccumulateMode::SumThenScale,
    )
    .map_err(|e| e.to_string())?;
    let mut xb = vec![0.0f32; b * inp];
    let mut yb = vec![0u8; b];
    let mut vb = vec![0.0f32; b * out];
    let mut history = History::default();
    let (mut best_loss, mut since_best) = (f64::INFINITY, 0usize);
    let mut best = Checkpoint::new(&model, &params, opt.as_ref(), &opts.optimizer, first_epoch)
        .map_err(|e| e.to_string())?;
    let mut stopped_early = false;
    let batches = train.n.div_ceil(b);
    for epoch in first_epoch + 1..=first_epoch + opts.epochs {
        let mut order: Vec<usize> = (0..train.n).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(
            opts.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        ));
        observer.epoch_start(epoch, batches);
        let t0 = Instant::now();
        let mut stats = BatchStats::default();
        let (mut norm_sum, mut steps) = (0.0f64, 0usize);
        acc.reset();
        for chunk in order.chunks(b) {
            let bs = chunk.len();
            for (k, &i) in chunk.iter().enumerate() {
                xb[k * inp..(k + 1) * inp].copy_from_slice(&train.x[i * inp..(i + 1) * inp]);
                match opts.loss {
                    Loss::CrossEntropy => yb[k] = train.y[i],
                    Loss::Mse => {
                        vb[k * out..(k + 1) * out].copy_from_slice(&train.values[i * out..(i + 1) * out])
                    }
                }
            }
            let t = match opts.loss {
                Loss::CrossEntropy => Targets::Classes(&yb[..bs]),
                Loss::Mse => Targets::Values(&vb[..bs * out]),
            };
            let s = model.loss_and_grad(&params, &xb[..bs * inp], t, bs, opts.loss, &mut ws, &mut grad);
            stats.loss_sum += s.loss_sum;
            stats.correct += s.correct;
            stats.count += s.count;
            observer.batch_done(s.loss_sum / bs as f64);
            let g: &mut [f32] = if opts.accumulate > 1 {
                match acc.push(&grad).map_err(|e| e.to_string())? {
                    Accumulated::Pending { .. } => continue,
                    Accumulated::Ready => {
                        grad.copy_from_slice(acc.gradient().unwrap_or(&[]));
                        &mut grad
                    }
                }
            } else {
                &mut grad
            };
            let norm = match opts.clip_norm {
                Some(max) => clip::clip_grad_norm(&mut [&mut *g], max, NormType::L2, false)
                    .map_err(|e| e.to_string())?,
                None => clip::total_norm::<f32, _>(&[&*g], NormType::L2),
            };
            norm_sum += f64::from(norm);
            steps += 1;
            match opt.step(&mut params, g) {
                Ok(StepOutcome::Stepped) => {}
                Ok(StepOutcome::Skipped { .. }) => {}
                Err(e) => {
                    return Err(format!(
                        "epoch {epoch}: {e} (training diverged; try a smaller learning rate)"
                    ));
                }
            }
            if opts.schedule_per == SchedulePer::Batch
                && let Some(s) = schedule.as_deref_mut()
            {
                s.advance(opt.as_mut(), None)?;
            }
        }
        let seconds = t0.elapsed().as_secs_f64();
        let lr_used = opt.lr();
        let (test_loss, test_accuracy) = evaluate(&model, &params, test, opts.loss, b);
        if opts.schedule_per == SchedulePer::Epoch
            && let Some(s) = schedule.as_deref_mut()
        {
            s.advance(opt.as_mut(), Some(test_loss))?;
        }
        let c = stats.count.max(1) as f64;
        let record = EpochRecord {
            epoch,
            train_loss: stats.loss_sum / c,
            train_accuracy: 100.0 * stats.correct as f64 / c,
            test_loss,
            test_accuracy,
            lr: lr_used,
            grad_norm: if steps > 0 { norm_sum / steps as f64 } else { 0.0 },
            seconds,
        };
        observer.epoch_done(&record);
        history.epochs.push(record);
        if test_loss < best_loss {
            best_loss = test_loss;
            since_best = 0;
            best = Checkpoint::new(&model, &params, opt.as_ref(), &opts.optimizer, epoch)
                .map_err(|e| e.to_string())?;
        } else {
            since_best += 1;
            if opts.patience.is_some_and(|p| since_best >= p) {
                stopped_early = true;
                break;
            }
        }
    }
    Ok(Trained { model, params, best, history, stopped_early })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;

    /// Three Gaussian-ish blobs in 4-D, deterministic.
    fn blobs(n: usize, seed: u64) -> (Vec<f32>, Vec<u8>) {
        let v = crate::train::tests::noise(seed, n * 4);
        let mut x = Vec::with_capacity(n * 4);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let c = (i % 3) as u8;
            for d in 0..4 {
                let centre = if d == c as usize { 2.0 } else { 0.0 };
                x.push(centre + v[i * 4 + d]);
            }
            y.push(c);
        }
        (x, y)
    }

    pub(crate) fn noise(seed: u64, n: usize) -> Vec<f32> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 1.5
            })
            .collect()
    }

    fn opts() -> TrainOptions {
        TrainOptions { hidden: vec![16], batch_size: 32, epochs: 4, seed: 5, ..TrainOptions::default() }
    }

    fn no_time(h: &History) -> Vec<EpochRecord> {
        h.epochs.iter().map(|r| EpochRecord { seconds: 0.0, ..r.clone() }).collect()
    }

    #[test]
    fn training_learns_and_the_same_seed_gives_the_same_history() {
        let (x, y) = blobs(600, 1);
        let (tx, ty) = blobs(300, 2);
        let tr = Split { x: &x, y: &y, values: &[], n: 600 };
        let te = Split { x: &tx, y: &ty, values: &[], n: 300 };
        let mut o = opts();
        o.optimizer.insert("lr".into(), 1e-2.into());
        let a = train(tr, te, 4, 3, &o, None, &mut Silent).unwrap();
        let b = train(tr, te, 4, 3, &o, None, &mut Silent).unwrap();
        assert_eq!(no_time(&a.history), no_time(&b.history));
        assert_eq!(a.params, b.params);
        let last = a.history.epochs.last().unwrap();
        assert!(last.test_accuracy > 90.0, "{last:?}");
        assert!(a.history.epochs[0].train_loss > last.train_loss);
        o.seed = 6;
        let c = train(tr, te, 4, 3, &o, None, &mut Silent).unwrap();
        assert_ne!(a.params, c.params);
    }

    #[test]
    fn resuming_from_a_checkpoint_continues_bit_identically() {
        let (x, y) = blobs(300, 3);
        let tr = Split { x: &x, y: &y, values: &[], n: 300 };
        let mut o = opts();
        o.accumulate = 2;
        o.clip_norm = Some(0.5);
        let straight = train(tr, tr, 4, 3, &o, None, &mut Silent).unwrap();
        let mut first = o.clone();
        first.epochs = 2;
        let half = train(tr, tr, 4, 3, &first, None, &mut Silent).unwrap();
        // Round-trip the final checkpoint through bytes, then continue two epochs.
        let bytes = half_checkpoint(&half).to_bytes();
        let (model, params, opt) = Checkpoint::from_bytes(&bytes).unwrap().restore().unwrap();
        let mut rest = o.clone();
        rest.epochs = 2;
        let resumed = run(model, params, opt, tr, tr, &rest, None, &mut Silent, 2).unwrap();
        assert_eq!(resumed.params, straight.params);
        assert_eq!(no_time(&resumed.history), no_time(&straight.history)[2..].to_vec());
        let mut bad = bytes.clone();
        bad[20] ^= 1;
        assert!(Checkpoint::from_bytes(&bad).is_err());
        assert!(Checkpoint::from_bytes(&bytes[..bytes.len() - 3]).is_err());
    }

    /// The checkpoint of the final state of a run: with a test set equal to the training set and a
    /// still-falling loss, the best epoch is the last one.
    fn half_checkpoint(t: &Trained) -> Checkpoint {
        assert_eq!(t.best.epoch, t.history.epochs.len());
        t.best.clone()
    }

    #[test]
    fn early_stopping_stops_after_patience_epochs_without_improvement() {
        let (x, y) = blobs(90, 4);
        let (tx, ty) = blobs(90, 5);
        let mut o = opts();
        o.epochs = 50;
        o.patience = Some(2);
        o.optimizer.insert("lr".into(), 0.5.into());
        let t = train(
            Split { x: &x, y: &y, values: &[], n: 90 },
            Split { x: &tx, y: &ty, values: &[], n: 90 },
            4,
            3,
            &o,
            None,
            &mut Silent,
        )
        .unwrap();
        assert!(t.stopped_early);
        let best = t.history.epochs.iter().map(|r| r.test_loss).fold(f64::INFINITY, f64::min);
        let tail = &t.history.epochs[t.history.epochs.len() - 2..];
        assert!(tail.iter().all(|r| r.test_loss >= best));
        assert_eq!(t.best.epoch, t.history.epochs.len() - 2);
    }

    #[test]
    fn bad_options_are_refused() {
        let (x, y) = blobs(30, 4);
        let s = Split { x: &x, y: &y, values: &[], n: 30 };
        let mut o = opts();
        o.batch_size = 0;
        assert!(train(s, s, 4, 3, &o, None, &mut Silent).is_err());
        let mut o = opts();
        o.optimizer.insert("name".into(), "adamz".into());
        assert!(train(s, s, 4, 3, &o, None, &mut Silent).unwrap_err().contains("unknown optimizer"));
        let mut o = opts();
        o.optimizer.insert("lr".into(), (-1.0).into());
        assert_eq!(train(s, s, 4, 3, &o, None, &mut Silent).unwrap_err(), "Invalid learning rate: -1.0");
    }
}
