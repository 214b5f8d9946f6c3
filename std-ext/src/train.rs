//! The training loop: mini-batches through an [`Mlp`] with any optimizer of the core (built by
//! name), an optional learning-rate schedule stepped per batch or per epoch, global-norm clipping,
//! gradient accumulation, early stopping with patience and the best checkpoint kept. The same
//! seed gives a bit-identical history (the timing column aside), and a run resumed from its best
//! checkpoint ([`Start::from_checkpoint`]) continues exactly as the uninterrupted run did.
//!
//! Model selection (early stopping, the best checkpoint, reduce-on-plateau's metric) uses the
//! validation loss when [`Data::validation`] is given, and the epoch's training loss otherwise:
//! never the test split, which is only reported.
//!
//! An [`Observer`] sees every batch and epoch, is handed each new best checkpoint (so it can be
//! written as the run goes, and an interrupted run resumed), and can stop the run after any batch.

use crate::batches::Batches;
use crate::checkpoint::Checkpoint;
pub use crate::history::{EpochRecord, History};
use crate::model::{Activation, BatchStats, Init, Loss, Mlp, Targets};
use crate::param_groups::{GroupsPlan, build_for_mlp};
use crate::registry::{DynOptimizer, HeapState};
pub use crate::split::{Data, Split};
use descent_core::accumulate::{AccumulateMode, Accumulated, Accumulator};
use descent_core::clip::{self, NormType};
use descent_core::{NonFinitePolicy, Optimizer, StepOutcome};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Instant;

/// When the schedule advances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchedulePer {
    /// After every optimizer step.
    Batch,
    /// After every epoch (with the selection loss as the metric for reduce-on-plateau).
    Epoch,
}

/// What sets the optimizer's learning rate (and momentum) as training goes: the training loop
/// calls it (a [`crate::schedule_spec::TrainingSchedule`] built from `--scheduler`; core's
/// [`descent_core::schedule::Schedule`] is a formula of the step count, not this).
pub trait LrControl {
    /// Called once before training starts (and again when a run resumes, after
    /// [`LrControl::restore`]): applies the values in force.
    fn start(&mut self, opt: &mut dyn Optimizer<f32>) -> Result<(), String>;
    /// Called after each step (per batch) or epoch (per epoch); `metric` is the epoch's
    /// selection loss when advancing per epoch.
    fn advance(&mut self, opt: &mut dyn Optimizer<f32>, metric: Option<f64>) -> Result<(), String>;
    /// The schedule's state as bytes, for checkpoints (empty: nothing to save).
    fn save(&self) -> Vec<u8> {
        Vec::new()
    }
    /// Restores what [`LrControl::save`] wrote; refuses anything else and then changes nothing.
    fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        if bytes.is_empty() { Ok(()) } else { Err("this schedule keeps no state to restore".into()) }
    }
}

/// Everything `descent train` can be told.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The optimizer: `{"name": "adam", "lr": 0.001, ...}` with PyTorch's keyword names.
    pub optimizer: Map<String, Value>,
    /// The parameter groups of the MLP's tensors ([`crate::param_groups`]; empty: one group).
    pub groups: GroupsPlan,
    /// Epochs in total (a resumed run continues up to this epoch).
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
    /// Micro-batches per optimizer step. An epoch whose micro-batch count is not a multiple
    /// steps once more with the r left over, averaged over r (PyTorch users scale that last
    /// group's loss by 1/r), so no gradient is dropped.
    pub accumulate: usize,
    /// Seed for initialization and shuffling.
    pub seed: u64,
    /// Stop after this many epochs without a better selection loss.
    pub patience: Option<usize>,
    /// When the schedule advances.
    pub schedule_per: SchedulePer,
    /// Threads for the matrix products (the results are the same bits at every count).
    pub threads: usize,
}

impl Default for TrainOptions {
    /// The defaults: 784-128-10 ReLU, batch 128, Adam, lr 1e-3, 5 epochs.
    fn default() -> Self {
        let mut optimizer = Map::new();
        optimizer.insert("name".into(), "adam".into());
        optimizer.insert("lr".into(), 1e-3.into());
        TrainOptions {
            optimizer,
            groups: GroupsPlan::default(),
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
            threads: 1,
        }
    }
}

