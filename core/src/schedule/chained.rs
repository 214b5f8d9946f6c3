//! `ChainedScheduler`: several schedules stepping together, their factors multiplied.
//!
//! ```text
//! lr(t) = η₀ · Π_i lrᵢ(t) / η₀
//! ```
//! Source: `torch/optim/lr_scheduler.py::ChainedScheduler`, which steps every child at every
//! step; each chainable child multiplies the group's current lr by its own factor, so the lr is
//! the base lr times the product of the children's factors. descent takes each child's closed form
//! (see the module docs on closed forms) and multiplies the ratios. Only children whose lr is the
//! base lr times a factor of t qualify: StepLR, MultiStepLR, ExponentialLR, ConstantLR, LinearLR,
//! PolynomialLR, and the cosine schedules with `eta_min = 0`; the others are refused (their
//! PyTorch chaining depends on the order of the children).

use super::{AnySchedule, SavedSchedule, Schedule, check_base_lr, refuse};
use crate::error::Error;
use crate::persist::{Reader, Writer};

/// Most schedules a [`Chained`] holds.
pub const MAX_CHAINED: usize = 8;

/// Schedules whose factors compose (`ChainedScheduler`), all from the base lr `η₀`.
#[derive(Debug, Clone, PartialEq)]
pub struct Chained {
    base_lr: f64,
    children: heapless::Vec<AnySchedule, MAX_CHAINED>,
}

impl Chained {
    /// Chains `children` (at least one, at most [`MAX_CHAINED`]), each built from `base_lr`.
    /// Refuses children that are not a factor of t times the base lr.
    pub fn new(base_lr: f64, children: &[AnySchedule]) -> Result<Self, Error> {
        check_base_lr(base_lr)?;
        if children.is_empty() {
            return Err(refuse("ChainedScheduler expects at least one scheduler"));
        }
        let mut c = heapless::Vec::new();
        for ch in children {
            if !ch.chainable() {
                return Err(refuse(
                    "ChainedScheduler: only step, multi-step, exponential, constant, linear, polynomial and cosine (eta_min = 0) schedules chain",
                ));
            }
            c.push(ch.clone()).map_err(|_| refuse("ChainedScheduler holds at most 8 schedulers"))?;
        }
        Ok(Chained { base_lr, children: c })
    }
    /// The chained schedules.
    pub fn children(&self) -> &[AnySchedule] {
        &self.children
    }
}

impl Schedule for Chained {
    fn lr_at(&self, t: u64) -> f64 {
        if self.base_lr == 0.0 {
            return 0.0;
        }
        self.children.iter().fold(self.base_lr, |lr, c| lr * (c.lr_at(t) / self.base_lr))
    }
}

impl SavedSchedule for Chained {
    const TAG: u8 = 14;
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.f64(self.base_lr)?;
        w.u64(self.children.len() as u64)?;
        self.children.iter().try_for_each(|c| c.write_config(w))
    }
    fn read_fields(r: &mut Reader<'_>) -> Result<Self, Error> {
        let base_lr = r.f64()?;
        let count = r.u64()?;
        if count == 0 || count > MAX_CHAINED as u64 {
            return Err(Error::CorruptState { reason: "chained schedule count" });
        }
        let mut children: heapless::Vec<AnySchedule, MAX_CHAINED> = heapless::Vec::new();
        for _ in 0..count {
            children.push(AnySchedule::read_config(r)?).map_err(|_| refuse("too many chained schedules"))?;
        }
        Chained::new(base_lr, &children)
    }
}
