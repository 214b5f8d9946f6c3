//! `ReduceLROnPlateau`: a state machine fed one metric per epoch (or step).
//!
//! ```text
//! better(a) = a < best·(1 − thr) (min, rel) | a < best − thr (min, abs)
//!           | a > best·(1 + thr) (max, rel) | a > best + thr (max, abs)
//! better → best = a, bad = 0;  else bad += 1
//! in cooldown → cooldown −= 1, bad = 0
//! bad > patience → lr ← max(lr·factor, min_lr) unless the change is ≤ eps; cooldown = cooldown; bad = 0
//! ```
//! Off by one, as PyTorch: the cut comes after patience + 1 bad epochs (Keras cuts after
//! patience). Source: `torch/optim/lr_scheduler.py::ReduceLROnPlateau`.

use super::SavedSchedule;
use crate::error::Error;
use crate::persist::{self, Header, Reader, Writer};

/// Whether lower or higher metrics are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlateauMode {
    /// Lower is better (a loss).
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// Whether the threshold is relative or absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdMode {
    /// best·(1 ∓ threshold).
    Rel,
    /// best ∓ threshold.
    Abs,
}

/// The plateau scheduler's configuration and state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReduceLrOnPlateau {
    mode: PlateauMode,
    factor: f64,
    patience: u64,
    threshold: f64,
    threshold_mode: ThresholdMode,
    cooldown: u64,
    min_lr: f64,
    eps: f64,
    lr: f64,
    best: f64,
    num_bad_epochs: u64,
    cooldown_counter: u64,
    last_epoch: u64,
}

/// Persistence id of the plateau scheduler.
const KIND: u8 = persist::Kind::Plateau.byte();