/// Progress reports during training.
pub trait Observer {
    /// A new epoch with `batches` batches starts.
    fn epoch_start(&mut self, _epoch: usize, _batches: usize) {}
    /// A batch finished.
    fn batch_done(&mut self, _loss: f64) {}
    /// An epoch finished.
    fn epoch_done(&mut self, _record: &EpochRecord) {}
    /// An epoch improved on the best selection loss: `best` is its checkpoint (history included).
    /// An error stops training.
    fn improved(&mut self, _best: &Checkpoint) -> Result<(), String> {
        Ok(())
    }
    /// Asked after every batch: `true` stops training there (the unfinished epoch is dropped;
    /// the best checkpoint and the history are those of the epochs finished).
    fn stop(&self) -> bool {
        false
    }
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
    /// The checkpoint of the epoch with the best selection loss.
    pub best: Checkpoint,
    /// Per-epoch history (a resumed run's includes the epochs before the checkpoint).
    pub history: History,
    /// Whether early stopping ended training.
    pub stopped_early: bool,
    /// The epoch the observer stopped (unfinished, so not in the history), if it did.
    pub interrupted: Option<usize>,
}

/// Where a run starts: fresh parameters, or a checkpoint's state.
pub struct Start {
    /// The model's structure.
    pub model: Mlp,
    /// Parameters.
    pub params: Vec<f32>,
    /// The optimizer, with its state.
    pub opt: DynOptimizer<f32>,
    /// Epochs already done.
    pub epoch: usize,
    /// Their history.
    pub history: History,
    /// The best selection loss so far (infinity for a fresh run).
    pub best_metric: f64,
    /// Epochs since that best.
    pub since_best: usize,
    /// The schedule's saved state (empty for a fresh run).
    pub schedule: Vec<u8>,
}

impl Start {
    /// A fresh model for `inputs → hidden… → outputs`, initialized from `opts.seed`.
    pub fn fresh(inputs: usize, outputs: usize, opts: &TrainOptions) -> Result<Start, String> {
        let mut sizes = vec![inputs];
        sizes.extend(&opts.hidden);
        sizes.push(outputs);
        let model = Mlp::new(&sizes, opts.activation)?;
        let n = model.num_params();
        let opt = build_for_mlp(&model, &opts.optimizer, &opts.groups, NonFinitePolicy::Error)
            .map_err(|e| e.to_string())?;
        // Parameters and their gradient, before the model allocates them.
        crate::memory::check::<f32>(n.saturating_mul(2), &format!("a model of {n} parameters"))?;
        let params = model.init_params(opts.init, opts.seed);
        Ok(Start {
            model,
            params,
            opt,
            epoch: 0,
            history: History::default(),
            best_metric: f64::INFINITY,
            since_best: 0,
            schedule: Vec::new(),
        })
    }

    /// The state a checkpoint holds: continuing from it repeats what the saved run did next.
    pub fn from_checkpoint(c: &Checkpoint) -> Result<Start, String> {
        let (model, params, opt) = c.restore()?;
        Ok(Start {
            model,
            params,
            opt,
            epoch: c.epoch,
            history: c.history.clone(),
            best_metric: c.best_metric,
            since_best: 0,
            schedule: c.schedule.clone(),
        })
    }
}

/// Steps between Hessian estimates for an optimizer that takes them (Sophia's `update_period`,
/// default 10); `None` for the others.
fn hessian_period(optimizer: &Map<String, Value>) -> Option<u64> {
    if optimizer.get("name").and_then(Value::as_str) != Some("sophia") {
        return None;
    }
    let default = u64::from(descent_core::sophia::SophiaConfig::default().update_period);
    // As the builder reads it: an integer, or a float with an integral value.
    let given = optimizer.get("update_period").and_then(|v| {
        v.as_u64()
            .or_else(|| v.as_f64().filter(|f| *f >= 1.0 && f.fract() == 0.0 && *f < 1.8e19).map(|f| f as u64))
    });
    Some(given.unwrap_or(default).max(1))
}

/// The f32 values a run of `opts` over layer widths `sizes` allocates, with an optimizer keeping
/// `state_per_param` values per parameter and splits of at most `largest_split` examples:
/// parameters, gradient, optimizer state, accumulators, and the batch buffers (saturating, so an
/// absurd model gives an absurd number rather than an overflow).
pub fn memory_needed(
    opts: &TrainOptions,
    sizes: &[usize],
    state_per_param: usize,
    largest_split: usize,
) -> usize {
    let n =
        sizes.windows(2).fold(0usize, |a, w| a.saturating_add(w[0].saturating_add(1).saturating_mul(w[1])));
    let accumulators = if opts.accumulate > 1 { 2 } else { 0 };
    let per_param = 2usize.saturating_add(state_per_param).saturating_add(accumulators);
    let b = opts.batch_size.min(largest_split.max(1));
    let widest = sizes.iter().copied().max().unwrap_or(0);
    let rows = sizes
        .iter()
        .skip(1)
        .fold(0usize, |a, &w| a.saturating_add(w))
        .saturating_add(widest.saturating_mul(2));
    let batch = sizes
        .first()
        .copied()
        .unwrap_or(0)
        .saturating_add(rows)
        .saturating_add(sizes.last().copied().unwrap_or(0));
    n.saturating_mul(per_param).saturating_add(b.saturating_mul(batch))
}

