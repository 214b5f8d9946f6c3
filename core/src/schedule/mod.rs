//! Learning-rate schedules with `torch.optim.lr_scheduler` semantics and argument names.
//!
//! A schedule answers "what learning rate (and momentum, where it cycles) does step t use", with
//! t counting optimizer steps from 0 — PyTorch's `last_epoch` after the scheduler's constructor
//! performed its step 0. The stateless schedules are O(1) closed forms of t (warm restarts: a loop
//! over at most 64 cycles), so a run can resume at any t; [`Driver`] applies one to an optimizer.
//! [`ReduceLrOnPlateau`] and [`Sequential`] keep state and save it like the optimizers do.
//!
//! Where PyTorch's `step()` computes recursively (`CosineAnnealingLR`, `LinearLR`,
//! `ExponentialLR`, `PolynomialLR` multiply the previous lr by a ratio) descent uses the closed
//! form PyTorch documents (`_get_closed_form_lr`). The two differ only by rounding: at most a few
//! ulps per step, under 1e-13 relative over the bundled conformance runs (≤ 40 steps), far inside
//! the conformance tolerance (1e-9). The recursive form also multiplies any outside change of the
//! lr into later values; the closed form does not.

mod cosine;
mod cyclic;
mod plateau;
mod sequential;
mod step;

pub use cosine::{CosineAnnealingLr, CosineAnnealingWarmRestarts, WarmupCosine};
pub use cyclic::{AnnealStrategy, CyclicLr, CyclicMode, OneCycleLr};
pub use plateau::{PlateauMode, ReduceLrOnPlateau, ThresholdMode};
pub use sequential::Sequential;
pub use step::{ConstantLr, ExponentialLr, LinearLr, MAX_MILESTONES, MultiStepLr, PolynomialLr, StepLr};

use crate::error::Error;
use crate::optim::Optimizer;
use crate::real::Real;

/// A stateless schedule: a closed form of the step count.
pub trait Schedule {
    /// The learning rate step `t` uses (t = 0 is the first optimizer step).
    fn lr_at(&self, t: u64) -> f64;
    /// The momentum (or Adam's β1) step `t` uses, for schedules that cycle it.
    fn momentum_at(&self, _t: u64) -> Option<f64> {
        None
    }
}

/// Any stateless schedule, as one value (so [`Sequential`] can hold several without
/// allocation).
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // no heap to box MultiStepLr's milestones into
pub enum AnySchedule {
    /// [`StepLr`].
    Step(StepLr),
    /// [`MultiStepLr`].
    MultiStep(MultiStepLr),
    /// [`ExponentialLr`].
    Exponential(ExponentialLr),
    /// [`CosineAnnealingLr`].
    Cosine(CosineAnnealingLr),
    /// [`CosineAnnealingWarmRestarts`].
    WarmRestarts(CosineAnnealingWarmRestarts),
    /// [`OneCycleLr`].
    OneCycle(OneCycleLr),
    /// [`CyclicLr`].
    Cyclic(CyclicLr),
    /// [`LinearLr`].
    Linear(LinearLr),
    /// [`ConstantLr`].
    Constant(ConstantLr),
    /// [`PolynomialLr`].
    Polynomial(PolynomialLr),
    /// [`WarmupCosine`].
    WarmupCosine(WarmupCosine),
}

macro_rules! each {
    ($s:expr, $x:ident => $e:expr) => {
        match $s {
            AnySchedule::Step($x) => $e,
            AnySchedule::MultiStep($x) => $e,
            AnySchedule::Exponential($x) => $e,
            AnySchedule::Cosine($x) => $e,
            AnySchedule::WarmRestarts($x) => $e,
            AnySchedule::OneCycle($x) => $e,
            AnySchedule::Cyclic($x) => $e,
            AnySchedule::Linear($x) => $e,
            AnySchedule::Constant($x) => $e,
            AnySchedule::Polynomial($x) => $e,
            AnySchedule::WarmupCosine($x) => $e,
        }
    };
}

impl Schedule for AnySchedule {
    fn lr_at(&self, t: u64) -> f64 {
        each!(self, s => s.lr_at(t))
    }
    fn momentum_at(&self, t: u64) -> Option<f64> {
        each!(self, s => s.momentum_at(t))
    }
}

/// Applies a stateless schedule to an optimizer: [`Driver::start`] sets step 0's values, each
/// [`Driver::step`] (after `optimizer.step()`, as in PyTorch) advances to the next step's.
#[derive(Debug, Clone, PartialEq)]
pub struct Driver<S: Schedule> {
    schedule: S,
    t: u64,
}

impl<S: Schedule> Driver<S> {
    /// A driver at step 0.
    pub fn new(schedule: S) -> Self {
        Driver { schedule, t: 0 }
    }
    /// A driver resuming at step `t`.
    pub fn at(schedule: S, t: u64) -> Self {
        Driver { schedule, t }
    }
    /// The schedule.
    pub fn schedule(&self) -> &S {
        &self.schedule
    }
    /// The step whose values are in force.
    pub fn t(&self) -> u64 {
        self.t
    }
    /// Sets the optimizer's lr (and momentum) for the current step.
    pub fn apply<F: Real>(&self, opt: &mut dyn Optimizer<F>) -> Result<(), Error> {
        opt.set_lr(self.schedule.lr_at(self.t))?;
        if let Some(m) = self.schedule.momentum_at(self.t) {
            opt.set_momentum(m)?;
        }
        Ok(())
    }
    /// Step 0: apply the first values.
    pub fn start<F: Real>(&mut self, opt: &mut dyn Optimizer<F>) -> Result<(), Error> {
        self.apply(opt)
    }
    /// Advances one step and applies its values.
    pub fn step<F: Real>(&mut self, opt: &mut dyn Optimizer<F>) -> Result<(), Error> {
        self.t = self.t.saturating_add(1);
        self.apply(opt)
    }
}

/// `γ^k` for the schedules, with libm (the same value in every build).
#[inline]
pub(crate) fn powi(base: f64, k: u64) -> f64 {
    crate::real::powf64(base, k as f64)
}

/// `cos`, with libm.
#[inline]
pub(crate) fn cos(x: f64) -> f64 {
    libm::cos(x)
}

pub(crate) fn need(cond: bool, name: &'static str, value: f64) -> Result<(), Error> {
    if cond { Ok(()) } else { Err(Error::InvalidHyperparameter { name, value }) }
}

pub(crate) fn refuse(message: &'static str) -> Error {
    Error::InvalidCombination { message }
}