impl ReduceLrOnPlateau {
    /// PyTorch's arguments (defaults: min, factor 0.1, patience 10, threshold 1e-4 rel,
    /// cooldown 0, min_lr 0, eps 1e-8), starting from learning rate `lr`. Refuses what PyTorch
    /// refuses (factor ≥ 1), non-finite values, and, unlike PyTorch, a negative `lr`, `factor` or
    /// `min_lr` (each would lead to a negative learning rate, which no optimizer accepts).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        lr: f64,
        mode: PlateauMode,
        factor: f64,
        patience: u64,
        threshold: f64,
        threshold_mode: ThresholdMode,
        cooldown: u64,
        min_lr: f64,
        eps: f64,
    ) -> Result<Self, Error> {
        if !(factor < 1.0) {
            return Err(Error::InvalidCombination { message: "Factor should be < 1.0." });
        }
        super::check_base_lr(lr)?;
        // PyTorch checks only factor < 1; a negative factor or min_lr would hand the optimizer a
        // negative learning rate, which descent's optimizers refuse. Refused here instead.
        super::need(factor >= 0.0, "factor", factor)?;
        super::need(min_lr >= 0.0, "min_lr", min_lr)?;
        for (name, v) in [("factor", factor), ("threshold", threshold), ("min_lr", min_lr), ("eps", eps)] {
            if !v.is_finite() {
                return Err(Error::InvalidHyperparameter { name, value: v });
            }
        }
        let best = match mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        };
        Ok(ReduceLrOnPlateau {
            mode,
            factor,
            patience,
            threshold,
            threshold_mode,
            cooldown,
            min_lr,
            eps,
            lr,
            best,
            num_bad_epochs: 0,
            cooldown_counter: 0,
            last_epoch: 0,
        })
    }

    /// The learning rate in force.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// The best metric so far.
    pub fn best(&self) -> f64 {
        self.best
    }

    /// Epochs without improvement.
    pub fn num_bad_epochs(&self) -> u64 {
        self.num_bad_epochs
    }

    fn is_better(&self, a: f64) -> bool {
        match (self.mode, self.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < self.best * (1.0 - self.threshold),
            (PlateauMode::Min, ThresholdMode::Abs) => a < self.best - self.threshold,
            (PlateauMode::Max, ThresholdMode::Rel) => a > self.best * (self.threshold + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > self.best + self.threshold,
        }
    }

    /// Counts one metric; whether the learning rate is to be cut now (the bookkeeping of
    /// PyTorch's `step`, before `_reduce_lr`).
    fn observe(&mut self, metric: f64) -> bool {
        self.last_epoch = self.last_epoch.saturating_add(1);
        if self.is_better(metric) {
            self.best = metric;
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs = self.num_bad_epochs.saturating_add(1);
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs > self.patience {
            self.cooldown_counter = self.cooldown;
            self.num_bad_epochs = 0;
            return true;
        }
        false
    }

    /// One group's cut: max(lr·factor, min_lr), unless that changes it by at most eps.
    fn cut(&self, lr: f64) -> f64 {
        let new_lr = f64::max(lr * self.factor, self.min_lr);
        if lr - new_lr > self.eps { new_lr } else { lr }
    }

    /// Feeds one metric; returns the learning rate for what follows.
    pub fn step(&mut self, metric: f64) -> f64 {
        if self.observe(metric) {
            self.lr = self.cut(self.lr);
        }
        self.lr
    }

    /// Feeds one metric and, when the plateau calls for it, cuts every parameter group's learning
    /// rate from its current value, as PyTorch's `_reduce_lr` does; [`ReduceLrOnPlateau::lr`]
    /// follows the first group. The optimizer's learning rates are finite and non-negative, so
    /// the cut ones are too and no group refuses them.
    pub fn step_groups<F: crate::real::Real>(
        &mut self,
        metric: f64,
        opt: &mut dyn crate::optim::Optimizer<F>,
    ) -> Result<(), Error> {
        if self.observe(metric) {
            for g in 0..opt.groups() {
                let lr = self.cut(opt.group_lr(g)?);
                opt.set_group_lr(g, lr)?;
            }
            self.lr = opt.group_lr(0)?;
        }
        Ok(())
    }

    /// Epochs (metrics) fed so far: PyTorch's `last_epoch`.
    pub fn last_epoch(&self) -> u64 {
        self.last_epoch
    }

    fn write_state(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.u8(u8::from(self.mode == PlateauMode::Max))?;
        w.u8(u8::from(self.threshold_mode == ThresholdMode::Abs))?;
        for v in [self.factor, self.threshold, self.min_lr, self.eps, self.lr, self.best] {
            w.f64(v)?;
        }
        for v in [self.patience, self.cooldown, self.num_bad_epochs, self.cooldown_counter] {
            w.u64(v)?;
        }
        Ok(())
    }

    fn read_state(r: &mut Reader<'_>, last_epoch: u64) -> Result<Self, Error> {
        let mode = if r.bool()? { PlateauMode::Max } else { PlateauMode::Min };
        let threshold_mode = if r.bool()? { ThresholdMode::Abs } else { ThresholdMode::Rel };
        let (factor, threshold, min_lr, eps, lr, best) =
            (r.f64()?, r.f64()?, r.f64()?, r.f64()?, r.f64()?, r.f64()?);
        let (patience, cooldown, bad, cd) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?);
        let mut s = ReduceLrOnPlateau::new(
            lr,
            mode,
            factor,
            patience,
            threshold,
            threshold_mode,
            cooldown,
            min_lr,
            eps,
        )?;
        if best.is_nan() {
            return Err(Error::CorruptState { reason: "best metric is NaN" });
        }
        s.best = best;
        s.num_bad_epochs = bad;
        s.cooldown_counter = cd;
        s.last_epoch = last_epoch;
        Ok(s)
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.header(&Header { kind: KIND, float_bytes: 0, n: 0, steps: self.last_epoch })?;
        self.write_state(w)
    }

    /// Bytes [`ReduceLrOnPlateau::save`] writes.
    pub fn saved_len(&self) -> usize {
        persist::saved_len(|w| self.write(w))
    }

    /// Saves configuration and state (versioned bytes with a checksum; kind 0x81).
    pub fn save(&self, out: &mut [u8]) -> Result<usize, Error> {
        persist::save(out, |w| self.write(w))
    }

    /// Restores what [`ReduceLrOnPlateau::save`] wrote; refuses anything else, changing nothing.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        *self = persist::read_kind(bytes, KIND, |h, r| Self::read_state(r, h.steps))?;
        Ok(())
    }
}

impl SavedSchedule for ReduceLrOnPlateau {
    const TAG: u8 = 12;
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.u64(self.last_epoch)?;
        self.write_state(w)
    }
    fn read_fields(r: &mut Reader<'_>) -> Result<Self, Error> {
        let last_epoch = r.u64()?;
        Self::read_state(r, last_epoch)
    }
}