/// Trains from scratch on `train`, reporting on `test` (no validation split: selection by the
/// training loss).
pub fn train(
    train: Split<'_>,
    test: Split<'_>,
    inputs: usize,
    outputs: usize,
    opts: &TrainOptions,
    schedule: Option<&mut dyn LrControl>,
    observer: &mut dyn Observer,
) -> Result<Trained, String> {
    train_on(Data { train, validation: None, test }, inputs, outputs, opts, schedule, observer)
}

/// Trains from scratch on `data`'s splits.
pub fn train_on(
    data: Data<'_>,
    inputs: usize,
    outputs: usize,
    opts: &TrainOptions,
    schedule: Option<&mut dyn LrControl>,
    observer: &mut dyn Observer,
) -> Result<Trained, String> {
    run(Start::fresh(inputs, outputs, opts)?, data, opts, schedule, observer)
}

fn check(opts: &TrainOptions, data: Data<'_>) -> Result<(), String> {
    if opts.batch_size == 0 {
        return Err("batch size must be at least 1".into());
    }
    if opts.accumulate == 0 {
        return Err("accumulate must be at least 1".into());
    }
    if data.train.n == 0 {
        return Err("the training set is empty".into());
    }
    Ok(())
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

/// Accumulators for the full groups of `k` micro-batches and for the `r` left over at the end of
/// an epoch (mean over r instead of k).
struct Groups {
    full: Accumulator<f32, HeapState<f32>>,
    tail: Option<Accumulator<f32, HeapState<f32>>>,
    /// Micro-batches that belong to full groups.
    in_full: usize,
}

impl Groups {
    fn new(np: usize, k: usize, batches: usize) -> Result<Groups, String> {
        let acc = |k| {
            Accumulator::from_storage(
                HeapState(crate::memory::zeroed(np, "gradient accumulator")?),
                np,
                k,
                AccumulateMode::SumThenScale,
            )
            .map_err(|e| e.to_string())
        };
        let r = batches % k;
        Ok(Groups { full: acc(k)?, tail: if r > 0 { Some(acc(r)?) } else { None }, in_full: batches - r })
    }
    /// Adds micro-batch `i` of the epoch; returns the averaged gradient when a group is complete.
    fn push(&mut self, i: usize, grad: &[f32]) -> Result<Option<&[f32]>, String> {
        let acc = match &mut self.tail {
            Some(t) if i >= self.in_full => t,
            _ => &mut self.full,
        };
        match acc.push(grad).map_err(|e| e.to_string())? {
            Accumulated::Pending { .. } => Ok(None),
            Accumulated::Ready => Ok(acc.gradient()),
        }
    }
    fn reset(&mut self) {
        self.full.reset();
        if let Some(t) = &mut self.tail {
            t.reset();
        }
    }
}

/// The training loop proper: from `start` up to epoch `opts.epochs`.
pub fn run(
    start: Start,
    data: Data<'_>,
    opts: &TrainOptions,
    mut schedule: Option<&mut dyn LrControl>,
    observer: &mut dyn Observer,
) -> Result<Trained, String> {
    check(opts, data)?;
    let Start {
        model,
        mut params,
        mut opt,
        epoch: first_epoch,
        mut history,
        mut best_metric,
        mut since_best,
        schedule: schedule_state,
    } = start;
    let (train, test) = (data.train, data.test);
    let (inp, out, np) = (model.inputs(), model.outputs(), model.num_params());
    let fits = |s: Split<'_>| s.x.len() == s.n * inp;
    if !fits(train) || !fits(test) || data.validation.is_some_and(|v| !fits(v)) {
        return Err(format!(
            "data has {} features per example, the model expects {inp}",
            train.x.len() / train.n.max(1)
        ));
    }
    if first_epoch >= opts.epochs {
        return Err(format!("{first_epoch} epochs are done already; asked for {} in total", opts.epochs));
    }
    if let Some(s) = schedule.as_deref_mut() {
        if first_epoch > 0 || !schedule_state.is_empty() {
            s.restore(&schedule_state).map_err(|e| format!("resuming the schedule: {e}"))?;
        }
        s.start(opt.as_mut())?;
    }
    // A batch larger than every split computes what one of their largest size does; the buffers
    // need no more.
    let largest = [train.n, test.n, data.validation.map_or(0, |v| v.n)].into_iter().max().unwrap_or(1);
    let b = opts.batch_size.min(largest.max(1));
    let mut ws = model.workspace(b).with_threads(opts.threads);
    let mut grad = vec![0.0f32; np];
    let mut eval_at = opt.has_eval_params().then(|| vec![0.0f32; np]);
    // Sophia: a Gauss–Newton–Bartlett Hessian estimate every `update_period` steps.
    let hessian_period = hessian_period(&opts.optimizer);
    let mut estimate = if hessian_period.is_some() { vec![0.0f32; np] } else { Vec::new() };
    let batches = train.n.div_ceil(b);
    let mut groups = Groups::new(np, opts.accumulate, batches)?;
    let mut batcher = Batches::new(train.n, inp, out, opts.loss, b);
    let checkpoint = |params: &[f32], opt: &DynOptimizer<f32>, epoch, history: &History, metric, sched| {
        Checkpoint::new(&model, params, opt.as_ref(), &opts.optimizer, epoch)
            .map(|c| Checkpoint {
                groups: opts.groups.clone(),
                history: history.clone(),
                best_metric: metric,
                schedule: sched,
                ..c
            })
            .map_err(|e| e.to_string())
    };
    let saved = |s: &Option<&mut dyn LrControl>| s.as_deref().map(LrControl::save).unwrap_or_default();
    // Until an epoch does better, the best is where this run started.
    let mut best = checkpoint(&params, &opt, first_epoch, &history, best_metric, saved(&schedule))?;
    let (mut stopped_early, mut interrupted) = (false, None);
    for epoch in first_epoch + 1..=opts.epochs {
        if observer.stop() {
            interrupted = Some(epoch);
            break;
        }
        batcher.shuffle(opts.seed, epoch);
        observer.epoch_start(epoch, batches);
        let t0 = Instant::now();
        let mut stats = BatchStats::default();
        let (mut norm_sum, mut steps) = (0.0f64, 0usize);
        let mut lr_used = opt.lr();
        groups.reset();
        for i in 0..batches {
            let (bs, xb, t) = batcher.gather(train, i);
            let s = model.loss_and_grad(&params, xb, t, bs, opts.loss, &mut ws, &mut grad);
            stats.loss_sum += s.loss_sum;
            stats.correct += s.correct;
            stats.count += s.count;
            observer.batch_done(s.loss_sum / bs as f64);
            if opts.accumulate > 1 {
                match groups.push(i, &grad)? {
                    Some(g) => grad.copy_from_slice(g),
                    None => continue,
                }
            }
            let norm = match opts.clip_norm {
                Some(max) => clip::clip_grad_norm(&mut [&mut grad[..]], max, NormType::L2, false)
                    .map_err(|e| e.to_string())?,
                None => clip::total_norm::<f32, _>(&[&grad[..]], NormType::L2),
            };
            norm_sum += f64::from(norm);
            steps += 1;
            lr_used = opt.lr();
            match opt.step(&mut params, &grad) {
                Ok(StepOutcome::Stepped) | Ok(StepOutcome::Skipped { .. }) => {}
                Err(e) => {
                    return Err(format!(
                        "epoch {epoch}: {e} (training diverged; try a smaller learning rate)"
                    ));
                }
            }
            if let Some(k) = hessian_period
                && opt.steps() > 0
                && opt.steps() % k == 0
            {
                // After step t = k, 2k, …, on this step's last micro-batch with the updated
                // parameters (the authors' training script); the draws seeded by the run's seed
                // and the step, so a resumed run draws the same labels.
                let mut rng =
                    ChaCha8Rng::seed_from_u64(opts.seed ^ opt.steps().wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let (bs, xb, _) = batcher.gather(train, i);
                model.gnb_hessian(&params, xb, bs, opts.loss, &mut ws, &mut rng, &mut grad, &mut estimate);
                opt.update_hessian(&estimate).map_err(|e| format!("epoch {epoch}: Hessian estimate: {e}"))?;
            }
            if opts.schedule_per == SchedulePer::Batch
                && let Some(s) = schedule.as_deref_mut()
            {
                s.advance(opt.as_mut(), None)?;
            }
            if observer.stop() {
                interrupted = Some(epoch);
                break;
            }
        }
        if interrupted.is_some() {
            break;
        }
        let seconds = t0.elapsed().as_secs_f64();
        // Schedule-free optimizers step the gradient point y (`params`) but are evaluated at the
        // average x (optax's `schedule_free_eval_params`); training continues from y.
        let at: &[f32] = match eval_at.as_mut() {
            Some(x) => {
                opt.eval_params(&params, x).map_err(|e| format!("epoch {epoch}: {e}"))?;
                x
            }
            None => &params,
        };
        let (test_loss, test_accuracy) = evaluate(&model, at, test, opts.loss, b);
        let val = data.validation.map(|v| evaluate(&model, at, v, opts.loss, b));
        let c = stats.count.max(1) as f64;
        let metric = val.map_or(stats.loss_sum / c, |v| v.0);
        if opts.schedule_per == SchedulePer::Epoch
            && let Some(s) = schedule.as_deref_mut()
        {
            s.advance(opt.as_mut(), Some(metric))?;
        }
        let record = EpochRecord {
            epoch,
            train_loss: stats.loss_sum / c,
            train_accuracy: 100.0 * stats.correct as f64 / c,
            test_loss,
            test_accuracy,
            val_loss: val.map(|v| v.0),
            val_accuracy: val.map(|v| v.1),
            lr: lr_used,
            grad_norm: if steps > 0 { norm_sum / steps as f64 } else { 0.0 },
            seconds,
        };
        observer.epoch_done(&record);
        history.epochs.push(record);
        if metric < best_metric {
            best_metric = metric;
            since_best = 0;
            best = checkpoint(&params, &opt, epoch, &history, metric, saved(&schedule))?;
            observer.improved(&best)?;
        } else {
            since_best += 1;
            if opts.patience.is_some_and(|p| since_best >= p) {
                stopped_early = true;
                break;
            }
        }
    }
    Ok(Trained { model, params, best, history, stopped_early, interrupted })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::schedule_spec::for_training;

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

    fn split<'a>(x: &'a [f32], y: &'a [u8]) -> Split<'a> {
        Split { x, y, values: &[], n: y.len() }
    }

    fn dyn_mut(s: &mut Option<Box<dyn LrControl>>) -> Option<&mut dyn LrControl> {
        s.as_mut().map(|s| s.as_mut() as &mut dyn LrControl)
    }

    fn on<'a>(train: Split<'a>, test: Split<'a>) -> Data<'a> {
        Data { train, validation: None, test }
    }

    /// The thread count is an argument, and any count gives the same bits.
    #[test]
    fn every_thread_count_gives_the_same_history() {
        let (x, y) = blobs(600, 1);
        let (tx, ty) = blobs(300, 2);
        let d = on(split(&x, &y), split(&tx, &ty));
        let run =
            |threads| train_on(d, 4, 3, &TrainOptions { threads, ..opts() }, None, &mut Silent).unwrap();
        let one = run(1);
        for threads in [2, 3] {
            let many = run(threads);
            assert_eq!(no_time(&many.history), no_time(&one.history), "{threads} threads");
            assert_eq!(many.params, one.params);
        }
    }

    #[test]
    fn training_learns_and_the_same_seed_gives_the_same_history() {
        let (x, y) = blobs(600, 1);
        let (tx, ty) = blobs(300, 2);
        let d = on(split(&x, &y), split(&tx, &ty));
        let mut o = opts();
        o.optimizer.insert("lr".into(), 1e-2.into());
        let a = train_on(d, 4, 3, &o, None, &mut Silent).unwrap();
        let b = train_on(d, 4, 3, &o, None, &mut Silent).unwrap();
        assert_eq!(no_time(&a.history), no_time(&b.history));
        assert_eq!(a.params, b.params);
        let last = a.history.epochs.last().unwrap();
        assert!(last.test_accuracy > 90.0, "{last:?}");
        assert!(a.history.epochs[0].train_loss > last.train_loss);
        o.seed = 6;
        let c = train_on(d, 4, 3, &o, None, &mut Silent).unwrap();
        assert_ne!(a.params, c.params);
    }

    /// Schedule-free AdamW and SGD are evaluated at the average x (their `eval_params`), not at
    /// the parameters y they step: the reported test loss and accuracy are those of x, which the
    /// checkpoint also gives (`Checkpoint::eval_params`, what `descent export` writes), and
    /// training continues from y (the final parameters are y).
    #[test]
    fn schedule_free_is_evaluated_at_its_average() {
        let (x, y) = blobs(600, 1);
        let (tx, ty) = blobs(300, 2);
        let d = on(split(&x, &y), split(&tx, &ty));
        for (name, lr) in [("schedule_free_adamw", 1e-2), ("schedule_free_sgd", 0.1)] {
            let mut o = TrainOptions { epochs: 1, ..opts() };
            o.optimizer = serde_json::from_str(&format!(r#"{{"name": "{name}", "lr": {lr}}}"#)).unwrap();
            let t = train_on(d, 4, 3, &o, None, &mut Silent).unwrap();
            let record = &t.history.epochs[0];
            assert_eq!(t.best.epoch, 1);
            assert_eq!(t.best.params, t.params);
            let at_x = t.best.eval_params().unwrap();
            assert_ne!(at_x, t.params, "{name}");
            let (loss_x, acc_x) = evaluate(&t.model, &at_x, split(&tx, &ty), o.loss, 32);
            let (loss_y, _) = evaluate(&t.model, &t.params, split(&tx, &ty), o.loss, 32);
            assert_eq!((record.test_loss, record.test_accuracy), (loss_x, acc_x), "{name}");
            assert_ne!(record.test_loss, loss_y, "{name}");
            assert!(acc_x > 90.0, "{name}: {record:?}");
        }
    }

    /// Sophia with the GNB estimate every `update_period` steps learns, repeats itself bit for bit,
    /// uses the estimates (another period gives other parameters), and resumes bit-identically.
    #[test]
    fn sophia_with_gnb_estimates_learns_and_resumes() {
        let (x, y) = blobs(600, 1);
        let (tx, ty) = blobs(300, 2);
        let d = on(split(&x, &y), split(&tx, &ty));
        let mut o = opts();
        o.optimizer = serde_json::json!({"name": "sophia", "lr": 1e-2, "update_period": 5})
            .as_object()
            .unwrap()
            .clone();
        let a = train_on(d, 4, 3, &o, None, &mut Silent).unwrap();
        let b = train_on(d, 4, 3, &o, None, &mut Silent).unwrap();
        assert_eq!(no_time(&a.history), no_time(&b.history));
        assert_eq!(a.params, b.params);
        let last = a.history.epochs.last().unwrap();
        assert!(last.test_accuracy > 90.0, "{last:?}");
        assert!(a.history.epochs[0].train_loss > last.train_loss);
        o.optimizer.insert("update_period".into(), 7.into());
        let c = train_on(d, 4, 3, &o, None, &mut Silent).unwrap();
        assert_ne!(a.params, c.params);
        check_resume(&o, None);
    }

    /// Trains `o.epochs` straight, and 2 epochs then (from the best checkpoint, through bytes) up
    /// to `o.epochs`; the two must agree bit for bit.
    fn check_resume(o: &TrainOptions, spec: Option<&str>) {
        let (x, y) = blobs(300, 3);
        let (tx, ty) = blobs(150, 4);
        let d = on(split(&x, &y), split(&tx, &ty));
        let sched = || spec.map(|s| for_training(s, &[1e-3], true).unwrap());
        let mut s1 = sched();
        let straight = train_on(d, 4, 3, o, dyn_mut(&mut s1), &mut Silent).unwrap();
        let first = TrainOptions { epochs: 2, ..o.clone() };
        let mut s2 = sched();
        let half = train_on(d, 4, 3, &first, dyn_mut(&mut s2), &mut Silent).unwrap();
        let bytes = half.best.to_bytes();
        let ckpt = Checkpoint::from_bytes(&bytes).unwrap();
        assert_eq!(ckpt, half.best);
        let mut s3 = sched();
        let resumed =
            run(Start::from_checkpoint(&ckpt).unwrap(), d, o, dyn_mut(&mut s3), &mut Silent).unwrap();
        assert_eq!(resumed.params, straight.params);
        assert_eq!(no_time(&resumed.history), no_time(&straight.history));
        assert_eq!(resumed.best.params, straight.best.params);
        assert_eq!(resumed.best.schedule, straight.best.schedule);
        if spec.is_some() {
            assert!(!straight.best.schedule.is_empty());
        }
    }

    #[test]
    fn resuming_from_a_checkpoint_continues_bit_identically() {
        let mut o = opts();
        o.accumulate = 2;
        o.clip_norm = Some(0.5);
        check_resume(&o, None);
        // Per-batch schedule with leftover micro-batches (10 batches, groups of 3 and 1).
        o.accumulate = 3;
        o.schedule_per = SchedulePer::Batch;
        check_resume(&o, Some("step_lr:step_size=3,gamma=0.7"));
        check_resume(&o, Some("one_cycle_lr:max_lr=0.01,total_steps=16"));
        // Per-epoch plateau schedule: its state (best metric, bad epochs) goes through the file.
        o.schedule_per = SchedulePer::Epoch;
        o.epochs = 6;
        check_resume(&o, Some("reduce_lr_on_plateau:patience=0,factor=0.5,threshold=0.5"));
        let (x, y) = blobs(30, 4);
        let d = on(split(&x, &y), split(&x, &y));
        let done = train_on(d, 4, 3, &TrainOptions { epochs: 1, ..opts() }, None, &mut Silent).unwrap();
        let again = run(Start::from_checkpoint(&done.best).unwrap(), d, &opts(), None, &mut Silent);
        assert!(again.is_ok());
        let e = run(
            Start::from_checkpoint(&done.best).unwrap(),
            d,
            &TrainOptions { epochs: 1, ..opts() },
            None,
            &mut Silent,
        );
        assert!(e.unwrap_err().contains("1 epochs are done already"));
        let mut bad = done.best.to_bytes();
        bad[20] ^= 1;
        assert!(Checkpoint::from_bytes(&bad).is_err());
        let good = done.best.to_bytes();
        assert!(Checkpoint::from_bytes(&good[..good.len() - 3]).is_err());
    }

    #[test]
    fn the_history_records_the_lr_of_the_epochs_last_step() {
        let (x, y) = blobs(300, 5);
        let d = on(split(&x, &y), split(&x, &y));
        let mut o = TrainOptions { epochs: 2, schedule_per: SchedulePer::Batch, ..opts() };
        // 10 batches per epoch; groups of 3 make 4 steps (3 + 3 + 3 + 1).
        for (accumulate, steps) in [(1, 10), (3, 4)] {
            o.accumulate = accumulate;
            let mut s = for_training("exponential_lr:gamma=0.5", &[1e-3], true).unwrap();
            let t = train_on(d, 4, 3, &o, Some(s.as_mut()), &mut Silent).unwrap();
            for (e, r) in t.history.epochs.iter().enumerate() {
                let last_step = (e + 1) * steps - 1;
                assert_eq!(r.lr, 1e-3 * 0.5f64.powi(last_step as i32), "accumulate {accumulate}, {r:?}");
            }
        }
    }

    #[test]
    fn leftover_micro_batches_step_averaged_over_their_count() {
        // 300 examples in 10 micro-batches of 30: groups of 100 never fill, so the epoch's one
        // step is the mean of the 10 micro-batch gradients, which is the full-batch gradient.
        let (x, y) = blobs(300, 6);
        let d = on(split(&x, &y), split(&x, &y));
        let mut sgd = Map::new();
        sgd.insert("name".into(), "sgd".into());
        sgd.insert("lr".into(), 0.5.into());
        let o = TrainOptions { optimizer: sgd, epochs: 1, batch_size: 30, accumulate: 100, ..opts() };
        let micro = train_on(d, 4, 3, &o, None, &mut Silent).unwrap();
        let full = train_on(
            d,
            4,
            3,
            &TrainOptions { batch_size: 300, accumulate: 1, ..o.clone() },
            None,
            &mut Silent,
        )
        .unwrap();
        let fresh = Start::fresh(4, 3, &o).unwrap().params;
        assert_ne!(micro.params, fresh);
        for (a, b) in micro.params.iter().zip(&full.params) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        assert_eq!(micro.history.epochs[0].grad_norm, micro.history.epochs[0].grad_norm);
        assert!((micro.history.epochs[0].grad_norm - full.history.epochs[0].grad_norm).abs() < 1e-5);
    }

    #[test]
    fn a_validation_split_selects_the_best_epoch_and_is_reported() {
        let (x, y) = blobs(100, 7);
        let s = split(&x, &y);
        let (tr, val) = s.hold_out(0.2).unwrap();
        let val = val.unwrap();
        assert_eq!((tr.n, val.n, tr.x.len(), val.x.len()), (80, 20, 320, 80));
        assert_eq!(val.y, &y[80..]);
        assert_eq!(s.hold_out(0.0).unwrap().1.map(|v| v.n), None);
        assert!(s.hold_out(1.0).is_err());
        assert!(s.hold_out(0.001).unwrap_err().contains("empty"));
        assert_eq!(s.head(10).n, 10);
        assert_eq!(s.head(1000).n, 100);
        let (tx, ty) = blobs(90, 8);
        let mut o = opts();
        o.epochs = 30;
        o.patience = Some(2);
        o.optimizer.insert("lr".into(), 0.5.into());
        let d = Data { train: tr, validation: Some(val), test: split(&tx, &ty) };
        let t = train_on(d, 4, 3, &o, None, &mut Silent).unwrap();
        assert!(t.history.epochs.iter().all(|r| r.val_loss.is_some() && r.val_accuracy.is_some()));
        let best = t.history.epochs.iter().min_by(|a, b| a.val_loss.unwrap().total_cmp(&b.val_loss.unwrap()));
        assert_eq!(t.best.epoch, best.unwrap().epoch);
        assert_eq!(t.best.best_metric, best.unwrap().val_loss.unwrap());
        let json = serde_json::to_value(&t.history).unwrap();
        assert!(json["epochs"][0].get("val_loss").is_some());
        let plain = train_on(on(tr, split(&tx, &ty)), 4, 3, &opts(), None, &mut Silent).unwrap();
        assert!(serde_json::to_value(&plain.history).unwrap()["epochs"][0].get("val_loss").is_none());
    }

    #[test]
    fn early_stopping_stops_after_patience_epochs_without_improvement() {
        let (x, y) = blobs(90, 4);
        let (tx, ty) = blobs(90, 5);
        let mut o = opts();
        o.epochs = 50;
        o.patience = Some(2);
        o.optimizer.insert("lr".into(), 0.5.into());
        let t = train_on(on(split(&x, &y), split(&tx, &ty)), 4, 3, &o, None, &mut Silent).unwrap();
        assert!(t.stopped_early);
        // Without a validation split the training loss selects; the test loss never does.
        let best = t.history.epochs.iter().map(|r| r.train_loss).fold(f64::INFINITY, f64::min);
        let tail = &t.history.epochs[t.history.epochs.len() - 2..];
        assert!(tail.iter().all(|r| r.train_loss >= best));
        assert_eq!(t.best.epoch, t.history.epochs.len() - 2);
        assert_eq!(t.best.best_metric, best);
        let by_test = t.history.epochs.iter().min_by(|a, b| a.test_loss.total_cmp(&b.test_loss)).unwrap();
        assert_ne!(by_test.test_loss, best, "the selection loss is not the test loss");
    }

    /// Stops after its `n`-th batch, and writes down the checkpoints it is handed.
    struct StopAfter {
        n: usize,
        seen: usize,
        improved: Vec<usize>,
    }

    impl Observer for StopAfter {
        fn batch_done(&mut self, _: f64) {
            self.seen += 1;
        }
        fn improved(&mut self, best: &Checkpoint) -> Result<(), String> {
            self.improved.push(best.epoch);
            Ok(())
        }
        fn stop(&self) -> bool {
            self.seen >= self.n
        }
    }

    #[test]
    fn an_observer_stops_after_a_batch_and_is_handed_every_new_best() {
        let (x, y) = blobs(300, 9);
        let d = on(split(&x, &y), split(&x, &y));
        let o = TrainOptions { epochs: 4, ..opts() };
        // 10 batches per epoch: stopping after 25 keeps epochs 1 and 2 and drops the third.
        let mut stop = StopAfter { n: 25, seen: 0, improved: Vec::new() };
        let t = train_on(d, 4, 3, &o, None, &mut stop).unwrap();
        assert_eq!((t.interrupted, t.history.epochs.len()), (Some(3), 2));
        assert_eq!(stop.improved, [1, 2]);
        assert_eq!(t.best.epoch, 2);
        // Resuming from the best checkpoint continues as the uninterrupted run.
        let all = train_on(d, 4, 3, &o, None, &mut Silent).unwrap();
        let resumed = run(Start::from_checkpoint(&t.best).unwrap(), d, &o, None, &mut Silent).unwrap();
        assert_eq!(no_time(&resumed.history), no_time(&all.history));
        assert_eq!(resumed.params, all.params);
    }

    #[test]
    fn bad_options_are_refused() {
        let (x, y) = blobs(30, 4);
        let d = on(split(&x, &y), split(&x, &y));
        let mut o = opts();
        o.batch_size = 0;
        assert!(train_on(d, 4, 3, &o, None, &mut Silent).is_err());
        let o = TrainOptions { accumulate: 0, ..opts() };
        assert!(train_on(d, 4, 3, &o, None, &mut Silent).unwrap_err().contains("accumulate"));
        let mut o = opts();
        o.optimizer.insert("name".into(), "adamz".into());
        assert!(train_on(d, 4, 3, &o, None, &mut Silent).unwrap_err().contains("unknown optimizer"));
        let mut o = opts();
        o.optimizer.insert("lr".into(), (-1.0).into());
        assert_eq!(train_on(d, 4, 3, &o, None, &mut Silent).unwrap_err(), "Invalid learning rate: -1.0");
    }
}
